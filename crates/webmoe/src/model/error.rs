//! Why a GGUF file that parses is still not a model webmoe can run.

use crate::gguf::{GgmlType, GgufError};
use crate::quant::QuantError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Metadata(#[from] GgufError),
    #[error("architecture {arch:?} is not supported; webmoe runs \"llama\" (Llama, Mistral, Mixtral and merged MoE models), \"qwen2\", \"qwen3\", \"qwen3moe\", \"qwen2moe\", \"olmoe\", \"granitemoe\" and \"gpt-oss\"")]
    UnknownArchitecture { arch: String },
    #[error("{key} is {value}: {why}")]
    BadValue { key: String, value: String, why: String },
    #[error("{key} is missing: {why}")]
    MissingKey { key: String, why: String },
    #[error("tensor {name:?} is missing; the file is not a complete {what}")]
    MissingTensor { name: String, what: String },
    #[error("tensor {name:?} has shape {found:?}, but the metadata implies {expected:?}")]
    WrongShape { name: String, found: Vec<u64>, expected: Vec<u64> },
    #[error("tensor {name:?} holds {value} at index {index}: {why}")]
    BadTensorValue { name: String, index: usize, value: f32, why: String },
    #[error("tensor {name:?} has type {ty}, which webmoe cannot use there: {why}")]
    WrongTensorType { name: String, ty: GgmlType, why: String },
    #[error("tensor {name:?}: {source}")]
    Unsupported { name: String, source: QuantError },
    #[error("the file has expert tensors ({name:?}) but no {key}; it is damaged or from an unsupported converter")]
    ExpertsWithoutCount { name: String, key: String },
    #[error("{key} is {count}, but layer {layer} has no expert tensors (blk.{layer}.ffn_gate_exps.weight or blk.{layer}.ffn_gate.0.weight)")]
    CountWithoutExperts { key: String, count: u64, layer: usize },
    #[error("{key} gives a vocabulary of {tokens} tokens, but token_embd.weight has {rows} rows")]
    VocabMismatch { key: String, tokens: u64, rows: u64 },
    /// llama.cpp refuses a file with tensors its architecture does not read ("wrong number of
    /// tensors"); running it without them would compute another function.
    #[error("tensor {name:?} is not part of a {arch} model as webmoe runs it (it does not apply {what})")]
    UnusedTensor { name: String, arch: String, what: String },
}
