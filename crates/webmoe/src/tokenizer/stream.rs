//! Incremental detokenization of generated ids.
//!
//! Decoding ids one by one and concatenating is wrong twice over: a character can span several
//! byte tokens (`<0xE6><0x97><0xA5>` is "日"), and a SentencePiece vocabulary strips the leading
//! space of a decoded text, which must happen at the start of the reply only. The decoder keeps a
//! window of ids: the ids of the text it last returned plus the ids not yet returned. It decodes
//! the window with and without the new ids and returns the difference once that difference does
//! not end in an incomplete character (U+FFFD). Both decodes start at the same id, so whatever the
//! decoder does at the start of a text cancels out, except at the true start of the reply.

use super::{Tokenizer, TokenizerError};

/// Feeds generated ids in, gets complete text out. Concatenating everything [`push`] and
/// [`finish`] return gives exactly [`Tokenizer::decode`] of all ids.
///
/// [`push`]: StreamDecoder::push
/// [`finish`]: StreamDecoder::finish
#[derive(Clone, Debug)]
pub struct StreamDecoder {
    tokenizer: Tokenizer,
    /// The window: ids already returned as text (`..prefix_index`), then ids still pending.
    ids: Vec<u32>,
    /// Decoded text of `ids[..prefix_index]`.
    prefix: String,
    prefix_index: usize,
}

impl StreamDecoder {
    pub(super) fn new(tokenizer: Tokenizer) -> Self {
        StreamDecoder { tokenizer, ids: Vec::new(), prefix: String::new(), prefix_index: 0 }
    }

    /// Adds one generated id; returns the text it completed (often empty: a special token, or a
    /// byte that starts a multi-byte character).
    pub fn push(&mut self, id: u32) -> Result<String, TokenizerError> {
        self.tokenizer.check_ids(&[id])?;
        let hf = &self.tokenizer.inner.hf;
        tokenizers::step_decode_stream(hf, vec![id], true, &mut self.ids, &mut self.prefix, &mut self.prefix_index)
            .map(Option::unwrap_or_default)
            .map_err(|e| TokenizerError::Decode { reason: e.to_string() })
    }

    /// Text still held back at the end of generation: the bytes of an incomplete character, each
    /// given as U+FFFD (as [`Tokenizer::decode`] gives them).
    pub fn finish(&mut self) -> Result<String, TokenizerError> {
        let text = self.tokenizer.decode(&self.ids)?;
        let rest = text.strip_prefix(self.prefix.as_str()).unwrap_or_default().to_string();
        self.prefix = text;
        self.prefix_index = self.ids.len();
        Ok(rest)
    }
}
