//! Running tokens: prompt chunks, decode steps and logits. Each submit runs the body for its
//! tokens and a tail (lm_head, sampler); resident experts make it one submit, streamed experts
//! a submit per layer and round of uploads (`streaming.rs`).

use super::Engine;
use crate::error::{Error, Result};
use crate::gpu::{map_read, read_buffer, Dispatch, GpuError};
use crate::kernels::Step;

/// What follows the body in a submit.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Tail {
    /// Nothing: a prompt chunk that is not the last.
    None,
    /// The lm_head over every token: logits of every position.
    AllLogits,
    /// The lm_head over the last token and the sampler, whose choice is copied for read-back.
    Sample,
}

impl Engine {
    /// Encode `dispatches` for a submit of `n` tokens at the current position.
    pub(super) fn encode<'a>(&self, n: usize, dispatches: impl Iterator<Item = &'a Dispatch>) -> wgpu::CommandEncoder {
        self.encode_at(n, 0, dispatches)
    }

    /// Encode `dispatches` for a submit of `n` tokens `lead` steps after the current position:
    /// 1 for a decode step queued behind one whose id the CPU has not read yet.
    pub(super) fn encode_at<'a>(&self, n: usize, lead: usize, dispatches: impl Iterator<Item = &'a Dispatch>) -> wgpu::CommandEncoder {
        let step = Step {
            pos0: (self.pos + lead) as u32,
            n_tokens: n as u32,
            sample_step: self.sample_step + lead as u32,
            n_history: (self.seen.len() + lead) as u32,
        };
        self.env.set_step(&self.gpu, step);
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        let mut dispatched = 0;
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for d in dispatches {
                dispatched += d.encode(&mut pass, n as u32) as u64;
            }
        }
        self.count(|c| {
            c.dispatches += dispatched;
            c.submits += 1;
        });
        enc
    }

    /// The dispatches of `tail`.
    pub(super) fn tail(&self, tail: Tail) -> Vec<&Dispatch> {
        match tail {
            Tail::None => Vec::new(),
            Tail::AllLogits => self.passes.head_all.iter().collect(),
            Tail::Sample => self.passes.head_last.iter().chain(std::iter::once(&self.sampler.dispatch)).collect(),
        }
    }

    /// Finish a submit's encoder: copy the sampler's output (the id, and log-probabilities when
    /// asked for) for read-back when the tail sampled.
    pub(super) fn finish(&self, mut enc: wgpu::CommandEncoder, tail: Tail) -> wgpu::CommandBuffer {
        if tail == Tail::Sample {
            enc.copy_buffer_to_buffer(&self.sampler.output.buffer, 0, &self.sampled[0], 0, self.sampler.readback_bytes());
        }
        enc.finish()
    }

    /// Run the body for the `n` tokens in `scratch.tokens`, then `tail`.
    async fn run_tokens(&mut self, n: usize, tail: Tail) -> Result<()> {
        if let Some(mut streaming) = self.streaming.take() {
            let result = self.run_streaming(&mut streaming, n, tail).await;
            self.streaming = Some(streaming);
            return result;
        }
        let body = self.passes.body(n);
        let enc = self.encode(n, body.all().chain(self.tail(tail)));
        self.gpu.queue.submit([self.finish(enc, tail)]);
        Ok(())
    }

    /// How many leading ids of `tokens` the KV cache already holds: a new request that begins
    /// with the sequence so far (a conversation and its next turn, a shared system prompt) needs
    /// only the rest run.
    pub fn cached_prefix(&self, tokens: &[u32]) -> usize {
        self.seen[..self.pos.min(self.seen.len())].iter().zip(tokens).take_while(|(a, b)| a == b).count()
    }

    /// Keep the first `n` positions of the sequence and forget the rest; sampling starts over
    /// as after [`Engine::reset`] (no token mask), so what follows is what a fresh run of the
    /// same ids gives.
    pub fn truncate(&mut self, n: usize) {
        self.cancel_ahead();
        let n = n.min(self.pos);
        self.pos = n;
        self.seen.truncate(n);
        self.sample_step = 0;
        self.clear_token_mask();
    }

    /// Run `tokens` (in submits of the batch size) and return the logits of every position.
    pub async fn logits(&mut self, tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
        self.cancel_ahead();
        self.check_tokens(tokens)?;
        self.count(|c| c.prompt_tokens += tokens.len() as u64);
        let vocab = self.model.config.vocab_size;
        let mut all = Vec::with_capacity(tokens.len());
        self.record_history(tokens);
        for chunk in tokens.chunks(self.scratch.batch) {
            self.scratch.tokens.write(&self.gpu, 0, bytemuck::cast_slice(chunk));
            self.run_tokens(chunk.len(), Tail::AllLogits).await?;
            let bytes = read_buffer(&self.gpu, &self.scratch.logits.buffer, 0, (chunk.len() * vocab * 4) as u64).await?;
            // read_buffer submits its own copy.
            self.count(|c| {
                c.readbacks += 1;
                c.submits += 1;
            });
            self.gpu.check()?;
            let values: &[f32] = bytemuck::cast_slice(&bytes);
            all.extend(values.chunks(vocab).map(|r| r.to_vec()));
            self.pos += chunk.len();
        }
        Ok(all)
    }

    /// Run the prompt `tokens` and return the token sampled after it.
    pub async fn prefill(&mut self, tokens: &[u32]) -> Result<u32> {
        self.cancel_ahead();
        self.check_tokens(tokens)?;
        self.count(|c| c.prompt_tokens += tokens.len() as u64);
        self.record_history(tokens);
        let chunks: Vec<Vec<u32>> = tokens.chunks(self.scratch.batch).map(|c| c.to_vec()).collect();
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.iter().enumerate() {
            self.scratch.tokens.write(&self.gpu, 0, bytemuck::cast_slice(chunk));
            if i == last {
                return self.submit_and_sample(chunk.len()).await;
            }
            self.run_tokens(chunk.len(), Tail::None).await?;
            self.pos += chunk.len();
        }
        Err(Error::EmptyPrompt)
    }

    /// Feed the last sampled token (already on the GPU) and return the next one (the one a step
    /// submitted ahead computed, if there is one).
    pub async fn step(&mut self) -> Result<u32> {
        if let Some(buffer) = self.ahead.take() {
            return self.read_sampled(buffer).await;
        }
        if self.pos + 1 > self.kv.max_ctx {
            return Err(Error::ContextFull { needed: self.pos + 1, context: self.kv.max_ctx });
        }
        self.submit_and_sample(1).await
    }

    /// Run `n` tokens through the body, the head and the sampler; read the sampled id back.
    async fn submit_and_sample(&mut self, n: usize) -> Result<u32> {
        self.run_tokens(n, Tail::Sample).await?;
        self.read_sampled_after(0, n).await
    }

    /// Read the id a decode step copied into `sampled[buffer]`, and take it into the sequence.
    pub(super) async fn read_sampled(&mut self, buffer: usize) -> Result<u32> {
        self.read_sampled_after(buffer, 1).await
    }

    /// Read the id in `sampled[buffer]`, sampled after a submit of `n` tokens.
    pub(super) async fn read_sampled_after(&mut self, buffer: usize, n: usize) -> Result<u32> {
        let sampled = &self.sampled[buffer];
        map_read(&self.gpu, sampled).await?;
        self.count(|c| c.readbacks += 1);
        let id = {
            let view = sampled.slice(..).get_mapped_range().map_err(|e| GpuError::Readback { reason: e.to_string() })?;
            self.sampler.read_output(&view)
        };
        sampled.unmap();
        self.gpu.check()?;
        self.pos += n;
        // The sampler appended the id to its ring on the GPU; keep the CPU copy in step.
        self.seen.push(id);
        self.sample_step += 1;
        Ok(id)
    }
}
