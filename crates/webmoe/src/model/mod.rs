//! A model as webmoe runs it: hyper-parameters from metadata and the file location of every
//! weight, validated before any GPU work starts.

mod config;
mod error;
mod layout;

pub use config::{ModelConfig, MAX_EXPERTS, MAX_EXPERTS_USED};
pub use error::ModelError;
pub use layout::{Ffn, LayerLayout, Matrix, ModelLayout, Vector};

use crate::gguf::Gguf;

/// A validated model description: what to allocate and where each weight's bytes are.
#[derive(Clone, Debug)]
pub struct Model {
    pub config: ModelConfig,
    pub layout: ModelLayout,
}

impl Model {
    pub fn from_gguf(g: &Gguf) -> Result<Model, ModelError> {
        let config = ModelConfig::from_gguf(g)?;
        let layout = ModelLayout::from_gguf(g, &config)?;
        Ok(Model { config, layout })
    }
}

#[cfg(test)]
mod tests;
