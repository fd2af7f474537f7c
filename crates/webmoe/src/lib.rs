//! webmoe: Mixture-of-Experts language models from GGUF files on WebGPU.

pub mod bench;
pub mod constraint;
pub mod engine;
pub mod experts;
pub mod generate;
mod error;
pub mod gguf;
pub mod gpu;
pub mod kernels;
pub mod model;
pub mod quant;
pub mod reference;
pub mod sampler;
pub mod synthetic;
pub mod tokenizer;
#[cfg(test)]
pub(crate) mod testing;

pub use error::{Error, Result};
