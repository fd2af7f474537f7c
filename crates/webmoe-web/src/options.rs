//! Options objects from JavaScript, read with serde. Field names are the JavaScript API's
//! (camelCase); unknown fields are refused so that a misspelt option is not silently ignored.
//! Ranges are checked by the core (`SamplingParams::validate`, `Engine::load`), which names the
//! option and the allowed range.

use serde::Deserialize;
use wasm_bindgen::JsValue;
use webmoe::constraint::ResponseFormat;
use webmoe::engine::{EngineOptions, KvType};
use webmoe::sampler::SamplingParams;
use webmoe::tokenizer::ChatMessage;

use crate::error::{invalid_option, to_js};

/// `WasmEngine.load` options: `{ contextLength?, kvType?, gpuBudget?, maxConversations? }`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadOptions {
    /// Positions of the KV cache; the model's context capped at 4096 when unset.
    pub context_length: Option<usize>,
    /// "f16" (default) or "f32".
    pub kv_type: Option<String>,
    /// Most GPU bytes the engine may allocate; experts that do not fit stream in as chosen.
    pub gpu_budget: Option<f64>,
    /// Conversations kept (`conversationId`), the one in the KV cache included; default 1.
    pub max_conversations: Option<usize>,
}

impl LoadOptions {
    pub fn engine_options(&self) -> Result<EngineOptions, JsValue> {
        let kv_type = match &self.kv_type {
            Some(name) => name.parse::<KvType>().map_err(|e| to_js(&e))?,
            None => KvType::F16,
        };
        let gpu_budget = match self.gpu_budget {
            Some(b) if !(b.is_finite() && b > 0.0) => {
                return Err(invalid_option("gpuBudget", "give a positive number of bytes"))
            }
            b => b.map(|b| b as u64),
        };
        Ok(EngineOptions { context_length: self.context_length, kv_type, gpu_budget, ..EngineOptions::default() })
    }
}

/// `start` options: `{ maxTokens?, temperature?, topK?, topP?, minP?, repeatPenalty?,
/// repeatLastN?, frequencyPenalty?, presencePenalty?, logitBias?, logprobs?, seed?, stop?,
/// ignoreEos?, conversationId?, contextOverflow?, jsonSchema?, jsonObject? }`. Unset sampling fields take the core's defaults
/// (llama.cpp's: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, no penalty, seed 0).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenerateOptions {
    /// Most tokens to generate; unset: what the context has room for, at most [`DEFAULT_MAX_TOKENS`].
    pub max_tokens: Option<usize>,
    pub temperature: Option<f32>,
    pub top_k: Option<u32>,
    pub top_p: Option<f32>,
    pub min_p: Option<f32>,
    pub repeat_penalty: Option<f32>,
    pub repeat_last_n: Option<u32>,
    pub frequency_penalty: Option<f32>,
    pub presence_penalty: Option<f32>,
    /// `[id, bias]` pairs added to the logits before the penalties.
    #[serde(default)]
    pub logit_bias: Vec<(u32, f32)>,
    /// Report log-probabilities: the chosen token's and this many most likely ones'.
    pub logprobs: Option<u32>,
    pub seed: Option<u64>,
    #[serde(default)]
    pub stop: Vec<String>,
    #[serde(default)]
    pub ignore_eos: bool,
    /// The conversation this request continues (see `conversations.rs`).
    pub conversation_id: Option<String>,
    /// "error" (default), "truncate-middle" or "shift" (see `fit.rs`).
    pub context_overflow: Option<String>,
    /// A JSON Schema as JSON text (the package stringifies the object it was given): the reply
    /// is JSON that validates against it.
    pub json_schema: Option<String>,
    /// The reply is a JSON object.
    #[serde(default)]
    pub json_object: bool,
}

/// Tokens generated when the caller does not say.
pub const DEFAULT_MAX_TOKENS: usize = 256;

impl GenerateOptions {
    /// The format the reply is held to, if any; refuses a schema that is not JSON and both
    /// options at once.
    pub fn response_format(&self) -> webmoe::Result<Option<ResponseFormat>> {
        match (&self.json_schema, self.json_object) {
            (Some(_), true) => Err(webmoe::Error::InvalidOption {
                option: "jsonObject".into(),
                value: "true".into(),
                why: "give jsonSchema or jsonObject, not both".into(),
            }),
            (Some(text), false) => ResponseFormat::json_schema_text(text).map(Some),
            (None, json_object) => Ok(json_object.then_some(ResponseFormat::JsonObject)),
        }
    }

    pub fn sampling(&self) -> SamplingParams {
        let d = SamplingParams::default();
        SamplingParams {
            temperature: self.temperature.unwrap_or(d.temperature),
            top_k: self.top_k.or(d.top_k),
            top_p: self.top_p.unwrap_or(d.top_p),
            min_p: self.min_p.unwrap_or(d.min_p),
            repeat_penalty: self.repeat_penalty.unwrap_or(d.repeat_penalty),
            repeat_last_n: self.repeat_last_n.unwrap_or(d.repeat_last_n),
            frequency_penalty: self.frequency_penalty.unwrap_or(d.frequency_penalty),
            presence_penalty: self.presence_penalty.unwrap_or(d.presence_penalty),
            logprobs: self.logprobs,
            seed: self.seed.unwrap_or(d.seed),
        }
    }
}

/// Read an options object (`undefined` and `null` read as all defaults).
pub fn read<T: for<'de> Deserialize<'de> + Default>(what: &str, value: JsValue) -> Result<T, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    serde_wasm_bindgen::from_value(value).map_err(|e| invalid_option(what, &e.to_string()))
}

/// What to run: token ids as given, text, or a conversation for the chat template.
pub enum Prompt {
    Ids(Vec<u32>),
    Text(String),
    Chat(Vec<ChatMessage>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    role: String,
    content: String,
}

impl Prompt {
    /// A string, or an array of token ids.
    pub fn from_js(value: JsValue) -> Result<Prompt, JsValue> {
        if let Some(text) = value.as_string() {
            return Ok(Prompt::Text(text));
        }
        serde_wasm_bindgen::from_value(value)
            .map(Prompt::Ids)
            .map_err(|e| invalid_option("prompt", &format!("give a string or an array of token ids ({e})")))
    }

    /// An array of `{ role, content }` messages.
    pub fn chat_from_js(value: JsValue) -> Result<Prompt, JsValue> {
        messages_from_js(value).map(Prompt::Chat)
    }
}

/// An array of `{ role, content }` messages.
pub fn messages_from_js(value: JsValue) -> Result<Vec<ChatMessage>, JsValue> {
    let messages: Vec<Message> = serde_wasm_bindgen::from_value(value)
        .map_err(|e| invalid_option("messages", &format!("give an array of {{ role, content }} strings ({e})")))?;
    Ok(messages.into_iter().map(|m| ChatMessage::new(m.role, m.content)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_options_give_the_format_or_name_the_problem() {
        let with = |json_schema: Option<&str>, json_object| GenerateOptions {
            json_schema: json_schema.map(str::to_string),
            json_object,
            ..GenerateOptions::default()
        };
        assert_eq!(with(None, false).response_format(), Ok(None));
        assert_eq!(with(None, true).response_format(), Ok(Some(ResponseFormat::JsonObject)));
        assert_eq!(
            with(Some(r#"{"type":"integer"}"#), false).response_format(),
            ResponseFormat::json_schema_text(r#"{ "type": "integer" }"#).map(Some)
        );
        let option_of = |r: webmoe::Result<Option<ResponseFormat>>| match r {
            Err(webmoe::Error::InvalidOption { option, .. }) => option,
            other => panic!("{other:?}"),
        };
        assert_eq!(option_of(with(Some("{}"), true).response_format()), "jsonObject");
        assert_eq!(option_of(with(Some("{"), false).response_format()), "json_schema");
    }
}
