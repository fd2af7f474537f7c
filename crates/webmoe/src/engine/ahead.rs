//! Decode steps submitted one ahead of the CPU. A decode step feeds the id the previous step
//! sampled, which stays on the GPU, so the next step can be queued before the CPU reads the
//! current one back: the GPU then never idles while the CPU maps a buffer, decodes text and
//! decides whether to go on. A caller that stops (an end-of-generation token, a stop string)
//! cancels the step ahead, and the sequence is as if it had never been queued.
//!
//! ```text
//! step_ahead:  [submit t]  submit t+1  read t      → t
//! step_ahead:              submit t+2  read t+1    → t+1
//! cancel_ahead:                        (t+2 dropped: position, sampler ring and input restored)
//! ```
//!
//! Experts that stream in need the CPU between layers anyway, so with an expert cache a step is
//! never queued ahead; nor under a token mask, which the CPU computes from the id just read.

use super::run::Tail;
use super::Engine;
use crate::error::{Error, Result};
use crate::kernels::sample::history_ring;

impl Engine {
    /// Like [`Engine::step`], and queue the step after it on the GPU before reading this one
    /// back. Call [`Engine::cancel_ahead`] when no further step is wanted (or any method that
    /// starts over: `prefill`, `logits`, `reset`, `set_sampling` cancel it themselves).
    pub async fn step_ahead(&mut self) -> Result<u32> {
        if self.streaming.is_some() || self.sampler.masks() {
            return self.step().await;
        }
        let room = |steps: usize| self.pos + steps <= self.kv.max_ctx;
        let current = match self.ahead.take() {
            Some(buffer) => buffer,
            None if room(1) => {
                self.submit_decode(0, 0);
                0
            }
            None => return Err(Error::ContextFull { needed: self.pos + 1, context: self.kv.max_ctx }),
        };
        if room(2) {
            let next = 1 - current;
            self.submit_decode(1, next);
            self.ahead = Some(next);
        }
        self.read_sampled(current).await
    }

    /// Drop the step submitted ahead, if any. It appended its id to the sampler's ring and left
    /// it as the next step's input: both go back to the sequence the CPU has. (What it wrote to
    /// the KV cache lies past the position and is overwritten by the next step.)
    pub fn cancel_ahead(&mut self) {
        if self.ahead.take().is_none() {
            return;
        }
        if let Some(&last) = self.seen.last() {
            self.scratch.tokens.write(&self.gpu, 0, bytemuck::bytes_of(&last));
        }
        let ring = history_ring(&self.seen, self.sampler.history_capacity());
        self.history.write(&self.gpu, 0, bytemuck::cast_slice(&ring));
    }

    /// Whether a decode step is queued ahead.
    pub fn has_step_ahead(&self) -> bool {
        self.ahead.is_some()
    }

    /// Submit one decode step `lead` steps after the position, its id copied to `sampled[into]`.
    fn submit_decode(&self, lead: usize, into: usize) {
        let body = &self.passes.decode;
        let mut enc = self.encode_at(1, lead, body.all().chain(self.tail(Tail::Sample)));
        enc.copy_buffer_to_buffer(&self.sampler.output.buffer, 0, &self.sampled[into], 0, self.sampler.readback_bytes());
        self.gpu.queue.submit([enc.finish()]);
    }
}
