//! Losing the GPU device on purpose, for the tests of what a page sees after a real loss (a
//! driver reset, a crashed GPU process). Not part of the API: only the test hook
//! `WasmEngine::loseDeviceForTests` calls it.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use webmoe::gpu::{Gpu, GpuError};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &js_sys::Function, ms: i32);
}

/// How long the browser may take to report the loss of a destroyed device.
const REPORT_TIMEOUT_MS: i32 = 5_000;
const POLL_MS: i32 = 10;

/// Destroy `gpu`'s device and wait until its loss is reported: the browser resolves the device's
/// `lost` promise on a later task, and a call made before that would not know the device is gone.
pub async fn destroy_device(gpu: &Gpu) -> webmoe::Result<()> {
    gpu.device.destroy();
    let mut waited = 0;
    while !gpu.is_lost() {
        if waited >= REPORT_TIMEOUT_MS {
            let message =
                format!("the device was destroyed, but its loss was not reported within {REPORT_TIMEOUT_MS} ms");
            return Err(GpuError::Operation { message }.into());
        }
        sleep(POLL_MS).await;
        waited += POLL_MS;
    }
    Ok(())
}

async fn sleep(ms: i32) {
    let timer = Promise::new(&mut |resolve, _| set_timeout(&resolve, ms));
    // A timer's promise never rejects.
    let _ = JsFuture::from(timer).await;
}
