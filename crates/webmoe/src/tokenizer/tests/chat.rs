//! Chat templates rendered as Hugging Face's `apply_chat_template` renders them.

use super::super::{ChatMessage, ChatTemplate, TokenizerError};

/// mistralai/Mixtral-8x7B-Instruct-v0.1, tokenizer_config.json.
const MIXTRAL_V01: &str = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

/// HuggingFaceTB/SmolLM2-135M-Instruct (ChatML with a default system turn), as its GGUF carries it.
const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

fn render(template: &str, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<String, TokenizerError> {
    ChatTemplate::new(template)?.render(messages, add_generation_prompt, "<s>", "</s>")
}

fn conversation() -> Vec<ChatMessage> {
    vec![
        ChatMessage::new("user", "Hello, how are you?"),
        ChatMessage::new("assistant", "I'm doing great. How can I help you today?"),
        ChatMessage::new("user", "I'd like to show off how chat templating works!"),
    ]
}

#[test]
fn mixtral_template_renders_inst_turns() {
    let got = render(MIXTRAL_V01, &conversation(), true).unwrap();
    assert_eq!(
        got,
        "<s>[INST] Hello, how are you? [/INST]I'm doing great. How can I help you today?</s>[INST] I'd like to show off how chat templating works! [/INST]"
    );
}

#[test]
fn mixtral_template_refuses_system_and_out_of_order_roles() {
    let system = [ChatMessage::new("system", "Be brief."), ChatMessage::new("user", "Hi")];
    let err = render(MIXTRAL_V01, &system, true).unwrap_err();
    assert!(matches!(err, TokenizerError::ChatTemplateRender { .. }), "{err:?}");
    assert!(err.to_string().contains("Conversation roles must alternate"), "{err}");

    let tool = [ChatMessage::new("user", "Hi"), ChatMessage::new("tool", "42")];
    let err = render(MIXTRAL_V01, &tool, true).unwrap_err().to_string();
    assert!(err.contains("Only user and assistant roles are supported!"), "{err}");
}

#[test]
fn chatml_template_renders_default_system_turn_and_generation_prompt() {
    let messages = [ChatMessage::new("user", "What is the largest planet in the solar system?")];
    let want_turns =
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n\
                      <|im_start|>user\nWhat is the largest planet in the solar system?<|im_end|>\n";
    assert_eq!(render(SMOLLM2, &messages, false).unwrap(), want_turns);
    assert_eq!(render(SMOLLM2, &messages, true).unwrap(), format!("{want_turns}<|im_start|>assistant\n"));

    let with_system = [ChatMessage::new("system", "Be brief."), ChatMessage::new("user", "Hi")];
    assert_eq!(
        render(SMOLLM2, &with_system, true).unwrap(),
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    );
}

#[test]
fn python_string_methods_and_block_trimming_work() {
    let template = "{% for m in messages %}\n  {% if m.content.startswith('  ') %}\n{{ m.content.strip().upper() }}|\n  {% endif %}\n{% endfor %}";
    let messages = [ChatMessage::new("user", "  padded  "), ChatMessage::new("user", "not")];
    assert_eq!(render(template, &messages, false).unwrap(), "PADDED|\n");
}

#[test]
fn syntax_errors_are_reported_at_compile_time() {
    let err = ChatTemplate::new("{% for m in messages %}{{ m.content }}").err().expect("an unclosed for block fails");
    assert!(matches!(err, TokenizerError::ChatTemplateSyntax { .. }), "{err:?}");
    assert!(err.to_string().contains("line 1"), "{err}");
}
