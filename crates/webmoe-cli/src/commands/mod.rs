//! One file per subcommand.

mod adapter;
mod bench;
mod chat;
mod inspect;
mod logits;
mod run;

use crate::args::{Cli, Command, FormatArgs, SamplingArgs};
use crate::load::CliResult;
use webmoe::constraint::ResponseFormat;
use webmoe::sampler::SamplingParams;

pub fn run(cli: Cli) -> CliResult<()> {
    match cli.command {
        Command::Inspect(a) => inspect::run(&a),
        Command::Adapter(a) => adapter::run(&a),
        Command::Logits(a) => logits::run(&a),
        Command::Run(a) => run::run(&a),
        Command::Chat(a) => chat::run(&a),
        Command::Bench(a) => bench::run(&a),
    }
}

/// The sampler settings the flags ask for (checked when the engine takes them).
fn sampling(a: &SamplingArgs) -> SamplingParams {
    SamplingParams {
        temperature: a.temp,
        top_k: a.top_k,
        top_p: a.top_p,
        min_p: a.min_p,
        repeat_penalty: a.repeat_penalty,
        repeat_last_n: a.repeat_last_n,
        seed: a.seed,
        ..SamplingParams::default()
    }
}

/// The format `--json-schema FILE` or `--json-object` asks for, read before the model loads so
/// that a missing file or text that is not JSON fails at once.
fn response_format(a: &FormatArgs) -> CliResult<Option<ResponseFormat>> {
    if let Some(path) = &a.json_schema {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the JSON schema {}: {e}", path.display()))?;
        return Ok(Some(ResponseFormat::json_schema_text(&text).map_err(|e| format!("{}: {e}", path.display()))?));
    }
    Ok(a.json_object.then_some(ResponseFormat::JsonObject))
}
