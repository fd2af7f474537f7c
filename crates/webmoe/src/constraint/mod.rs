//! Structured output: generation that only produces text of a given format (JSON, JSON matching
//! a schema), on the `llguidance` crate.
//!
//! A [`Vocabulary`] is built once per tokenizer: every id's bytes in a token trie, and the
//! precomputed token classes llguidance's mask computation starts from. [`Vocabulary::compile`]
//! turns a [`ResponseFormat`] into a [`Constraint`], refusing a schema it cannot compile before
//! anything is generated. Then, per generated token:
//!
//! ```text
//! constraint.allowed()   the ids that keep the text inside the format: a bitmask, uploaded to
//!                        the GPU, where the sampler gives every other id a logit of −∞
//! (sample)               temperature, top-k, top-p … choose among the allowed ids only
//! constraint.advance(id) take the id; compute the next mask on the CPU
//! constraint.is_complete()  the value is complete and only ending is left: stop
//! ```
//!
//! Ending is an id of the tokenizer's end-of-generation set, allowed wherever the format accepts
//! the text as complete.

mod format;
#[cfg(test)]
mod tests;
mod vocabulary;

pub use format::ResponseFormat;
pub use vocabulary::Vocabulary;

use crate::error::{Error, Result};
use llguidance::Matcher;

/// A format being generated: what the text so far allows next.
#[derive(Clone)]
pub struct Constraint {
    matcher: Matcher,
    /// The ids allowed next, (n_vocab.div_ceil(32)) u32: bit `i % 32` of word `i / 32` is id i.
    allowed: Vec<u32>,
    n_vocab: usize,
}

impl Constraint {
    /// Wraps a fresh matcher and computes the first mask (a format that allows no first token
    /// is refused here, before generation).
    fn start(matcher: Matcher, n_vocab: usize) -> Result<Constraint> {
        let mut constraint = Constraint { matcher, allowed: vec![0; n_vocab.div_ceil(32)], n_vocab };
        constraint.compute_mask()?;
        Ok(constraint)
    }

    /// The ids the text may continue with (see the field's layout). Stale once
    /// [`Constraint::is_complete`] holds.
    pub fn allowed(&self) -> &[u32] {
        &self.allowed
    }

    /// Whether `id` is allowed next.
    pub fn allows(&self, id: u32) -> bool {
        let id = id as usize;
        id < self.n_vocab && self.allowed[id / 32] >> (id % 32) & 1 == 1
    }

    /// Take the generated `id` and compute what may follow it. Refuses an id the mask did not
    /// allow (the sampler only draws allowed ids, so this means the mask did not reach it).
    pub fn advance(&mut self, id: u32) -> Result<()> {
        if !self.allows(id) {
            return Err(failed(format!("token {id} was generated but the format did not allow it")));
        }
        self.matcher.consume_token(id).map_err(|e| failed(e.to_string()))?;
        if !self.is_complete() {
            self.compute_mask()?;
        }
        Ok(())
    }

    /// Whether the text is a complete value of the format and nothing but ending may follow.
    pub fn is_complete(&self) -> bool {
        !self.matcher.is_error() && self.matcher.is_stopped()
    }

    fn compute_mask(&mut self) -> Result<()> {
        let mask = self.matcher.compute_mask().map_err(|e| failed(e.to_string()))?;
        let words = mask.as_slice();
        self.allowed.fill(0);
        let n = self.allowed.len().min(words.len());
        self.allowed[..n].copy_from_slice(&words[..n]);
        Ok(())
    }
}

impl std::fmt::Debug for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let allowed: u32 = self.allowed.iter().map(|w| w.count_ones()).sum();
        f.debug_struct("Constraint")
            .field("n_vocab", &self.n_vocab)
            .field("allowed", &allowed)
            .field("complete", &self.is_complete())
            .finish()
    }
}

fn failed(reason: String) -> Error {
    Error::Constraint { reason }
}
