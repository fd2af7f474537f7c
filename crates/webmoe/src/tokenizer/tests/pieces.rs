//! Each id's bytes (`Tokenizer::token_pieces`) against the real vocabularies: the pieces of a
//! text's ids spell the text, special tokens stand apart, and padding rows are unused.

use super::super::{TokenPiece, Tokenizer};
use super::*;

/// The bytes `ids` spell, or the first id that is not text.
fn spelled(pieces: &[TokenPiece], ids: &[u32]) -> Result<Vec<u8>, u32> {
    let mut bytes = Vec::new();
    for &id in ids {
        match &pieces[id as usize] {
            TokenPiece::Bytes(b) => bytes.extend_from_slice(b),
            _ => return Err(id),
        }
    }
    Ok(bytes)
}

fn check_spells_the_test_strings(tok: &Tokenizer, what: &str, prefix: &str) {
    let pieces = tok.token_pieces(tok.vocab_size()).unwrap();
    for (text, _) in reference_strings() {
        let ids = tok.encode(&text, false).unwrap();
        let bytes = spelled(&pieces, &ids).unwrap_or_else(|id| panic!("{what}: {text:?}: id {id} is not text"));
        assert_eq!(String::from_utf8_lossy(&bytes), format!("{prefix}{text}"), "{what}: the pieces of {ids:?}");
    }
}

#[test]
fn sentencepiece_pieces_spell_text_with_its_prefix_space() {
    for (tok, what) in [(mixtral_from_json(), "tokenizer.json"), (mixtral_from_gguf(), "GGUF")] {
        check_spells_the_test_strings(tok, what, " ");
        let pieces = tok.token_pieces(tok.vocab_size() + 3).unwrap();
        assert_eq!(pieces[1], TokenPiece::Special("<s>".into()), "{what}");
        assert_eq!(pieces[2], TokenPiece::Special("</s>".into()), "{what}");
        assert_eq!(pieces[13], TokenPiece::Bytes(b"\n".to_vec()), "{what}: <0x0A>");
        assert_eq!(pieces[tok.vocab_size()..], [TokenPiece::Unused, TokenPiece::Unused, TokenPiece::Unused], "{what}");
    }
}

#[test]
fn byte_level_pieces_spell_text() {
    let Some(tok) = smollm2::smollm2() else { return };
    check_spells_the_test_strings(&tok, "SmolLM2", "");
    let pieces = tok.token_pieces(tok.vocab_size()).unwrap();
    assert_eq!(pieces[2], TokenPiece::Special("<|im_end|>".into()));
    let ids = tok.encode("{\"name\": \"Ada\"}", false).unwrap();
    assert_eq!(spelled(&pieces, &ids).unwrap(), b"{\"name\": \"Ada\"}");
}
