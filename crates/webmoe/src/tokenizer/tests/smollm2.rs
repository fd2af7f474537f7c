//! The real SmolLM2-135M-Instruct vocabulary (49152-token byte-level BPE, pre-tokenizer "smollm"),
//! against llama.cpp's prompt ids in tests/fixtures/oracle/smollm2/reference.json.
//!
//! The model file is not in the repository: `scripts/fetch-smollm2` puts it in models/. Without
//! it the test is skipped, unless WEBMOE_REQUIRE_MODELS=1 (set by CI after fetching) makes it fail.

use super::super::{ChatMessage, Tokenizer};
use super::*;

const MODEL: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";

pub(super) fn smollm2() -> Option<Tokenizer> {
    let path = repo_root().join(MODEL);
    if !path.is_file() {
        let required = std::env::var("WEBMOE_REQUIRE_MODELS").is_ok_and(|v| v == "1");
        assert!(!required, "{} is missing and WEBMOE_REQUIRE_MODELS=1: run scripts/fetch-smollm2", path.display());
        eprintln!("skipping: {} is missing (run scripts/fetch-smollm2 to fetch it)", path.display());
        return None;
    }
    Some(Tokenizer::from_gguf(&gguf(MODEL)).expect("the SmolLM2 vocabulary builds"))
}

#[test]
fn prompts_give_llama_cpp_ids() {
    let Some(tok) = smollm2() else { return };
    assert_eq!(tok.vocab_size(), 49152);
    assert!(!tok.add_bos(), "add_bos_token is false in the metadata");
    let reference = json("tests/fixtures/oracle/smollm2/reference.json");
    let runs = reference["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 4, "reference.json has 4 runs");
    for (i, run) in runs.iter().enumerate() {
        let prompt = run["prompt"].as_str().expect("prompt");
        let want: Vec<u32> =
            run["prompt_ids"].as_array().expect("prompt_ids").iter().map(|v| v.as_u64().expect("id") as u32).collect();
        // llama.cpp tokenized with add_special and parse_special (chat markers become their ids).
        let ids = tok.encode_with(prompt, true, true).unwrap();
        assert_ids(&format!("run {i}: {prompt:?}"), &ids, &want);
        let text = tok.decode(&ids).unwrap();
        let without_markers = prompt.replace("<|im_start|>", "").replace("<|im_end|>", "");
        assert_eq!(text, without_markers, "run {i}: decoded text (special tokens left out)");
        assert_eq!(streamed(&tok, &ids), without_markers, "run {i}: stream decoding");
    }
}

#[test]
fn chat_template_and_end_of_generation() {
    let Some(tok) = smollm2() else { return };
    assert_eq!(tok.token_text(2).as_deref(), Some("<|im_end|>"));
    assert_eq!(tok.eos_id(), Some(2));
    assert!(tok.is_end_of_generation(2), "<|im_end|> (EOS) ends generation");
    assert!(tok.is_end_of_generation(0), "<|endoftext|> (control) ends generation");
    assert!(!tok.is_end_of_generation(1), "<|im_start|> does not");

    let messages = [ChatMessage::new("user", "What is the largest planet in the solar system?")];
    let ids = tok.encode_chat(&messages, true).unwrap();
    let system = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n";
    let reference = json("tests/fixtures/oracle/smollm2/reference.json");
    let chat_run = &reference["runs"][3];
    let prompt = chat_run["prompt"].as_str().expect("prompt");
    let want = tok.encode_with(&format!("{system}{prompt}"), false, true).unwrap();
    assert_ids("encode_chat", &ids, &want);
    let prompt_ids: Vec<u32> =
        chat_run["prompt_ids"].as_array().expect("prompt_ids").iter().map(|v| v.as_u64().unwrap() as u32).collect();
    assert_ids("the user turn after the default system turn", &ids[ids.len() - prompt_ids.len()..], &prompt_ids);
}
