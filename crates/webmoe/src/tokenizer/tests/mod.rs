//! Tokenizer tests against independent references: ids produced by sentencepiece, Hugging Face
//! tokenizers and llama.cpp for the same strings (tests/fixtures/tokenizer,
//! tests/fixtures/oracle), and rendered chat prompts as Hugging Face's templates produce them.

mod byte_level;
mod chat;
mod chat_templates;
mod pieces;
mod pre_tokenizers;
mod sentencepiece;
mod smollm2;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::Tokenizer;
use crate::gguf::Gguf;

/// The repository root: the crate lives in crates/webmoe.
pub(super) fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().and_then(Path::parent).map_or_else(|| manifest_dir.join("../.."), Path::to_path_buf)
}

pub(super) fn read(relative: &str) -> Vec<u8> {
    let path = repo_root().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()))
}

pub(super) fn json(relative: &str) -> serde_json::Value {
    serde_json::from_slice(&read(relative)).unwrap_or_else(|e| panic!("parsing {relative}: {e}"))
}

pub(super) fn gguf(relative: &str) -> Gguf {
    Gguf::parse(&read(relative)).unwrap_or_else(|e| panic!("parsing {relative}: {e}"))
}

/// The Mixtral-8x7B v0.1 tokenizer from tokenizer.json.
pub(super) fn mixtral_from_json() -> &'static Tokenizer {
    static TOK: OnceLock<Tokenizer> = OnceLock::new();
    TOK.get_or_init(|| {
        Tokenizer::from_json(&read("tests/fixtures/tokenizer/tokenizer.json")).expect("tokenizer.json loads")
    })
}

/// The same vocabulary built from the GGUF metadata of the real-vocabulary oracle model.
pub(super) fn mixtral_from_gguf() -> &'static Tokenizer {
    static TOK: OnceLock<Tokenizer> = OnceLock::new();
    TOK.get_or_init(|| {
        Tokenizer::from_gguf(&gguf("tests/fixtures/oracle/mixtral-realvocab-q8_0/model.gguf"))
            .expect("the real Mixtral vocabulary builds from GGUF metadata")
    })
}

/// `(text, ids with BOS)` pairs of a json array of `{text, ids_with_bos}`.
pub(super) fn text_id_pairs(cases: &serde_json::Value) -> Vec<(String, Vec<u32>)> {
    let cases = cases.as_array().expect("an array of cases");
    cases
        .iter()
        .map(|c| {
            let text = c["text"].as_str().expect("text").to_string();
            let ids =
                c["ids_with_bos"].as_array().expect("ids_with_bos").iter().map(|v| v.as_u64().expect("id") as u32);
            (text, ids.collect())
        })
        .collect()
}

/// The 10 strings of tests/fixtures/tokenizer with their reference ids (BOS included).
pub(super) fn reference_strings() -> Vec<(String, Vec<u32>)> {
    let pairs = text_id_pairs(&json("tests/fixtures/tokenizer/reference_token_ids.json")["cases"]);
    let strings: Vec<String> =
        serde_json::from_value(json("tests/fixtures/tokenizer/test_strings.json")).expect("strings");
    assert_eq!(
        pairs.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>(),
        strings,
        "the two fixture files list the same strings"
    );
    pairs
}

/// Fails naming the first differing index and both values there.
pub(super) fn assert_ids(what: &str, got: &[u32], want: &[u32]) {
    if let Some(i) = (0..got.len().max(want.len())).find(|&i| got.get(i) != want.get(i)) {
        panic!(
            "{what}: first difference at index {i}: got {:?}, want {:?}\n  got:  {got:?}\n  want: {want:?}",
            got.get(i),
            want.get(i)
        );
    }
}

/// Encodes with BOS, checks the ids, decodes back, and streams the ids one at a time.
pub(super) fn check_round_trip(tok: &Tokenizer, what: &str, text: &str, want: &[u32]) {
    let ids = tok.encode(text, true).unwrap_or_else(|e| panic!("{what}: encoding {text:?}: {e}"));
    assert_ids(&format!("{what}: ids of {text:?}"), &ids, want);
    let decoded = tok.decode(&ids).unwrap_or_else(|e| panic!("{what}: decoding {text:?}: {e}"));
    assert_eq!(decoded, text, "{what}: decode(encode(text))");
    assert_eq!(streamed(tok, &ids), text, "{what}: stream decoding of {ids:?}");
}

/// The text a [`super::StreamDecoder`] gives for `ids` pushed one at a time, then finished.
pub(super) fn streamed(tok: &Tokenizer, ids: &[u32]) -> String {
    let mut stream = tok.stream_decoder();
    let mut text = String::new();
    for (i, &id) in ids.iter().enumerate() {
        text += &stream.push(id).unwrap_or_else(|e| panic!("pushing id {id} at index {i}: {e}"));
    }
    text + &stream.finish().expect("finish")
}
