//! `webmoe run`: generate from a prompt, streaming text (or one JSON object).

use crate::args::RunArgs;
use crate::load::{load, CliResult};
use serde_json::json;
use std::io::Write;
use webmoe::generate::{GenerateOptions, Generation};

pub fn run(a: &RunArgs) -> CliResult<()> {
    let loaded = load(&a.model)?;
    let (mut engine, tokenizer) = (loaded.engine, loaded.tokenizer);
    engine.set_sampling(&super::sampling(&a.sampling))?;
    let prompt = match (&a.tokens, &a.prompt) {
        (Some(ids), _) => ids.clone(),
        // Special-token text in a prompt becomes those tokens, as llama.cpp reads -p.
        (None, Some(text)) => tokenizer.encode_with(text, true, true)?,
        (None, None) => return Err("give a prompt with -p TEXT or --tokens 1,2,3".into()),
    };
    let options = GenerateOptions { max_tokens: a.n_predict, stop: Vec::new(), ignore_eos: a.ignore_eos };
    let mut generation = pollster::block_on(Generation::start(&mut engine, &tokenizer, &prompt, options))?;
    let mut text = String::new();
    let mut out = std::io::stdout().lock();
    while let Some(chunk) = pollster::block_on(generation.next_chunk(&mut engine))? {
        if a.json {
            text.push_str(&chunk.text);
        } else {
            out.write_all(chunk.text.as_bytes())?;
            out.flush()?;
        }
    }
    let stats = generation.stats();
    if a.json {
        let result = json!({
            "prompt_tokens": prompt,
            "tokens": generation.tokens(),
            "text": text,
            "finish_reason": generation.finish_reason().map(|r| r.as_str()),
            "prefill_tok_s": stats.prefill_tok_s(),
            "decode_tok_s": stats.decode_tok_s(),
        });
        writeln!(out, "{result}")?;
    } else {
        writeln!(out)?;
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
