//! `webmoe inspect`: what a GGUF file holds and what running it takes. Needs no GPU.

use crate::args::InspectArgs;
use crate::load::{open, CliResult};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use webmoe::engine::{budget_facts, footprint, BudgetFacts, EngineOptions, DEFAULT_CONTEXT};
use webmoe::gguf::{Gguf, Value};
use webmoe::model::{Model, ModelConfig};

/// A tensor's kind: its name without the layer and expert numbers (`blk.3.ffn_up.5.weight` →
/// `ffn_up`), so a type mix can be told per kind.
fn kind(name: &str) -> String {
    let parts: Vec<&str> = name.split('.').filter(|p| *p != "weight" && *p != "blk" && p.parse::<u64>().is_err()).collect();
    parts.join(".")
}

/// `[(type, count)]`, most common first.
fn type_mix(g: &Gguf) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for t in &g.tensors {
        *counts.entry(t.ty.name().to_string()).or_default() += 1;
    }
    let mut v: Vec<_> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

/// Per kind, the types its tensors use and how many of each: `attn_k → {Q8_0: 2}`.
fn kind_mix(g: &Gguf) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut m: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for t in &g.tensors {
        *m.entry(kind(&t.name)).or_default().entry(t.ty.name().to_string()).or_default() += 1;
    }
    m
}

fn mix_text(mix: &[(String, usize)]) -> String {
    mix.iter().enumerate().map(|(i, (t, n))| if i == 0 { format!("{t} {n} tensors") } else { format!("{t} {n}") }).collect::<Vec<_>>().join(", ")
}

fn short(v: &Value) -> String {
    v.to_string()
}

pub fn run(a: &InspectArgs) -> CliResult<()> {
    let mut out = std::io::stdout().lock();
    let opened = open(&a.file)?;
    let g = &opened.gguf;
    let model = Model::from_gguf(g).map_err(|e| format!("{}: {e}", a.file.display()))?;
    let c = &model.config;
    // The engine options `run` and the browser use for the same context and KV type, so that a
    // budget computed here means the same there.
    let options = EngineOptions { context_length: a.ctx_size, kv_type: a.kv_type.parse()?, ..EngineOptions::default() };
    let memory = footprint(&model, &options, a.binding_limit)?;
    let budget = budget_facts(&model, &options, a.binding_limit)?;
    let context = a.ctx_size.unwrap_or(c.context_length.min(DEFAULT_CONTEXT));
    let mix = type_mix(g);
    let kinds = kind_mix(g);
    let data_bytes: u64 = g.tensors.iter().map(|t| t.size).sum();
    if a.json {
        let result = json!({
            "file": a.file.display().to_string(),
            "file_bytes": g.file_len,
            "gguf_version": g.version,
            "metadata": g.metadata.iter().map(|(k, v)| (k.clone(), json!(short(v)))).collect::<serde_json::Map<_, _>>(),
            "model": {
                "architecture": c.arch.name(),
                "features": model.features(),
                "name": c.name, "n_embd": c.n_embd, "n_layer": c.n_layer, "n_head": c.n_head, "n_head_kv": c.n_head_kv,
                "head_dim": c.head_dim, "n_ff": c.n_ff, "n_expert": c.n_expert, "n_expert_used": c.n_expert_used,
                "vocab_size": c.vocab_size, "rope_theta": c.rope_theta, "rms_eps": c.rms_eps, "context_length": c.context_length,
                "expert_layout": if !c.is_moe() { "dense" } else if g.tensor("blk.0.ffn_gate_exps.weight").is_some() { "merged" } else { "split" },
                "tied_output": model.layout.tied_output,
            },
            "type_mix": mix.iter().map(|(t, n)| json!({"type": t, "tensors": n})).collect::<Vec<_>>(),
            "kind_mix": kinds,
            "tensors": g.tensors.iter().map(|t| json!({"name": t.name, "type": t.ty.name(), "dims": t.dims, "bytes": t.size})).collect::<Vec<_>>(),
            "tensor_bytes": data_bytes,
            "gpu_memory": {
                "context_length": context,
                "kv_type": a.kv_type,
                "binding_limit": a.binding_limit,
                "weights": memory.weights, "kv_cache": memory.kv_cache, "scratch": memory.scratch, "total": memory.total(),
            },
            "gpu_budget": {
                "resident": budget.resident,
                "all_experts": budget.all_experts,
                "minimum": budget.minimum,
                "slot_bytes_all_layers": budget.slot_bytes_all_layers,
                "pools": budget.pools.iter().map(|p| json!({"layers": p.layers, "slot_bytes": p.slot_bytes})).collect::<Vec<_>>(),
            },
        });
        writeln!(out, "{result}")?;
        return Ok(());
    }
    writeln!(out, "file: {} ({} bytes, GGUF v{})", a.file.display(), g.file_len, g.version)?;
    writeln!(out, 
        "model: {} — {} architecture, {} layers, hidden {}, {} heads ({} KV) of {}, FFN {}, vocab {}, context {}",
        c.name.as_deref().unwrap_or("(unnamed)"),
        c.arch,
        c.n_layer,
        c.n_embd,
        c.n_head,
        c.n_head_kv,
        c.head_dim,
        c.n_ff,
        c.vocab_size,
        c.context_length
    )?;
    writeln!(out, "features: {}", model.features().join(", "))?;
    if c.is_moe() {
        writeln!(out, "experts: {} per layer, {} used per token", c.n_expert, c.n_expert_used)?;
    } else {
        writeln!(out, "experts: none (dense)")?;
    }
    writeln!(out, "types: {}", mix_text(&mix))?;
    for (k, types) in &kinds {
        let list: Vec<String> = types.iter().map(|(t, n)| format!("{t} ×{n}")).collect();
        writeln!(out, "  {k}: {}", list.join(", "))?;
    }
    writeln!(
        out,
        "GPU memory at context {context} ({} KV, binding limit {:.0} MiB): weights {:.1} MiB, KV cache {:.1} MiB, activations {:.1} MiB, total {:.1} MiB",
        a.kv_type,
        mib(a.binding_limit),
        mib(memory.weights),
        mib(memory.kv_cache),
        mib(memory.scratch),
        mib(memory.total())
    )?;
    writeln!(out, "{}", budget_text(c, &budget))?;
    if a.tensors {
        for t in &g.tensors {
            writeln!(out, "  {:<40} {:<6} {:?} {} bytes", t.name, t.ty.name(), t.dims, t.size)?;
        }
    }
    writeln!(out, "metadata:")?;
    for (k, v) in &g.metadata {
        writeln!(out, "  {k} = {}", short(v))?;
    }
    Ok(())
}

/// The smallest `--gpu-budget` that runs, and what it is made of.
fn budget_text(c: &ModelConfig, b: &BudgetFacts) -> String {
    let minimum = format!("minimum GPU budget: {} bytes ({:.1} MiB)", b.minimum, mib(b.minimum));
    if !c.is_moe() {
        return format!("{minimum}; a dense model has no experts to stream");
    }
    let pools: Vec<String> = b
        .pools
        .iter()
        .map(|p| format!("{} × {:.1} MiB for {} layer{}", c.n_expert_used, mib(p.slot_bytes), p.layers.len(), if p.layers.len() == 1 { "" } else { "s" }))
        .collect();
    format!(
        "{minimum}: {:.1} MiB resident + the {} experts one token uses in one layer, per pool of layers sharing expert slots ({}); all {} experts: {:.1} MiB",
        mib(b.resident),
        c.n_expert_used,
        pools.join(", "),
        c.n_expert * c.n_layer,
        mib(b.all_experts)
    )
}

fn mib(b: u64) -> f64 {
    b as f64 / (1u64 << 20) as f64
}
