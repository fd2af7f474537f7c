//! `tojson` as Hugging Face's `apply_chat_template` defines it, Python's
//! `json.dumps(value, ensure_ascii=False, indent=indent)`: `", "` and `": "` between items (`","` and
//! a newline per item with an indent), text outside ASCII as it is, and `<`, `>`, `&`, `'` unescaped,
//! where minijinja's own filter escapes them for HTML. Tool definitions and tool-call arguments reach
//! the prompt through it, so its bytes are the model's input.

use std::io;

use minijinja::value::{Kwargs, Value};
use minijinja::{Error, ErrorKind};
use serde::Serialize;

/// `value | tojson`, `value | tojson(2)` or `value | tojson(indent=2)`.
pub(super) fn tojson(value: &Value, indent: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let indent = match indent {
        Some(indent) => Some(indent),
        None => kwargs.get::<Option<Value>>("indent")?,
    };
    kwargs.assert_all_used()?;
    let indent = indent.filter(|i| !i.is_none()).map(usize::try_from).transpose()?;

    let mut out = Vec::new();
    let written = match indent {
        Some(width) => {
            let pad = vec![b' '; width];
            let formatter = serde_json::ser::PrettyFormatter::with_indent(&pad);
            value.serialize(&mut serde_json::Serializer::with_formatter(&mut out, formatter))
        }
        None => value.serialize(&mut serde_json::Serializer::with_formatter(&mut out, PythonSeparators)),
    };
    written.map_err(|e| Error::new(ErrorKind::InvalidOperation, "cannot serialize to JSON").with_source(e))?;
    let text = String::from_utf8(out)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, "JSON output is not UTF-8").with_source(e))?;
    Ok(Value::from_safe_string(text))
}

/// Python's default separators without an indent: `", "` between items, `": "` after keys.
struct PythonSeparators;

impl serde_json::ser::Formatter for PythonSeparators {
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }
}
