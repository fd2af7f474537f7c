//! Every `tokenizer.ggml.pre` name llama.cpp b11739 accepts, on one synthetic byte-level vocabulary,
//! against the ids llama.cpp gives a multilingual corpus under each name
//! (tests/fixtures/tokenizer/pre, written by scripts/gen-tokenizer-fixtures.py): webmoe gives the same
//! ids for every name it builds, and refuses by name the ones it cannot build exactly.

use std::collections::BTreeSet;

use super::super::pre::supported_names;
use super::super::{Tokenizer, TokenizerError};
use super::*;
use crate::gguf::Value;

const VOCAB: &str = "tests/fixtures/tokenizer/pre/vocab.gguf";
const IDS: &str = "tests/fixtures/tokenizer/pre/llama_cpp.json";
const PRE: &str = "tokenizer.ggml.pre";

/// Names llama.cpp accepts that webmoe refuses, with the reason.
const REFUSED: &[(&str, &str)] = &[
    ("gemma4", "not byte-level: spaces become ▁, bytes <0xXX>"),
    ("granite-embed-multi-311m", "not byte-level (Gemma 4 style)"),
    ("sarvam-moe", "not byte-level (Gemma 4 style)"),
    ("mmbert", "not byte-level"),
    ("whitespace", "not byte-level: whitespace-separated words"),
    ("jina-v1-en", "adds a separator token"),
    ("jina-v2-code", "adds a separator token"),
    ("roberta-bpe", "adds a separator token"),
    ("superbpe", "splits digit runs at zero-width matches"),
];

/// The fixture vocabulary with its pre-tokenizer name replaced by `name`.
fn tokenizer_named(vocab: &Gguf, name: &str) -> Result<Tokenizer, TokenizerError> {
    let mut g = vocab.clone();
    let pre = g.metadata.iter_mut().find(|(key, _)| key == PRE).expect("the fixture vocabulary names a pre-tokenizer");
    pre.1 = Value::String(name.to_string());
    Tokenizer::from_gguf(&g)
}

/// The ids of the entry (`[{names, ids}]`) that lists `name`.
fn ids_for(entries: &serde_json::Value, name: &str) -> Option<Vec<u32>> {
    let entry =
        entries.as_array()?.iter().find(|e| e["names"].as_array().is_some_and(|n| n.iter().any(|n| n == name)))?;
    entry["ids"].as_array().map(|ids| ids.iter().map(|id| id.as_u64().expect("an id") as u32).collect())
}

/// Every name of a `[{names, ids}]` list.
fn names_of(entries: &serde_json::Value) -> BTreeSet<String> {
    entries
        .as_array()
        .expect("a list of entries")
        .iter()
        .flat_map(|e| e["names"].as_array().expect("names").iter().map(|n| n.as_str().expect("a name").to_string()))
        .collect()
}

#[test]
fn every_supported_name_gives_llama_cpp_ids() {
    let vocab = gguf(VOCAB);
    let fixture = json(IDS);
    let loaded = names_of(&fixture["add_special_x"]);
    let not_loaded: BTreeSet<String> = fixture["not_loaded"].as_object().expect("not_loaded").keys().cloned().collect();

    let unknown_to_llama_cpp: Vec<&str> = supported_names().filter(|n| !loaded.contains(*n)).collect();
    assert!(unknown_to_llama_cpp.is_empty(), "names llama.cpp did not load: {unknown_to_llama_cpp:?}");

    let cases = fixture["cases"].as_array().expect("cases");
    let mut failures = Vec::new();
    for name in loaded.iter().chain(&not_loaded) {
        let refused = REFUSED.iter().any(|(n, _)| n == name);
        let tok = match (tokenizer_named(&vocab, name), refused) {
            (Err(TokenizerError::UnsupportedPreTokenizer { pre, .. }), true) if pre == *name => continue,
            (Err(e), _) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
            (Ok(_), true) => {
                failures.push(format!("{name}: built, but it is listed as refused"));
                continue;
            }
            (Ok(tok), false) => tok,
        };
        if not_loaded.contains(name) {
            failures.push(format!("{name}: llama.cpp did not load it, so webmoe should not build it"));
            continue;
        }
        let want_x = ids_for(&fixture["add_special_x"], name).expect("ids of \"x\"");
        let got_x = tok.encode("x", true).unwrap();
        if got_x != want_x {
            failures.push(format!("{name}: \"x\" with special tokens: got {got_x:?}, want {want_x:?}"));
        }
        for case in cases {
            let text = case["text"].as_str().expect("text");
            let parse_special = case["parse_special"].as_bool().expect("parse_special");
            let want = ids_for(&case["ids"], name).unwrap_or_else(|| panic!("no ids for {name} of {text:?}"));
            let got = tok.encode_with(text, false, parse_special).unwrap();
            if got != want {
                let at = (0..got.len().max(want.len())).find(|&i| got.get(i) != want.get(i)).unwrap_or(0);
                let pieces =
                    |ids: &[u32]| ids.iter().map(|&id| tok.token_text(id).unwrap_or_default()).collect::<Vec<_>>();
                failures.push(format!(
                    "{name}: {text:?}: first difference at {at}\n    got:  {:?}\n    want: {:?}",
                    pieces(&got),
                    pieces(&want)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn decoding_gives_back_the_text() {
    let vocab = gguf(VOCAB);
    let fixture = json(IDS);
    for name in ["gpt-4o", "qwen2", "deepseek-v3", "kimi-k2", "tekken"] {
        let tok = tokenizer_named(&vocab, name).unwrap();
        for case in fixture["cases"].as_array().expect("cases").iter().filter(|c| c["parse_special"] == false) {
            let text = case["text"].as_str().expect("text");
            let ids = tok.encode(text, false).unwrap();
            assert_eq!(tok.decode(&ids).unwrap(), text, "{name}: decode(encode({text:?}))");
        }
    }
}
