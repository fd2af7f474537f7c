//! The GPU engine against the oracle cases: exact logits with an f32 KV cache, argmax and greedy
//! ids with the default f16 cache, and the same results when weights are split into small pages.

use super::*;
use crate::gguf::{Gguf, MemorySource};
use crate::gpu::GpuOptions;
use crate::model::ModelError;
use crate::testing::{max_abs_diff, model_bytes, oracle};

fn engine(case: &str, kv_type: KvType, gpu_options: &GpuOptions) -> Engine {
    // A context that fits the smallest bindings the tests use: prompt plus 16 generated ids.
    let context_length = Some(32);
    let bytes = model_bytes(case);
    let g = Gguf::parse(&bytes).unwrap();
    let model = Model::from_gguf(&g).unwrap();
    let gpu = pollster::block_on(Gpu::new(gpu_options)).unwrap();
    let options = EngineOptions { kv_type, batch: 5, context_length, ..Default::default() };
    pollster::block_on(Engine::load(gpu, MemorySource::new(bytes), model, &options, &mut |_, _| {})).unwrap()
}

fn greedy(e: &mut Engine, prompt: &[u32], n: usize) -> Vec<u32> {
    e.reset();
    let mut out = vec![pollster::block_on(e.prefill(prompt)).unwrap()];
    while out.len() < n {
        out.push(pollster::block_on(e.step()).unwrap());
    }
    out
}

/// Logits of every position with an f32 cache, and greedy ids with both caches.
pub(crate) fn check_case(case: &str, gpu_options: &GpuOptions) {
    let c = oracle(case);
    let mut e = engine(case, KvType::F32, gpu_options);
    let logits = pollster::block_on(e.logits(&c.tokens)).unwrap();
    c.check_logits("GPU f32 cache", &logits);
    c.check_greedy("GPU f32 cache", &greedy(&mut e, &c.tokens, c.greedy.len()));

    let mut e = engine(case, KvType::F16, gpu_options);
    let logits = pollster::block_on(e.logits(&c.tokens)).unwrap();
    c.check_argmax("GPU f16 cache", &logits);
    c.check_greedy("GPU f16 cache", &greedy(&mut e, &c.tokens, c.greedy.len()));
}

#[test]
fn mixtral_q8_0() {
    check_case("mixtral-q8_0", &GpuOptions::default());
}

#[test]
fn mixtral_f16() {
    check_case("mixtral-f16", &GpuOptions::default());
}

#[test]
fn mixtral_q4_0() {
    check_case("mixtral-q4_0", &GpuOptions::default());
}

#[test]
fn mixtral_q4_1() {
    check_case("mixtral-q4_1", &GpuOptions::default());
}

#[test]
fn split_expert_layout() {
    check_case("mixtral-split-experts-q8_0", &GpuOptions::default());
}

#[test]
fn four_experts_top2() {
    check_case("moe-4x-top2-q8_0", &GpuOptions::default());
}

#[test]
fn eight_experts_top1() {
    check_case("moe-8x-top1-q8_0", &GpuOptions::default());
}

#[test]
fn dense_llama() {
    check_case("dense-llama-q8_0", &GpuOptions::default());
}

#[test]
fn real_mixtral_vocabulary() {
    check_case("mixtral-realvocab-q8_0", &GpuOptions::default());
}

// The newer architectures: features selected by the config (ARCHITECTURES.md of the oracle set).

#[test]
fn qwen2_biases_neox_rope_tied_output() {
    check_case("qwen2-q8_0", &GpuOptions::default());
}

#[test]
fn qwen3_per_head_qk_norms_and_a_head_size_of_its_own() {
    check_case("qwen3-q8_0", &GpuOptions::default());
}

#[test]
fn qwen3moe_16_experts_top4() {
    check_case("qwen3moe-16x-top4-q8_0", &GpuOptions::default());
}

#[test]
fn qwen3moe_128_experts_top8() {
    check_case("qwen3moe-128x-top8-q4_k_m", &GpuOptions::default());
}

#[test]
fn olmoe_whole_projection_qk_norms_64_experts_top8_not_renormalised() {
    check_case("olmoe-64x-top8-q8_0", &GpuOptions::default());
}

#[test]
fn qwen2moe_shared_expert_with_its_sigmoid_gate_and_biases() {
    check_case("qwen2moe-8x-top4-shexp-q8_0", &GpuOptions::default());
}

#[test]
fn granitemoe_multipliers_and_tied_output() {
    check_case("granitemoe-32x-top8-q8_0", &GpuOptions::default());
}

#[test]
fn gpt_oss_sinks_sliding_window_biases_clamped_swiglu_and_mxfp4_experts() {
    check_case("gpt-oss-8x-top4-mxfp4", &GpuOptions::default());
}

#[test]
fn gpt_oss_with_gate_and_up_apart_and_matrices_in_pages() {
    // A 16 KiB binding cannot hold an expert's stacked gate | up (2 × 128 rows of 85 bytes), so
    // they stay apart with their biases apart, and the lm_head is paged.
    check_case("gpt-oss-8x-top4-mxfp4", &GpuOptions { max_binding_bytes: Some(16 << 10), ..Default::default() });
}

#[test]
fn llama3_rope_frequency_factors_in_the_table_match_llama_cpp() {
    let case = "llama3-rope-freqs-f32";
    check_case(case, &GpuOptions::default());
    // Every weight is F32, so llama.cpp's logits are a second reference.
    let c = oracle(case);
    let logits = pollster::block_on(engine(case, KvType::F32, &GpuOptions::default()).logits(&c.tokens)).unwrap();
    let d = max_abs_diff(&logits, c.llamacpp_logits.as_ref().expect("the case stores llama.cpp's logits"));
    assert!(d < 1e-4, "{case}: GPU f32 cache vs llama.cpp: max |Δlogit| {d}");
}

#[test]
fn bad_rope_frequency_factors_are_refused_before_the_upload() {
    let mut bytes = model_bytes("llama3-rope-freqs-f32");
    let model = Model::from_gguf(&Gguf::parse(&bytes).unwrap()).unwrap();
    let factors = model.layout.rope_freqs.as_ref().unwrap().range.start as usize;
    bytes[factors + 4 * 63..factors + 4 * 64].copy_from_slice(&f32::NAN.to_le_bytes());
    let gpu = pollster::block_on(Gpu::new(&GpuOptions::default())).unwrap();
    let options = EngineOptions { context_length: Some(32), ..Default::default() };
    let e = pollster::block_on(Engine::load(gpu, MemorySource::new(bytes), model, &options, &mut |_, _| {})).err().unwrap();
    assert!(matches!(&e, Error::Model(ModelError::BadTensorValue { name, index: 63, .. }) if name == "rope_freqs.weight"), "{e}");
}

#[test]
fn weights_split_across_16_kib_bindings() {
    // One expert's 18 KiB gate matrix spans two pages, and the 512-row embedding and lm_head are
    // split into five.
    check_case("mixtral-q4_0", &GpuOptions { max_binding_bytes: Some(16 << 10), ..Default::default() });
}

#[test]
fn bad_requests_are_refused_with_clear_errors() {
    let mut e = engine("mixtral-q8_0", KvType::F16, &GpuOptions::default());
    assert_eq!(pollster::block_on(e.prefill(&[])).unwrap_err(), Error::EmptyPrompt);
    assert_eq!(pollster::block_on(e.prefill(&[1, 512])).unwrap_err(), Error::TokenOutOfRange { id: 512, vocab: 512 });
    let long = vec![1u32; e.context_length() + 1];
    assert!(matches!(pollster::block_on(e.prefill(&long)).unwrap_err(), Error::ContextFull { .. }));
    // The engine still works after refusals.
    assert_eq!(e.position(), 0);
    pollster::block_on(e.prefill(&[1, 2, 3])).unwrap();
    assert_eq!(e.position(), 3);
}

#[test]
fn footprint_predicts_what_the_engine_allocates() {
    // The qwen cases add biases and q/k norms to the weights.
    // qwen2moe adds a resident shared expert and its scratch.
    for case in ["mixtral-q4_0", "dense-llama-q8_0", "mixtral-realvocab-q8_0", "qwen2-q8_0", "qwen3-q8_0", "qwen2moe-8x-top4-shexp-q8_0"] {
        let e = engine(case, KvType::F16, &GpuOptions::default());
        let options = EngineOptions { kv_type: KvType::F16, batch: 5, context_length: Some(32), ..Default::default() };
        let predicted = footprint(&e.model, &options, e.gpu.binding_limit).unwrap();
        assert_eq!(predicted, e.memory(), "{case}");
    }
}

// The K-quant cases mix types per tensor as llama-quantize does (Q4_K_M: Q4_K, Q5_K and Q6_K
// matrices with some Q8_0), so each exercises several decoders in one forward pass.

#[test]
fn mixtral_q2_k() {
    check_case("mixtral-q2_k", &GpuOptions::default());
}

#[test]
fn mixtral_q3_k_m() {
    check_case("mixtral-q3_k_m", &GpuOptions::default());
}

#[test]
fn mixtral_q4_k_m() {
    check_case("mixtral-q4_k_m", &GpuOptions::default());
}

#[test]
fn mixtral_q5_k_m() {
    check_case("mixtral-q5_k_m", &GpuOptions::default());
}

#[test]
fn mixtral_q6_k() {
    check_case("mixtral-q6_k", &GpuOptions::default());
}

#[test]
fn routing_log_matches_the_reference_choices() {
    use crate::reference::ReferenceModel;
    for case in ["mixtral-q8_0", "qwen3moe-16x-top4-q8_0", "olmoe-64x-top8-q8_0"] {
        let c = oracle(case);
        let bytes = model_bytes(case);
        let model = Model::from_gguf(&Gguf::parse(&bytes).unwrap()).unwrap();
        let (_, want) = ReferenceModel::load(&model, &bytes).unwrap().forward(&c.tokens);
        let mut e = engine(case, KvType::F32, &GpuOptions::default());
        pollster::block_on(e.logits(&c.tokens)).unwrap();
        let got = pollster::block_on(e.routing(0..c.tokens.len())).unwrap();
        for (pos, (g, w)) in got.iter().zip(&want).enumerate() {
            for (layer, (gl, wl)) in g.iter().zip(w).enumerate() {
                let wl: Vec<u32> = wl.iter().map(|&(e, _)| e as u32).collect();
                assert_eq!(gl, &wl, "{case}: position {pos} layer {layer}");
            }
        }
    }
}

/// The bytes of `case`'s model re-written as `n` split parts, tensors dealt out in order.
fn split_into(case: &str, n: usize) -> Vec<Vec<u8>> {
    use crate::gguf::{GgufWriter, Value};
    let bytes = model_bytes(case);
    let g = Gguf::parse(&bytes).unwrap();
    let per_part = g.tensors.len().div_ceil(n);
    (0..n)
        .map(|i| {
            let mut w = GgufWriter::new();
            if i == 0 {
                for (k, v) in &g.metadata {
                    w.meta(k, v.clone());
                }
            }
            w.meta("split.no", Value::U16(i as u16)).meta("split.count", Value::U16(n as u16)).meta("split.tensors.count", Value::I32(g.tensors.len() as i32));
            for t in g.tensors.iter().skip(i * per_part).take(per_part) {
                let r = g.tensor_range(t);
                w.tensor(&t.name, &t.dims, t.ty, bytes[r.start as usize..r.end as usize].to_vec());
            }
            w.to_bytes()
        })
        .collect()
}

#[test]
fn split_files_give_the_same_logits() {
    use crate::gguf::ConcatSource;
    let case = "mixtral-q4_k_m";
    let c = oracle(case);
    let source = ConcatSource::new(split_into(case, 3).into_iter().map(MemorySource::new).collect());
    let g = pollster::block_on(Gguf::read_parts(&source)).unwrap();
    let model = Model::from_gguf(&g).unwrap();
    let gpu = pollster::block_on(Gpu::new(&GpuOptions::default())).unwrap();
    let options = EngineOptions { kv_type: KvType::F32, batch: 5, context_length: Some(32), ..Default::default() };
    let mut e = pollster::block_on(Engine::load(gpu, source, model, &options, &mut |_, _| {})).unwrap();
    c.check_logits("split into 3 files", &pollster::block_on(e.logits(&c.tokens)).unwrap());
}

/// Logits (f32 cache) of the case's prompt and 16 greedy ids, with `gpu_budget`.
fn run_with_budget(bytes: &[u8], tokens: &[u32], gpu_budget: Option<u64>) -> (Vec<Vec<f32>>, Vec<u32>, Engine) {
    run_with_budget_on(bytes, tokens, gpu_budget, &GpuOptions::default())
}

fn run_with_budget_on(bytes: &[u8], tokens: &[u32], gpu_budget: Option<u64>, gpu_options: &GpuOptions) -> (Vec<Vec<f32>>, Vec<u32>, Engine) {
    let g = Gguf::parse(bytes).unwrap();
    let model = Model::from_gguf(&g).unwrap();
    let gpu = pollster::block_on(Gpu::new(gpu_options)).unwrap();
    let options = EngineOptions { kv_type: KvType::F32, batch: 5, context_length: Some(48), gpu_budget };
    let mut e = pollster::block_on(Engine::load(gpu, MemorySource::new(bytes.to_vec()), model, &options, &mut |_, _| {})).unwrap();
    let logits = pollster::block_on(e.logits(tokens)).unwrap();
    let ids = greedy(&mut e, tokens, 16);
    (logits, ids, e)
}

/// The same logits and greedy ids whatever the budget: every expert resident, half of them,
/// a quarter, and the minimum (the experts one token uses per layer, so a 5-token prompt chunk
/// needs several rounds of uploads per layer).
fn check_budgets(label: &str, bytes: &[u8], tokens: &[u32]) {
    let model = Model::from_gguf(&Gguf::parse(bytes).unwrap()).unwrap();
    let facts = budget_facts(&model, &EngineOptions { kv_type: KvType::F32, batch: 5, context_length: Some(48), gpu_budget: None }, u64::MAX / 4).unwrap();
    let (want_logits, want_ids, _) = run_with_budget(bytes, tokens, None);
    // A share that leaves fewer slots than a token's experts is raised to the minimum.
    for (share, budget) in [("50%", facts.budget_for_share(0.5)), ("25%", facts.budget_for_share(0.25)), ("minimum", facts.minimum)] {
        let budget = budget.max(facts.minimum);
        let (logits, ids, e) = run_with_budget(bytes, tokens, Some(budget));
        assert!(e.expert_slots() < model.config.n_expert * model.config.n_layer, "{label} {share}: experts should stream");
        assert!(e.memory().total() <= budget, "{label} {share}: {} bytes allocated over a budget of {budget}", e.memory().total());
        for (p, (g, w)) in logits.iter().zip(&want_logits).enumerate() {
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                assert!((a - b).abs() <= 1e-6, "{label} {share}: position {p} logit {i}: {a} vs {b} with all experts resident");
            }
        }
        assert_eq!(ids, want_ids, "{label} {share}: greedy ids");
        let s = e.expert_stats();
        assert!(s.misses > 0 && s.bytes_uploaded > 0, "{label} {share}: {s:?}");
    }
}

#[test]
fn streamed_experts_give_the_same_output_on_reference_models() {
    for case in ["mixtral-q8_0", "moe-4x-top2-q8_0", "moe-8x-top1-q8_0", "mixtral-q4_k_m"] {
        check_budgets(case, &model_bytes(case), &oracle(case).tokens);
    }
}

#[test]
fn streamed_experts_give_the_same_output_on_qwen3moe() {
    for case in ["qwen3moe-16x-top4-q8_0", "qwen3moe-128x-top8-q4_k_m"] {
        check_budgets(case, &model_bytes(case), &oracle(case).tokens);
    }
}

#[test]
fn streamed_experts_give_the_same_output_on_olmoe() {
    let case = "olmoe-64x-top8-q8_0";
    check_budgets(case, &model_bytes(case), &oracle(case).tokens);
}

/// The shared expert stays resident: the budget's resident part counts it, and the engine fits
/// the budget with it.
#[test]
fn streamed_experts_give_the_same_output_on_qwen2moe_with_its_shared_expert_resident() {
    let case = "qwen2moe-8x-top4-shexp-q8_0";
    check_budgets(case, &model_bytes(case), &oracle(case).tokens);
}

/// Expert biases are indexed by expert, not slot: resident whatever the budget.
#[test]
fn streamed_experts_give_the_same_output_on_gpt_oss() {
    let case = "gpt-oss-8x-top4-mxfp4";
    check_budgets(case, &model_bytes(case), &oracle(case).tokens);
}

#[test]
fn streamed_experts_give_the_same_output_on_granitemoe() {
    let case = "granitemoe-32x-top8-q8_0";
    check_budgets(case, &model_bytes(case), &oracle(case).tokens);
}

#[test]
fn streamed_experts_give_the_same_output_on_a_deeper_model() {
    use crate::synthetic::{model_bytes as synthetic, Mix, Spec};
    let spec = Spec { n_layer: 8, n_embd: 256, n_ff: 256, n_head: 4, n_head_kv: 2, vocab_size: 600, context_length: 64, mix: Mix::Q4KM, ..Spec::mixtral_like(8, 256) };
    check_budgets("synthetic 8 layers × 8 experts", &synthetic(&spec), &[1, 300, 301, 302, 303, 304, 305, 306, 307, 308, 309, 310]);
}

/// With bindings of one expert slot each, a pool of many slots is many pages; a decode step
/// encodes only the pages that hold the experts it chose, so its dispatches do not grow with the
/// pool, and its output is the same as with every expert resident.
#[test]
fn a_decode_step_dispatches_only_the_pages_of_its_experts() {
    use crate::synthetic::{model_bytes as synthetic, Mix, Spec};
    let spec = Spec { n_layer: 4, n_embd: 256, n_ff: 256, n_head: 4, n_head_kv: 2, vocab_size: 600, context_length: 64, mix: Mix::Pure(crate::gguf::GgmlType::Q4_K), ..Spec::mixtral_like(4, 256) };
    let bytes = synthetic(&spec);
    let tokens = [1, 300, 301, 302];
    let gpu_options = GpuOptions { max_binding_bytes: Some(80 << 10), ..Default::default() };
    let model = Model::from_gguf(&Gguf::parse(&bytes).unwrap()).unwrap();
    let facts = budget_facts(&model, &EngineOptions { kv_type: KvType::F32, batch: 5, context_length: Some(48), gpu_budget: None }, 80 << 10).unwrap();
    assert_eq!(facts.pools.len(), 1, "every layer has the same experts: one pool");
    let (want_logits, want_ids, _) = run_with_budget_on(&bytes, &tokens, None, &gpu_options);
    let mut per_step = Vec::new();
    for budget in [facts.minimum, facts.budget_for_share(0.75)] {
        let (logits, ids, mut e) = run_with_budget_on(&bytes, &tokens, Some(budget), &gpu_options);
        assert_eq!(ids, want_ids, "budget {budget}");
        for (g, w) in logits.iter().flatten().zip(want_logits.iter().flatten()) {
            assert!((g - w).abs() <= 1e-6, "budget {budget}: {g} vs {w}");
        }
        let before = e.counters().dispatches;
        pollster::block_on(e.step()).unwrap();
        per_step.push(e.counters().dispatches - before);
    }
    // A token's 2 experts are in at most 2 pages of each expert matrix whatever the pool's size:
    // at most one more page per matrix than at the minimum (whose 2 slots may share a page of
    // the down projection). Without the filter, the 24-slot pool would dispatch 36 pages a layer.
    let (minimum, larger) = (per_step[0], per_step[1]);
    assert!(larger <= minimum + 2 * spec.n_layer as u64, "dispatches of one decode step: {minimum} at the minimum, {larger} at 75% of the experts");
}

#[test]
fn a_budget_below_the_minimum_names_the_minimum() {
    let bytes = model_bytes("mixtral-q8_0");
    let model = Model::from_gguf(&Gguf::parse(&bytes).unwrap()).unwrap();
    let options = EngineOptions { kv_type: KvType::F32, batch: 5, context_length: Some(48), gpu_budget: None };
    let facts = budget_facts(&model, &options, u64::MAX / 4).unwrap();
    let gpu = pollster::block_on(Gpu::new(&GpuOptions::default())).unwrap();
    let options = EngineOptions { gpu_budget: Some(facts.minimum - 1), ..options };
    let e = pollster::block_on(Engine::load(gpu, MemorySource::new(bytes), model, &options, &mut |_, _| {})).err().unwrap();
    assert!(e.to_string().contains(&format!("at least {} bytes", facts.minimum)), "{e}");
}

#[test]
fn a_lost_device_is_an_error_and_a_new_engine_works_after_it() {
    let c = oracle("mixtral-q8_0");
    let mut e = engine("mixtral-q8_0", KvType::F16, &GpuOptions::default());
    pollster::block_on(e.prefill(&c.tokens)).unwrap();
    e.gpu.device.destroy();
    let err = pollster::block_on(e.step()).unwrap_err();
    assert!(matches!(err, Error::Gpu(crate::gpu::GpuError::DeviceLost { .. })), "{err:?}");
    assert!(err.to_string().contains("load the model again"), "{err}");
    // A fresh device and engine run as if nothing happened.
    let mut again = engine("mixtral-q8_0", KvType::F16, &GpuOptions::default());
    let first = pollster::block_on(again.prefill(&c.tokens)).unwrap();
    assert_eq!(first, c.greedy[0]);
}

/// tests/fixtures/bad/footprint-kv-cache-bytes-overflow.gguf: a header of 1640 bytes standing for
/// a 256 GiB file (its last 8 bytes give the rest), a valid model whose KV cache at its own
/// context (2^31 - 1, two KV heads of 2^30 - 2) passes 2^64 bytes. The estimate wrapped.
#[test]
fn a_kv_cache_past_u64_is_refused_not_wrapped() {
    use crate::gguf::{parse_prefix, Parsed};
    let path = format!("{}/../../tests/fixtures/bad/footprint-kv-cache-bytes-overflow.gguf", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap();
    let tail: [u8; 8] = bytes[bytes.len() - 8..].try_into().unwrap();
    let claimed = bytes.len() as u64 + u64::from_le_bytes(tail);
    let Ok(Parsed::Complete(g)) = parse_prefix(&bytes, claimed) else { panic!("the header parses") };
    let model = Model::from_gguf(&g).unwrap();
    let at_default = footprint(&model, &EngineOptions::default(), 128 << 20).unwrap();
    assert!(at_default.kv_cache > 1 << 40, "{at_default:?}");
    let own = EngineOptions { context_length: Some(model.config.context_length), ..Default::default() };
    let e = footprint(&model, &own, 128 << 20).unwrap_err();
    assert!(matches!(&e, Error::InvalidOption { option, .. } if option == "context length"), "{e}");
    assert!(e.to_string().contains("more than any device holds"), "{e}");
}

/// Ids from `n` steps after `prompt`, each step queued one ahead of the read-back or not.
fn sampled_ids(e: &mut Engine, prompt: &[u32], n: usize, ahead: bool) -> Vec<u32> {
    e.reset();
    let mut ids = vec![pollster::block_on(e.prefill(prompt)).unwrap()];
    while ids.len() < n {
        ids.push(if ahead { pollster::block_on(e.step_ahead()) } else { pollster::block_on(e.step()) }.unwrap());
    }
    ids
}

/// Queuing each decode step before the previous one is read back changes nothing: greedy and
/// sampled (seeded, with a repetition penalty, which reads the sampler's ring) ids are the same,
/// one submit and one read-back per token; a step cancelled ahead leaves the sequence as it was.
#[test]
fn steps_queued_ahead_give_the_same_ids() {
    let c = oracle("mixtral-q8_0");
    let mut e = engine("mixtral-q8_0", KvType::F16, &GpuOptions::default());
    let sampling = crate::sampler::SamplingParams { temperature: 0.9, top_k: Some(40), top_p: 0.95, repeat_penalty: 1.3, repeat_last_n: 8, seed: 5, ..crate::sampler::SamplingParams::greedy() };
    for params in [crate::sampler::SamplingParams::greedy(), sampling] {
        e.set_sampling(&params).unwrap();
        let want = sampled_ids(&mut e, &c.tokens, 12, false);
        let before = e.counters();
        let got = sampled_ids(&mut e, &c.tokens, 12, true);
        assert_eq!(got, want, "ids with steps queued ahead, {params:?}");
        let after = e.counters();
        assert_eq!(after.readbacks - before.readbacks, 12, "one read-back per token");
        // Cancel the step queued after the sixth id, then go on without queuing.
        e.reset();
        let mut ids = vec![pollster::block_on(e.prefill(&c.tokens)).unwrap()];
        while ids.len() < 6 {
            ids.push(pollster::block_on(e.step_ahead()).unwrap());
        }
        assert!(e.has_step_ahead());
        e.cancel_ahead();
        assert_eq!(e.position(), c.tokens.len() + 5);
        while ids.len() < 12 {
            ids.push(pollster::block_on(e.step()).unwrap());
        }
        assert_eq!(ids, want, "ids after cancelling a step ahead, {params:?}");
    }
    // A step queued ahead at the end of the context is not queued, and the next step is refused.
    e.set_sampling(&crate::sampler::SamplingParams::greedy()).unwrap();
    e.reset();
    pollster::block_on(e.prefill(&vec![1; e.context_length() - 2])).unwrap();
    pollster::block_on(e.step_ahead()).unwrap();
    pollster::block_on(e.step_ahead()).unwrap();
    assert!(!e.has_step_ahead());
    assert!(matches!(pollster::block_on(e.step_ahead()), Err(Error::ContextFull { .. })));
}

/// A second request that begins with the first one's sequence (a conversation and its next
/// turn) runs only its new tokens, and computes what a fresh run of the whole sequence does.
#[test]
fn a_request_that_extends_the_sequence_runs_only_its_new_tokens() {
    use crate::generate::{GenerateOptions, Generation};
    let case = "mixtral-q8_0";
    let c = oracle(case);
    let bytes = model_bytes(case);
    let tokenizer = crate::tokenizer::Tokenizer::from_gguf(&Gguf::parse(&bytes).unwrap()).unwrap();
    let mut e = engine(case, KvType::F32, &GpuOptions::default());
    let options = GenerateOptions { max_tokens: 4, ignore_eos: true, ..Default::default() };
    let mut first = pollster::block_on(Generation::start(&mut e, &tokenizer, &c.tokens, options.clone())).unwrap();
    while pollster::block_on(first.next_chunk(&mut e)).unwrap().is_some() {}
    // The next turn: the first request, its reply, and three new tokens.
    let mut turn: Vec<u32> = c.tokens.clone();
    turn.extend_from_slice(first.tokens());
    turn.extend_from_slice(&[300, 301, 302]);
    // The reply's last id was sampled but never run: the cache holds all but it.
    let held = c.tokens.len() + first.tokens().len() - 1;
    assert_eq!(e.cached_prefix(&turn), held);
    let before = e.counters().prompt_tokens;
    let mut second = pollster::block_on(Generation::start(&mut e, &tokenizer, &turn, options.clone())).unwrap();
    assert_eq!(e.counters().prompt_tokens - before, (turn.len() - held) as u64, "only the new tokens are run");
    assert_eq!(second.stats().cached_tokens, held);
    let mut reused = Vec::new();
    while let Some(chunk) = pollster::block_on(second.next_chunk(&mut e)).unwrap() {
        reused.push(chunk.token_id);
    }
    let mut fresh_engine = engine(case, KvType::F32, &GpuOptions::default());
    let mut fresh = pollster::block_on(Generation::start(&mut fresh_engine, &tokenizer, &turn, options)).unwrap();
    assert_eq!(fresh.stats().cached_tokens, 0);
    let mut want = Vec::new();
    while let Some(chunk) = pollster::block_on(fresh.next_chunk(&mut fresh_engine)).unwrap() {
        want.push(chunk.token_id);
    }
    assert_eq!(reused, want, "the reply with the cache reused and from scratch");
    // The logits of the new tokens on the reused cache, against those of a fresh run.
    e.truncate(held);
    let tail = pollster::block_on(e.logits(&turn[held..])).unwrap();
    fresh_engine.reset();
    let all = pollster::block_on(fresh_engine.logits(&turn)).unwrap();
    for (p, (g, w)) in tail.iter().zip(&all[held..]).enumerate() {
        for (a, b) in g.iter().zip(w) {
            assert!((a - b).abs() <= 1e-4, "position {}: {a} reused vs {b} fresh", held + p);
        }
    }
}

/// A vocabulary as wide as gpt-oss's (201088 tokens, o200k_harmony): the embedding lookup, the
/// lm_head's 201088 rows within the grid limits and the sampler give the CPU reference's logits
/// and greedy ids.
#[test]
fn a_201088_token_vocabulary_matches_the_reference() {
    use crate::reference::ReferenceModel;
    use crate::synthetic::{model_bytes as synthetic, Mix, Spec};
    let spec = Spec { n_layer: 1, n_embd: 64, n_ff: 128, n_head: 2, n_head_kv: 1, vocab_size: 201_088, context_length: 64, mix: Mix::Pure(crate::gguf::GgmlType::Q8_0), ..Spec::mixtral_like(1, 64) };
    let bytes = synthetic(&spec);
    let model = Model::from_gguf(&Gguf::parse(&bytes).unwrap()).unwrap();
    assert_eq!(model.config.vocab_size, 201_088);
    let tokens = [1, 200_000, 201_087, 77_777, 5];
    let (want, _) = ReferenceModel::load(&model, &bytes).unwrap().forward(&tokens);
    let (got, ids, _) = run_with_budget(&bytes, &tokens, None);
    for (pos, (g, w)) in got.iter().zip(&want).enumerate() {
        let worst = g.iter().zip(w).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-3, "position {pos}: logits up to {worst} from the reference");
    }
    // Greedy from the prompt: the first id is the reference's last argmax, whatever its index.
    let argmax = |row: &[f32]| row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0 as u32;
    assert_eq!(ids[0], argmax(want.last().unwrap()));
}

/// A profiled prompt and step run the same dispatches as an ordinary prefill and step, and
/// leave the same sequence behind: the same greedy ids follow.
#[test]
fn a_profile_times_every_dispatch_and_keeps_the_sequence() {
    let c = oracle("mixtral-q4_k_m");
    let mut e = engine("mixtral-q4_k_m", KvType::F32, &GpuOptions::default());
    // One submit: the engine's batch size is 5.
    let prompt = &c.tokens[..5];
    let want = greedy(&mut e, prompt, 4);
    e.reset();
    let profile = pollster::block_on(e.profile(prompt)).unwrap();
    let calls = |kernels: &[KernelTime]| kernels.iter().map(|k| k.calls as usize).sum::<usize>();
    assert_eq!(calls(&profile.decode), e.passes.decode.all().count() + e.tail(run::Tail::Sample).len());
    assert_eq!(calls(&profile.prompt), e.passes.body(prompt.len()).all().count() + e.tail(run::Tail::Sample).len());
    assert!(profile.decode.iter().any(|k| k.label.starts_with("matvec routed ffn_down_exps ")), "{:?}", profile.decode);
    assert!(profile.prompt.iter().any(|k| k.label.contains(" ffn_down_exps ")), "{:?}", profile.prompt);
    assert!(profile.decode.windows(2).all(|w| w[0].seconds >= w[1].seconds), "most time first");
    assert_eq!(e.seen, [prompt, &want[..2]].concat(), "the prompt, its sampled id and the step's");
    let rest = [pollster::block_on(e.step()).unwrap(), pollster::block_on(e.step()).unwrap()];
    assert_eq!(rest, want[2..4]);
}

#[test]
fn a_profile_refuses_a_prompt_over_one_submit() {
    let mut e = engine("mixtral-q4_k_m", KvType::F32, &GpuOptions::default());
    let err = pollster::block_on(e.profile(&[1; 6])).unwrap_err();
    assert!(err.to_string().contains("batch size (5)"), "{err}");
}

/// Prompt chunks take either expert path by their routes per expert: the grouped matmul (forced
/// here) and the matvec route by route (what a CPU adapter picks for these 5-token chunks) give
/// the reference logits, resident and streamed under the minimum budget.
#[test]
fn prompt_experts_through_the_grouped_matmul_and_the_routed_matvec_agree() {
    for case in ["mixtral-q4_k_m", "qwen2moe-8x-top4-shexp-q8_0", "gpt-oss-8x-top4-mxfp4"] {
        let bytes = model_bytes(case);
        let tokens = oracle(case).tokens;
        let grouped = GpuOptions { matvec_experts_below: Some(0), ..Default::default() };
        let per_route = GpuOptions { matvec_experts_below: Some(64), ..Default::default() };
        check_case(case, &grouped);
        check_case(case, &per_route);
        let (a, ids_a, e) = run_with_budget_on(&bytes, &tokens, None, &grouped);
        assert!(e.passes.prompt_few_routes.is_none(), "{case}: no per-route body when the device asks for none");
        let (b, ids_b, e) = run_with_budget_on(&bytes, &tokens, None, &per_route);
        assert!(std::ptr::eq(e.passes.body(5), e.passes.prompt_few_routes.as_ref().unwrap()), "{case}: 5-token chunks take the per-route body");
        assert!(max_abs_diff(&a, &b) <= 1e-4, "{case}: grouped and per-route logits");
        assert_eq!(ids_a, ids_b, "{case}");
        let model = Model::from_gguf(&Gguf::parse(&bytes).unwrap()).unwrap();
        let options = EngineOptions { kv_type: KvType::F32, batch: 5, context_length: Some(48), gpu_budget: None };
        let minimum = budget_facts(&model, &options, u64::MAX / 4).unwrap().minimum;
        let (c, ids_c, _) = run_with_budget_on(&bytes, &tokens, Some(minimum), &per_route);
        assert!(max_abs_diff(&b, &c) <= 1e-6, "{case}: per-route, streamed under the minimum budget");
        assert_eq!(ids_b, ids_c, "{case}");
    }
}
