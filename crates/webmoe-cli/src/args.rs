//! Command-line flags, named as llama.cpp names them where there is an equivalent.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "webmoe", version, about = "Run GGUF Mixture-of-Experts models (Mixtral and family) on the GPU through WebGPU")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Generate text from a prompt
    Run(RunArgs),
    /// Chat with the model, using its chat template
    Chat(ChatArgs),
    /// Print the logits of every position of a token sequence
    Logits(LogitsArgs),
    /// Describe a GGUF file: metadata, tensors, types, memory needed
    Inspect(InspectArgs),
    /// Describe the GPU adapter: backend, features, limits
    Adapter(AdapterArgs),
    /// Measure prompt and decode speed against the device's memory bandwidth
    Bench(BenchArgs),
}

/// The model file and how to set up the engine.
#[derive(Args, Clone)]
pub struct ModelArgs {
    /// GGUF model file
    #[arg(short = 'm', long = "model")]
    pub model: PathBuf,
    /// Context length (positions in the KV cache); default: the model's, at most 4096
    #[arg(short = 'c', long = "ctx-size")]
    pub ctx_size: Option<usize>,
    /// KV cache element type
    #[arg(long = "kv-type", default_value = "f16", value_parser = ["f16", "f32"])]
    pub kv_type: String,
    /// Prompt tokens per GPU submit
    #[arg(short = 'b', long = "batch-size", default_value_t = webmoe::engine::DEFAULT_BATCH)]
    pub batch_size: usize,
    /// GPU memory the engine may use (e.g. 8GiB, 1500MB, 1073741824); experts that do not fit
    /// stream in from the model file as layers choose them
    #[arg(long = "gpu-budget", value_parser = parse_bytes)]
    pub gpu_budget: Option<u64>,
}

/// Prompt text with something in it: an empty prompt would run the model on BOS alone.
fn non_empty_prompt(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("the prompt is empty; give some text, or token ids with --tokens".into());
    }
    Ok(text.to_string())
}

/// A count of tokens to generate: at least one (to score a prompt without generating, use
/// `webmoe logits`).
fn at_least_one_token(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("generate at least 1 token (webmoe logits scores a prompt without generating)".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{text:?} is not a token count")),
    }
}

/// A byte count: a number, optionally fractional, with an optional unit: B, KB/MB/GB/TB
/// (powers of 1000) or KiB/MiB/GiB/TiB (powers of 1024).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (number, unit) = (t[..split].trim(), t[split..].trim());
    let value: f64 = number.parse().map_err(|_| format!("{text:?} is not a byte count (examples: 8GiB, 1500MB, 1073741824)"))?;
    let scale: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "tb" | "t" => 1e12,
        "kib" => 1024.0,
        "mib" => 1048576.0,
        "gib" => 1073741824.0,
        "tib" => 1099511627776.0,
        _ => return Err(format!("unknown unit {unit:?} in {text:?} (use B, KB, MB, GB, KiB, MiB or GiB)")),
    };
    let bytes = value * scale;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(format!("{text:?} is not a usable byte count"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn byte_counts_take_decimal_and_binary_units() {
        assert_eq!(parse_bytes("8GiB"), Ok(8 << 30));
        assert_eq!(parse_bytes("1.5 GiB"), Ok(3 << 29));
        assert_eq!(parse_bytes("1500MB"), Ok(1_500_000_000));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("5 parsecs").is_err());
        assert!(parse_bytes("-1GiB").is_err());
    }
}

#[derive(Args, Clone)]
pub struct SamplingArgs {
    /// Temperature; 0 picks the most likely token (greedy)
    #[arg(long = "temp", allow_negative_numbers = true, default_value_t = 0.8)]
    pub temp: f32,
    /// Keep only the K most likely tokens (unset: no limit)
    #[arg(long = "top-k")]
    pub top_k: Option<u32>,
    /// Keep the most likely tokens up to this probability mass
    #[arg(long = "top-p", allow_negative_numbers = true, default_value_t = 0.95)]
    pub top_p: f32,
    /// Drop tokens less likely than this fraction of the most likely one
    #[arg(long = "min-p", allow_negative_numbers = true, default_value_t = 0.05)]
    pub min_p: f32,
    /// Penalise tokens among the last --repeat-last-n (1: off)
    #[arg(long = "repeat-penalty", allow_negative_numbers = true, default_value_t = 1.0)]
    pub repeat_penalty: f32,
    #[arg(long = "repeat-last-n", default_value_t = 64)]
    pub repeat_last_n: u32,
    /// Random seed: the same seed gives the same tokens
    #[arg(short = 's', long = "seed", default_value_t = 0)]
    pub seed: u64,
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Prompt text (tokenized with BOS per the model's metadata)
    #[arg(short = 'p', long = "prompt", conflicts_with = "tokens", required_unless_present = "tokens", value_parser = non_empty_prompt)]
    pub prompt: Option<String>,
    /// Prompt as token ids, fed exactly as given (no BOS added): 1,2,3
    #[arg(long = "tokens", value_delimiter = ',')]
    pub tokens: Option<Vec<u32>>,
    /// Tokens to generate
    #[arg(short = 'n', long = "n-predict", default_value_t = 128, value_parser = at_least_one_token)]
    pub n_predict: usize,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// Keep generating past the end-of-generation token
    #[arg(long = "ignore-eos")]
    pub ignore_eos: bool,
    /// Print one JSON object instead of streaming text
    #[arg(long = "json")]
    pub json: bool,
    #[command(flatten)]
    pub format: FormatArgs,
}

/// What the generated text must be: any text, or JSON held to a schema.
#[derive(Args)]
pub struct FormatArgs {
    /// Generate only JSON that validates against the JSON Schema in FILE; the reply ends when
    /// the value is complete
    #[arg(long = "json-schema", value_name = "FILE", conflicts_with = "json_object")]
    pub json_schema: Option<PathBuf>,
    /// Generate only a JSON object; the reply ends when the object is complete
    #[arg(long = "json-object")]
    pub json_object: bool,
}

#[derive(Args)]
pub struct ChatArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// System prompt
    #[arg(long = "system")]
    pub system: Option<String>,
    /// Most tokens per reply
    #[arg(short = 'n', long = "n-predict", default_value_t = 512, value_parser = at_least_one_token)]
    pub n_predict: usize,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub format: FormatArgs,
}

#[derive(Args)]
pub struct LogitsArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Token ids, fed exactly as given: 1,2,3
    #[arg(long = "tokens", value_delimiter = ',', required = true)]
    pub tokens: Vec<u32>,
    /// Print JSON (the only output format)
    #[arg(long = "json")]
    pub json: bool,
}

#[derive(Args)]
pub struct InspectArgs {
    /// GGUF file
    pub file: PathBuf,
    /// Print JSON
    #[arg(long = "json")]
    pub json: bool,
    /// List every tensor, not only the type mix
    #[arg(long = "tensors")]
    pub tensors: bool,
    /// Context length the memory figures assume (as `run -c`); default: the model's, at most 4096
    #[arg(short = 'c', long = "ctx-size")]
    pub ctx_size: Option<usize>,
    /// KV cache element type the memory figures assume
    #[arg(long = "kv-type", default_value = "f16", value_parser = ["f16", "f32"])]
    pub kv_type: String,
    /// The GPU's largest storage binding (e.g. 1GiB): it decides how expert matrices are stacked.
    /// Default 128MiB, WebGPU's default limit; Chromium's SwiftShader allows 1GiB
    #[arg(long = "binding-limit", default_value = "128MiB", value_parser = parse_bytes)]
    pub binding_limit: u64,
}

#[derive(Args)]
pub struct AdapterArgs {
    /// Print JSON
    #[arg(long = "json")]
    pub json: bool,
}

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Prompt tokens per run
    #[arg(short = 'p', long = "prompt", default_value_t = 64)]
    pub prompt: usize,
    /// Tokens generated per run
    #[arg(short = 'n', long = "gen", default_value_t = 32)]
    pub gen: usize,
    /// Timed runs (after one warm-up run)
    #[arg(short = 'r', long = "reps", default_value_t = 3)]
    pub reps: usize,
    /// Tokens of context before each run's prompt (as llama-bench's -d); -c must hold them
    #[arg(short = 'd', long = "depth", default_value_t = 0)]
    pub depth: usize,
    /// Then profile a prompt submit and the decode step after it: each dispatch submitted
    /// alone and timed, totals by kernel and weight type
    #[arg(long = "profile")]
    pub profile: bool,
    /// Print one JSON object
    #[arg(long = "json")]
    pub json: bool,
}
