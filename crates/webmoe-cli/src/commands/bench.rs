//! `webmoe bench`: prompt and decode speed, what each decoded token costs the GPU, and the
//! decode's effective bandwidth next to the device's measured copy bandwidth.

use crate::args::BenchArgs;
use crate::load::{load, CliResult};
use crate::memory_watch::MemoryWatch;
use serde_json::json;
use std::io::Write;
use web_time::Instant;
use webmoe::bench::{profile, run_at_depth, BenchOptions};
use webmoe::engine::KernelTime;

pub fn run(a: &BenchArgs) -> CliResult<()> {
    let memory = MemoryWatch::start();
    let t = Instant::now();
    let mut engine = load(&a.model)?.engine;
    let load_seconds = t.elapsed().as_secs_f64();
    let r = pollster::block_on(run_at_depth(&mut engine, BenchOptions { prompt: a.prompt, gen: a.gen, reps: a.reps }, a.depth))?;
    let kernel_profile = if a.profile { Some(pollster::block_on(profile(&mut engine, a.prompt, a.depth))?) } else { None };
    let c = &engine.model.config;
    let e = &r.experts_during_decode;
    let peak_anonymous = memory.peak();
    let mut out = std::io::stdout().lock();
    if a.json {
        let result = json!({
            "model": a.model.model.display().to_string(),
            "adapter": r.adapter,
            "kernels": engine.gpu.variants.to_json(),
            "n_layer": c.n_layer, "n_expert": c.n_expert, "n_expert_used": c.n_expert_used,
            "expert_slots": engine.expert_slots(),
            "prompt_tokens": r.prompt_tokens, "gen_tokens": r.gen_tokens, "reps": r.reps, "depth": a.depth,
            "load_seconds": load_seconds,
            "prefill_tok_s": r.prefill_tok_s,
            "ttft_seconds": r.ttft_seconds,
            "decode_tok_s": r.decode_tok_s, "decode_tok_s_min": r.decode_tok_s_min, "decode_tok_s_max": r.decode_tok_s_max,
            "per_decoded_token": { "submits": r.submits_per_token, "dispatches": r.dispatches_per_token, "readbacks": r.readbacks_per_token },
            "dispatches_per_layer": r.dispatches_per_layer,
            "weight_bytes_per_token": r.weight_bytes_per_token,
            "gpu_memory_bytes": r.gpu_memory_bytes,
            "gpu_budget_bytes": engine.gpu_budget(),
            "peak_anonymous_bytes": peak_anonymous,
            "copy_bandwidth_bytes_s": r.copy_bandwidth_bytes_s,
            "decode_bandwidth_bytes_s": r.decode_bandwidth_bytes_s,
            "roofline_ratio": r.roofline_ratio,
            "experts_during_decode": { "hits": e.hits, "misses": e.misses, "hit_rate": e.hit_rate(), "bytes_uploaded": e.bytes_uploaded,
                "prefetches": e.prefetches, "prefetch_accuracy": e.prefetch_accuracy(), "stall_seconds": e.stall_seconds },
            "profile": kernel_profile.as_ref().map(|p| json!({
                "prompt_tokens": p.prompt_tokens, "prompt": kernels_json(&p.prompt), "decode": kernels_json(&p.decode),
            })),
        });
        writeln!(out, "{result}")?;
        return Ok(());
    }
    let steps = (r.gen_tokens - 1).max(1) as f64;
    writeln!(out, "model: {} ({} layers, {} of {} experts per token)", a.model.model.display(), c.n_layer, c.n_expert_used, c.n_expert)?;
    writeln!(out, "adapter: {}", r.adapter)?;
    writeln!(out, "kernels: {}", engine.gpu.variants.describe())?;
    writeln!(out, "load: {load_seconds:.2} s; GPU memory {:.1} MiB", r.gpu_memory_bytes as f64 / 1048576.0)?;
    if let Some(peak) = peak_anonymous {
        writeln!(out, "peak anonymous memory of the process: {:.2} GiB", peak as f64 / (1u64 << 30) as f64)?;
    }
    if a.depth > 0 {
        writeln!(out, "depth: {} tokens of context before each prompt", a.depth)?;
    }
    writeln!(out, "prompt: {} tokens at {:.2} tok/s (median of {}), time to first token {:.3} s", r.prompt_tokens, r.prefill_tok_s, r.reps, r.ttft_seconds)?;
    writeln!(
        out,
        "decode: {:.2} tok/s (median; {:.2}..{:.2} over {} runs of {} tokens)",
        r.decode_tok_s, r.decode_tok_s_min, r.decode_tok_s_max, r.reps, r.gen_tokens
    )?;
    writeln!(
        out,
        "per decoded token: {:.1} submits, {:.1} dispatches ({:.1} per layer + {:.1}), {:.1} read-backs",
        r.submits_per_token,
        r.dispatches_per_token,
        r.dispatches_per_layer,
        r.dispatches_per_token - r.dispatches_per_layer * c.n_layer as f64,
        r.readbacks_per_token
    )?;
    if engine.expert_slots() < c.n_expert * c.n_layer {
        writeln!(
            out,
            "experts: {} slots for {} experts; hit rate {:.1}%, {:.1} MiB uploaded per token, prefetch accuracy {:.1}%",
            engine.expert_slots(),
            c.n_expert * c.n_layer,
            100.0 * e.hit_rate(),
            e.bytes_uploaded as f64 / steps / 1048576.0,
            100.0 * e.prefetch_accuracy()
        )?;
    }
    writeln!(
        out,
        "weights read per token: {:.1} MiB; decode bandwidth {:.2} GB/s = {:.1}% of the measured copy bandwidth {:.2} GB/s",
        r.weight_bytes_per_token as f64 / 1048576.0,
        r.decode_bandwidth_bytes_s / 1e9,
        100.0 * r.roofline_ratio,
        r.copy_bandwidth_bytes_s / 1e9
    )?;
    if let Some(p) = &kernel_profile {
        print_kernels(&mut out, &format!("prompt submit of {} tokens", p.prompt_tokens), &p.prompt)?;
        print_kernels(&mut out, "decode step", &p.decode)?;
    }
    Ok(())
}

fn kernels_json(kernels: &[KernelTime]) -> serde_json::Value {
    kernels.iter().map(|k| json!({ "kernel": k.label, "calls": k.calls, "seconds": k.seconds })).collect()
}

/// A profile's kernels, most time first, with their share of the submit.
fn print_kernels(out: &mut impl Write, what: &str, kernels: &[KernelTime]) -> std::io::Result<()> {
    let total: f64 = kernels.iter().map(|k| k.seconds).sum();
    writeln!(out, "{what}, each dispatch submitted alone: {:.1} ms in all", total * 1e3)?;
    writeln!(out, "  {:>10} {:>6} {:>6}  kernel", "ms", "share", "calls")?;
    for k in kernels {
        writeln!(out, "  {:>10.2} {:>5.1}% {:>6}  {}", k.seconds * 1e3, 100.0 * k.seconds / total.max(f64::MIN_POSITIVE), k.calls, k.label)?;
    }
    Ok(())
}
