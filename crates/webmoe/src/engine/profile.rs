//! Where a submit's GPU time goes: the same dispatches as a prompt submit or a decode step, each
//! submitted alone and awaited, timed from the host. The waits add a little to every dispatch,
//! so the sum is more than a queued step takes; the shares are what a profile is for.

use super::run::Tail;
use super::Engine;
use crate::error::{Error, Result};
use crate::gpu::Dispatch;
use web_time::Instant;

/// The dispatches of one label in a profiled submit.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTime {
    /// The kernel and, for a weight matrix, its tensor and type (see [`Dispatch::label`]).
    pub label: String,
    /// Dispatches with this label in the submit (every layer's, and every page's).
    pub calls: u32,
    pub seconds: f64,
}

/// A prompt submit and the decode step after it, by kernel, most time first.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    pub prompt_tokens: usize,
    pub prompt: Vec<KernelTime>,
    pub decode: Vec<KernelTime>,
}

impl Engine {
    /// Run `prompt` (one submit: at most the batch size) and one decode step after it, each
    /// dispatch alone, and say how long each kind took. Needs every expert resident: streamed
    /// experts split a step into submits of their own. The sequence then holds the prompt and
    /// the sampled token, as after a prefill and a step.
    pub async fn profile(&mut self, prompt: &[u32]) -> Result<Profile> {
        let bad = |why: &str| Error::InvalidOption { option: "profile".into(), value: format!("{} prompt tokens", prompt.len()), why: why.into() };
        if self.streaming.is_some() {
            return Err(bad("a profile needs every expert resident; load without a GPU budget (or a larger one)"));
        }
        if prompt.len() > self.scratch.batch {
            return Err(bad(&format!("the prompt must fit one submit of the batch size ({})", self.scratch.batch)));
        }
        self.cancel_ahead();
        self.check_tokens(prompt)?;
        if self.pos + prompt.len() + 1 > self.kv.max_ctx {
            return Err(Error::ContextFull { needed: self.pos + prompt.len() + 1, context: self.kv.max_ctx });
        }
        self.count(|c| c.prompt_tokens += prompt.len() as u64);
        self.record_history(prompt);
        self.scratch.tokens.write(&self.gpu, 0, bytemuck::cast_slice(prompt));
        let prompt_times = self.profile_submit(prompt.len()).await?;
        let decode_times = self.profile_submit(1).await?;
        Ok(Profile { prompt_tokens: prompt.len(), prompt: prompt_times, decode: decode_times })
    }

    /// One submit of `n` tokens with its sampling tail, a dispatch at a time; takes the sampled
    /// id into the sequence as [`Engine::step`] does.
    async fn profile_submit(&mut self, n: usize) -> Result<Vec<KernelTime>> {
        let mut times: Vec<KernelTime> = Vec::new();
        {
            let dispatches: Vec<&Dispatch> = self.passes.body(n).all().chain(self.tail(Tail::Sample)).collect();
            let last = dispatches.len() - 1;
            // Warm: the first submit of a kind may compile or page in what later ones reuse.
            self.gpu.work_done().await?;
            for (i, d) in dispatches.into_iter().enumerate() {
                let t = Instant::now();
                let enc = self.encode(n, std::iter::once(d));
                let buffer = if i == last { self.finish(enc, Tail::Sample) } else { enc.finish() };
                self.gpu.queue.submit([buffer]);
                self.gpu.work_done().await?;
                let seconds = t.elapsed().as_secs_f64();
                match times.iter_mut().find(|k| k.label == d.label) {
                    Some(k) => {
                        k.calls += 1;
                        k.seconds += seconds;
                    }
                    None => times.push(KernelTime { label: d.label.to_string(), calls: 1, seconds }),
                }
            }
        }
        self.read_sampled_after(0, n).await?;
        times.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
        Ok(times)
    }
}
