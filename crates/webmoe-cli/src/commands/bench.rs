//! `webmoe bench`: prompt and decode speed, what each decoded token costs the GPU, and the
//! decode's effective bandwidth next to the device's measured copy bandwidth.

use crate::args::BenchArgs;
use crate::load::{load, CliResult};
use serde_json::json;
use std::io::Write;
use web_time::Instant;
use webmoe::gpu::copy_bandwidth;
use webmoe::sampler::SamplingParams;
use webmoe::synthetic::Rng;

/// Bytes per buffer of the copy-bandwidth measurement (capped by the adapter's limits).
const COPY_BYTES: u64 = 256 << 20;

struct Run {
    prefill_seconds: f64,
    decode_seconds: f64,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        0.0
    } else {
        v[v.len() / 2]
    }
}

pub fn run(a: &BenchArgs) -> CliResult<()> {
    if a.prompt == 0 || a.gen == 0 || a.reps == 0 {
        return Err("--prompt, --gen and --reps must each be at least 1".into());
    }
    let t = Instant::now();
    let loaded = load(&a.model)?;
    let load_seconds = t.elapsed().as_secs_f64();
    let mut engine = loaded.engine;
    engine.set_sampling(&SamplingParams::greedy())?;
    let vocab = engine.model.config.vocab_size as u64;
    if a.prompt + a.gen > engine.context_length() {
        return Err(format!("--prompt + --gen = {} exceeds the context of {}; use -c", a.prompt + a.gen, engine.context_length()).into());
    }
    // A fixed prompt of ordinary token ids (past the control and byte tokens where the
    // vocabulary is large enough).
    let mut rng = Rng::new(7);
    let first_id = if vocab > 300 { 259 } else { 0 };
    let prompt: Vec<u32> = (0..a.prompt).map(|_| (first_id + rng.below(vocab - first_id)) as u32).collect();

    let mut runs = Vec::with_capacity(a.reps);
    let mut decode_counters = None;
    for rep in 0..=a.reps {
        engine.reset();
        let t = Instant::now();
        pollster::block_on(engine.prefill(&prompt))?;
        let prefill_seconds = t.elapsed().as_secs_f64();
        let before = engine.counters();
        let t = Instant::now();
        for _ in 1..a.gen {
            pollster::block_on(engine.step())?;
        }
        let decode_seconds = t.elapsed().as_secs_f64();
        let after = engine.counters();
        decode_counters = Some((after.submits - before.submits, after.dispatches - before.dispatches, after.readbacks - before.readbacks));
        // The first run compiles pipelines and warms caches.
        if rep > 0 {
            runs.push(Run { prefill_seconds, decode_seconds });
        }
    }
    let steps = (a.gen - 1).max(1) as f64;
    let mut prefill: Vec<f64> = runs.iter().map(|r| a.prompt as f64 / r.prefill_seconds).collect();
    let mut decode: Vec<f64> = runs.iter().map(|r| if a.gen > 1 { (a.gen - 1) as f64 / r.decode_seconds } else { 0.0 }).collect();
    let mut ttft: Vec<f64> = runs.iter().map(|r| r.prefill_seconds).collect();
    let (submits, dispatches, readbacks) = decode_counters.unwrap_or_default();
    let per_token = |n: u64| n as f64 / steps;
    let weight_bytes = engine.weight_bytes_per_token();
    let memory = engine.memory();
    let copy = pollster::block_on(copy_bandwidth(&engine.gpu, COPY_BYTES, 3))?;
    let (decode_min, decode_max) = (decode.iter().copied().fold(f64::INFINITY, f64::min), decode.iter().copied().fold(0.0, f64::max));
    let decode_median = median(&mut decode);
    let effective = weight_bytes as f64 * decode_median;
    let c = &engine.model.config;
    let mut out = std::io::stdout().lock();
    if a.json {
        let result = json!({
            "model": a.model.model.display().to_string(),
            "adapter": engine.gpu.describe(),
            "n_layer": c.n_layer, "n_expert": c.n_expert, "n_expert_used": c.n_expert_used,
            "prompt_tokens": a.prompt, "gen_tokens": a.gen, "reps": a.reps,
            "load_seconds": load_seconds,
            "prefill_tok_s": median(&mut prefill),
            "ttft_seconds": median(&mut ttft),
            "decode_tok_s": decode_median, "decode_tok_s_min": decode_min, "decode_tok_s_max": decode_max,
            "per_decoded_token": { "submits": per_token(submits), "dispatches": per_token(dispatches), "readbacks": per_token(readbacks) },
            "dispatches_per_layer": engine.decode_dispatches_per_layer(),
            "weight_bytes_per_token": weight_bytes,
            "gpu_memory_bytes": memory.total(),
            "copy_bandwidth_bytes_s": copy,
            "decode_bandwidth_bytes_s": effective,
            "roofline_ratio": effective / copy,
        });
        writeln!(out, "{result}")?;
        return Ok(());
    }
    writeln!(out, "model: {} ({} layers, {} of {} experts per token)", a.model.model.display(), c.n_layer, c.n_expert_used, c.n_expert)?;
    writeln!(out, "adapter: {}", engine.gpu.describe())?;
    writeln!(out, "load: {load_seconds:.2} s; GPU memory {:.1} MiB", memory.total() as f64 / 1048576.0)?;
    writeln!(out, "prompt: {} tokens at {:.2} tok/s (median of {}), time to first token {:.3} s", a.prompt, median(&mut prefill), a.reps, median(&mut ttft))?;
    writeln!(out, "decode: {decode_median:.2} tok/s (median; {decode_min:.2}..{decode_max:.2} over {} runs of {} tokens)", a.reps, a.gen)?;
    let per_layer = engine.decode_dispatches_per_layer();
    writeln!(
        out,
        "per decoded token: {:.1} submits, {:.1} dispatches ({per_layer:.1} per layer + {:.1}), {:.1} read-backs",
        per_token(submits),
        per_token(dispatches),
        per_token(dispatches) - per_layer * c.n_layer as f64,
        per_token(readbacks)
    )?;
    writeln!(
        out,
        "weights read per token: {:.1} MiB; decode bandwidth {:.2} GB/s = {:.1}% of the measured copy bandwidth {:.2} GB/s",
        weight_bytes as f64 / 1048576.0,
        effective / 1e9,
        100.0 * effective / copy,
        copy / 1e9
    )?;
    Ok(())
}
