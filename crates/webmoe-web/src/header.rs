//! A model from its header: the GGUF header of every part, the model's shape, the check that the
//! kernels can run it, and its tokenizer. `WasmEngine::load` takes these steps before it opens
//! the GPU; the store takes them through [`check_model`] on the header alone, before it downloads
//! or stores any of the weights, so that a file webmoe cannot run costs one small request.

use wasm_bindgen::prelude::*;
use webmoe::engine::Engine;
use webmoe::gguf::{ByteSource, ConcatSource, Gguf, HeaderError};
use webmoe::model::Model;
use webmoe::tokenizer::Tokenizer;
use webmoe::Error;

use crate::error::{js_error, JsErrorName};
use crate::source::{parts_of, reader_error, ReaderFailure};

/// Read the header of every part of `source` and build what running the model needs besides its
/// weights, refusing a model webmoe cannot run.
pub async fn runnable_model<S: ByteSource>(source: &ConcatSource<S>) -> Result<(Model, Tokenizer), Error> {
    let gguf = Gguf::read_parts(source).await.map_err(|e| match e {
        HeaderError::Source(s) => Error::Source(s),
        HeaderError::Format(g) => Error::Gguf(g),
    })?;
    let model = Model::from_gguf(&gguf)?;
    Engine::check_runnable(&model)?;
    let tokenizer = Tokenizer::from_gguf(&gguf)?;
    Ok((model, tokenizer))
}

/// The JavaScript form of a failure of [`runnable_model`]. A tokenizer that cannot be built is the
/// file's fault whatever the reason: an id outside the vocabulary here is a metadata key's (such
/// as `tokenizer.ggml.bos_token_id`), where in a prompt it would be the caller's.
pub fn header_error(failure: &ReaderFailure, e: Error) -> JsValue {
    match e {
        Error::Tokenizer(t) => js_error(JsErrorName::ModelFormat, &t.to_string(), &[]),
        e => reader_error(failure, e),
    }
}

/// Check from the headers alone that webmoe can run the model of `reader`
/// (`{ parts: [{ size, read(offset, length) }] }`, a split GGUF's parts in order). Each part's
/// header is read from its start: 4 MiB (or the whole part, when smaller), then more only when
/// the header is longer, never beyond `MAX_HEADER_BYTES`. Rejects with the error the reader threw
/// (a `DownloadError`, an `AbortError`), else with a `ModelFormatError` naming the problem (an
/// `InvalidOptionError` for a head dimension beyond the attention kernel's, as `load` gives).
#[wasm_bindgen(js_name = checkModel)]
pub async fn check_model(reader: JsValue) -> Result<(), JsValue> {
    let failure = ReaderFailure::default();
    let source = ConcatSource::new(parts_of(&reader, &failure)?);
    runnable_model(&source).await.map(drop).map_err(|e| header_error(&failure, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use webmoe::gguf::{GgmlType, GgufWriter, MemorySource, Value};
    use webmoe::model::ModelError;
    use webmoe::synthetic::{model_bytes, Mix, Spec};

    /// 1 layer, 4 experts (top 2), vocabulary 300, Q8_0 matrices, with a tokenizer; rows of 256
    /// values, so that a matrix can take a type of 256-value blocks.
    fn spec() -> Spec {
        Spec {
            n_layer: 1,
            n_embd: 256,
            n_ff: 64,
            n_head: 4,
            n_head_kv: 2,
            n_expert: 4,
            n_expert_used: 2,
            vocab_size: 300,
            context_length: 128,
            mix: Mix::Pure(GgmlType::Q8_0),
            seed: 7,
        }
    }

    fn valid_model() -> Vec<u8> {
        model_bytes(&spec())
    }

    /// `bytes` written again with a key set to a new value, and a tensor given a new type (and zero
    /// bytes of the size that type takes).
    fn rewritten(bytes: &[u8], set: Option<(&str, Value)>, retype: Option<(&str, GgmlType)>) -> Vec<u8> {
        let g = Gguf::parse(bytes).expect("the base model parses");
        let mut w = GgufWriter::new();
        for (key, value) in &g.metadata {
            let value = match &set {
                Some((k, v)) if k == key => v.clone(),
                _ => value.clone(),
            };
            w.meta(key, value);
        }
        for t in &g.tensors {
            match retype {
                Some((name, ty)) if name == t.name => {
                    let bytes = ty.row_bytes(t.row_len()).expect("whole blocks") * t.n_rows();
                    w.tensor(&t.name, &t.dims, ty, vec![0; bytes as usize]);
                }
                _ => {
                    let r = g.tensor_range(t);
                    w.tensor(&t.name, &t.dims, t.ty, bytes[r.start as usize..r.end as usize].to_vec());
                }
            }
        }
        w.to_bytes()
    }

    fn check(bytes: Vec<u8>) -> Result<(Model, Tokenizer), Error> {
        pollster::block_on(runnable_model(&ConcatSource::new(vec![MemorySource::new(bytes)])))
    }

    #[test]
    fn a_valid_model_passes_with_its_shape_and_tokenizer() {
        let (model, tokenizer) = check(valid_model()).expect("the model is runnable");
        assert_eq!((model.config.n_expert, model.config.vocab_size), (4, 300));
        assert!(!tokenizer.encode_with("ab", true, false).expect("the tokenizer encodes").is_empty());
    }

    #[test]
    fn each_step_refuses_what_it_checks() {
        let truncated = check(valid_model()[..100].to_vec()).unwrap_err();
        assert!(matches!(truncated, Error::Gguf(_)), "{truncated}");
        let heads =
            check(rewritten(&valid_model(), Some(("llama.attention.head_count", Value::U32(3))), None)).unwrap_err();
        assert!(matches!(heads, Error::Model(ModelError::BadValue { .. })), "{heads}");
        let iq2 = check(rewritten(&valid_model(), None, Some(("blk.0.attn_q.weight", GgmlType::IQ2_XS)))).unwrap_err();
        assert!(
            matches!(&iq2, Error::Model(ModelError::Unsupported { name, .. }) if name == "blk.0.attn_q.weight"),
            "{iq2}"
        );
        assert!(iq2.to_string().contains("IQ2_XS"), "{iq2}");
        // One head of 512 values: a valid model, beyond what the attention kernel handles.
        let wide_head = check(model_bytes(&Spec { n_embd: 512, n_head: 1, n_head_kv: 1, ..spec() })).unwrap_err();
        assert!(matches!(&wide_head, Error::InvalidOption { option, .. } if option == "head dimension"), "{wide_head}");
        let bos =
            check(rewritten(&valid_model(), Some(("tokenizer.ggml.bos_token_id", Value::U32(300))), None)).unwrap_err();
        assert!(matches!(bos, Error::Tokenizer(_)), "{bos}");
    }
}
