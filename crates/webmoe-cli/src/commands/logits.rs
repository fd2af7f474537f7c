//! `webmoe logits`: the logits of every position, for comparison with a reference.

use crate::args::LogitsArgs;
use crate::load::{load, CliResult};
use serde_json::json;
use std::io::Write;

pub fn run(a: &LogitsArgs) -> CliResult<()> {
    let mut loaded = load(&a.model)?;
    let logits = pollster::block_on(loaded.engine.logits(&a.tokens))?;
    let out = json!({
        "n_vocab": loaded.engine.model.config.vocab_size,
        "tokens": a.tokens,
        "logits": logits,
    });
    writeln!(std::io::stdout(), "{out}")?;
    Ok(())
}
