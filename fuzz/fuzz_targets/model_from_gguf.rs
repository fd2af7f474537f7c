//! Model construction over headers that parse: `Model::from_gguf`, then for a valid model the GPU
//! memory estimate (`engine::footprint`), and the tokenizer the metadata describes
//! (`Tokenizer::from_gguf`). Each must return a value or an error, never panic, and allocate only
//! what the header justifies. A model that validates must point every weight at bytes inside the
//! file, in slabs of exactly the size its type and shape give.

#![no_main]

mod input;

use libfuzzer_sys::fuzz_target;
use webmoe::engine::{footprint, EngineOptions, KvType};
use webmoe::Error;
use webmoe::gguf::{parse_prefix, Gguf, Parsed};
use webmoe::model::Model;
use webmoe::tokenizer::Tokenizer;

/// Binding limits the estimate is asked for: the least a browser gives, WebGPU's default, a
/// desktop adapter's, and none.
const BINDING_LIMITS: [u64; 4] = [1, 128 << 20, 4 << 30, u64::MAX];

fuzz_target!(|bytes: &[u8]| {
    if let Ok(Parsed::Complete(g)) = parse_prefix(bytes, input::claimed_len(bytes)) {
        check_model(&g);
    }
    if let Ok(g) = Gguf::parse(bytes) {
        check_model(&g);
    }
});

fn check_model(g: &Gguf) {
    let _ = Tokenizer::from_gguf(g);
    let Ok(model) = Model::from_gguf(g) else { return };
    let c = &model.config;
    assert_eq!(model.layout.layers.len(), c.n_layer);
    for m in model.layout.matrices() {
        for (e, range) in m.experts.iter().enumerate() {
            assert!(range.end <= g.file_len, "{} expert {e}: {range:?} in a file of {} bytes", m.name, g.file_len);
            assert_eq!(range.end - range.start, m.expert_bytes(), "{} expert {e}", m.name);
        }
    }
    let model_ctx = c.context_length;
    for binding_limit in BINDING_LIMITS {
        for (context_length, kv_type) in [(None, KvType::F16), (Some(1), KvType::F32), (Some(model_ctx), KvType::F32)] {
            let options = EngineOptions { context_length, kv_type, batch: usize::MAX, ..EngineOptions::default() };
            // An estimate, or for sizes past u64 a refusal of the context length.
            match footprint(&model, &options, binding_limit) {
                Ok(_) | Err(Error::InvalidOption { .. }) => {}
                Err(e) => panic!("context {context_length:?} of a model trained for {model_ctx}: {e}"),
            }
        }
        let beyond = EngineOptions { context_length: Some(model_ctx + 1), ..EngineOptions::default() };
        assert!(
            footprint(&model, &beyond, binding_limit).is_err(),
            "context {} accepted for a model of {model_ctx}",
            model_ctx + 1
        );
    }
}
