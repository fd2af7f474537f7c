//! Panics. On wasm32 a panic aborts: the call traps with a `RuntimeError` ("unreachable") and
//! the instance's state is no longer trustworthy. The hook logs the message to the console and
//! keeps it, so the worker can say what happened when it reports the engine as unusable.

use std::cell::RefCell;
use wasm_bindgen::prelude::*;

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

pub(crate) fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        LAST_PANIC.with(|last| {
            if let Ok(mut last) = last.try_borrow_mut() {
                *last = Some(message);
            }
        });
        console_error_panic_hook::hook(info);
    }));
}

/// The message of the last panic, if one happened.
#[wasm_bindgen(js_name = lastPanicMessage)]
pub fn last_panic_message() -> Option<String> {
    LAST_PANIC.with(|last| last.try_borrow().ok().and_then(|m| m.clone()))
}

/// Panics inside a future, as a bug in GPU code would in the middle of a generation. The tests
/// use it to check that the JavaScript side retires the instance; it is not part of the public API.
#[wasm_bindgen(js_name = panicForTests)]
pub async fn panic_for_tests() -> Result<(), JsValue> {
    panic!("panic requested by panicForTests");
}
