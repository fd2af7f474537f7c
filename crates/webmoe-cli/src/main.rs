//! `webmoe`: run GGUF Mixture-of-Experts models on the GPU from the command line.

mod args;
mod commands;
mod interrupt;
mod load;
mod memory_watch;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => match e.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => e.exit(),
            _ => {
                // One line: clap's first line already says what is wrong ("error: ...").
                let text = e.to_string();
                let first = text.lines().next().unwrap_or("error: bad arguments").trim_start_matches("error: ");
                eprintln!("error: {first} (see webmoe --help)");
                return ExitCode::from(2);
            }
        },
    };
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped reading (`webmoe inspect … | head`) is not an error.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.to_string().replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
