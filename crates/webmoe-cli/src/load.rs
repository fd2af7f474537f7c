//! Opening a model file: header, model description, tokenizer, GPU, engine.

use crate::args::ModelArgs;
use std::path::Path;
use webmoe::engine::{Engine, EngineOptions};
use webmoe::gguf::{split_part_names, ConcatSource, Gguf, MmapSource};
use webmoe::gpu::{Gpu, GpuOptions};
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
pub fn load(args: &ModelArgs) -> CliResult<Loaded> {
    let Opened { source, gguf } = open(&args.model)?;
    let model = Model::from_gguf(&gguf).map_err(|e| format!("{}: {e}", args.model.display()))?;
    let tokenizer = Tokenizer::for_model_file(&args.model, &gguf)?;
    let options = EngineOptions { context_length: args.ctx_size, kv_type: args.kv_type.parse()?, batch: args.batch_size, gpu_budget: args.gpu_budget };
    let gpu = pollster::block_on(Gpu::new(&GpuOptions::default()))?;
    let engine = pollster::block_on(Engine::load(gpu, source, model, &options, &mut |_, _| {}))?;
    Ok(Loaded { engine, tokenizer })
}
