//! Measuring an engine: prompt and decode speed, what each decoded token asks of the GPU, and
//! the decode's effective bandwidth next to the device's measured copy bandwidth. The CLI's
//! `webmoe bench` and the browser's `engine.bench()` print the same report.

use crate::engine::{Engine, Profile};
use crate::error::{Error, Result};
use crate::experts::ExpertStats;
use crate::gpu::copy_bandwidth;
use crate::sampler::SamplingParams;
use crate::synthetic::Rng;
use web_time::Instant;

/// Bytes per buffer of the copy-bandwidth measurement (capped by the adapter's limits).
const COPY_BYTES: u64 = 256 << 20;

#[derive(Clone, Copy, Debug)]
pub struct BenchOptions {
    /// Prompt tokens per run.
    pub prompt: usize,
    /// Tokens generated per run (the first comes from the prompt's submit).
    pub gen: usize,
    /// Timed runs, after one warm-up run.
    pub reps: usize,
}

/// What a benchmark measured. Speeds are medians over the timed runs.
#[derive(Clone, Debug, Default)]
pub struct BenchReport {
    pub adapter: String,
    pub prompt_tokens: usize,
    pub gen_tokens: usize,
    pub reps: usize,
    pub prefill_tok_s: f64,
    /// From the prompt's submit to the first token read back.
    pub ttft_seconds: f64,
    pub decode_tok_s: f64,
    pub decode_tok_s_min: f64,
    pub decode_tok_s_max: f64,
    pub submits_per_token: f64,
    pub dispatches_per_token: f64,
    pub readbacks_per_token: f64,
    /// Dispatches inside the layers, per layer (the rest do not grow with depth).
    pub dispatches_per_layer: f64,
    /// Weight bytes a decode step reads: non-expert matrices and the experts used per layer.
    pub weight_bytes_per_token: u64,
    pub gpu_memory_bytes: u64,
    /// Memory traffic of buffer-to-buffer copies (each byte read and written), bytes per second.
    pub copy_bandwidth_bytes_s: f64,
    /// Weight bytes per token × decode tok/s.
    pub decode_bandwidth_bytes_s: f64,
    /// The decode bandwidth as a share of the copy bandwidth.
    pub roofline_ratio: f64,
    /// What the expert cache did during the timed decode steps.
    pub experts_during_decode: ExpertStats,
}

/// A prompt of `prompt` ordinary ids and `depth` ids of context before it, the same every run:
/// past the control and byte tokens where the vocabulary is large enough.
fn prompt_and_context(engine: &Engine, prompt: usize, depth: usize) -> (Vec<u32>, Vec<u32>) {
    let vocab = engine.model.config.vocab_size as u64;
    let first_id = if vocab > 300 { 259 } else { 0 };
    let mut rng = Rng::new(7);
    let mut ids = |n: usize| -> Vec<u32> { (0..n).map(|_| (first_id + rng.below(vocab - first_id)) as u32).collect() };
    let prompt = ids(prompt);
    (prompt, ids(depth))
}

/// Where the GPU time of the benchmark's prompt submit and of the decode step after it goes,
/// by kernel ([`Engine::profile`]), `depth` tokens into a context. The prompt must fit one
/// submit. Leaves the engine reset.
pub async fn profile(engine: &mut Engine, prompt: usize, depth: usize) -> Result<Profile> {
    engine.set_sampling(&SamplingParams::greedy())?;
    let (prompt, context) = prompt_and_context(engine, prompt, depth);
    engine.reset();
    if depth > 0 {
        engine.prefill(&context).await?;
        engine.truncate(depth);
    }
    let profile = engine.profile(&prompt).await;
    engine.reset();
    profile
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Run a fixed prompt of ordinary token ids and greedy decoding `reps` times (after a warm-up),
/// then measure the copy bandwidth. Leaves the engine reset, with greedy sampling.
pub async fn run(engine: &mut Engine, o: BenchOptions) -> Result<BenchReport> {
    run_at_depth(engine, o, 0).await
}

/// [`run`] with `depth` tokens of context before each run's prompt (run untimed), as
/// llama-bench's `-d`: how prompt and decode speeds hold up deep in a context.
pub async fn run_at_depth(engine: &mut Engine, o: BenchOptions, depth: usize) -> Result<BenchReport> {
    let bad = |why: &str| Error::InvalidOption { option: "benchmark".into(), value: format!("{o:?} at depth {depth}"), why: why.into() };
    if o.prompt == 0 || o.gen == 0 || o.reps == 0 {
        return Err(bad("prompt, gen and reps must each be at least 1"));
    }
    if depth + o.prompt + o.gen > engine.context_length() {
        return Err(bad(&format!("depth + prompt + gen exceeds the context of {} positions (-c sets it)", engine.context_length())));
    }
    engine.set_sampling(&SamplingParams::greedy())?;
    let (prompt, context) = prompt_and_context(engine, o.prompt, depth);

    let (mut prefill, mut ttft, mut decode) = (Vec::new(), Vec::new(), Vec::new());
    let (mut counters, mut experts) = (Default::default(), ExpertStats::default());
    for rep in 0..=o.reps {
        engine.reset();
        if depth > 0 {
            engine.prefill(&context).await?;
            // The id sampled after the context is not part of it: the prompt follows the context.
            engine.truncate(depth);
        }
        let t = Instant::now();
        engine.prefill(&prompt).await?;
        let prefill_seconds = t.elapsed().as_secs_f64();
        let (c0, e0) = (engine.counters(), engine.expert_stats());
        let t = Instant::now();
        // Each step but the last queues the next one before reading its own id, as generation does.
        for i in 1..o.gen {
            if i + 1 < o.gen {
                engine.step_ahead().await?;
            } else {
                engine.step().await?;
            }
        }
        let decode_seconds = t.elapsed().as_secs_f64();
        let (c1, e1) = (engine.counters(), engine.expert_stats());
        // The first run compiles pipelines and warms caches.
        if rep > 0 {
            prefill.push(o.prompt as f64 / prefill_seconds);
            ttft.push(prefill_seconds);
            if o.gen > 1 {
                decode.push((o.gen - 1) as f64 / decode_seconds);
            }
            counters = (c1.submits - c0.submits, c1.dispatches - c0.dispatches, c1.readbacks - c0.readbacks);
            experts = e1.since(&e0);
        }
    }
    engine.reset();
    let steps = (o.gen - 1).max(1) as f64;
    let (decode_min, decode_max) = (decode.iter().copied().fold(f64::INFINITY, f64::min), decode.iter().copied().fold(0.0, f64::max));
    let decode_tok_s = median(&mut decode);
    let weight_bytes = engine.weight_bytes_per_token();
    let copy = copy_bandwidth(&engine.gpu, COPY_BYTES, 3).await?;
    let effective = weight_bytes as f64 * decode_tok_s;
    let (submits, dispatches, readbacks) = counters;
    Ok(BenchReport {
        adapter: engine.gpu.describe(),
        prompt_tokens: o.prompt,
        gen_tokens: o.gen,
        reps: o.reps,
        prefill_tok_s: median(&mut prefill),
        ttft_seconds: median(&mut ttft),
        decode_tok_s,
        decode_tok_s_min: if decode_min.is_finite() { decode_min } else { 0.0 },
        decode_tok_s_max: decode_max,
        submits_per_token: submits as f64 / steps,
        dispatches_per_token: dispatches as f64 / steps,
        readbacks_per_token: readbacks as f64 / steps,
        dispatches_per_layer: engine.decode_dispatches_per_layer(),
        weight_bytes_per_token: weight_bytes,
        gpu_memory_bytes: engine.memory().total(),
        copy_bandwidth_bytes_s: copy,
        decode_bandwidth_bytes_s: effective,
        roofline_ratio: effective / copy,
        experts_during_decode: experts,
    })
}
