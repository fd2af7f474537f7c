//! Chat templates: the Jinja text in `tokenizer.chat_template` that turns a conversation into the
//! prompt a model was trained on, rendered with `minijinja`.
//!
//! Rendering follows Hugging Face's `apply_chat_template`: blocks trim the newline after them and
//! the indentation before them (`trim_blocks`, `lstrip_blocks`), `raise_exception(msg)` fails the
//! render with `msg`, `strftime_now(format)` gives the date, `tojson` writes JSON as Python's
//! `json.dumps` does, and Python string methods (`.strip()`, `.startswith()`, …) work on values.

mod strftime;
mod tojson;

use std::collections::BTreeMap;

use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind};

use super::TokenizerError;

const TEMPLATE_NAME: &str = "chat_template";

/// One turn of a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatMessage {
    /// "system", "user" or "assistant" (templates decide which they accept).
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage { role: role.into(), content: content.into() }
    }
}

/// A compiled chat template.
pub struct ChatTemplate {
    env: Environment<'static>,
}

impl ChatTemplate {
    /// Compiles `source`; a syntax error is reported here, not at render time.
    pub fn new(source: &str) -> Result<Self, TokenizerError> {
        Self::with_clock(source, unix_seconds_now)
    }

    /// As [`ChatTemplate::new`], with `now` (seconds since 1970-01-01 UTC) as the time
    /// `strftime_now` formats.
    pub(crate) fn with_clock(source: &str, now: fn() -> i64) -> Result<Self, TokenizerError> {
        let mut env = Environment::new();
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .map_err(|e| TokenizerError::ChatTemplateSyntax { reason: describe(&e) })?,
        );
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", move |format: String| {
            strftime::strftime(&format, now()).map(Value::from).map_err(|e| Error::new(ErrorKind::InvalidOperation, e))
        });
        env.add_filter("tojson", tojson::tojson);
        env.add_template_owned(TEMPLATE_NAME, source.to_string())
            .map_err(|e| TokenizerError::ChatTemplateSyntax { reason: describe(&e) })?;
        Ok(ChatTemplate { env })
    }

    /// The prompt for `messages`; with `add_generation_prompt` it ends with the opening of an
    /// assistant turn. `bos_token` / `eos_token` are the texts templates write for BOS and EOS.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
        bos_token: &str,
        eos_token: &str,
    ) -> Result<String, TokenizerError> {
        let messages: Vec<Value> = messages
            .iter()
            .map(|m| Value::from(BTreeMap::from([("role", m.role.clone()), ("content", m.content.clone())])))
            .collect();
        let ctx = minijinja::context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => bos_token,
            eos_token => eos_token,
        };
        self.env
            .get_template(TEMPLATE_NAME)
            .and_then(|t| t.render(ctx))
            .map_err(|e| TokenizerError::ChatTemplateRender { reason: describe(&e) })
    }
}

fn unix_seconds_now() -> i64 {
    let since_epoch = web_time::SystemTime::now().duration_since(web_time::UNIX_EPOCH);
    since_epoch.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `raise_exception(message)`: templates call it to refuse a conversation (a role they do not
/// support, turns out of order).
fn raise_exception(message: String) -> Result<Value, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, message))
}

/// An error with its causes and, where the template has one, the line.
fn describe(e: &Error) -> String {
    let mut text = match (e.detail(), e.line()) {
        (Some(detail), Some(line)) => format!("{detail} (line {line})"),
        (Some(detail), None) => detail.to_string(),
        (None, _) => e.to_string(),
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
