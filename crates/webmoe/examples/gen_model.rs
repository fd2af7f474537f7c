//! Write a synthetic llama-architecture GGUF model with random weights (see `webmoe::synthetic`).
//!
//! usage: gen_model OUT.gguf [--layers N] [--hidden N] [--ffn N] [--heads N] [--kv-heads N]
//!                  [--experts N] [--experts-used N] [--vocab N] [--ctx N] [--type Q4_K_M|Q8_0|…] [--seed N]
//! Defaults: a Mixtral-shaped model scaled down to 8 layers of hidden 1024, 8 experts, top-2, Q4_K_M.

use std::process::ExitCode;
use webmoe::gguf::GgmlType;
use webmoe::synthetic::{model_bytes, Mix, Spec};

fn parse_type(name: &str) -> Option<Mix> {
    if name.eq_ignore_ascii_case("Q4_K_M") {
        return Some(Mix::Q4KM);
    }
    (0..64).filter_map(GgmlType::from_id).find(|t| t.name().eq_ignore_ascii_case(name)).map(Mix::Pure)
}

fn run(args: &[String]) -> Result<(), String> {
    let out = args.first().ok_or("give the output file name")?;
    let mut spec = Spec::mixtral_like(8, 1024);
    let mut it = args[1..].iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = || value.parse::<usize>().map_err(|_| format!("{flag} takes a number, not {value:?}"));
        match flag.as_str() {
            "--layers" => spec.n_layer = num()?,
            "--hidden" => spec.n_embd = num()?,
            "--ffn" => spec.n_ff = num()?,
            "--heads" => spec.n_head = num()?,
            "--kv-heads" => spec.n_head_kv = num()?,
            "--experts" => spec.n_expert = num()?,
            "--experts-used" => spec.n_expert_used = num()?,
            "--vocab" => spec.vocab_size = num()?,
            "--ctx" => spec.context_length = num()?,
            "--seed" => spec.seed = num()? as u64,
            "--type" => spec.mix = parse_type(value).ok_or_else(|| format!("unknown type {value:?}"))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    let bytes = model_bytes(&spec);
    std::fs::write(out, &bytes).map_err(|e| format!("cannot write {out}: {e}"))?;
    eprintln!("wrote {out}: {} bytes, {spec:?}", bytes.len());
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
