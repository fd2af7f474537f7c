//! Finding a model's tokenizer on disk (native builds; the browser passes bytes).

use std::path::Path;

use super::{Tokenizer, TokenizerError};
use crate::gguf::Gguf;

impl Tokenizer {
    /// The tokenizer of the GGUF model at `model_path`: a `tokenizer.json` in the same folder when
    /// there is one (with the GGUF's special-token metadata on top), else the vocabulary in the
    /// GGUF metadata.
    pub fn for_model_file(model_path: &Path, gguf: &Gguf) -> Result<Tokenizer, TokenizerError> {
        let beside = model_path.with_file_name("tokenizer.json");
        if !beside.is_file() {
            return Tokenizer::from_gguf(gguf);
        }
        let bytes = std::fs::read(&beside)
            .map_err(|e| TokenizerError::Io { path: beside.display().to_string(), reason: e.to_string() })?;
        Tokenizer::from_json(&bytes)?.with_gguf_metadata(gguf)
    }
}
