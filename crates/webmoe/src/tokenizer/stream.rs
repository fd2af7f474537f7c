//! Incremental detokenization of generated ids.
//!
//! Decoding ids one by one and concatenating is wrong twice over: a character can span several
//! byte tokens (`<0xE6><0x97><0xA5>` is "日"), and a SentencePiece vocabulary strips the leading
//! space of a decoded text, which must happen at the start of the reply only. So the decoder
//! decodes all ids of the reply each time and returns what the text gained, holding back text
//! that ends in an incomplete character (U+FFFD) until the bytes that complete it arrive. A text
//! that changes before what was already returned (possible with odd byte sequences) is not
//! rewritten: the decoder carries on from what it returned.

use super::{Tokenizer, TokenizerError};

/// Feeds generated ids in, gets complete text out. Concatenating everything [`push`] and
/// [`finish`] return gives [`Tokenizer::decode`] of all ids whenever the decoded text only grows.
///
/// [`push`]: StreamDecoder::push
/// [`finish`]: StreamDecoder::finish
#[derive(Clone, Debug)]
pub struct StreamDecoder {
    tokenizer: Tokenizer,
    ids: Vec<u32>,
    /// Bytes of the decoded text already returned.
    returned: usize,
}

impl StreamDecoder {
    pub(super) fn new(tokenizer: Tokenizer) -> Self {
        StreamDecoder { tokenizer, ids: Vec::new(), returned: 0 }
    }

    /// Adds one generated id; returns the text it completed (often empty: a special token, or a
    /// byte that starts a multi-byte character).
    pub fn push(&mut self, id: u32) -> Result<String, TokenizerError> {
        self.tokenizer.check_ids(&[id])?;
        self.ids.push(id);
        let text = self.tokenizer.decode(&self.ids)?;
        if text.ends_with('\u{FFFD}') {
            return Ok(String::new());
        }
        Ok(self.take_new(&text))
    }

    /// Text still held back at the end of generation: the bytes of an incomplete character, each
    /// given as U+FFFD (as [`Tokenizer::decode`] gives them).
    pub fn finish(&mut self) -> Result<String, TokenizerError> {
        let text = self.tokenizer.decode(&self.ids)?;
        Ok(self.take_new(&text))
    }

    /// The part of `text` past what was returned, if `text` still begins with it.
    fn take_new(&mut self, text: &str) -> String {
        match text.get(self.returned..) {
            Some(new) if text.is_char_boundary(self.returned) => {
                self.returned = text.len();
                new.to_string()
            }
            _ => String::new(),
        }
    }
}
