//! The reference forward pass against the float64 oracle logits of every fixture.

use super::*;
use crate::gguf::Gguf;
use crate::testing::{argmax, max_abs_diff, model_bytes, oracle};

fn check(case: &str) {
    let c = oracle(case);
    let bytes = model_bytes(case);
    let model = Model::from_gguf(&Gguf::parse(&bytes).unwrap()).unwrap();
    let m = ReferenceModel::load(&model, &bytes).unwrap();
    let (logits, _) = m.forward(&c.tokens);
    c.check_logits("reference forward", &logits);
    // Greedy continuation by full recompute.
    let mut seq = c.tokens.clone();
    for _ in 0..c.greedy.len() {
        let (logits, _) = m.forward(&seq);
        seq.push(argmax(logits.last().unwrap()));
    }
    c.check_greedy("reference greedy", &seq[c.tokens.len()..]);
}

#[test]
fn matches_oracle_mixtral_q8_0() {
    check("mixtral-q8_0");
}

#[test]
fn matches_oracle_mixtral_f16() {
    check("mixtral-f16");
}

#[test]
fn matches_oracle_mixtral_q4_0_and_q4_1() {
    check("mixtral-q4_0");
    check("mixtral-q4_1");
}

#[test]
fn matches_oracle_expert_layouts_and_counts() {
    check("mixtral-split-experts-q8_0");
    check("moe-4x-top2-q8_0");
    check("moe-8x-top1-q8_0");
}

#[test]
fn matches_oracle_dense_and_real_vocab() {
    check("dense-llama-q8_0");
    check("mixtral-realvocab-q8_0");
}

#[test]
fn matches_oracle_k_quant_mixes() {
    for case in ["mixtral-q4_k_m", "mixtral-q2_k", "mixtral-q3_k_m", "mixtral-q5_k_m", "mixtral-q6_k"] {
        check(case);
    }
}

#[test]
fn matches_oracle_qwen2_biases_and_tied_output() {
    check("qwen2-q8_0");
}

#[test]
fn matches_oracle_qwen3_qk_norms_and_head_dim() {
    check("qwen3-q8_0");
}

#[test]
fn matches_oracle_qwen3moe_softmax_then_renormalised_top_k() {
    check("qwen3moe-16x-top4-q8_0");
}

#[test]
fn matches_oracle_qwen3moe_128_experts_top8_q4_k_m() {
    check("qwen3moe-128x-top8-q4_k_m");
}

#[test]
fn matches_oracle_olmoe_whole_qk_norms_and_top_k_not_renormalised() {
    check("olmoe-64x-top8-q8_0");
}

#[test]
fn matches_oracle_qwen2moe_shared_expert_and_biases() {
    check("qwen2moe-8x-top4-shexp-q8_0");
}

#[test]
fn matches_oracle_granitemoe_multipliers_and_tied_output() {
    check("granitemoe-32x-top8-q8_0");
}

#[test]
fn matches_oracle_gpt_oss_sinks_window_biases_clamped_swiglu_mxfp4() {
    check("gpt-oss-8x-top4-mxfp4");
}

#[test]
fn matches_oracle_and_llama_cpp_with_llama3_rope_frequency_factors() {
    let case = "llama3-rope-freqs-f32";
    check(case);
    let c = oracle(case);
    let bytes = model_bytes(case);
    let model = Model::from_gguf(&Gguf::parse(&bytes).unwrap()).unwrap();
    let (logits, _) = ReferenceModel::load(&model, &bytes).unwrap().forward(&c.tokens);
    // Every weight is F32: llama.cpp computes this very function.
    let llamacpp = c.llamacpp_logits.as_ref().expect("the case stores llama.cpp's logits");
    let d = max_abs_diff(&logits, llamacpp);
    assert!(d < 1e-4, "{case}: reference vs llama.cpp: max |Δlogit| {d}");
    // Without the factors the logits move far past the tolerance: the case tells them apart.
    let mut plain = model.clone();
    plain.layout.rope_freqs = None;
    let (unfactored, _) = ReferenceModel::load(&plain, &bytes).unwrap().forward(&c.tokens);
    let d = max_abs_diff(&unfactored, &c.logits);
    assert!(d > 10.0 * c.tol, "{case}: without the factors the logits move only {d}");
}

#[test]
fn bad_rope_frequency_factors_are_refused_at_load() {
    let case = "llama3-rope-freqs-f32";
    let mut bytes = model_bytes(case);
    let model = Model::from_gguf(&Gguf::parse(&bytes).unwrap()).unwrap();
    let factors = model.layout.rope_freqs.as_ref().unwrap().range.start as usize;
    // Pair 3's factor, as -1.
    bytes[factors + 12..factors + 16].copy_from_slice(&(-1f32).to_le_bytes());
    let e = ReferenceModel::load(&model, &bytes).err().unwrap().to_string();
    assert!(e.contains("\"rope_freqs.weight\"") && e.contains("-1 at index 3"), "{e}");
}
