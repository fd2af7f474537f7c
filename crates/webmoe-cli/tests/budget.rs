//! `webmoe inspect`'s GPU budget figures: checked against the tensor table, and against what the
//! engine does with them (`run --gpu-budget` at the minimum runs with the fewest slots, one byte
//! less is refused naming that minimum).

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

/// MoE reference cases, and their experts per layer and experts used per token.
const MOE_CASES: [(&str, u64, u64); 3] = [("mixtral-q8_0", 8, 2), ("moe-4x-top2-q8_0", 4, 2), ("mixtral-q4_k_m", 8, 2)];
const CONTEXT: u64 = 48;

fn fixture(case: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/oracle").join(case).join("model.gguf").display().to_string()
}

fn webmoe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_webmoe"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()))
        .output()
        .expect("run webmoe")
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "webmoe failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn num(v: &Value, what: &str) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{what} is not a whole number: {v}"))
}

/// `inspect --json` at the test's context for a binding limit of `limit` bytes.
fn inspect(case: &str, limit: u64) -> Value {
    json_of(&webmoe(&["inspect", &fixture(case), "--json", "-c", &CONTEXT.to_string(), "--binding-limit", &limit.to_string()]))
}

/// The largest binding of the adapter `run` will use.
fn adapter_binding_limit() -> u64 {
    let a = json_of(&webmoe(&["adapter", "--json"]));
    let limits = &a["limits"];
    num(&limits["max_storage_buffer_binding_size"], "max_storage_buffer_binding_size").min(num(&limits["max_buffer_size"], "max_buffer_size"))
}

#[test]
fn budget_figures_add_up_from_the_tensor_table() {
    for (case, n_expert, n_used) in MOE_CASES {
        let j = inspect(case, 1 << 30);
        let b = &j["gpu_budget"];
        let (resident, all, minimum, slot) =
            (num(&b["resident"], "resident"), num(&b["all_experts"], "all_experts"), num(&b["minimum"], "minimum"), num(&b["slot_bytes_all_layers"], "slot_bytes_all_layers"));
        let n_layer = num(&j["model"]["n_layer"], "n_layer");
        // One expert of every layer: its share of each merged expert tensor, each matrix padded to 4 bytes.
        let expert_tensor_bytes: u64 = j["tensors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["name"].as_str().is_some_and(|n| n.contains("_exps.")))
            .map(|t| num(&t["bytes"], "tensor bytes"))
            .sum();
        let unpadded = expert_tensor_bytes / n_expert;
        assert!(
            (unpadded..=unpadded + 3 * 4 * n_layer).contains(&slot),
            "{case}: one expert of every layer is {slot} bytes, the tensor table gives {unpadded} before padding"
        );
        assert_eq!(all, n_expert * slot, "{case}: all experts {all} vs {n_expert} × {slot}");
        // Layers whose experts have the same matrices share one pool of slots; the minimum holds
        // one token's experts of one layer per pool, and the pools cover every layer once.
        let pools = b["pools"].as_array().expect("pools");
        let pool_slot: u64 = pools.iter().map(|p| num(&p["slot_bytes"], "pool slot bytes")).sum();
        let pooled_layers: u64 = pools.iter().map(|p| p["layers"].as_array().map_or(0, |l| l.len() as u64)).sum();
        let per_layer_sum: u64 = pools.iter().map(|p| num(&p["slot_bytes"], "pool slot bytes") * p["layers"].as_array().map_or(0, |l| l.len() as u64)).sum();
        assert_eq!(pooled_layers, n_layer, "{case}: every layer in one pool");
        assert_eq!(per_layer_sum, slot, "{case}: the pools' slots add up to one expert of every layer");
        assert_eq!(minimum, resident + n_used * pool_slot, "{case}: minimum {minimum} vs resident {resident} + {n_used} × {pool_slot}");
        // The resident bytes hold every non-expert tensor and the KV cache of the context asked.
        let non_expert: u64 = j["tensors"].as_array().unwrap().iter().map(|t| num(&t["bytes"], "tensor bytes")).sum::<u64>() - expert_tensor_bytes;
        let m = &j["model"];
        let kv = 2 * n_layer * CONTEXT * num(&m["n_head_kv"], "n_head_kv") * num(&m["head_dim"], "head_dim") * 2;
        assert_eq!(num(&j["gpu_memory"]["kv_cache"], "kv_cache"), kv, "{case}: f16 KV cache of {CONTEXT} positions");
        assert!(resident >= non_expert + kv, "{case}: resident {resident} below non-expert tensors {non_expert} + KV cache {kv}");
        // With every expert resident the engine allocates the resident bytes and every expert,
        // less the buffers only streaming needs (the predicted routes of one prompt batch).
        let total = num(&j["gpu_memory"]["total"], "total");
        assert!(
            total <= resident + all && resident + all - total < 64 * 1024,
            "{case}: all-resident total {total} vs resident {resident} + all experts {all}"
        );
    }
}

#[test]
fn the_minimum_is_what_the_engine_accepts() {
    let limit = adapter_binding_limit();
    for (case, n_expert, n_used) in MOE_CASES {
        let minimum = num(&inspect(case, limit)["gpu_budget"]["minimum"], "minimum");
        let run = |budget: u64| {
            webmoe(&["run", "-m", &fixture(case), "--tokens", "1,300,301", "-n", "2", "--temp", "0", "-c", &CONTEXT.to_string(), "--gpu-budget", &budget.to_string(), "--json"])
        };
        let j = json_of(&run(minimum));
        let slots = num(&j["experts"]["slots"], "slots");
        let pools = inspect(case, limit)["gpu_budget"]["pools"].as_array().map_or(0, |p| p.len() as u64);
        assert_eq!(slots, n_used * pools, "{case}: at the minimum budget {minimum} each pool should hold {n_used} experts (of {n_expert} per layer)");
        let refused = run(minimum - 1);
        let err = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success() && err.contains(&format!("at least {minimum} bytes")), "{case}: budget {} should be refused naming {minimum}: {err}", minimum - 1);
    }
}

#[test]
fn inspect_text_names_the_minimum_budget_and_the_binding_limit() {
    let j = json_of(&webmoe(&["inspect", &fixture("mixtral-q8_0"), "--json"]));
    assert_eq!(num(&j["gpu_memory"]["binding_limit"], "binding_limit"), 128 << 20, "default binding limit");
    let minimum = num(&j["gpu_budget"]["minimum"], "minimum");
    let out = webmoe(&["inspect", &fixture("mixtral-q8_0")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("minimum GPU budget: {minimum} bytes")), "{text}");
    assert!(text.contains("binding limit 128 MiB"), "{text}");
    let text = String::from_utf8_lossy(&webmoe(&["inspect", &fixture("mixtral-q8_0"), "--binding-limit", "1GiB"]).stdout).to_string();
    assert!(text.contains("binding limit 1024 MiB"), "{text}");
}

#[test]
fn a_dense_model_needs_its_whole_footprint() {
    let j = inspect("dense-llama-q8_0", 1 << 30);
    let b = &j["gpu_budget"];
    assert_eq!(num(&b["all_experts"], "all_experts"), 0, "a dense model has no experts");
    let (minimum, total) = (num(&b["minimum"], "minimum"), num(&j["gpu_memory"]["total"], "total"));
    assert_eq!(minimum, total, "dense minimum {minimum} vs its footprint {total}");
}

#[test]
fn the_budget_follows_the_context_and_kv_type() {
    let at = |ctx: &str, kv: &str| {
        let j = json_of(&webmoe(&["inspect", &fixture("mixtral-q8_0"), "--json", "-c", ctx, "--kv-type", kv]));
        (num(&j["gpu_budget"]["resident"], "resident"), num(&j["gpu_memory"]["kv_cache"], "kv_cache"))
    };
    let (r48, kv48) = at("48", "f16");
    let (r96, kv96) = at("96", "f16");
    let (r48_f32, kv48_f32) = at("48", "f32");
    assert_eq!(kv96, 2 * kv48, "KV cache at 96 vs 48 positions");
    assert_eq!(kv48_f32, 2 * kv48, "f32 vs f16 KV cache");
    assert!(r96 - r48 >= kv96 - kv48, "resident bytes grow at least by the KV cache: {r48} → {r96}");
    assert_eq!(r48_f32 - r48, kv48_f32 - kv48, "resident bytes differ by the KV cache only between f16 and f32");
    let out = webmoe(&["inspect", &fixture("mixtral-q8_0"), "-c", "1000000"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("context"), "a context beyond the model's is refused");
}

/// Without --gpu-budget, a model larger than what the platform says is available gets a budget
/// from that figure (here set with WEBMOE_MEMORY_AVAILABLE, as a smaller machine would report
/// it), says so in one line, streams its experts, and computes the same logits.
#[test]
fn without_a_budget_the_platforms_memory_sets_one() {
    let case = "mixtral-q8_0";
    let j = inspect(case, adapter_binding_limit());
    let b = &j["gpu_budget"];
    let (resident, all, minimum) = (num(&b["resident"], "resident"), num(&b["all_experts"], "all_experts"), num(&b["minimum"], "minimum"));
    // Below 15 GiB the engine leaves 3 GiB of system memory to the rest of the process.
    let usable = (minimum + resident + all) / 2;
    let available = (3u64 << 30) + usable;
    let args = ["logits", "-m", &fixture(case), "--tokens", "1,300,301", "-c", &CONTEXT.to_string(), "--kv-type", "f32", "--json"];
    let small = Command::new(env!("CARGO_BIN_EXE_webmoe"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()))
        .env("WEBMOE_MEMORY_AVAILABLE", available.to_string())
        .output()
        .expect("run webmoe");
    let said = String::from_utf8_lossy(&small.stderr).to_string();
    assert_eq!(said.lines().count(), 1, "one line on stderr: {said}");
    assert!(said.contains("experts stream in") && said.contains("GPU budget"), "{said}");
    let unlimited = json_of(&webmoe(&args));
    assert_eq!(json_of(&small)["logits"], unlimited["logits"], "the same logits with the chosen budget and without one");
    // With more memory than the model needs, nothing is said and nothing streams.
    let roomy = Command::new(env!("CARGO_BIN_EXE_webmoe"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()))
        .env("WEBMOE_MEMORY_AVAILABLE", "64GiB")
        .output()
        .expect("run webmoe");
    assert!(roomy.status.success() && roomy.stderr.is_empty(), "{}", String::from_utf8_lossy(&roomy.stderr));
}

/// Mixtral 8x22B's shape (56 layers, hidden 6144, FFN 16384, 48/8 heads, vocabulary 32768, the
/// Q4_K_M mix; 85.6 GB) as a header with a sparse rest: inspect reads only the header, and the
/// budget figures add up for a model no disk here holds.
#[test]
fn mixtral_8x22b_budget_arithmetic_from_its_header() {
    use webmoe::synthetic::{Generator, Spec};
    let generator = Generator::new(&Spec::mixtral_8x22b());
    let path = std::env::temp_dir().join(format!("webmoe-8x22b-{}.gguf", std::process::id()));
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(generator.header_bytes()).unwrap();
        file.set_len(generator.file_len()).unwrap();
    }
    let out = webmoe(&["inspect", &path.display().to_string(), "--json", "-c", "4096"]);
    let _ = std::fs::remove_file(&path);
    let j = json_of(&out);
    assert_eq!(num(&j["file_bytes"], "file_bytes"), generator.file_len());
    assert!((85_000_000_000..86_000_000_000).contains(&generator.file_len()), "{} bytes", generator.file_len());
    let m = &j["model"];
    assert_eq!((num(&m["n_layer"], "n_layer"), num(&m["n_embd"], "n_embd"), num(&m["n_expert"], "n_expert")), (56, 6144, 8));
    let b = &j["gpu_budget"];
    let (resident, all, minimum) = (num(&b["resident"], "resident"), num(&b["all_experts"], "all_experts"), num(&b["minimum"], "minimum"));
    let pools = b["pools"].as_array().unwrap();
    let layers: u64 = pools.iter().map(|p| p["layers"].as_array().unwrap().len() as u64).sum();
    assert_eq!(layers, 56, "every layer in a pool");
    let pool_slot: u64 = pools.iter().map(|p| num(&p["slot_bytes"], "slot_bytes")).sum();
    assert_eq!(minimum, resident + 2 * pool_slot);
    // Every expert is most of the file; the minimum is a few GiB.
    let expert_tensors: u64 =
        j["tensors"].as_array().unwrap().iter().filter(|t| t["name"].as_str().unwrap().contains("_exps.")).map(|t| num(&t["bytes"], "bytes")).sum();
    assert!(all >= expert_tensors && all - expert_tensors < 56 * 8 * 3 * 4, "all experts {all} vs their tensors {expert_tensors}");
    assert!(minimum < 6 << 30, "minimum {minimum}");
}
