//! The Mixtral v0.1 SentencePiece vocabulary, from tokenizer.json and from GGUF metadata.

use super::super::spm::merges_from_scores;
use super::super::Tokenizer;
use super::*;

const SYNTHETIC_CASES: &[&str] = &[
    "mixtral-f16",
    "mixtral-q8_0",
    "mixtral-q4_0",
    "mixtral-q4_1",
    "mixtral-q4_k_m",
    "mixtral-q2_k",
    "mixtral-q3_k_m",
    "mixtral-q5_k_m",
    "mixtral-q6_k",
    "mixtral-split-experts-q8_0",
    "moe-4x-top2-q8_0",
    "moe-8x-top1-q8_0",
    "dense-llama-q8_0",
];

#[test]
fn tokenizer_json_gives_the_reference_ids() {
    for (text, want) in reference_strings() {
        check_round_trip(mixtral_from_json(), "tokenizer.json", &text, &want);
    }
}

#[test]
fn gguf_vocabulary_gives_the_reference_ids() {
    for (text, want) in reference_strings() {
        check_round_trip(mixtral_from_gguf(), "GGUF vocabulary", &text, &want);
    }
}

#[test]
fn gguf_vocabulary_gives_llama_cpp_ids_for_the_oracle_prompts() {
    let reference = json("tests/fixtures/oracle/mixtral-realvocab-q8_0/reference.json");
    let prompts = text_id_pairs(&reference["prompts"]);
    assert_eq!(prompts.len(), 3, "reference.json lists 3 prompts");
    for (text, want) in prompts {
        check_round_trip(mixtral_from_gguf(), "GGUF vocabulary, oracle prompt", &text, &want);
    }
    let tokens_text = reference["tokens_text"].as_str().expect("tokens_text");
    let tokens: Vec<u32> =
        reference["tokens"].as_array().expect("tokens").iter().map(|v| v.as_u64().expect("id") as u32).collect();
    check_round_trip(mixtral_from_gguf(), "GGUF vocabulary, tokens_text", tokens_text, &tokens);
}

#[test]
fn merges_derived_from_scores_equal_those_of_tokenizer_json() {
    let g = gguf("tests/fixtures/oracle/mixtral-realvocab-q8_0/model.gguf");
    let tokens = g.array_opt("tokenizer.ggml.tokens").unwrap().unwrap().as_strings().unwrap();
    let scores = g.array_opt("tokenizer.ggml.scores").unwrap().unwrap().to_f32_vec().unwrap();
    let vocab = tokens.iter().enumerate().map(|(id, t)| (t.clone(), id as u32)).collect();
    let derived = merges_from_scores(tokens, &scores, &vocab).expect("merges of a real vocabulary");

    let file = json("tests/fixtures/tokenizer/tokenizer.json");
    let reference: Vec<(String, String)> = file["model"]["merges"]
        .as_array()
        .expect("merges")
        .iter()
        .map(|m| match m {
            serde_json::Value::String(s) => {
                let (l, r) = s.split_once(' ').expect("\"left right\"");
                (l.to_string(), r.to_string())
            }
            pair => (pair[0].as_str().expect("left").to_string(), pair[1].as_str().expect("right").to_string()),
        })
        .collect();
    assert_eq!(derived.len(), reference.len(), "number of merges");
    if let Some(i) = (0..derived.len()).find(|&i| derived[i] != reference[i]) {
        panic!("merge rank {i}: derived {:?}, tokenizer.json {:?}", derived[i], reference[i]);
    }
}

#[test]
fn both_builds_agree_on_special_tokens() {
    for (what, tok) in [("tokenizer.json", mixtral_from_json()), ("GGUF", mixtral_from_gguf())] {
        assert_eq!(tok.bos_id(), Some(1), "{what}: BOS");
        assert_eq!(tok.eos_id(), Some(2), "{what}: EOS");
        assert!(tok.add_bos(), "{what}: adds BOS");
        assert!(!tok.special_tokens().add_eos, "{what}: does not add EOS");
        assert_eq!(tok.vocab_size(), 32000, "{what}: vocabulary size");
        assert_eq!(tok.special_tokens().end_of_generation, vec![2], "{what}: end of generation");
        assert!(
            tok.is_end_of_generation(2) && !tok.is_end_of_generation(1),
            "{what}: </s> ends generation, <s> does not"
        );
        assert_eq!(tok.token_text(22557).as_deref(), Some("▁Hello"), "{what}: vocabulary entry 22557");
        assert_eq!(tok.encode("Hello", false).unwrap(), vec![22557], "{what}: no BOS without add_special");
    }
}

#[test]
fn special_token_text_is_plain_text_unless_parsed() {
    for (what, tok) in [("tokenizer.json", mixtral_from_json()), ("GGUF", mixtral_from_gguf())] {
        let plain = tok.encode_with("<s>Hi</s>", false, false).unwrap();
        assert!(!plain.contains(&1) && !plain.contains(&2), "{what}: <s>/</s> typed as text gave {plain:?}");
        assert_eq!(tok.decode(&plain).unwrap(), "<s>Hi</s>", "{what}: plain special text round-trips");

        let hi = tok.encode("Hi", false).unwrap();
        let parsed = tok.encode_with("<s>Hi</s>", false, true).unwrap();
        let want: Vec<u32> = [1].into_iter().chain(hi).chain([2]).collect();
        assert_ids(&format!("{what}: parsed specials"), &parsed, &want);
        assert_eq!(tok.decode(&parsed).unwrap(), "Hi", "{what}: special tokens are left out of decoded text");
    }
}

#[test]
fn stream_decoder_joins_byte_pieces_into_characters() {
    // U+1D11E is not in the vocabulary: it falls back to the pieces of its 4 UTF-8 bytes, which
    // sit at id 3 + byte.
    let tok = mixtral_from_gguf();
    let text = "a𝄞";
    let ids = tok.encode(text, false).unwrap();
    let bytes: Vec<u32> = "𝄞".bytes().map(|b| 3 + b as u32).collect();
    assert_ids("byte fallback", &ids[ids.len() - 4..], &bytes);

    let mut stream = tok.stream_decoder();
    let pieces: Vec<String> = ids.iter().map(|&id| stream.push(id).unwrap()).collect();
    assert_eq!(pieces[0], "a", "the leading space is removed at the start of the text only");
    assert_eq!(&pieces[1..], ["", "", "", "𝄞"], "a character comes out once its last byte arrives");

    let mut cut = tok.stream_decoder();
    let held: String = ids[..3].iter().map(|&id| cut.push(id).unwrap()).collect();
    assert_eq!(held, "a", "an incomplete character is held back");
    assert_eq!(cut.finish().unwrap(), "\u{FFFD}\u{FFFD}", "finish gives each held byte as U+FFFD, as decode does");
}

#[test]
fn stream_decoder_keeps_spaces_after_the_first_token() {
    let tok = mixtral_from_json();
    let text = "Hello  world, again";
    let ids = tok.encode(text, true).unwrap();
    assert_eq!(streamed(tok, &ids), text);
    assert_eq!(tok.decode(&ids).unwrap(), text);
}

#[test]
fn synthetic_vocabularies_build_and_round_trip_ascii() {
    let text = "The quick brown fox, 42 times!\nDone.";
    for case in SYNTHETIC_CASES {
        let g = gguf(&format!("tests/fixtures/oracle/{case}/model.gguf"));
        let tok = Tokenizer::from_gguf(&g).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(tok.vocab_size(), 512, "{case}: vocabulary size");
        assert_eq!((tok.bos_id(), tok.eos_id(), tok.add_bos()), (Some(1), Some(2), true), "{case}: BOS/EOS");
        let ids = tok.encode(text, true).unwrap();
        assert_eq!(ids[0], 1, "{case}: starts with BOS");
        assert!(ids.iter().all(|&id| id < 512), "{case}: ids in range: {ids:?}");
        assert_eq!(tok.decode(&ids).unwrap(), text, "{case}: decode(encode(text))");
        assert_eq!(streamed(&tok, &ids), text, "{case}: stream decoding");
    }
}

#[test]
fn ids_outside_the_vocabulary_are_refused() {
    let tok = mixtral_from_gguf();
    let err = tok.decode(&[1, 32000]).unwrap_err().to_string();
    assert!(err.contains("32000") && err.contains("vocabulary of 32000"), "{err}");
    assert!(tok.stream_decoder().push(40000).is_err());
}

#[test]
fn gguf_metadata_overrides_tokenizer_json() {
    use crate::gguf::{GgufWriter, Value};
    let mut w = GgufWriter::new();
    w.meta("tokenizer.ggml.eos_token_id", Value::U32(0))
        .meta("tokenizer.ggml.add_bos_token", Value::Bool(false))
        .meta("tokenizer.chat_template", Value::String("{{ bos_token }}".into()));
    let g = Gguf::parse(&w.to_bytes()).unwrap();
    let tok = mixtral_from_json().clone().with_gguf_metadata(&g).unwrap();
    assert_eq!((tok.bos_id(), tok.eos_id(), tok.add_bos()), (Some(1), Some(0), false));
    assert_eq!(tok.encode("Hello", true).unwrap(), vec![22557], "no BOS once the GGUF says so");
    assert_eq!(tok.chat_template(), Some("{{ bos_token }}"));
    assert_eq!(tok.special_tokens().end_of_generation, vec![0]);
    assert_eq!(mixtral_from_json().eos_id(), Some(2), "the original is unchanged");

    let mut bad = GgufWriter::new();
    bad.meta("tokenizer.ggml.bos_token_id", Value::U32(32000));
    let err = mixtral_from_json().clone().with_gguf_metadata(&Gguf::parse(&bad.to_bytes()).unwrap()).unwrap_err();
    assert!(err.to_string().contains("tokenizer.ggml.bos_token_id id 32000"), "{err}");
}
