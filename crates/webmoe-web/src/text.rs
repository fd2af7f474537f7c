//! Text and token ids without running the model: `tokenize`, `detokenize`, `countTokens`. They
//! use only the tokenizer, so they answer at once, also while a generation runs. And the text
//! and bytes of the tokens a chunk's log-probabilities name.

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use webmoe::sampler::TokenLogprobs;
use webmoe::tokenizer::Tokenizer;
use webmoe::Error;

use crate::engine::WasmEngine;
use crate::error::{invalid_option, to_js};
use crate::options;

/// `tokenize` options: `{ addSpecialTokens? }`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TokenizeOptions {
    /// BOS (and EOS) as the model's metadata asks, as a generation's text prompt gets them.
    #[serde(default = "yes")]
    add_special_tokens: bool,
}

impl Default for TokenizeOptions {
    fn default() -> Self {
        TokenizeOptions { add_special_tokens: true }
    }
}

fn yes() -> bool {
    true
}

#[wasm_bindgen]
impl WasmEngine {
    /// The ids of `text` as a generation's text prompt runs them: special-token text (`<s>`,
    /// `<|im_start|>`) becomes those tokens, and BOS is added per the model's metadata unless
    /// `options.addSpecialTokens` is false.
    pub fn tokenize(&self, text: JsValue, options: JsValue) -> Result<Vec<u32>, JsValue> {
        let text = text.as_string().ok_or_else(|| invalid_option("text", "give a string"))?;
        let options: TokenizeOptions = options::read("tokenize options", options)?;
        self.inner
            .tokenizer
            .encode_with(&text, options.add_special_tokens, true)
            .map_err(|e| to_js(&Error::Tokenizer(e)))
    }

    /// The text of `ids` (an array of token ids); special tokens (BOS, EOS, chat markers) are
    /// left out.
    pub fn detokenize(&self, ids: JsValue) -> Result<String, JsValue> {
        let ids: Vec<u32> = serde_wasm_bindgen::from_value(ids)
            .map_err(|e| invalid_option("ids", &format!("give an array of token ids ({e})")))?;
        self.inner.tokenizer.decode(&ids).map_err(|e| to_js(&Error::Tokenizer(e)))
    }

    /// The prompt tokens of a conversation (`[{ role, content }]`) as a chat request runs it:
    /// rendered with the chat template and the opening of the assistant's turn.
    #[wasm_bindgen(js_name = countTokens)]
    pub fn count_tokens(&self, messages: JsValue) -> Result<usize, JsValue> {
        let messages = options::messages_from_js(messages)?;
        let ids = self.inner.tokenizer.encode_chat(&messages, true).map_err(|e| to_js(&Error::Tokenizer(e)))?;
        Ok(ids.len())
    }
}

/// A token's log-probability with its text and bytes (OpenAI's `ChatCompletionTokenLogprob`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenOut {
    token: String,
    /// The token's UTF-8 bytes: a byte token (`<0xE4>`) gives its one byte even where its text,
    /// part of a character, is U+FFFD.
    bytes: Vec<u8>,
    logprob: f32,
    token_id: u32,
}

/// What a chunk says about its token's log-probabilities.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogprobsOut {
    /// The chosen token.
    chosen: TokenOut,
    /// The most likely tokens, most likely first.
    top_logprobs: Vec<TokenOut>,
}

impl LogprobsOut {
    pub fn new(tokenizer: &Tokenizer, id: u32, logprobs: &TokenLogprobs) -> LogprobsOut {
        LogprobsOut {
            chosen: token_out(tokenizer, id, logprobs.logprob),
            top_logprobs: logprobs.top.iter().map(|&(id, logprob)| token_out(tokenizer, id, logprob)).collect(),
        }
    }
}

fn token_out(tokenizer: &Tokenizer, id: u32, logprob: f32) -> TokenOut {
    let decoded = tokenizer.decode(&[id]).unwrap_or_default();
    let entry = tokenizer.token_text(id).unwrap_or_default();
    // A special token decodes to nothing: its own text stands for it.
    let token = if decoded.is_empty() { entry.clone() } else { decoded };
    let bytes = byte_token(&entry).map_or_else(|| token.as_bytes().to_vec(), |b| vec![b]);
    TokenOut { token, bytes, logprob, token_id: id }
}

/// The byte of a SentencePiece byte token, `<0xNN>`.
fn byte_token(entry: &str) -> Option<u8> {
    let hex = entry.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::byte_token;

    #[test]
    fn byte_tokens_are_read_as_their_byte() {
        assert_eq!(byte_token("<0xE4>"), Some(0xE4));
        assert_eq!(byte_token("<0x0A>"), Some(0x0A));
        for other in ["<0xE>", "<0xZZ>", "▁the", "<s>", "<0x0A"] {
            assert_eq!(byte_token(other), None, "{other}");
        }
    }
}
