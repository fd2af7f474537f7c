//! What each token id writes: its bytes in the output text, as constrained decoding needs them to
//! match ids against a grammar byte by byte.
//!
//! The bytes are those the id contributes before decoding joins ids: a byte-level BPE entry
//! (`Ġworld`) maps each character back to the byte GPT-2's table gave it (` world`); a
//! SentencePiece entry turns `▁` into a space (`▁Hello` → ` Hello`) and a byte piece (`<0x0A>`)
//! into its one byte. Concatenating the pieces of a reply gives its UTF-8 text, except the space
//! a SentencePiece decoder strips from the start of a reply.

use std::collections::HashMap;

use tokenizers::DecoderWrapper;

use super::{Tokenizer, TokenizerError};

/// One token id's contribution to the output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenPiece {
    /// Text bytes (possibly part of a UTF-8 character).
    Bytes(Vec<u8>),
    /// A special token (BOS, EOS, a chat marker): control, never part of the text.
    Special(String),
    /// An id with no entry (a padding row past the vocabulary, an empty entry): never produced.
    Unused,
}

/// How a vocabulary's entries spell bytes, read from its decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Spelling {
    /// GPT-2's byte-to-character table.
    ByteLevel,
    /// `▁` for a space, `<0xNN>` byte pieces for what the pieces cannot spell.
    SentencePiece,
}

/// SentencePiece's whitespace marker.
const SPACE_MARK: char = '\u{2581}';

impl Tokenizer {
    /// The piece of every id below `n_ids` (the model's vocabulary rows, which may outnumber the
    /// tokenizer's entries). Refuses a vocabulary whose decoder is neither byte-level nor
    /// SentencePiece's, whose bytes cannot be told.
    pub fn token_pieces(&self, n_ids: usize) -> Result<Vec<TokenPiece>, TokenizerError> {
        let hf = &self.inner.hf;
        let spelling = spelling_of(hf.get_decoder())?;
        let added = hf.get_added_tokens_decoder();
        let byte_of_char = byte_level_chars();
        let pieces = (0..n_ids as u32)
            .map(|id| match added.get(&id) {
                Some(token) if token.special => TokenPiece::Special(token.content.clone()),
                // Added tokens are matched whole in text, not spelled in the model's alphabet.
                Some(token) => TokenPiece::Bytes(token.content.as_bytes().to_vec()),
                None => match hf.id_to_token(id) {
                    Some(entry) if !entry.is_empty() => TokenPiece::Bytes(match spelling {
                        Spelling::ByteLevel => byte_level_bytes(&entry, &byte_of_char),
                        Spelling::SentencePiece => sentencepiece_bytes(&entry),
                    }),
                    _ => TokenPiece::Unused,
                },
            })
            .collect();
        Ok(pieces)
    }
}

fn spelling_of(decoder: Option<&DecoderWrapper>) -> Result<Spelling, TokenizerError> {
    let is_sentencepiece =
        |d: &DecoderWrapper| matches!(d, DecoderWrapper::ByteFallback(_) | DecoderWrapper::Metaspace(_));
    match decoder {
        Some(DecoderWrapper::ByteLevel(_)) => Ok(Spelling::ByteLevel),
        Some(DecoderWrapper::Metaspace(_)) => Ok(Spelling::SentencePiece),
        Some(DecoderWrapper::Sequence(s)) if s.get_decoders().iter().any(is_sentencepiece) => {
            Ok(Spelling::SentencePiece)
        }
        _ => Err(TokenizerError::UnknownSpelling),
    }
}

/// GPT-2's table inverted: the printable character standing for each byte → the byte. Bytes
/// that are printable Latin-1 stand for themselves; the others take 256, 257, … in byte order.
fn byte_level_chars() -> HashMap<char, u8> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let shifted = (0..=255u8).filter(|&b| !printable(b));
    // U+0100 onwards are all characters (the 68 shifted bytes end at U+0143).
    let shifted = shifted.zip(256u32..).filter_map(|(b, code)| char::from_u32(code).map(|c| (c, b)));
    (0..=255u8).filter(|&b| printable(b)).map(|b| (char::from(b), b)).chain(shifted).collect()
}

/// A byte-level entry's bytes; a character outside the table (no real vocabulary has one)
/// stands for its own UTF-8, as the decoder reads it.
fn byte_level_bytes(entry: &str, byte_of_char: &HashMap<char, u8>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(entry.len());
    for c in entry.chars() {
        match byte_of_char.get(&c) {
            Some(&b) => bytes.push(b),
            None => bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    bytes
}

/// A SentencePiece entry's bytes: `<0xNN>` is byte NN, anything else its text with `▁` as space.
fn sentencepiece_bytes(entry: &str) -> Vec<u8> {
    let byte_piece = entry.strip_prefix("<0x").and_then(|rest| rest.strip_suffix('>')).filter(|hex| hex.len() == 2);
    match byte_piece.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
        Some(b) => vec![b],
        None => entry.replace(SPACE_MARK, " ").into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_level_table_covers_every_byte_once() {
        let table = byte_level_chars();
        assert_eq!(table.len(), 256);
        assert_eq!(table[&'Ġ'], b' ');
        assert_eq!(table[&'Ċ'], b'\n');
        assert_eq!(table[&'A'], b'A');
        assert_eq!(byte_level_bytes("ĠworldĊ", &table), b" world\n");
    }

    #[test]
    fn sentencepiece_entries_spell_spaces_and_bytes() {
        assert_eq!(sentencepiece_bytes("▁Hello"), b" Hello");
        assert_eq!(sentencepiece_bytes("<0x0A>"), b"\n");
        assert_eq!(sentencepiece_bytes("<0xE6>"), [0xE6]);
        // Not byte pieces: the text itself.
        assert_eq!(sentencepiece_bytes("<0xZZ>"), b"<0xZZ>");
        assert_eq!(sentencepiece_bytes("<0x123>"), b"<0x123>");
    }
}
