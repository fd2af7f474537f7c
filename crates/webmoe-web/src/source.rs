//! Model bytes from JavaScript: each part of a model is an object
//! `{ size: number, read(offset, length) -> Promise<Uint8Array> | Uint8Array }` (one part per
//! file of a split GGUF, in order), as the store's `ModelReader.parts` provides.
//!
//! A read copies the returned bytes straight into the destination slice, so the only wasm memory
//! a read uses is the slice the caller staged (at most 16 MiB during upload).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use webmoe::gguf::{ByteSource, SourceError};
use webmoe::Error;

use crate::error::{invalid_option, to_js};

/// The first error a JavaScript reader threw, kept so that the caller gets that very error
/// (a `DownloadError`, an `AbortError`, …) rather than a description of it.
pub type ReaderFailure = Rc<RefCell<Option<JsValue>>>;

/// The JavaScript form of `e`; a failed read becomes the reader's own error (an AbortError, a
/// DownloadError) when the reader threw one.
pub fn reader_error(failure: &ReaderFailure, e: Error) -> JsValue {
    match e {
        Error::Source(_) => failure.borrow_mut().take().unwrap_or_else(|| to_js(&e)),
        e => to_js(&e),
    }
}

/// One part of a model, read through JavaScript.
pub struct JsPartSource {
    part: JsValue,
    read: js_sys::Function,
    size: u64,
    failure: ReaderFailure,
}

/// The parts of a JavaScript model reader (`reader.parts`), in order, sharing one failure slot.
pub fn parts_of(reader: &JsValue, failure: &ReaderFailure) -> Result<Vec<JsPartSource>, JsValue> {
    let parts = Reflect::get(reader, &"parts".into()).ok().filter(Array::is_array);
    let parts: Array = parts.ok_or_else(|| invalid_option("model reader", "it has no `parts` array"))?.unchecked_into();
    if parts.length() == 0 {
        return Err(invalid_option("model reader", "its `parts` array is empty"));
    }
    parts.iter().enumerate().map(|(i, part)| JsPartSource::new(part, i, failure.clone())).collect()
}

impl JsPartSource {
    fn new(part: JsValue, index: usize, failure: ReaderFailure) -> Result<Self, JsValue> {
        let what = format!("model reader part {index}");
        let size = Reflect::get(&part, &"size".into()).ok().and_then(|s| s.as_f64());
        let size = size
            .filter(|s| s.is_finite() && *s >= 0.0 && s.fract() == 0.0 && *s <= 2f64.powi(53))
            .ok_or_else(|| invalid_option(&what, "`size` is not a whole number of bytes"))? as u64;
        let read = Reflect::get(&part, &"read".into()).ok().and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        let read = read.ok_or_else(|| invalid_option(&what, "it has no `read(offset, length)` method"))?;
        Ok(JsPartSource { part, read, size, failure })
    }

    fn fail(&self, offset: u64, len: usize, error: JsValue) -> SourceError {
        let reason = error
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| error.as_string())
            .unwrap_or_else(|| "the reader failed".into());
        self.failure.borrow_mut().get_or_insert(error);
        SourceError { offset, len: len as u64, reason }
    }
}

impl ByteSource for JsPartSource {
    fn len(&self) -> u64 {
        self.size
    }

    async fn read_at(&self, offset: u64, dst: &mut [u8]) -> Result<(), SourceError> {
        let call = self.read.call2(&self.part, &JsValue::from_f64(offset as f64), &JsValue::from_f64(dst.len() as f64));
        let value = match call {
            Ok(v) => JsFuture::from(Promise::resolve(&v)).await,
            Err(e) => Err(e),
        }
        .map_err(|e| self.fail(offset, dst.len(), e))?;
        let bytes = value.dyn_into::<Uint8Array>().map_err(|_| SourceError {
            offset,
            len: dst.len() as u64,
            reason: "the reader returned something other than a Uint8Array".into(),
        })?;
        if bytes.length() as usize != dst.len() {
            return Err(SourceError {
                offset,
                len: dst.len() as u64,
                reason: format!("the reader returned {} bytes instead of {}", bytes.length(), dst.len()),
            });
        }
        bytes.copy_to(dst);
        Ok(())
    }
}
