//! The crate's error type: every failure a caller can meet, each saying what to do.

use crate::gguf::{GgufError, SourceError};
use crate::gpu::{GpuError, UploadError};
use crate::model::ModelError;
use crate::quant::QuantError;
use crate::tokenizer::TokenizerError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Quant(#[from] QuantError),
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    #[error("invalid {option} {value}: {why}")]
    InvalidOption { option: String, value: String, why: String },
    #[error("tensor {name:?} ({what}) cannot run on the GPU: {why}")]
    UnsupportedTensor { name: String, what: String, why: String },
    #[error("the prompt and generated tokens need {needed} positions, but the context holds {context}; use a larger context length (-c) or a shorter prompt")]
    ContextFull { needed: usize, context: usize },
    #[error("token id {id} is outside the vocabulary of {vocab} tokens")]
    TokenOutOfRange { id: u32, vocab: usize },
    #[error("the prompt is empty; give at least one token")]
    EmptyPrompt,
    #[error("structured output: {reason}")]
    Constraint { reason: String },
    #[error("generation was cancelled")]
    Cancelled,
}

impl From<UploadError> for Error {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::Gpu(g) => Error::Gpu(g),
            UploadError::Source(s) => Error::Source(s),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
