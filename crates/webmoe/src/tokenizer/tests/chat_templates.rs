//! Real chat templates (tests/fixtures/tokenizer/chat, as llama.cpp keeps them in models/templates)
//! rendered as Hugging Face's `apply_chat_template` renders them: the prompts in rendered.json were
//! written by Jinja2 (scripts/gen-chat-fixtures.py) with the clock fixed at the same instant.

use super::super::{ChatMessage, ChatTemplate};
use super::*;

const DIR: &str = "tests/fixtures/tokenizer/chat";
/// 2025-08-05 12:34:56 UTC, rendered.json's "date".
const DATE: i64 = 1_754_397_296;

fn fixed_clock() -> i64 {
    DATE
}

fn template(name: &str) -> ChatTemplate {
    let source = String::from_utf8(read(&format!("{DIR}/{name}"))).expect("a UTF-8 template");
    ChatTemplate::with_clock(&source, fixed_clock).unwrap_or_else(|e| panic!("{name} compiles: {e}"))
}

fn messages(value: &serde_json::Value) -> Vec<ChatMessage> {
    let turns = value.as_array().expect("messages");
    turns
        .iter()
        .map(|m| ChatMessage::new(m["role"].as_str().expect("role"), m["content"].as_str().expect("content")))
        .collect()
}

#[test]
fn templates_render_as_jinja2_does() {
    let fixture = json(&format!("{DIR}/rendered.json"));
    assert_eq!(fixture["date"].as_i64(), Some(DATE), "the clock the prompts were rendered at");
    let cases = fixture["cases"].as_array().expect("cases");
    assert!(cases.len() >= 20, "rendered.json holds every template's prompts");
    for case in cases {
        let name = case["template"].as_str().expect("template");
        let add_generation_prompt = case["add_generation_prompt"].as_bool().expect("add_generation_prompt");
        let (bos, eos) = (case["bos_token"].as_str().expect("bos"), case["eos_token"].as_str().expect("eos"));
        let got = template(name)
            .render(&messages(&case["messages"]), add_generation_prompt, bos, eos)
            .unwrap_or_else(|e| panic!("{name} renders: {e}"));
        let want = case["prompt"].as_str().expect("prompt");
        assert_eq!(got, want, "{name}, add_generation_prompt = {add_generation_prompt}");
    }
}

#[test]
fn gpt_oss_writes_harmony_turns() {
    let conversation = [
        ChatMessage::new("system", "Be brief."),
        ChatMessage::new("user", "Hi"),
        ChatMessage::new("assistant", "Hello."),
        ChatMessage::new("user", "Bye"),
    ];
    let got = template("openai-gpt-oss-120b.jinja").render(&conversation, true, "", "").unwrap();
    let want = "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n\
                Knowledge cutoff: 2024-06\nCurrent date: 2025-08-05\n\nReasoning: medium\n\n\
                # Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|>\
                <|start|>developer<|message|># Instructions\n\nBe brief.\n\n<|end|>\
                <|start|>user<|message|>Hi<|end|>\
                <|start|>assistant<|channel|>final<|message|>Hello.<|end|>\
                <|start|>user<|message|>Bye<|end|>\
                <|start|>assistant";
    assert_eq!(got, want);
}

#[test]
fn strftime_now_formats_the_clock() {
    let got = ChatTemplate::with_clock("{{ strftime_now('%d %b %Y, %A %B %H:%M') }}", fixed_clock)
        .unwrap()
        .render(&[], false, "", "")
        .unwrap();
    assert_eq!(got, "05 Aug 2025, Tuesday August 12:34");
    let err = ChatTemplate::with_clock("{{ strftime_now('%Q') }}", fixed_clock).unwrap().render(&[], false, "", "");
    assert!(err.unwrap_err().to_string().contains("%Q"), "an unsupported directive is named");
}

#[test]
fn tojson_writes_json_as_python_does() {
    let render = |source: &str| ChatTemplate::new(source).unwrap().render(&[], false, "", "").unwrap();
    assert_eq!(
        render(r#"{{ ["<é>&'", 1, 2.5, none, true, {"k": "v"}] | tojson }}"#),
        r#"["<é>&'", 1, 2.5, null, true, {"k": "v"}]"#
    );
    assert_eq!(render(r#"{{ [1, {"k": []}] | tojson(indent=2) }}"#), "[\n  1,\n  {\n    \"k\": []\n  }\n]");
    assert_eq!(render(r#"{{ "line\nbreak" | tojson }}"#), r#""line\nbreak""#);
}
