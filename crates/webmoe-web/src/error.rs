//! Rust errors as named JavaScript errors.
//!
//! A failure crosses into JavaScript as an `Error` with `name` set to one of the classes of
//! `js/src/errors.js` and a `details` object of structured facts; the worker rebuilds the class
//! from the name. The message is the core's, which already says what to do.

use wasm_bindgen::JsValue;
use webmoe::gpu::GpuError;
use webmoe::tokenizer::TokenizerError;
use webmoe::Error;

/// One structured fact of an error's `details`.
#[derive(Clone, Debug, PartialEq)]
pub enum Detail {
    Number(f64),
    Text(String),
}

impl From<u64> for Detail {
    fn from(n: u64) -> Self {
        Detail::Number(n as f64)
    }
}

impl From<usize> for Detail {
    fn from(n: usize) -> Self {
        Detail::Number(n as f64)
    }
}

impl From<u32> for Detail {
    fn from(n: u32) -> Self {
        Detail::Number(n.into())
    }
}

impl From<&str> for Detail {
    fn from(s: &str) -> Self {
        Detail::Text(s.to_string())
    }
}

impl From<&Detail> for JsValue {
    fn from(d: &Detail) -> Self {
        match d {
            Detail::Number(n) => JsValue::from_f64(*n),
            Detail::Text(s) => JsValue::from_str(s),
        }
    }
}

/// An error's `details`: key and value pairs.
pub type Details = Vec<(&'static str, Detail)>;

/// The JavaScript error classes this crate produces (names of classes in `js/src/errors.js`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsErrorName {
    WebGpuUnavailable,
    DeviceLost,
    OutOfMemory,
    ModelFormat,
    InvalidOption,
    ContextLength,
    Download,
    Abort,
    Engine,
}

impl JsErrorName {
    pub fn as_str(self) -> &'static str {
        match self {
            JsErrorName::WebGpuUnavailable => "WebGPUUnavailableError",
            JsErrorName::DeviceLost => "DeviceLostError",
            JsErrorName::OutOfMemory => "OutOfMemoryError",
            JsErrorName::ModelFormat => "ModelFormatError",
            JsErrorName::InvalidOption => "InvalidOptionError",
            JsErrorName::ContextLength => "ContextLengthError",
            JsErrorName::Download => "DownloadError",
            JsErrorName::Abort => "AbortError",
            JsErrorName::Engine => "WebmoeError",
        }
    }
}

/// The class a core error becomes, and the facts that go in `details`.
pub fn classify(e: &Error) -> (JsErrorName, Details) {
    use JsErrorName::*;
    match e {
        Error::Gguf(_) | Error::Model(_) | Error::Quant(_) | Error::UnsupportedTensor { .. } => (ModelFormat, vec![]),
        Error::Source(s) => (Download, vec![("offset", Detail::from(s.offset)), ("length", Detail::from(s.len))]),
        Error::Gpu(g) => classify_gpu(g),
        Error::Tokenizer(t) => classify_tokenizer(t),
        Error::InvalidOption { option, value, .. } => {
            (InvalidOption, vec![("option", Detail::from(option.as_str())), ("value", Detail::from(value.as_str()))])
        }
        Error::TokenOutOfRange { id, vocab } => (
            InvalidOption,
            vec![
                ("option", Detail::from("prompt")),
                ("tokenId", Detail::from(*id)),
                ("vocabSize", Detail::from(*vocab)),
            ],
        ),
        Error::EmptyPrompt => (InvalidOption, vec![("option", Detail::from("prompt"))]),
        Error::ContextFull { needed, context } => {
            (ContextLength, vec![("needed", Detail::from(*needed)), ("contextLength", Detail::from(*context))])
        }
        Error::Cancelled => (Abort, vec![]),
        Error::Constraint { .. } => (Engine, vec![]),
    }
}

fn classify_gpu(g: &GpuError) -> (JsErrorName, Details) {
    use JsErrorName::*;
    match g {
        GpuError::NoAdapter { .. } | GpuError::DeviceRequest { .. } => (WebGpuUnavailable, vec![]),
        GpuError::DeviceLost { .. } => (DeviceLost, vec![]),
        GpuError::OutOfMemory { bytes, .. } => (OutOfMemory, vec![("bytes", Detail::from(*bytes))]),
        GpuError::TooLargeForBinding { bytes, limit, .. } => {
            (OutOfMemory, vec![("bytes", Detail::from(*bytes)), ("bindingLimit", Detail::from(*limit))])
        }
        GpuError::Operation { .. } | GpuError::Readback { .. } => (Engine, vec![]),
    }
}

fn classify_tokenizer(t: &TokenizerError) -> (JsErrorName, Details) {
    use JsErrorName::*;
    match t {
        // The conversation or the ids are the caller's to change.
        TokenizerError::NoChatTemplate | TokenizerError::ChatTemplateRender { .. } => {
            (InvalidOption, vec![("option", Detail::from("messages"))])
        }
        TokenizerError::IdOutOfRange { id, vocab_size, .. } => (
            InvalidOption,
            vec![
                ("option", Detail::from("prompt")),
                ("tokenId", Detail::from(*id)),
                ("vocabSize", Detail::from(*vocab_size)),
            ],
        ),
        TokenizerError::Encode { .. } | TokenizerError::Decode { .. } => (Engine, vec![]),
        // Everything else is about the vocabulary the file carries.
        _ => (ModelFormat, vec![]),
    }
}

/// A JavaScript `Error` named `name` with `message` and `details`.
pub fn js_error(name: JsErrorName, message: &str, details: &[(&'static str, Detail)]) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name(name.as_str());
    let object = js_sys::Object::new();
    for (key, value) in details {
        // Setting a property on a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&object, &JsValue::from_str(key), &JsValue::from(value));
    }
    let _ = js_sys::Reflect::set(&error, &JsValue::from_str("details"), &object);
    error.into()
}

/// The JavaScript form of a core error.
pub fn to_js(e: &Error) -> JsValue {
    let (name, details) = classify(e);
    js_error(name, &message(e), &details)
}

/// The message of a core error, in the JavaScript API's terms where the core's name the CLI's.
fn message(e: &Error) -> String {
    match e {
        Error::ContextFull { needed, context } => format!(
            "the prompt and the reply need {needed} positions, but the context holds {context}; ask for fewer \
             maxTokens (max_tokens), load the model with a larger contextLength, or pass contextOverflow: \
             'truncate-middle' or 'shift' to drop the oldest turns"
        ),
        _ => e.to_string(),
    }
}

/// An option the JavaScript caller passed that cannot be read.
pub fn invalid_option(option: &str, why: &str) -> JsValue {
    js_error(JsErrorName::InvalidOption, &format!("invalid {option}: {why}"), &[("option", Detail::from(option))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use webmoe::gguf::GgufError;

    #[test]
    fn each_core_error_maps_to_the_documented_class() {
        let cases: Vec<(Error, JsErrorName)> = vec![
            (Error::Gpu(GpuError::NoAdapter { reason: "none".into() }), JsErrorName::WebGpuUnavailable),
            (Error::Gpu(GpuError::DeviceLost { reason: "reset".into() }), JsErrorName::DeviceLost),
            (Error::Gpu(GpuError::OutOfMemory { what: "kv".into(), bytes: 1 }), JsErrorName::OutOfMemory),
            (Error::Gguf(GgufError::BadMagic { found: *b"abcd" }), JsErrorName::ModelFormat),
            (
                Error::UnsupportedTensor { name: "t".into(), what: "x".into(), why: "y".into() },
                JsErrorName::ModelFormat,
            ),
            (
                Error::InvalidOption { option: "top_p".into(), value: "2".into(), why: "w".into() },
                JsErrorName::InvalidOption,
            ),
            (Error::TokenOutOfRange { id: 9, vocab: 4 }, JsErrorName::InvalidOption),
            (Error::EmptyPrompt, JsErrorName::InvalidOption),
            (Error::ContextFull { needed: 10, context: 8 }, JsErrorName::ContextLength),
            (Error::Cancelled, JsErrorName::Abort),
            (Error::Tokenizer(TokenizerError::NoChatTemplate), JsErrorName::InvalidOption),
            (Error::Tokenizer(TokenizerError::UnsupportedModel { model: "bert".into() }), JsErrorName::ModelFormat),
        ];
        for (i, (error, expected)) in cases.iter().enumerate() {
            let (got, _) = classify(error);
            assert_eq!(got, *expected, "case {i} ({error}): got {got:?}, expected {expected:?}");
        }
    }
}
