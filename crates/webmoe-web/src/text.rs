//! Text and token ids without running the model: `tokenize`, `detokenize`, `countTokens`. They
//! use only the tokenizer, so they answer at once, also while a generation runs.

use serde::Deserialize;
use wasm_bindgen::prelude::*;
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

