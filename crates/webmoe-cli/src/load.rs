//! Opening a model file: header, model description, tokenizer, GPU, engine.

use crate::args::ModelArgs;
use std::path::Path;
use webmoe::engine::{Engine, EngineOptions};
use webmoe::gguf::{Gguf, MmapSource};
use webmoe::gpu::{Gpu, GpuOptions};
use webmoe::model::Model;
use webmoe::tokenizer::Tokenizer;

/// A failure while loading or running, as one line for the user.
pub type CliResult<T> = Result<T, Box<dyn std::error::Error>>;

pub struct Opened {
    pub source: MmapSource,
    pub gguf: Gguf,
}

/// Map the file and parse its header.
pub fn open(path: &Path) -> CliResult<Opened> {
    let source = MmapSource::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let gguf = pollster::block_on(Gguf::read(&source)).map_err(|e| format!("{}: {e}", path.display()))?;
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
    let options = EngineOptions { context_length: args.ctx_size, kv_type: args.kv_type.parse()?, batch: args.batch_size };
    let gpu = pollster::block_on(Gpu::new(&GpuOptions::default()))?;
    let engine = pollster::block_on(Engine::load(gpu, &source, model, &options, &mut |_, _| {}))?;
    Ok(Loaded { engine, tokenizer })
}
