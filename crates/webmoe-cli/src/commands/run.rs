//! `webmoe run`: generate from a prompt, streaming text (or one JSON object).

use crate::args::RunArgs;
use crate::interrupt::Interrupt;
use crate::load::{load, CliResult};
use serde_json::json;
use std::io::Write;
use webmoe::constraint::Vocabulary;
use webmoe::engine::Engine;
use webmoe::experts::ExpertStats;
use webmoe::generate::{GenerateOptions, Generation};

/// The expert cache's figures: totals, and the counts of each step (the prompt, then each
/// generated token) as differences of the running totals.
fn expert_json(engine: &Engine, steps: &[ExpertStats]) -> serde_json::Value {
    let total = steps.last().copied().unwrap_or_default();
    let step = |s: &ExpertStats| json!({"hits": s.hits, "misses": s.misses, "bytes_uploaded": s.bytes_uploaded, "prefetches": s.prefetches,
        "prefetch_hits": s.prefetch_hits, "prefetch_wasted": s.prefetch_wasted, "stall_seconds": s.stall_seconds});
    let mut per_step = Vec::with_capacity(steps.len());
    let mut before = ExpertStats::default();
    for s in steps {
        per_step.push(step(&s.since(&before)));
        before = *s;
    }
    json!({
        "slots": engine.expert_slots(),
        "experts": engine.model.config.n_expert * engine.model.config.n_layer,
        "total": step(&total),
        "hit_rate": total.hit_rate(),
        "prefetch_accuracy": total.prefetch_accuracy(),
        "per_step": per_step,
    })
}

pub fn run(a: &RunArgs) -> CliResult<()> {
    let format = super::response_format(&a.format)?;
    let loaded = load(&a.model)?;
    let (mut engine, tokenizer) = (loaded.engine, loaded.tokenizer);
    engine.set_sampling(&super::sampling(&a.sampling))?;
    let prompt = match (&a.tokens, &a.prompt) {
        (Some(ids), _) => ids.clone(),
        // Special-token text in a prompt becomes those tokens, as llama.cpp reads -p.
        (None, Some(text)) => tokenizer.encode_with(text, true, true)?,
        (None, None) => return Err("give a prompt with -p TEXT or --tokens 1,2,3".into()),
    };
    let constraint = match &format {
        Some(format) => Some(Vocabulary::new(&tokenizer, engine.model.config.vocab_size)?.compile(format)?),
        None => None,
    };
    let options = GenerateOptions { max_tokens: a.n_predict, ignore_eos: a.ignore_eos, constraint, ..Default::default() };
    let mut generation = pollster::block_on(Generation::start(&mut engine, &tokenizer, &prompt, options))?;
    let mut text = String::new();
    let mut out = std::io::stdout().lock();
    let interrupt = Interrupt::install()?;
    interrupt.generating();
    let mut interrupted = false;
    // Expert cache counts after the prompt and after each generated token.
    let mut expert_steps = vec![engine.expert_stats()];
    while let Some(chunk) = pollster::block_on(generation.next_chunk(&mut engine))? {
        expert_steps.push(engine.expert_stats());
        if interrupt.requested() {
            interrupted = true;
        }
        if a.json {
            text.push_str(&chunk.text);
        } else {
            out.write_all(chunk.text.as_bytes())?;
            out.flush()?;
        }
        if interrupted {
            break;
        }
    }
    interrupt.idle();
    let stats = generation.stats();
    if a.json {
        let result = json!({
            "prompt_tokens": prompt,
            "tokens": generation.tokens(),
            "text": text,
            "finish_reason": if interrupted { Some("interrupted") } else { generation.finish_reason().map(|r| r.as_str()) },
            "prefill_tok_s": stats.prefill_tok_s(),
            "decode_tok_s": stats.decode_tok_s(),
            "experts": expert_json(&engine, &expert_steps),
        });
        writeln!(out, "{result}")?;
    } else {
        writeln!(out)?;
        if interrupted {
            eprintln!("(interrupted)");
        }
        eprintln!(
            "prompt: {} tokens, {:.1} tok/s; generated: {} tokens, {:.1} tok/s",
            stats.prompt_tokens,
            stats.prefill_tok_s(),
            stats.generated_tokens,
            stats.decode_tok_s()
        );
    }
    Ok(())
}
