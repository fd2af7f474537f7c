//! How an engine is set up: context length, KV-cache precision, prompt batch size.

/// Element type of the KV cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KvType {
    /// Half precision, packed in pairs (no shader-f16 needed): half the memory.
    #[default]
    F16,
    /// Full precision: what exact comparisons against a reference use.
    F32,
}

impl std::str::FromStr for KvType {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "f16" => Ok(KvType::F16),
            "f32" => Ok(KvType::F32),
            _ => Err(crate::Error::InvalidOption { option: "KV cache type".into(), value: s.into(), why: "use f16 or f32".into() }),
        }
    }
}

/// Default context when neither the caller nor a smaller model limit says otherwise.
pub const DEFAULT_CONTEXT: usize = 4096;

/// Tokens per prompt submit when not set.
pub const DEFAULT_BATCH: usize = 64;

#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Positions the KV cache holds; `None` takes the model's context, capped at
    /// [`DEFAULT_CONTEXT`].
    pub context_length: Option<usize>,
    pub kv_type: KvType,
    /// Prompt tokens processed per submit.
    pub batch: usize,
    /// GPU memory the engine may use, in bytes. When every expert does not fit, experts live
    /// in slots and stream in from the model file as layers choose them; `None`: no limit.
    pub gpu_budget: Option<u64>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions { context_length: None, kv_type: KvType::F16, batch: DEFAULT_BATCH, gpu_budget: None }
    }
}
