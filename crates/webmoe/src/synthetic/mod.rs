//! Synthetic models: valid GGUF files of any llama-architecture shape, up to the real sizes
//! (Mixtral 8x7B, 8x22B), with random weights in the block formats and type mixes real files
//! use. They exercise the loader, the kernels and the expert cache at sizes the reference
//! fixtures do not reach (benchmarks, memory tests); their outputs are meaningless text, but
//! their numbers behave like a trained model's: weights of spread 1/√fan-in in every block
//! format, norms near 1, a router whose choice varies from token to token, activations that stay
//! finite through every layer.
//!
//! - [`Generator`] plans a model and streams it to any writer in bounded memory;
//!   [`model_bytes`] is the same, into memory.
//! - [`Mix`] chooses each tensor's type (llama.cpp's Q4_K_M rules, or one type throughout).
//! - [`Vocab`] is the tokenizer metadata: synthetic, or copied from a tokenizer.json or a GGUF.

mod blocks;
mod generator;
mod mix;
mod rng;
#[cfg(test)]
mod tests;
mod vocab;

pub use blocks::{fill_weights, random_tensor_bytes};
pub use generator::{Generator, DEFAULT_CHUNK_BYTES, SEGMENT_VALUES};
pub use mix::{fallback, use_more_bits, Mix, Place, Role};
pub use rng::Rng;
pub use vocab::Vocab;

/// Why a synthetic model cannot be made as asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SyntheticError {
    #[error("{field} = {value}: {why}")]
    BadShape { field: &'static str, value: usize, why: String },
    #[error(
        "the vocabulary has {vocab} tokens but the model is asked for {spec}; give no vocabulary size, or the same one"
    )]
    VocabSize { vocab: usize, spec: usize },
    #[error("cannot read a vocabulary from {path}: {reason}")]
    Vocabulary { path: String, reason: String },
}

/// The shape of a synthetic model.
#[derive(Clone, Debug)]
pub struct Spec {
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_ff: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    /// 0 or 1: dense.
    pub n_expert: usize,
    pub n_expert_used: usize,
    /// At least 259 for the synthetic vocabulary (special and byte tokens come first).
    pub vocab_size: usize,
    pub context_length: usize,
    pub mix: Mix,
    pub seed: u64,
}

/// Names [`Spec::preset`] knows.
pub const PRESETS: &[&str] = &["mixtral-8x7b", "mixtral-8x22b"];

impl Spec {
    /// A Mixtral-shaped model scaled down: 8 experts, top-2, Q4_K_M mix.
    pub fn mixtral_like(n_layer: usize, n_embd: usize) -> Spec {
        Spec {
            n_layer,
            n_embd,
            n_ff: n_embd * 7 / 2 / 256 * 256,
            n_head: n_embd / 128,
            n_head_kv: (n_embd / 128 / 4).max(1),
            n_expert: 8,
            n_expert_used: 2,
            vocab_size: 32000,
            context_length: 4096,
            mix: Mix::Q4KM,
            seed: 1,
        }
    }

    /// Mixtral 8x7B (mistralai/Mixtral-8x7B-v0.1 config.json): 32 layers, hidden 4096, 32 query
    /// and 8 key/value heads of 128, expert FFN 14336, 8 experts top-2, vocabulary 32000, context
    /// 32768, RoPE θ 1e6; Q4_K_M as today's llama-quantize makes it, 28.4 GB.
    pub fn mixtral_8x7b() -> Spec {
        Spec {
            n_layer: 32,
            n_embd: 4096,
            n_ff: 14336,
            n_head: 32,
            n_head_kv: 8,
            n_expert: 8,
            n_expert_used: 2,
            vocab_size: 32000,
            context_length: 32768,
            mix: Mix::Q4KM,
            seed: 1,
        }
    }

    /// Mixtral 8x22B (mistralai/Mixtral-8x22B-v0.1 config.json): 56 layers, hidden 6144, 48 query
    /// and 8 key/value heads of 128, expert FFN 16384, 8 experts top-2, vocabulary 32768, context
    /// 65536, RoPE θ 1e6; Q4_K_M, 85.6 GB as llama.cpp's (b2636) is.
    pub fn mixtral_8x22b() -> Spec {
        Spec {
            n_layer: 56,
            n_embd: 6144,
            n_ff: 16384,
            n_head: 48,
            n_head_kv: 8,
            vocab_size: 32768,
            context_length: 65536,
            ..Spec::mixtral_8x7b()
        }
    }

    /// The preset of that name (see [`PRESETS`]).
    pub fn preset(name: &str) -> Option<Spec> {
        match name {
            "mixtral-8x7b" => Some(Spec::mixtral_8x7b()),
            "mixtral-8x22b" => Some(Spec::mixtral_8x22b()),
            _ => None,
        }
    }

    /// Check that the shape makes a model webmoe and llama.cpp accept. Field names are the
    /// generator's flags.
    pub fn validate(&self) -> Result<(), SyntheticError> {
        let bad = |field, value, why: &str| Err(SyntheticError::BadShape { field, value, why: why.into() });
        let fields = [
            ("layers", self.n_layer),
            ("hidden", self.n_embd),
            ("ffn", self.n_ff),
            ("heads", self.n_head),
            ("kv-heads", self.n_head_kv),
            ("vocab", self.vocab_size),
            ("ctx", self.context_length),
        ];
        for (field, value) in fields {
            if value == 0 {
                return bad(field, value, "must be at least 1");
            }
            if value > u32::MAX as usize {
                return bad(field, value, "must fit in 32 bits");
            }
        }
        if !self.n_embd.is_multiple_of(self.n_head) {
            return bad("heads", self.n_head, &format!("must divide the hidden size {}", self.n_embd));
        }
        if !(self.n_embd / self.n_head).is_multiple_of(2) {
            return bad("hidden", self.n_embd, "divided by the heads must give an even head size (RoPE turns pairs)");
        }
        if !self.n_head.is_multiple_of(self.n_head_kv) {
            return bad("kv-heads", self.n_head_kv, &format!("must divide the {} query heads", self.n_head));
        }
        if self.n_expert > 1 && !(1..=self.n_expert).contains(&self.n_expert_used) {
            return bad("experts-used", self.n_expert_used, &format!("must be 1 to the {} experts", self.n_expert));
        }
        if self.n_expert > u32::MAX as usize {
            return bad("experts", self.n_expert, "must fit in 32 bits");
        }
        // The largest tensors: the experts' matrices and the embeddings (2^44 values is 10 TB).
        let values = |dims: &[usize]| dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
        for (field, value, dims) in [
            ("ffn", self.n_ff, [self.n_embd, self.n_ff, self.n_expert.max(1)]),
            ("vocab", self.vocab_size, [self.n_embd, self.vocab_size, 1]),
        ] {
            if values(&dims).is_none_or(|n| n > 1 << 44) {
                return bad(field, value, "makes a tensor of more than 2^44 values");
            }
        }
        Ok(())
    }

    /// `validate`, and the synthetic vocabulary's least size.
    pub fn validate_with_synthetic_vocab(&self) -> Result<(), SyntheticError> {
        self.validate()?;
        if self.vocab_size < 259 {
            let why = "the synthetic vocabulary needs at least 259 tokens (3 special, 256 bytes)";
            return Err(SyntheticError::BadShape { field: "vocab", value: self.vocab_size, why: why.into() });
        }
        Ok(())
    }
}

/// The GGUF file of a synthetic model, in memory: what [`Generator::write`] streams.
pub fn model_bytes(spec: &Spec) -> Vec<u8> {
    let g = Generator::new(spec);
    let out = Vec::with_capacity(g.file_len() as usize);
    g.write(out, &mut |_| {}).expect("writing to a Vec cannot fail")
}
