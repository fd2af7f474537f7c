//! One file per subcommand.

mod adapter;
mod inspect;
mod logits;

use crate::args::{Cli, Command};
use crate::load::CliResult;

pub fn run(cli: Cli) -> CliResult<()> {
    match cli.command {
        Command::Inspect(a) => inspect::run(&a),
        Command::Adapter(a) => adapter::run(&a),
        Command::Logits(a) => logits::run(&a),
        Command::Run(_) | Command::Chat(_) => Err("not available yet".into()),
    }
}
