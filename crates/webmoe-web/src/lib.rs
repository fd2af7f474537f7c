//! webmoe for JavaScript: the engine, compiled to WebAssembly, behind a small wasm-bindgen
//! surface that the npm package's module worker (`js/src/worker.js`) drives.
//!
//! The worker owns one [`WasmEngine`] at a time. Model bytes come from a JavaScript reader
//! (`{ parts: [{ size, read(offset, length) -> Promise<Uint8Array> }] }`, the store's
//! `ModelReader`): the header is read as a few-MiB prefix and weights in chunks of at most
//! 16 MiB, so the wasm heap never holds the model. Before the store downloads a model, the worker
//! checks its header through the same kind of reader with [`check_model`].
//!
//! Every failure reaches JavaScript as an `Error` whose `name` is one of the classes of
//! `js/src/errors.js` and whose `details` holds the structured facts (see [`error`]). A panic is
//! a bug: the hook installed at start-up logs it and keeps its message for
//! [`last_panic_message`]; the worker then treats the instance as dead.

mod conversations;
mod engine;
mod error;
mod fit;
mod header;
mod lost_device;
mod options;
mod panic;
mod source;
mod stats;
mod text;

pub use engine::WasmEngine;
pub use header::check_model;
pub use panic::{last_panic_message, panic_for_tests};

use wasm_bindgen::prelude::*;

/// Runs once when the module is instantiated.
#[wasm_bindgen(start)]
pub fn start() {
    panic::install_hook();
}
