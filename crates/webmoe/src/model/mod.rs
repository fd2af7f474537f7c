//! A model as webmoe runs it: hyper-parameters from metadata and the file location of every
//! weight, validated before any GPU work starts.

mod arch;
mod config;
mod error;
mod layout;
mod rope;

pub use arch::{Activation, Architecture, Features, QkNorm, RopeMode, Routing};
pub use config::{ModelConfig, Scales, SlidingWindow, MAX_EXPERTS, MAX_EXPERTS_USED};
pub use error::ModelError;
pub use layout::{ExpertBiases, Ffn, LayerLayout, Matrix, ModelLayout, QkNormWeights, QkvBias, SharedExpert, Vector};
pub use rope::{Rope, RopeScaling};

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

    /// The architecture's features in words, for `webmoe inspect`: "NEOX RoPE, q/k/v biases, …,
    /// tied output".
    pub fn features(&self) -> Vec<String> {
        let mut out = self.config.features.describe(self.config.is_moe());
        out.extend(self.config.scales.describe());
        out.extend(self.config.rope_scaling.describe());
        if self.layout.rope_freqs.is_some() {
            out.push("RoPE frequency factors".into());
        }
        if let Some(w) = self.config.sliding_window {
            out.push(format!("sliding window of {} on {} of every {} layers", w.size, w.pattern - 1, w.pattern));
        }
        if self.layout.tied_output {
            out.push("tied output".into());
        }
        out
    }
}

#[cfg(test)]
mod tests;
