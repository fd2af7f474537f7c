//! Constraints against real vocabularies (the Mixtral tokenizer.json of tests/fixtures, the
//! SmolLM2 GGUF in models/), and generation with the real SmolLM2 model held to a schema.

mod masks;
mod smollm2;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{json, Value};

use super::{Constraint, ResponseFormat, Vocabulary};
use crate::gguf::Gguf;
use crate::tokenizer::{TokenPiece, Tokenizer};

pub(super) const SMOLLM2: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";

pub(super) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Mixtral v0.1 SentencePiece vocabulary (32000 ids).
pub(super) fn mixtral() -> &'static (Tokenizer, Vocabulary) {
    static BOTH: OnceLock<(Tokenizer, Vocabulary)> = OnceLock::new();
    BOTH.get_or_init(|| {
        let bytes = std::fs::read(repo_root().join("tests/fixtures/tokenizer/tokenizer.json")).expect("the fixture");
        let tokenizer = Tokenizer::from_json(&bytes).expect("tokenizer.json loads");
        let vocabulary = Vocabulary::new(&tokenizer, tokenizer.vocab_size()).expect("the Mixtral vocabulary");
        (tokenizer, vocabulary)
    })
}

/// The SmolLM2 byte-level vocabulary (49152 ids) from the model file, when it is there (see
/// `scripts/fetch-smollm2`); `None` skips the test unless WEBMOE_REQUIRE_MODELS=1.
pub(super) fn smollm2() -> Option<&'static (Tokenizer, Vocabulary)> {
    static BOTH: OnceLock<Option<(Tokenizer, Vocabulary)>> = OnceLock::new();
    BOTH.get_or_init(|| {
        let path = smollm2_path()?;
        let bytes = std::fs::read(path).expect("reading the SmolLM2 model");
        let tokenizer = Tokenizer::from_gguf(&Gguf::parse(&bytes).expect("the SmolLM2 header")).expect("its tokenizer");
        let vocabulary = Vocabulary::new(&tokenizer, tokenizer.vocab_size()).expect("the SmolLM2 vocabulary");
        Some((tokenizer, vocabulary))
    })
    .as_ref()
}

pub(super) fn smollm2_path() -> Option<PathBuf> {
    let path = repo_root().join(SMOLLM2);
    if path.is_file() {
        return Some(path);
    }
    let required = std::env::var("WEBMOE_REQUIRE_MODELS").is_ok_and(|v| v == "1");
    assert!(!required, "{} is missing and WEBMOE_REQUIRE_MODELS=1: run scripts/fetch-smollm2", path.display());
    eprintln!("skipping: {} is missing (run scripts/fetch-smollm2 to fetch it)", path.display());
    None
}

/// A person record: a required string, integer, enum and array, nothing else.
pub(super) fn person_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "name": { "type": "string", "minLength": 1, "maxLength": 20 },
            "age": { "type": "integer", "minimum": 0, "maximum": 150 },
            "role": { "enum": ["admin", "editor", "viewer"] },
            "skills": { "type": "array", "items": { "type": "string", "maxLength": 20 }, "minItems": 1, "maxItems": 3 }
        },
        "required": ["name", "age", "role", "skills"],
        "additionalProperties": false
    })
}

/// Why `text` is not a person record of [`person_schema`], if it is not.
pub(super) fn person_problem(text: &str) -> Option<String> {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Some(format!("not JSON: {e}")),
    };
    let Some(object) = value.as_object() else { return Some("not an object".into()) };
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["age", "name", "role", "skills"] {
        return Some(format!("keys {keys:?}"));
    }
    let short_string = |v: &Value, min: usize| v.as_str().is_some_and(|s| (min..=20).contains(&s.chars().count()));
    if !short_string(&object["name"], 1) {
        return Some(format!("name {}", object["name"]));
    }
    if object["age"].as_u64().is_none_or(|a| a > 150) {
        return Some(format!("age {}", object["age"]));
    }
    if !["admin", "editor", "viewer"].iter().any(|r| object["role"] == *r) {
        return Some(format!("role {}", object["role"]));
    }
    match object["skills"].as_array() {
        Some(skills) if (1..=3).contains(&skills.len()) && skills.iter().all(|s| short_string(s, 0)) => None,
        _ => Some(format!("skills {}", object["skills"])),
    }
}

/// The text bytes of `ids` (special tokens contribute none).
pub(super) fn text_of(tokenizer: &Tokenizer, ids: &[u32]) -> Vec<u8> {
    let pieces = tokenizer.token_pieces(tokenizer.vocab_size()).expect("pieces");
    ids.iter()
        .filter_map(|&id| match &pieces[id as usize] {
            TokenPiece::Bytes(b) => Some(b.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Replays `ids` on a fresh constraint for `format`, failing at the first id its mask did not
/// allow; returns the constraint after the last id.
pub(super) fn replay(vocabulary: &Vocabulary, format: &ResponseFormat, ids: &[u32]) -> Constraint {
    let mut constraint = vocabulary.compile(format).expect("the format compiles");
    for (i, &id) in ids.iter().enumerate() {
        assert!(constraint.allows(id), "id {id} at step {i} of {ids:?} was not allowed by the mask");
        constraint.advance(id).unwrap_or_else(|e| panic!("advancing with id {id} at step {i}: {e}"));
    }
    constraint
}
