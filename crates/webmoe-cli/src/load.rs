//! Opening a model file: header, model description, tokenizer, GPU, engine.

use crate::args::{parse_bytes, ModelArgs};
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;
use webmoe::engine::{automatic_budget, AutoBudget, Engine, EngineOptions};
use webmoe::gguf::{split_part_names, ConcatSource, Gguf, MmapSource};
use webmoe::gpu::{BudgetSource, Gpu, GpuOptions, MemoryBudget};
use webmoe::model::Model;
use webmoe::tokenizer::Tokenizer;

/// A failure while loading or running, as one line for the user.
pub type CliResult<T> = Result<T, Box<dyn std::error::Error>>;

pub struct Opened {
    /// The file, or every part of a split model in order.
    pub source: ConcatSource<MmapSource>,
    pub gguf: Gguf,
}

/// Map the file (every part, for a `…-00001-of-00003.gguf` split model) and parse the header.
pub fn open(path: &Path) -> CliResult<Opened> {
    let name = path.to_string_lossy();
    let paths: Vec<String> = split_part_names(&name).unwrap_or_else(|| vec![name.to_string()]);
    let mut parts = Vec::with_capacity(paths.len());
    for p in &paths {
        parts.push(MmapSource::open(Path::new(p)).map_err(|e| format!("cannot open {p}: {e}"))?);
    }
    let source = ConcatSource::new(parts);
    let gguf = pollster::block_on(Gguf::read_parts(&source)).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Opened { source, gguf })
}

pub struct Loaded {
    pub engine: Engine,
    pub tokenizer: Tokenizer,
}

/// Everything `run`, `chat` and `logits` need: a validated model on the GPU and its tokenizer.
/// Without `--gpu-budget`, a model too large for what the platform says the GPU may use gets
/// that as its budget, said in one line on stderr once the engine is loaded.
pub fn load(args: &ModelArgs) -> CliResult<Loaded> {
    let Opened { source, gguf } = open(&args.model)?;
    let model = Model::from_gguf(&gguf).map_err(|e| format!("{}: {e}", args.model.display()))?;
    let tokenizer = Tokenizer::for_model_file(&args.model, &gguf)?;
    let mut options = EngineOptions { context_length: args.ctx_size, kv_type: args.kv_type.parse()?, batch: args.batch_size, gpu_budget: args.gpu_budget };
    let mut gpu = pollster::block_on(Gpu::new(&GpuOptions::default()))?;
    if let Some(available) = assumed_memory()? {
        let source = gpu.memory_budget.map_or(BudgetSource::SystemMemory, |b| b.source);
        gpu.memory_budget = Some(MemoryBudget { available, source });
    }
    let chosen = match args.gpu_budget {
        Some(_) => None,
        None => Some(automatic_budget(&gpu, &model, &options)?),
    };
    if let Some(c) = &chosen {
        options.gpu_budget = c.gpu_budget;
    }
    let mut progress = LoadProgress::new();
    let engine = pollster::block_on(Engine::load(gpu, source, model, &options, &mut |done, total| progress.report(done, total)))?;
    progress.finish();
    if let Some(AutoBudget { gpu_budget: Some(_), summary }) = &chosen {
        eprintln!("{summary}; {} expert slots", engine.expert_slots());
    }
    Ok(Loaded { engine, tokenizer })
}

/// `WEBMOE_MEMORY_AVAILABLE`: the bytes to take as what the platform reports available, in
/// place of its own figure: what webmoe would choose on a machine with that much memory.
fn assumed_memory() -> CliResult<Option<u64>> {
    match std::env::var("WEBMOE_MEMORY_AVAILABLE") {
        Ok(text) => Ok(Some(parse_bytes(&text).map_err(|e| format!("WEBMOE_MEMORY_AVAILABLE: {e}"))?)),
        Err(_) => Ok(None),
    }
}

/// Upload progress on a terminal's stderr: bytes, rate and time left, redrawn in place at most
/// a few times a second. Nothing when stderr is not a terminal.
struct LoadProgress {
    start: Instant,
    last: Option<Instant>,
    drawn: bool,
    terminal: bool,
}

impl LoadProgress {
    fn new() -> LoadProgress {
        LoadProgress { start: Instant::now(), last: None, drawn: false, terminal: std::io::stderr().is_terminal() }
    }

    fn report(&mut self, done: u64, total: u64) {
        if !self.terminal || self.last.is_some_and(|t| t.elapsed().as_millis() < 250) {
            return;
        }
        self.last = Some(Instant::now());
        let seconds = self.start.elapsed().as_secs_f64().max(1e-3);
        let rate = done as f64 / seconds;
        let left = if rate > 0.0 { total.saturating_sub(done) as f64 / rate } else { 0.0 };
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        eprint!("\rloading: {:.2} of {:.2} GiB uploaded, {:.0} MB/s, {:.0} s left   ", gib(done), gib(total), rate / 1e6, left);
        self.drawn = true;
    }

    fn finish(&self) {
        if self.drawn {
            eprintln!();
        }
    }
}
