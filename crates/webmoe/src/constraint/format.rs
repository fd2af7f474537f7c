//! The formats output can be held to, and the grammar llguidance compiles from each.

use llguidance::api::TopLevelGrammar;
use serde_json::{json, Value};

use crate::error::{Error, Result};

/// What the generated text must be.
#[derive(Clone, Debug, PartialEq)]
pub enum ResponseFormat {
    /// Any JSON object (the OpenAI API's `json_object`).
    JsonObject,
    /// JSON that validates against this JSON Schema (the OpenAI API's `json_schema`).
    JsonSchema(Value),
}

/// The option name errors about a schema carry.
pub(super) const OPTION: &str = "json_schema";

/// The whitespace generated JSON may hold, as llguidance's `x-guidance` options: between two
/// tokens of the JSON text, nothing, one space, or a newline and up to 20 spaces or tabs of
/// indentation (llama.cpp's JSON grammar allows the same). Models write JSON laid out either way,
/// and the bound keeps one from running on with whitespace until the token limit; a schema that
/// sets its own `x-guidance` keeps it.
fn layout() -> Value {
    json!({ "whitespace_flexible": false, "whitespace_pattern": "(?: |\\n[ \\t]{0,20})" })
}

impl ResponseFormat {
    /// A JSON Schema given as text (a file, a string from JavaScript). Refuses text that is not
    /// JSON, naming where it fails.
    pub fn json_schema_text(text: &str) -> Result<ResponseFormat> {
        serde_json::from_str(text).map(ResponseFormat::JsonSchema).map_err(|e| Error::InvalidOption {
            option: OPTION.into(),
            value: preview(text),
            why: format!("the schema is not JSON ({e}); give a JSON Schema object"),
        })
    }

    /// The grammar: the schema (`{"type": "object"}` for any object) with the default layout.
    pub(super) fn grammar(&self) -> TopLevelGrammar {
        let mut schema = match self {
            ResponseFormat::JsonObject => json!({ "type": "object" }),
            // The boolean schemas as objects, so that the layout can be attached.
            ResponseFormat::JsonSchema(Value::Bool(true)) => json!({}),
            ResponseFormat::JsonSchema(Value::Bool(false)) => json!({ "not": {} }),
            ResponseFormat::JsonSchema(schema) => schema.clone(),
        };
        if let Some(object) = schema.as_object_mut() {
            object.entry("x-guidance").or_insert_with(layout);
        }
        TopLevelGrammar::from_json_schema(schema)
    }

    /// The schema as errors show it, shortened.
    pub(super) fn preview(&self) -> String {
        match self {
            ResponseFormat::JsonObject => "{\"type\":\"object\"}".into(),
            ResponseFormat::JsonSchema(schema) => preview(&schema.to_string()),
        }
    }
}

/// `text` on one line (each run of whitespace one space), at most 80 characters of it, with an
/// ellipsis when cut.
fn preview(text: &str) -> String {
    const MAX: usize = 80;
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}
