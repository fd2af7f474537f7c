//! Text generation over an [`Engine`]: prompt in, chunks of text out, with stop conditions and
//! speed figures. The CLI and the browser build drive the same loop.

use crate::engine::Engine;
use crate::error::Result;
use crate::sampler::TokenLogprobs;
use crate::tokenizer::{StreamDecoder, Tokenizer};
use web_time::Instant;

/// When to stop.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// Texts that end the reply; the reply stops before the first one found.
    pub stop: Vec<String>,
    /// Keep going past end-of-generation tokens.
    pub ignore_eos: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions { max_tokens: 128, stop: Vec::new(), ignore_eos: false }
    }
}

/// Why generation ended (the OpenAI API's `finish_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishReason {
    /// An end-of-generation token or a stop text.
    Stop,
    /// `max_tokens` reached.
    Length,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
        }
    }
}

/// One generated token and the text it completed (possibly empty: a byte of a multi-byte
/// character, or text held back because it may begin a stop string).
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    pub token_id: u32,
    pub text: String,
    /// The sampler's log-probabilities for this token, when the sampling parameters ask for them.
    pub logprobs: Option<TokenLogprobs>,
}

/// Counts and times of one generation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GenerationStats {
    pub prompt_tokens: usize,
    /// Of `prompt_tokens`, the leading ones the KV cache already held, which were not run again.
    pub cached_tokens: usize,
    pub generated_tokens: usize,
    /// From the start of the prompt's submit to the first token read back.
    pub prefill_seconds: f64,
    /// All later decode steps.
    pub decode_seconds: f64,
}

impl GenerationStats {
    /// Tokens per second over the prompt tokens that were run.
    pub fn prefill_tok_s(&self) -> f64 {
        rate(self.prompt_tokens - self.cached_tokens, self.prefill_seconds)
    }

    /// Tokens per second over the decode steps (the first token comes from the prefill).
    pub fn decode_tok_s(&self) -> f64 {
        rate(self.generated_tokens.saturating_sub(1), self.decode_seconds)
    }
}

fn rate(n: usize, seconds: f64) -> f64 {
    if seconds > 0.0 {
        n as f64 / seconds
    } else {
        0.0
    }
}

/// A generation in progress. Call [`Generation::next_chunk`] with the engine it started on until
/// it returns `None`. It holds no borrow of the engine between calls, so a caller (the browser
/// binding) can keep both side by side.
pub struct Generation {
    tokenizer: Tokenizer,
    options: GenerateOptions,
    decoder: StreamDecoder,
    /// The token sampled after the prompt, not yet returned, and its log-probabilities.
    first: Option<(u32, Option<TokenLogprobs>)>,
    /// Decoded text not yet returned (it may be the start of a stop string).
    held: String,
    finish: Option<FinishReason>,
    tokens: Vec<u32>,
    stats: GenerationStats,
}

impl Generation {
    /// Run the prompt (from position 0) and sample the first token. The leading part of the
    /// prompt that the KV cache already holds (the conversation so far, when the prompt is the
    /// conversation and a new turn) is not run again; at least the last token is.
    pub async fn start(engine: &mut Engine, tokenizer: &Tokenizer, prompt: &[u32], options: GenerateOptions) -> Result<Generation> {
        let cached = engine.cached_prefix(prompt).min(prompt.len().saturating_sub(1));
        engine.truncate(cached);
        let t = Instant::now();
        let first = if options.max_tokens == 0 {
            None
        } else {
            Some((engine.prefill(&prompt[cached..]).await?, engine.last_logprobs()))
        };
        let stats = GenerationStats { prompt_tokens: prompt.len(), cached_tokens: cached, prefill_seconds: t.elapsed().as_secs_f64(), ..Default::default() };
        let finish = if options.max_tokens == 0 { Some(FinishReason::Length) } else { None };
        let decoder = tokenizer.stream_decoder();
        Ok(Generation { tokenizer: tokenizer.clone(), options, decoder, first, held: String::new(), finish, tokens: Vec::new(), stats })
    }

    /// The next token and its text, or `None` when generation has ended.
    pub async fn next_chunk(&mut self, engine: &mut Engine) -> Result<Option<Chunk>> {
        if self.finish.is_some() {
            return Ok(None);
        }
        let (id, logprobs) = match self.first.take() {
            Some(first) => first,
            None => {
                let t = Instant::now();
                // Unless this is the last token allowed, the step after it is queued before its id
                // is read; it is cancelled below if generation stops here.
                let id = if self.tokens.len() + 1 < self.options.max_tokens { engine.step_ahead().await? } else { engine.step().await? };
                self.stats.decode_seconds += t.elapsed().as_secs_f64();
                (id, engine.last_logprobs())
            }
        };
        let chunk = self.take(id).map(|chunk| Chunk { logprobs, ..chunk });
        if chunk.is_err() || self.finish.is_some() {
            engine.cancel_ahead();
        }
        chunk.map(Some)
    }

    /// Account for the generated `id`: its text, and whether it ends the generation.
    fn take(&mut self, id: u32) -> Result<Chunk> {
        self.tokens.push(id);
        self.stats.generated_tokens += 1;
        let at_limit = self.tokens.len() >= self.options.max_tokens;
        if !self.options.ignore_eos && self.tokenizer.is_end_of_generation(id) {
            self.finish = Some(FinishReason::Stop);
            let text = std::mem::take(&mut self.held) + &self.decoder.finish()?;
            return Ok(Chunk { token_id: id, text, logprobs: None });
        }
        self.held.push_str(&self.decoder.push(id)?);
        if let Some(cut) = self.options.stop.iter().filter(|s| !s.is_empty()).filter_map(|s| self.held.find(s.as_str())).min() {
            self.finish = Some(FinishReason::Stop);
            self.held.truncate(cut);
            return Ok(Chunk { token_id: id, text: std::mem::take(&mut self.held), logprobs: None });
        }
        if at_limit {
            self.finish = Some(FinishReason::Length);
            let text = std::mem::take(&mut self.held) + &self.decoder.finish()?;
            return Ok(Chunk { token_id: id, text, logprobs: None });
        }
        let keep = self.held.len() - self.held_back_len();
        let text = self.held[..keep].to_string();
        self.held.drain(..keep);
        Ok(Chunk { token_id: id, text, logprobs: None })
    }

    /// Bytes at the end of `held` that could begin a stop string, and so must wait.
    fn held_back_len(&self) -> usize {
        let mut hold = 0;
        for s in self.options.stop.iter().filter(|s| !s.is_empty()) {
            for (i, _) in s.char_indices().skip(1) {
                if self.held.ends_with(&s[..i]) {
                    hold = hold.max(i);
                }
            }
        }
        hold
    }

    pub fn finish_reason(&self) -> Option<FinishReason> {
        self.finish
    }

    /// Ids generated so far.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    pub fn stats(&self) -> &GenerationStats {
        &self.stats
    }
}
