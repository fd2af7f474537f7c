//! Why a GGUF file that parses is still not a model webmoe can run.

use crate::gguf::{GgmlType, GgufError};
use crate::quant::QuantError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Metadata(#[from] GgufError),
    #[error("architecture {arch:?} is not supported; webmoe runs the \"llama\" architecture (Llama, Mistral, Mixtral and merged MoE models)")]
    UnknownArchitecture { arch: String },
    #[error("{key} is {value}: {why}")]
    BadValue { key: String, value: String, why: String },
    #[error("tensor {name:?} is missing; the file is not a complete {what}")]
    MissingTensor { name: String, what: String },
    #[error("tensor {name:?} has shape {found:?}, but the metadata implies {expected:?}")]
    WrongShape { name: String, found: Vec<u64>, expected: Vec<u64> },
    #[error("tensor {name:?} has type {ty}, which webmoe cannot use there: {why}")]
    WrongTensorType { name: String, ty: GgmlType, why: String },
    #[error("tensor {name:?}: {source}")]
    Unsupported { name: String, source: QuantError },
    #[error("the file has expert tensors ({name:?}) but no llama.expert_count; it is damaged or from an unsupported converter")]
    ExpertsWithoutCount { name: String },
    #[error("llama.expert_count is {count}, but layer {layer} has no expert tensors (blk.{layer}.ffn_gate_exps.weight or blk.{layer}.ffn_gate.0.weight)")]
    CountWithoutExperts { count: u64, layer: usize },
    #[error("the vocabulary has {tokens} tokens but token_embd.weight has {rows} rows")]
    VocabMismatch { tokens: u64, rows: u64 },
}
