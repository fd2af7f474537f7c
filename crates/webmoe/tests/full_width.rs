//! A Mixtral-8x7B-wide model (hidden 4096, FFN 14336, 32/8 heads of 128, 8 experts top-2,
//! vocabulary 32000; Q4_K_M mix) cut to 2 layers: the GPU engine's logits with every expert
//! resident, under half the experts' bytes and at the smallest budget, against each other and
//! against the CPU reference. The file (about 2 GB) is written by the test setup:
//! `scripts/gen-model models/mixtral-2l.Q4_K_M.gguf --preset mixtral-8x7b --layers 2`. Without it
//! the test is skipped, unless WEBMOE_REQUIRE_MODELS=1 makes it fail.

use std::path::PathBuf;
use webmoe::engine::{budget_facts, Engine, EngineOptions, KvType};
use webmoe::gguf::{Gguf, MmapSource};
use webmoe::gpu::{Gpu, GpuOptions};
use webmoe::model::Model;
use webmoe::reference::ReferenceModel;

const FILE: &str = "models/mixtral-2l.Q4_K_M.gguf";
const TOKENS: [u32; 3] = [1, 415, 5565];

fn model_path() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(FILE);
    if path.exists() {
        return Some(path);
    }
    let required = std::env::var("WEBMOE_REQUIRE_MODELS").is_ok_and(|v| v == "1");
    assert!(!required, "{FILE} is missing and WEBMOE_REQUIRE_MODELS=1: run scripts/gen-model {FILE} --preset mixtral-8x7b --layers 2");
    eprintln!("skipped: {FILE} is missing");
    None
}

fn options(gpu_budget: Option<u64>) -> EngineOptions {
    // One token per submit: the decode kernels, which are the fast ones on a software device.
    EngineOptions { kv_type: KvType::F32, batch: 1, context_length: Some(16), gpu_budget }
}

fn logits_with(path: &PathBuf, model: &Model, gpu_budget: Option<u64>) -> (Vec<Vec<f32>>, u64) {
    let gpu = pollster::block_on(Gpu::new(&GpuOptions::default())).unwrap();
    let source = MmapSource::open(path).unwrap();
    let mut e = pollster::block_on(Engine::load(gpu, source, model.clone(), &options(gpu_budget), &mut |_, _| {})).unwrap();
    let logits = pollster::block_on(e.logits(&TOKENS)).unwrap();
    (logits, e.memory().total())
}

fn max_abs_difference(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter().flatten().zip(b.iter().flatten()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn full_width_logits_match_the_reference_at_every_budget() {
    let Some(path) = model_path() else { return };
    let file = MmapSource::open(&path).unwrap();
    let g = pollster::block_on(Gguf::read(&file)).unwrap();
    let model = Model::from_gguf(&g).unwrap();
    assert_eq!((model.config.n_embd, model.config.n_ff, model.config.n_expert), (4096, 14336, 8), "{FILE} is not Mixtral-wide");

    let (reference, _) = ReferenceModel::load(&model, file.bytes()).unwrap().forward(&TOKENS);
    assert!(reference.iter().flatten().all(|v| v.is_finite()), "reference logits are finite");
    let scale = reference.iter().flatten().fold(0f32, |m, v| m.max(v.abs()));

    let (resident, _) = logits_with(&path, &model, None);
    let difference = max_abs_difference(&resident, &reference);
    assert!(difference <= 2e-3 * scale.max(1.0), "resident engine vs reference: max difference {difference} (largest logit {scale})");

    let binding_limit = pollster::block_on(Gpu::new(&GpuOptions::default())).unwrap().binding_limit;
    let facts = budget_facts(&model, &options(None), binding_limit).unwrap();
    for budget in [facts.budget_for_share(0.5), facts.minimum] {
        let (streamed, allocated) = logits_with(&path, &model, Some(budget));
        assert!(allocated <= budget, "{allocated} bytes allocated under a budget of {budget}");
        let d = max_abs_difference(&streamed, &resident);
        assert!(d <= 1e-6, "budget {budget}: logits differ from the resident engine's by {d}");
    }
}
