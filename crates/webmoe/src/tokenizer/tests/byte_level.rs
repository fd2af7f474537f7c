//! Byte-level BPE vocabularies built from GGUF metadata, on a small vocabulary written here, and
//! the errors for vocabularies webmoe cannot build.

use super::super::{Tokenizer, TokenizerError};
use crate::gguf::{Array, Gguf, GgufWriter, Value};

/// GPT-2's printable stand-in for byte `b`: printable Latin-1 bytes stand for themselves, the
/// others (controls, space, …) take the characters from U+0100 on, in byte order.
fn byte_char(b: u8) -> char {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    if printable(b) {
        b as char
    } else {
        let rank = (0..b).filter(|&x| !printable(x)).count() as u32;
        char::from_u32(256 + rank).expect("a valid character")
    }
}

const IM_END: &str = "<|im_end|>";

/// 256 byte tokens (id = byte), then "12", "123", "Ġa", "<|im_end|>" (control); merges
/// "1 2", "12 3", "Ġ a".
fn vocabulary(model: &str, pre: Option<&str>) -> GgufWriter {
    let mut tokens: Vec<String> = (0..=255u8).map(|b| byte_char(b).to_string()).collect();
    tokens.extend(["12", "123", "Ġa", IM_END].map(String::from));
    let mut types = vec![1i32; tokens.len()];
    types[tokens.len() - 1] = 3;
    let merges = ["1 2", "12 3", "Ġ a"].map(String::from).to_vec();
    let mut w = GgufWriter::new();
    w.meta("tokenizer.ggml.model", Value::String(model.into()))
        .meta("tokenizer.ggml.tokens", Value::Array(Array::String(tokens)))
        .meta("tokenizer.ggml.token_type", Value::Array(Array::I32(types)))
        .meta("tokenizer.ggml.merges", Value::Array(Array::String(merges)))
        .meta("tokenizer.ggml.eos_token_id", Value::U32(0));
    if let Some(pre) = pre {
        w.meta("tokenizer.ggml.pre", Value::String(pre.into()));
    }
    w
}

fn build(w: &GgufWriter) -> Result<Tokenizer, TokenizerError> {
    Tokenizer::from_gguf(&Gguf::parse(&w.to_bytes()).expect("a valid GGUF"))
}

const ID_12: u32 = 256;
const ID_123: u32 = 257;
const ID_SPACE_A: u32 = 258;
const ID_IM_END: u32 = 259;

#[test]
fn pre_tokenizer_names_split_digits_as_their_models_do() {
    let (d, space) = (|c: char| c as u32, ' ' as u32);
    let cases: &[(&str, &[u32])] = &[
        // GPT-2 keeps a run of digits together, a space joins the word after it.
        ("gpt-2", &[ID_123, d('4'), space, ID_12]),
        // SmolLM / StarCoder split every digit first.
        ("smollm", &[d('1'), d('2'), d('3'), d('4'), space, d('1'), d('2')]),
        // Llama 3 splits digits in groups of up to 3, and a space before digits stands alone.
        ("llama-bpe", &[ID_123, d('4'), space, ID_12]),
        // Qwen 2 splits every digit.
        ("qwen2", &[d('1'), d('2'), d('3'), d('4'), space, d('1'), d('2')]),
    ];
    for &(pre, want) in cases {
        let mut w = vocabulary("gpt2", Some(pre));
        w.meta("tokenizer.ggml.bos_token_id", Value::U32(1));
        let tok = build(&w).unwrap_or_else(|e| panic!("{pre}: {e}"));
        assert_eq!(tok.encode("1234 12", false).unwrap(), want, "pre-tokenizer {pre}");
        assert_eq!(tok.decode(want).unwrap(), "1234 12", "pre-tokenizer {pre}: decode");
    }
}

#[test]
fn bytes_and_spaces_round_trip() {
    let tok = build(&vocabulary("gpt2", Some("smollm"))).unwrap();
    let ids = tok.encode(" a é\n", false).unwrap();
    assert_eq!(ids, vec![ID_SPACE_A, ' ' as u32, 0xC3, 0xA9, '\n' as u32]);
    assert_eq!(tok.decode(&ids).unwrap(), " a é\n", "no space is stripped from byte-level text");
    assert_eq!(super::streamed(&tok, &ids), " a é\n");
}

#[test]
fn llama3_defaults_to_bos_and_gpt2_does_not() {
    let mut llama3 = vocabulary("gpt2", Some("llama-bpe"));
    llama3.meta("tokenizer.ggml.bos_token_id", Value::U32(1));
    assert!(build(&llama3).unwrap().add_bos());
    assert!(!build(&vocabulary("gpt2", Some("gpt-2"))).unwrap().add_bos());

    let no_bos_id = vocabulary("gpt2", Some("llama-bpe"));
    let err = build(&no_bos_id).unwrap_err().to_string();
    assert!(err.contains("tokenizer.ggml.add_bos_token") && err.contains("tokenizer.ggml.bos_token_id"), "{err}");
}

#[test]
fn control_tokens_are_parsed_only_when_asked_and_end_generation() {
    let tok = build(&vocabulary("gpt2", Some("gpt-2"))).unwrap();
    assert_eq!(tok.encode_with("1<|im_end|>", false, true).unwrap(), vec!['1' as u32, ID_IM_END]);
    let plain = tok.encode_with("1<|im_end|>", false, false).unwrap();
    assert!(!plain.contains(&ID_IM_END), "typed as text: {plain:?}");
    assert_eq!(tok.decode(&plain).unwrap(), "1<|im_end|>");
    assert_eq!(tok.special_tokens().end_of_generation, vec![0, ID_IM_END], "EOS and <|im_end|>");
}

#[test]
fn unknown_pre_tokenizer_is_named() {
    let err = build(&vocabulary("gpt2", Some("no-such-pre"))).unwrap_err();
    assert!(matches!(&err, TokenizerError::UnsupportedPreTokenizer { pre, .. } if pre == "no-such-pre"), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("\"no-such-pre\"") && text.contains("smollm") && text.contains("tokenizer.json"), "{text}");
}

#[test]
fn missing_pre_tokenizer_is_llama_cpp_default() {
    let tok = build(&vocabulary("gpt2", None)).unwrap();
    // The default splits runs of three digits: "1234" is "123" + "4".
    assert_eq!(tok.encode("1234", false).unwrap(), vec![ID_123, '4' as u32]);
}

#[test]
fn unknown_tokenizer_model_is_named() {
    let err = build(&vocabulary("bert", None)).unwrap_err();
    assert_eq!(err, TokenizerError::UnsupportedModel { model: "bert".into() });
    let text = err.to_string();
    assert!(text.contains("\"bert\"") && text.contains("\"llama\"") && text.contains("\"gpt2\""), "{text}");
}

#[test]
fn missing_vocabulary_keys_are_named() {
    let mut w = GgufWriter::new();
    w.meta("general.architecture", Value::String("llama".into()));
    let err = build(&w).unwrap_err();
    assert_eq!(err, TokenizerError::MissingKey { key: "tokenizer.ggml.model".into() });

    w.meta("tokenizer.ggml.model", Value::String("gpt2".into()));
    assert_eq!(build(&w).unwrap_err(), TokenizerError::MissingKey { key: "tokenizer.ggml.tokens".into() });

    let mut no_scores = GgufWriter::new();
    no_scores
        .meta("tokenizer.ggml.model", Value::String("llama".into()))
        .meta("tokenizer.ggml.tokens", Value::Array(Array::String(vec!["<unk>".into(), "a".into()])));
    assert_eq!(build(&no_scores).unwrap_err(), TokenizerError::MissingKey { key: "tokenizer.ggml.scores".into() });
}

#[test]
fn malformed_vocabulary_is_refused() {
    let mut w = GgufWriter::new();
    w.meta("tokenizer.ggml.model", Value::String("llama".into()))
        .meta("tokenizer.ggml.tokens", Value::Array(Array::String(vec!["a".into(), "b".into()])))
        .meta("tokenizer.ggml.scores", Value::Array(Array::F32(vec![0.0; 3])));
    assert_eq!(
        build(&w).unwrap_err(),
        TokenizerError::LengthMismatch { key: "tokenizer.ggml.scores".into(), found: 3, expected: 2 }
    );

    let mut dup = GgufWriter::new();
    dup.meta("tokenizer.ggml.model", Value::String("gpt2".into()))
        .meta("tokenizer.ggml.tokens", Value::Array(Array::String(vec!["a".into(), "b".into(), "a".into()])))
        .meta("tokenizer.ggml.merges", Value::Array(Array::String(vec![])));
    assert_eq!(build(&dup).unwrap_err(), TokenizerError::DuplicateToken { text: "a".into(), first: 0, second: 2 });

    let mut bad_merge = GgufWriter::new();
    bad_merge
        .meta("tokenizer.ggml.model", Value::String("gpt2".into()))
        .meta("tokenizer.ggml.tokens", Value::Array(Array::String(vec!["a".into(), "b".into(), "ab".into()])))
        .meta("tokenizer.ggml.merges", Value::Array(Array::String(vec!["a b".into(), "ab".into()])));
    assert_eq!(build(&bad_merge).unwrap_err(), TokenizerError::MalformedMerge { index: 1, merge: "ab".into() });
}

/// 256 byte tokens, then `controls` as control tokens (ids 256, 257, …); EOS is the first of them.
fn with_controls(controls: &[&str]) -> Tokenizer {
    let mut tokens: Vec<String> = (0..=255u8).map(|b| byte_char(b).to_string()).collect();
    tokens.extend(controls.iter().map(|c| c.to_string()));
    let types: Vec<i32> = (0..tokens.len()).map(|i| if i < 256 { 1 } else { 3 }).collect();
    let mut w = GgufWriter::new();
    w.meta("tokenizer.ggml.model", Value::String("gpt2".into()))
        .meta("tokenizer.ggml.pre", Value::String("gpt-4o".into()))
        .meta("tokenizer.ggml.tokens", Value::Array(Array::String(tokens)))
        .meta("tokenizer.ggml.token_type", Value::Array(Array::I32(types)))
        .meta("tokenizer.ggml.merges", Value::Array(Array::String(vec![])))
        .meta("tokenizer.ggml.eos_token_id", Value::U32(256));
    build(&w).unwrap()
}

#[test]
fn harmony_replies_go_on_after_end_and_stop_at_return_or_call() {
    let harmony = with_controls(&["<|return|>", "<|start|>", "<|message|>", "<|end|>", "<|call|>"]);
    assert_eq!(harmony.special_tokens().end_of_generation, vec![256, 260], "<|return|> and <|call|>, not <|end|>");

    let end_is_eos = with_controls(&["<|end|>", "<|return|>", "<|call|>"]);
    assert_eq!(end_is_eos.special_tokens().end_of_generation, vec![257, 258], "dropped even as EOS, as llama.cpp does");

    let phi3 = with_controls(&["<|endoftext|>", "<|end|>", "<|user|>"]);
    assert_eq!(phi3.special_tokens().end_of_generation, vec![256, 257], "<|end|> ends a turn without the pair");
}
