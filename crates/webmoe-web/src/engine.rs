//! `WasmEngine`: a loaded model, its tokenizer and the generation in progress, as the worker
//! drives them.
//!
//! Methods that wait on the GPU return promises. The state lives in an `Rc` shared with those
//! promises' futures, and a future takes the [`Engine`] out of its slot for the duration of the
//! call and puts it back at the end, so no `RefCell` borrow is held across an await. The worker
//! makes one call at a time; a call that finds the slot empty (another call in flight) fails
//! with a message saying so, instead of corrupting the sequence.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Promise;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use webmoe::constraint::{Constraint, Vocabulary};
use webmoe::engine::{Engine, DEFAULT_BATCH};
use webmoe::generate::{self, Generation};
use webmoe::gguf::ConcatSource;
use webmoe::gpu::{Gpu, GpuOptions};
use webmoe::tokenizer::{ChatMessage, Tokenizer};
use webmoe::Error;

use crate::conversations::{Conversations, DEFAULT_MAX_CONVERSATIONS};
use crate::fit::{self, Overflow};
use crate::error::{invalid_option, js_error, to_js, JsErrorName};
use crate::header::{header_error, runnable_model};
use crate::lost_device::destroy_device;
use crate::options::{self, GenerateOptions, LoadOptions, Prompt, DEFAULT_MAX_TOKENS};
use crate::source::{parts_of, reader_error, ReaderFailure};
use crate::text::LogprobsOut;
use crate::stats::{expert_counts, ConversationFigures, ExpertCache, GpuMemory, SequenceFigures, Stats};

/// A model on the GPU, ready to generate.
#[wasm_bindgen]
pub struct WasmEngine {
    pub(crate) inner: Rc<Inner>,
}

pub(crate) struct Inner {
    /// `None` while a call is using the engine.
    engine: RefCell<Option<Engine>>,
    /// The conversations kept besides the one in the KV cache; used only inside `with_engine`.
    conversations: RefCell<Conversations>,
    pub(crate) tokenizer: Tokenizer,
    /// The current (or last) generation; `None` before the first and while a step runs.
    generation: RefCell<Option<Generation>>,
    /// What `contextOverflow` left out of the current (or last) generation's prompt.
    dropped: std::cell::Cell<Dropped>,
    pub(crate) info: ModelInfo,
    /// The model reader's first error: experts stream from it during generation too.
    failure: ReaderFailure,
    /// The vocabulary structured output compiles formats against, built on the first request
    /// that asks for a format.
    vocabulary: std::cell::OnceCell<Vocabulary>,
}

/// What the JavaScript side shows about the model (`engine.model`).
#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ModelInfo {
    /// `general.name`, when the file has one.
    name: Option<String>,
    layers: usize,
    /// Experts per layer (1 for a dense model) and experts each token uses.
    experts: usize,
    experts_used: usize,
    pub(crate) vocab_size: usize,
    /// Positions the KV cache holds.
    pub(crate) context_length: usize,
    /// The context the model was trained for.
    trained_context_length: usize,
    has_chat_template: bool,
    /// The GPU adapter, for reports.
    adapter: String,
    /// The device's limits that bound how weights are split, as the engine requested them (the
    /// adapter's maxima) and the bytes one storage binding of a weight page may span.
    gpu_limits: GpuLimits,
}

/// `ModelInfo.gpuLimits`.
#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct GpuLimits {
    max_buffer_size: f64,
    max_storage_buffer_binding_size: f64,
    binding_limit: f64,
}

/// One generated token, as `nextChunk` resolves it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChunkOut {
    text: String,
    token_id: u32,
    /// The harmony channel of `text` (gpt-oss); absent for other models.
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<String>,
    /// "stop" or "length" on the last chunk, absent before.
    finish_reason: Option<&'static str>,
    /// When asked for: this token's and the most likely tokens' log-probabilities.
    logprobs: Option<LogprobsOut>,
}

/// What `start` and `startChat` resolve to once the prompt has run.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Started {
    prompt_tokens: usize,
    /// Leading prompt tokens the KV cache already held, which did not run again.
    cached_tokens: usize,
}

pub(crate) fn to_value<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    serde_wasm_bindgen::to_value(value)
        .map_err(|e| js_error(JsErrorName::Engine, &format!("converting a result for JavaScript failed: {e}"), &[]))
}

#[wasm_bindgen]
impl WasmEngine {
    /// Read the model through `reader` (`{ parts: [{ size, read(offset, length) }] }`), open the
    /// GPU and upload the weights. `options`: `{ contextLength?, kvType?, gpuBudget? }`.
    /// `onProgress(loaded, total)` is called with uploaded weight bytes.
    pub async fn load(
        reader: JsValue,
        options: JsValue,
        on_progress: Option<js_sys::Function>,
    ) -> Result<WasmEngine, JsValue> {
        let options: LoadOptions = options::read("load options", options)?;
        let engine_options = options.engine_options()?;
        let failure = ReaderFailure::default();
        let source = ConcatSource::new(parts_of(&reader, &failure)?);
        let (model, tokenizer) = runnable_model(&source).await.map_err(|e| header_error(&failure, e))?;
        let gpu = Gpu::new(&GpuOptions::default()).await.map_err(|e| to_js(&Error::Gpu(e)))?;
        let mut progress = |done: u64, total: u64| {
            if let Some(f) = &on_progress {
                // A throwing progress callback must not stop the upload.
                let _ = f.call2(&JsValue::NULL, &JsValue::from_f64(done as f64), &JsValue::from_f64(total as f64));
            }
        };
        let engine = Engine::load(gpu, source, model, &engine_options, &mut progress)
            .await
            .map_err(|e| reader_error(&failure, e))?;
        let c = &engine.model.config;
        let info = ModelInfo {
            name: c.name.clone(),
            layers: c.n_layer,
            experts: c.n_expert,
            experts_used: c.n_expert_used,
            vocab_size: c.vocab_size,
            context_length: engine.context_length(),
            trained_context_length: c.context_length,
            has_chat_template: tokenizer.chat_template().is_some(),
            adapter: engine.gpu.describe(),
            gpu_limits: GpuLimits {
                max_buffer_size: engine.gpu.limits.max_buffer_size as f64,
                max_storage_buffer_binding_size: engine.gpu.limits.max_storage_buffer_binding_size as f64,
                binding_limit: engine.gpu.binding_limit as f64,
            },
        };
        let conversations = RefCell::new(Conversations::new(options.max_conversations.unwrap_or(DEFAULT_MAX_CONVERSATIONS)));
        let inner = Inner {
            engine: RefCell::new(Some(engine)),
            conversations,
            tokenizer,
            generation: RefCell::new(None),
            dropped: Default::default(),
            info,
            failure,
            vocabulary: Default::default(),
        };
        Ok(WasmEngine { inner: Rc::new(inner) })
    }

    /// The model's shape and the context length (a plain object, see `ModelInfo`).
    pub fn info(&self) -> Result<JsValue, JsValue> {
        to_value(&self.inner.info)
    }

    /// Start a generation from `prompt` (a string, tokenized with BOS per the model's metadata
    /// and special-token text parsed as llama.cpp reads a prompt; or an array of token ids fed as
    /// given). Resolves to `{ promptTokens, cachedTokens }` once the prompt has run:
    /// `cachedTokens` of the prompt's leading tokens were already in the KV cache and did not run.
    pub fn start(&self, prompt: JsValue, options: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let prompt = Prompt::from_js(prompt)?;
            inner.begin(prompt, options::read("generate options", options)?).await
        })
    }

    /// Start a generation from a conversation (`[{ role, content }]`) rendered with the model's
    /// chat template, ending with the opening of the assistant's turn.
    #[wasm_bindgen(js_name = startChat)]
    pub fn start_chat(&self, messages: JsValue, options: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let prompt = Prompt::chat_from_js(messages)?;
            inner.begin(prompt, options::read("generate options", options)?).await
        })
    }

    /// Forget conversation `id` (a string), or every conversation when `id` is null or
    /// undefined; forgetting the one in the KV cache empties the cache. A running generation ends.
    #[wasm_bindgen(js_name = resetChat)]
    pub fn reset_chat(&self, id: Option<String>) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            *inner.generation.borrow_mut() = None;
            inner
                .with_conversations(async |engine, conversations| {
                    conversations.forget(engine, id.as_deref());
                    Ok(())
                })
                .await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The next token of the current generation, `{ text, tokenId, finishReason? }`, or `null`
    /// once it has ended.
    #[wasm_bindgen(js_name = nextChunk)]
    pub fn next_chunk(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let mut generation = inner.generation.borrow_mut().take().ok_or_else(no_generation)?;
            let result = inner.with_engine(async |engine| generation.next_chunk(engine).await).await;
            let finish_reason = generation.finish_reason().map(|r| r.as_str());
            *inner.generation.borrow_mut() = Some(generation);
            match result? {
                Some(chunk) => {
                    let logprobs = chunk.logprobs.map(|l| LogprobsOut::new(&inner.tokenizer, chunk.token_id, &l));
                    to_value(&ChunkOut { text: chunk.text, token_id: chunk.token_id, channel: chunk.channel, finish_reason, logprobs })
                }
                None => Ok(JsValue::NULL),
            }
        })
    }

    /// Why the current generation ended ("stop" or "length"), or `undefined` while it runs.
    #[wasm_bindgen(js_name = finishReason)]
    pub fn finish_reason(&self) -> Option<String> {
        let generation = self.inner.generation.borrow();
        generation.as_ref().and_then(|g| g.finish_reason()).map(|r| r.as_str().to_string())
    }

    /// The experts chosen at positions `from..to` of the current sequence:
    /// `[position][layer][j]`, best first (empty lists for a dense model).
    pub fn routing(&self, from: f64, to: f64) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let whole = |x: f64| x.is_finite() && x >= 0.0 && x.fract() == 0.0;
            if !(whole(from) && whole(to) && from <= to) {
                return Err(invalid_option("routing positions", "give whole numbers with 0 ≤ from ≤ to"));
            }
            let range = from as usize..to as usize;
            let routing = inner.with_engine(async |engine| engine.routing(range).await).await?;
            to_value(&routing)
        })
    }

    /// Speed of the current (or last) generation, expert choice counts of the current sequence,
    /// the expert cache (its counts and which expert each slot holds), GPU and wasm memory (see
    /// `Stats`).
    pub fn stats(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let generation = inner.generation.borrow().as_ref().map(|g| g.stats().clone()).unwrap_or_default();
            let layers = inner.info.layers;
            let (routing, sequence) = inner
                .with_conversations(async |engine, conversations| {
                    let positions = engine.position();
                    // Every layer streams or none does.
                    let residency = (0..layers).map(|layer| engine.expert_residency(layer)).collect();
                    let mut gpu_memory = GpuMemory::from(&engine.memory());
                    gpu_memory.snapshots = conversations.gpu_bytes() as f64;
                    gpu_memory.total += gpu_memory.snapshots;
                    let (current, saved) = conversations.ids();
                    let sequence = SequenceFigures {
                        positions,
                        conversations: ConversationFigures {
                            current: current.map(str::to_owned),
                            saved: saved.into_iter().map(str::to_owned).collect(),
                        },
                        expert_counts: Vec::new(),
                        expert_cache: ExpertCache::new(engine.expert_slots(), &engine.expert_stats(), residency),
                        gpu_memory,
                    };
                    Ok((engine.routing(0..positions).await?, sequence))
                })
                .await?;
            let expert_counts = expert_counts(&routing, layers, inner.info.experts);
            let dropped = inner.dropped.get();
            let mut stats = Stats::new(&generation, SequenceFigures { expert_counts, ..sequence }, wasm_memory_bytes());
            (stats.dropped_messages, stats.dropped_tokens) = (dropped.messages, dropped.tokens);
            stats
                .to_js()
                .map_err(|e| js_error(JsErrorName::Engine, &format!("converting the figures for JavaScript failed: {e}"), &[]))
        })
    }

    /// The vocabulary logits of every position of `ids` (an array of token ids), run from
    /// position 0: the sequence is reset first and a generation in progress ends. Resolves to one
    /// `Float32Array` of `ids.length × vocabSize` values, position by position (the JavaScript
    /// side splits it). The ids run in prompt batches whose rows are copied out of the
    /// WebAssembly memory before the next batch, so the heap holds one batch of logits at most.
    pub fn logits(&self, ids: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let ids: Vec<u32> = serde_wasm_bindgen::from_value(ids)
                .map_err(|e| invalid_option("ids", &format!("give an array of token ids ({e})")))?;
            let vocab = inner.info.vocab_size;
            check_logits_ids(&ids, vocab, inner.info.context_length).map_err(|e| to_js(&e))?;
            *inner.generation.borrow_mut() = None;
            let values = js_sys::Float32Array::new_with_length((ids.len() * vocab) as u32);
            inner
                .with_conversations(async |engine, conversations| {
                    conversations.switch_to(engine, None).await?;
                    engine.reset();
                    for batch in ids.chunks(DEFAULT_BATCH) {
                        let first_row = engine.position();
                        for (p, row) in engine.logits(batch).await?.iter().enumerate() {
                            let start = ((first_row + p) * vocab) as u32;
                            values.subarray(start, start + vocab as u32).copy_from(row);
                        }
                    }
                    Ok(())
                })
                .await?;
            Ok(values.into())
        })
    }

    /// Test hook, not part of the API: destroy the GPU device, as a driver reset would, and
    /// resolve once the engine has seen the loss, so that the next call meets a lost device.
    #[wasm_bindgen(js_name = loseDeviceForTests)]
    pub fn lose_device_for_tests(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            inner.with_engine(async |engine| destroy_device(&engine.gpu).await).await?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// `bench` results, as the JavaScript `BenchReport` object (camelCase fields).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BenchOut {
    adapter: String,
    prompt_tokens: usize,
    gen_tokens: usize,
    reps: usize,
    prefill_tokens_per_second: f64,
    time_to_first_token_seconds: f64,
    decode_tokens_per_second: f64,
    decode_tokens_per_second_min: f64,
    decode_tokens_per_second_max: f64,
    submits_per_token: f64,
    dispatches_per_token: f64,
    readbacks_per_token: f64,
    dispatches_per_layer: f64,
    weight_bytes_per_token: f64,
    gpu_memory_bytes: f64,
    copy_bandwidth_bytes_per_second: f64,
    decode_bandwidth_bytes_per_second: f64,
    roofline_ratio: f64,
    expert_slots: usize,
    expert_hit_rate: f64,
    expert_bytes_uploaded: f64,
    expert_prefetches: f64,
    expert_prefetch_accuracy: f64,
    expert_stall_seconds: f64,
}

#[wasm_bindgen]
impl WasmEngine {
    /// Measure prompt and decode speed (`prompt` tokens, `gen` generated, `reps` timed runs after
    /// a warm-up) and the copy bandwidth; see `BenchOut`. Resets the sequence.
    pub fn bench(&self, prompt: f64, gen: f64, reps: f64) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let whole = |x: f64| x.is_finite() && x >= 1.0 && x.fract() == 0.0;
            if !(whole(prompt) && whole(gen) && whole(reps)) {
                return Err(invalid_option("benchmark", "prompt, gen and reps must be whole numbers ≥ 1"));
            }
            let options = webmoe::bench::BenchOptions { prompt: prompt as usize, gen: gen as usize, reps: reps as usize };
            *inner.generation.borrow_mut() = None;
            let (r, slots) = inner
                .with_conversations(async |engine, conversations| {
                    conversations.switch_to(engine, None).await?;
                    Ok((webmoe::bench::run(engine, options).await?, engine.expert_slots()))
                })
                .await?;
            let e = &r.experts_during_decode;
            to_value(&BenchOut {
                adapter: r.adapter,
                prompt_tokens: r.prompt_tokens,
                gen_tokens: r.gen_tokens,
                reps: r.reps,
                prefill_tokens_per_second: r.prefill_tok_s,
                time_to_first_token_seconds: r.ttft_seconds,
                decode_tokens_per_second: r.decode_tok_s,
                decode_tokens_per_second_min: r.decode_tok_s_min,
                decode_tokens_per_second_max: r.decode_tok_s_max,
                submits_per_token: r.submits_per_token,
                dispatches_per_token: r.dispatches_per_token,
                readbacks_per_token: r.readbacks_per_token,
                dispatches_per_layer: r.dispatches_per_layer,
                weight_bytes_per_token: r.weight_bytes_per_token as f64,
                gpu_memory_bytes: r.gpu_memory_bytes as f64,
                copy_bandwidth_bytes_per_second: r.copy_bandwidth_bytes_s,
                decode_bandwidth_bytes_per_second: r.decode_bandwidth_bytes_s,
                roofline_ratio: r.roofline_ratio,
                expert_slots: slots,
                expert_hit_rate: e.hit_rate(),
                expert_bytes_uploaded: e.bytes_uploaded as f64,
                expert_prefetches: e.prefetches as f64,
                expert_prefetch_accuracy: e.prefetch_accuracy(),
                expert_stall_seconds: e.stall_seconds,
            })
        })
    }
}

impl Inner {
    /// Run `f` on the engine, taken out of its slot for the duration.
    async fn with_engine<T>(&self, f: impl AsyncFnOnce(&mut Engine) -> webmoe::Result<T>) -> Result<T, JsValue> {
        let mut engine = self.engine.borrow_mut().take().ok_or_else(|| {
            js_error(
                JsErrorName::Engine,
                "the engine is busy with another call; wait for it to finish before the next one",
                &[],
            )
        })?;
        // After a loss every call fails alike, also one that would not reach the GPU (the stats
        // of an empty sequence).
        let lost = if engine.gpu.is_lost() { engine.gpu.check().err() } else { None };
        let result = match lost {
            Some(e) => Err(e.into()),
            None => f(&mut engine).await,
        };
        *self.engine.borrow_mut() = Some(engine);
        result.map_err(|e| reader_error(&self.failure, e))
    }

    /// Run `f` on the engine and the conversations it keeps.
    pub(crate) async fn with_conversations<T>(
        &self,
        f: impl AsyncFnOnce(&mut Engine, &mut Conversations) -> webmoe::Result<T>,
    ) -> Result<T, JsValue> {
        self.with_engine(async |engine| {
            // Taken out for the call: no RefCell borrow is held across an await.
            let mut conversations = self.conversations.replace(Conversations::new(1));
            let result = f(engine, &mut conversations).await;
            *self.conversations.borrow_mut() = conversations;
            result
        })
        .await
    }

    /// Tokenize `prompt`, set the sampler and run the prompt; the first token is sampled and
    /// waits for `nextChunk`.
    async fn begin(&self, prompt: Prompt, options: GenerateOptions) -> Result<JsValue, JsValue> {
        let (ids, dropped) = self.prompt_ids(prompt, &options).map_err(|e| to_js(&e))?;
        let max_tokens = max_tokens(ids.len(), options.max_tokens, self.info.context_length).map_err(|e| to_js(&e))?;
        let constraint = self.constraint(&options).map_err(|e| to_js(&e))?;
        let core_options =
            generate::GenerateOptions { max_tokens, stop: options.stop.clone(), ignore_eos: options.ignore_eos, constraint };
        let sampling = options.sampling();
        let logit_bias = options.logit_bias.clone();
        let tokenizer = &self.tokenizer;
        *self.generation.borrow_mut() = None;
        let conversation = options.conversation_id.as_deref();
        let generation = self
            .with_conversations(async |engine, conversations| {
                conversations.switch_to(engine, conversation).await?;
                engine.set_sampling(&sampling)?;
                engine.set_logit_bias(&logit_bias)?;
                Generation::start(engine, tokenizer, &ids, core_options).await
            })
            .await?;
        let stats = generation.stats();
        let started = Started { prompt_tokens: stats.prompt_tokens, cached_tokens: stats.cached_tokens };
        self.dropped.set(dropped);
        *self.generation.borrow_mut() = Some(generation);
        to_value(&started)
    }
}

impl Inner {
    /// The constraint of the format `options` ask for, compiled before anything runs.
    fn constraint(&self, options: &GenerateOptions) -> webmoe::Result<Option<Constraint>> {
        let Some(format) = options.response_format()? else { return Ok(None) };
        let vocabulary = match self.vocabulary.get() {
            Some(v) => v,
            None => {
                let built = Vocabulary::new(&self.tokenizer, self.info.vocab_size)?;
                self.vocabulary.get_or_init(|| built)
            }
        };
        vocabulary.compile(&format).map(Some)
    }
}

/// What `contextOverflow` left out of a prompt: messages of a conversation, ids of a token prompt.
#[derive(Clone, Copy, Default)]
pub(crate) struct Dropped {
    pub messages: usize,
    pub tokens: usize,
}

impl Inner {
    /// The ids a request runs: its prompt tokenized (text with BOS per the metadata and special
    /// tokens parsed, a conversation through the chat template), fitted to the context as
    /// `contextOverflow` says (see `fit.rs`).
    fn prompt_ids(&self, prompt: Prompt, options: &GenerateOptions) -> webmoe::Result<(Vec<u32>, Dropped)> {
        let overflow = Overflow::parse(options.context_overflow.as_deref())?;
        let context = self.info.context_length;
        let reserve = fit::reserve(options.max_tokens, context);
        let bos = self.tokenizer.bos_id().filter(|_| self.tokenizer.add_bos());
        let fit_tokens = |ids: Vec<u32>| {
            let (ids, tokens) = fit::fit_ids(ids, overflow, context, reserve, bos);
            (ids, Dropped { tokens, ..Dropped::default() })
        };
        Ok(match prompt {
            Prompt::Ids(ids) => fit_tokens(ids),
            Prompt::Text(text) => fit_tokens(self.tokenizer.encode_with(&text, true, true)?),
            Prompt::Chat(messages) => {
                let encode = |m: &[ChatMessage]| Ok(self.tokenizer.encode_chat(m, true)?);
                let (ids, messages) = fit::fit_messages(&messages, overflow, context, reserve, encode)?;
                (ids, Dropped { messages, ..Dropped::default() })
            }
        })
    }
}

/// Tokens to generate after a prompt of `prompt_len` ids in a context of `context` positions:
/// the request, or what the context has room for capped at [`DEFAULT_MAX_TOKENS`]. The last
/// generated token is never fed, so `n` tokens need `prompt_len + n − 1` positions.
fn max_tokens(prompt_len: usize, requested: Option<usize>, context: usize) -> webmoe::Result<usize> {
    if prompt_len == 0 {
        return Err(Error::EmptyPrompt);
    }
    if prompt_len > context {
        return Err(Error::ContextFull { needed: prompt_len + requested.unwrap_or(1).max(1) - 1, context });
    }
    let room = context - prompt_len + 1;
    match requested {
        None => Ok(DEFAULT_MAX_TOKENS.min(room)),
        Some(n) if n > room => Err(Error::ContextFull { needed: prompt_len + n - 1, context }),
        Some(n) => Ok(n),
    }
}

/// Refuse, before anything runs, ids that `Engine::logits` would refuse part way: none, one
/// outside the vocabulary, more than the context holds.
fn check_logits_ids(ids: &[u32], vocab: usize, context: usize) -> webmoe::Result<()> {
    if ids.is_empty() {
        return Err(Error::EmptyPrompt);
    }
    if let Some(&id) = ids.iter().find(|&&id| id as usize >= vocab) {
        return Err(Error::TokenOutOfRange { id, vocab });
    }
    if ids.len() > context {
        return Err(Error::ContextFull { needed: ids.len(), context });
    }
    Ok(())
}

fn no_generation() -> JsValue {
    js_error(JsErrorName::Engine, "no generation is running; call start first", &[])
}

/// Bytes of this instance's WebAssembly memory.
fn wasm_memory_bytes() -> f64 {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    let buffer: js_sys::ArrayBuffer = memory.buffer().unchecked_into();
    buffer.byte_length() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logits_ids_are_checked_before_anything_runs() {
        // (ids, vocab, context) -> expected
        let cases: [(&[u32], usize, usize, webmoe::Result<()>); 5] = [
            (&[1, 2, 3], 10, 4, Ok(())),
            (&[1, 2, 3, 9], 10, 4, Ok(())),
            (&[], 10, 4, Err(Error::EmptyPrompt)),
            (&[1, 10, 11], 10, 4, Err(Error::TokenOutOfRange { id: 10, vocab: 10 })),
            (&[1, 2, 3, 4, 5], 10, 4, Err(Error::ContextFull { needed: 5, context: 4 })),
        ];
        for (i, (ids, vocab, context, expected)) in cases.into_iter().enumerate() {
            assert_eq!(check_logits_ids(ids, vocab, context), expected, "case {i}: ids {ids:?}, vocab {vocab}, context {context}");
        }
    }

    #[test]
    fn max_tokens_fills_the_context_at_most() {
        // (prompt, requested, context) -> expected
        let cases = [
            ((10, None, 4096), Ok(DEFAULT_MAX_TOKENS)),
            ((10, None, 16), Ok(7)),
            ((10, Some(7), 16), Ok(7)),
            ((16, Some(1), 16), Ok(1)),
            ((10, Some(8), 16), Err(Error::ContextFull { needed: 17, context: 16 })),
            ((17, None, 16), Err(Error::ContextFull { needed: 17, context: 16 })),
            ((17, Some(8), 16), Err(Error::ContextFull { needed: 24, context: 16 })),
            ((0, Some(4), 16), Err(Error::EmptyPrompt)),
        ];
        for (i, ((prompt, requested, context), expected)) in cases.into_iter().enumerate() {
            let got = max_tokens(prompt, requested, context);
            assert_eq!(got, expected, "case {i}: prompt {prompt}, requested {requested:?}, context {context}");
        }
    }
}
