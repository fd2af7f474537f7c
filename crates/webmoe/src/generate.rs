//! Text generation over an [`Engine`]: prompt in, chunks of text out, with stop conditions and
//! speed figures. The CLI and the browser build drive the same loop.

use crate::constraint::Constraint;
use crate::engine::Engine;
use crate::error::Result;
use crate::sampler::TokenLogprobs;
use crate::tokenizer::{HarmonyReader, StreamDecoder, Tokenizer};
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
    /// Hold the reply to a format (JSON, a JSON schema): only ids the constraint allows are
    /// sampled, and the reply ends once the value is complete (see [`crate::constraint`]).
    pub constraint: Option<Constraint>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions { max_tokens: 128, stop: Vec::new(), ignore_eos: false, constraint: None }
    }
}

/// Why generation ended (the OpenAI API's `finish_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishReason {
    /// An end-of-generation token, a stop text, or the constrained value complete.
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
    /// The harmony channel `text` belongs to (`analysis`, `commentary`, `final`) for a model
    /// whose replies are harmony messages (gpt-oss), whose header words are then not text.
    pub channel: Option<String>,
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
    /// CPU time spent advancing the format's constraint and computing its token masks (0 without
    /// a format); not part of `decode_seconds`.
    pub constraint_seconds: f64,
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
    /// Reads the harmony messages of a gpt-oss reply.
    harmony: Option<HarmonyReader>,
    finish: Option<FinishReason>,
    tokens: Vec<u32>,
    stats: GenerationStats,
    /// The format the reply is held to, taken from the options.
    constraint: Option<Constraint>,
}

impl Generation {
    /// Run the prompt (from position 0) and sample the first token. The leading part of the
    /// prompt that the KV cache already holds (the conversation so far, when the prompt is the
    /// conversation and a new turn) is not run again; at least the last token is.
    pub async fn start(engine: &mut Engine, tokenizer: &Tokenizer, prompt: &[u32], mut options: GenerateOptions) -> Result<Generation> {
        let cached = engine.cached_prefix(prompt).min(prompt.len().saturating_sub(1));
        engine.truncate(cached);
        let constraint = options.constraint.take();
        if let Some(c) = &constraint {
            engine.set_token_mask(Some(c.allowed()))?;
        }
        let t = Instant::now();
        let first = if options.max_tokens == 0 {
            None
        } else {
            Some((engine.prefill(&prompt[cached..]).await?, engine.last_logprobs()))
        };
        let stats = GenerationStats { prompt_tokens: prompt.len(), cached_tokens: cached, prefill_seconds: t.elapsed().as_secs_f64(), ..Default::default() };
        let finish = if options.max_tokens == 0 { Some(FinishReason::Length) } else { None };
        let decoder = tokenizer.stream_decoder();
        let harmony = tokenizer.special_tokens().harmony.map(|m| HarmonyReader::new(m, prompt));
        Ok(Generation {
            tokenizer: tokenizer.clone(),
            options,
            decoder,
            first,
            held: String::new(),
            harmony,
            finish,
            tokens: Vec::new(),
            stats,
            constraint,
        })
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
                let id = if let Some(c) = &self.constraint {
                    // The mask of this step follows from the last id, so no step is queued ahead.
                    engine.set_token_mask(Some(c.allowed()))?;
                    engine.step().await?
                } else if self.tokens.len() + 1 < self.options.max_tokens {
                    // The step after this one is queued before its id is read; it is cancelled
                    // below if generation stops here.
                    engine.step_ahead().await?
                } else {
                    engine.step().await?
                };
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
        // Text held back belongs to the channel it was read in: a marker that closes the body
        // gives it out now, since a stop string cannot continue into another message.
        let channel = self.harmony.as_ref().map(|h| h.channel().to_string());
        let closes_body = self.harmony.as_ref().is_some_and(|h| h.closes_body(id));
        let chunk = |text: String| Chunk { token_id: id, text, channel: channel.clone(), logprobs: None };
        if !self.options.ignore_eos && self.tokenizer.is_end_of_generation(id) {
            self.finish = Some(FinishReason::Stop);
            let text = std::mem::take(&mut self.held) + &self.decoder.finish()?;
            return Ok(chunk(text));
        }
        let decoded = self.decoder.push(id)?;
        match &mut self.harmony {
            Some(h) => self.held.push_str(h.read(id, &decoded)),
            None => self.held.push_str(&decoded),
        }
        if let Some(c) = &mut self.constraint {
            let t = Instant::now();
            c.advance(id)?;
            self.stats.constraint_seconds += t.elapsed().as_secs_f64();
        }
        if let Some(cut) = self.options.stop.iter().filter(|s| !s.is_empty()).filter_map(|s| self.held.find(s.as_str())).min() {
            self.finish = Some(FinishReason::Stop);
            self.held.truncate(cut);
            return Ok(chunk(std::mem::take(&mut self.held)));
        }
        // A complete value ends the reply: the format allows nothing but ending after it.
        let complete = self.constraint.as_ref().is_some_and(Constraint::is_complete);
        if complete || at_limit {
            self.finish = Some(if complete { FinishReason::Stop } else { FinishReason::Length });
            let text = std::mem::take(&mut self.held) + &self.decoder.finish()?;
            return Ok(chunk(text));
        }
        let keep = if closes_body { self.held.len() } else { self.held.len() - self.held_back_len() };
        let text = self.held[..keep].to_string();
        self.held.drain(..keep);
        Ok(chunk(text))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::Gguf;

    /// A generation of gpt-oss's fixture vocabulary that has run no prompt, to feed ids to.
    fn gpt_oss_generation(stop: &[&str], prompt: &str) -> (Generation, Tokenizer) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/oracle/gpt-oss-8x-top4-mxfp4/model.gguf");
        let bytes = std::fs::read(path).unwrap();
        let tokenizer = Tokenizer::from_gguf(&Gguf::parse(&bytes).unwrap()).unwrap();
        let options = GenerateOptions { max_tokens: 100, stop: stop.iter().map(|s| s.to_string()).collect(), ..Default::default() };
        let prompt = tokenizer.encode_with(prompt, false, true).unwrap();
        let harmony = tokenizer.special_tokens().harmony.map(|m| HarmonyReader::new(m, &prompt));
        let g = Generation {
            tokenizer: tokenizer.clone(),
            options,
            decoder: tokenizer.stream_decoder(),
            first: None,
            held: String::new(),
            harmony,
            finish: None,
            tokens: Vec::new(),
            stats: GenerationStats::default(),
            constraint: None,
        };
        (g, tokenizer)
    }

    /// The reply's text per channel, in order, from `harmony` (special-token text parsed).
    fn channels_of(stop: &[&str], harmony: &str) -> (Vec<(Option<String>, String)>, Option<FinishReason>) {
        let (mut g, tokenizer) = gpt_oss_generation(stop, "<|start|>user<|message|>Hi<|end|><|start|>assistant");
        let ids = tokenizer.encode_with(harmony, false, true).unwrap();
        let mut out: Vec<(Option<String>, String)> = Vec::new();
        for id in ids {
            if g.finish.is_some() {
                break;
            }
            let chunk = g.take(id).unwrap();
            match out.last_mut() {
                Some((channel, text)) if *channel == chunk.channel => text.push_str(&chunk.text),
                _ if chunk.text.is_empty() => {}
                _ => out.push((chunk.channel, chunk.text)),
            }
        }
        (out, g.finish)
    }

    #[test]
    fn a_harmony_reply_is_read_as_channelled_text() {
        let reply = "<|channel|>analysis<|message|>The user says hi.<|end|><|start|>assistant<|channel|>final<|message|>Hello there!<|return|>";
        let (got, finish) = channels_of(&[], reply);
        let want = [(Some("analysis".to_string()), "The user says hi.".to_string()), (Some("final".to_string()), "Hello there!".to_string())];
        assert_eq!(got, want);
        assert_eq!(finish, Some(FinishReason::Stop), "<|return|> ends the reply");
    }

    #[test]
    fn text_held_for_a_stop_string_stays_in_its_channel() {
        // "there" could begin the stop string "there!": held, then given out with the analysis
        // channel when the message ends, not with the final one.
        let reply = "<|channel|>analysis<|message|>Say there<|end|><|start|>assistant<|channel|>final<|message|>Hi there!";
        let (got, finish) = channels_of(&["there!"], reply);
        assert_eq!(got, [(Some("analysis".to_string()), "Say there".to_string()), (Some("final".to_string()), "Hi ".to_string())]);
        assert_eq!(finish, Some(FinishReason::Stop));
    }
}
