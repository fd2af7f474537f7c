//! The `webmoe` binary end to end: flags, errors, inspection, logits and generation against the
//! reference cases, and the real SmolLM2 model.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(case: &str) -> String {
    repo().join("tests/fixtures/oracle").join(case).join("model.gguf").display().to_string()
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

fn reference(case: &str) -> Value {
    let path = repo().join("tests/fixtures/oracle").join(case).join("reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn ids(v: &Value) -> Vec<u64> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect()
}

fn csv(v: &[u64]) -> String {
    v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",")
}

/// A failure is one line on stderr and a non-zero exit.
fn assert_one_line_error(out: &Output, contains: &str) {
    assert!(!out.status.success(), "expected failure");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one line expected, got: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(contains), "expected {contains:?} in: {err}");
}

#[test]
fn bad_flags_and_missing_files_give_one_clear_line() {
    assert_one_line_error(&webmoe(&["run", "--bogus"]), "--bogus");
    assert_one_line_error(&webmoe(&["run", "-m", "/nonexistent.gguf", "-p", "hi"]), "/nonexistent.gguf");
    assert_one_line_error(&webmoe(&["inspect", "/nonexistent.gguf"]), "cannot open");
    assert_one_line_error(&webmoe(&["run", "-m", &fixture("mixtral-q8_0"), "--tokens", "1,2", "--kv-type", "f8"]), "f8");
    assert_one_line_error(&webmoe(&["run", "-m", &fixture("mixtral-q8_0"), "--tokens", "1,2", "--top-p", "1.5"]), "top_p");
    assert_one_line_error(&webmoe(&["run", "-m", &fixture("mixtral-q8_0"), "--tokens", "1,9999"]), "9999");
    assert_one_line_error(&webmoe(&["run", "-m", &fixture("mixtral-q8_0"), "--tokens", "1", "-c", "100000"]), "context");
}

/// Options no run can honour are refused in one line naming the option and what to give.
#[test]
fn impossible_options_are_refused_by_name() {
    let model = fixture("mixtral-q8_0");
    let run = |extra: &[&str]| webmoe(&[&["run", "-m", model.as_str()][..], extra].concat());
    let long_prompt = vec!["5"; 40].join(",");
    let cases: [(&[&str], &str); 10] = [
        (&["--tokens", "1,2", "--temp", "-1"], "temperature"),
        (&["--tokens", "1,2", "--top-k", "0"], "top_k 0"),
        (&["--tokens", "1,2", "--top-p", "0"], "top_p 0"),
        (&["--tokens", "1,2", "--min-p", "1.5"], "min_p 1.5"),
        (&["--tokens", "1,2", "--repeat-penalty", "-1"], "repeat"),
        (&["--tokens", "1,2", "-n", "0"], "at least 1 token"),
        (&["-p", ""], "the prompt is empty"),
        (&["--tokens", &long_prompt, "-c", "16"], "40 positions, but the context holds 16"),
        (&["--tokens", "1,2", "--gpu-budget", "1KiB"], "needs at least"),
        (&["--tokens", "1,2", "--gpu-budget", "lots"], "not a byte count"),
    ];
    for (extra, needle) in cases {
        assert_one_line_error(&run(extra), needle);
    }
}

/// Per tensor kind, the types llama-quantize chose, as the reference README records them.
#[test]
fn inspect_reports_the_type_mix_of_each_k_quant_file() {
    let cases: &[(&str, &[(&str, &[&str])])] = &[
        (
            "mixtral-q4_k_m",
            &[
                ("token_embd", &["Q4_K"]),
                ("output", &["Q6_K"]),
                ("attn_q", &["Q4_K"]),
                ("attn_k", &["Q8_0"]),
                ("attn_v", &["Q8_0"]),
                ("attn_output", &["Q5_K"]),
                ("ffn_gate_exps", &["Q4_K"]),
                ("ffn_up_exps", &["Q4_K"]),
                ("ffn_down_exps", &["Q4_K", "Q6_K"]),
                ("ffn_gate_inp", &["F32"]),
            ],
        ),
        (
            "mixtral-q2_k",
            &[
                ("token_embd", &["Q2_K"]),
                ("output", &["Q6_K"]),
                ("attn_q", &["Q2_K"]),
                ("attn_k", &["Q8_0"]),
                ("attn_output", &["Q5_K"]),
                ("ffn_gate_exps", &["Q2_K"]),
                ("ffn_down_exps", &["Q3_K"]),
            ],
        ),
        ("mixtral-q3_k_m", &[("token_embd", &["Q3_K"]), ("attn_q", &["Q3_K"]), ("ffn_up_exps", &["Q3_K"]), ("ffn_down_exps", &["Q4_K"])]),
        ("mixtral-q5_k_m", &[("token_embd", &["Q5_K"]), ("ffn_gate_exps", &["Q5_K"]), ("ffn_down_exps", &["Q5_K", "Q6_K"])]),
        ("mixtral-q6_k", &[("token_embd", &["Q6_K"]), ("attn_q", &["Q6_K"]), ("attn_k", &["Q8_0"]), ("ffn_down_exps", &["Q6_K"])]),
        ("gpt-oss-8x-top4-mxfp4", &[("token_embd", &["Q8_0"]), ("attn_q", &["Q8_0"]), ("ffn_gate_exps", &["MXFP4"]), ("ffn_down_exps", &["MXFP4"]), ("attn_sinks", &["F32"])]),
    ];
    for (case, kinds) in cases {
        let j = json_of(&webmoe(&["inspect", &fixture(case), "--json"]));
        for (kind, types) in kinds.iter() {
            let got: Vec<&str> = j["kind_mix"][kind].as_object().unwrap_or_else(|| panic!("{case}: no kind {kind}")).keys().map(|k| k.as_str()).collect();
            assert_eq!(&got, types, "{case}: {kind}");
        }
        assert!(j["gpu_memory"]["total"].as_u64().unwrap() > j["tensor_bytes"].as_u64().unwrap(), "{case}");
        let text = String::from_utf8(webmoe(&["inspect", &fixture(case)]).stdout).unwrap();
        assert!(text.contains("types: ") && text.contains(" tensors"), "{case}: {text}");
    }
}

/// `inspect` names each architecture and the steps of its forward pass that its file selects.
#[test]
fn inspect_names_the_architecture_and_its_features() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("mixtral-q8_0", "llama", &["interleaved RoPE", "router top-k then softmax"]),
        ("llama3-rope-freqs-f32", "llama", &["interleaved RoPE", "RoPE frequency factors"]),
        ("qwen3moe-16x-top4-q8_0", "qwen3moe", &["NEOX RoPE", "per-head q/k RMSNorm", "router softmax then top-k, renormalised"]),
        ("olmoe-64x-top8-q8_0", "olmoe", &["NEOX RoPE", "q/k RMSNorm over the whole projection", "router softmax then top-k, not renormalised"]),
        ("qwen2moe-8x-top4-shexp-q8_0", "qwen2moe", &["NEOX RoPE", "q/k/v biases", "router softmax then top-k, not renormalised", "shared expert with a sigmoid gate"]),
        (
            "granitemoe-32x-top8-q8_0",
            "granitemoe",
            &["interleaved RoPE", "router top-k then softmax", "embedding ×12", "residual branches ×0.22", "attention scale 0.015625", "logits ÷6", "tied output"],
        ),
        (
            "gpt-oss-8x-top4-mxfp4",
            "gpt-oss",
            &[
                "NEOX RoPE",
                "q/k/v biases",
                "router top-k then softmax",
                "router bias",
                "attention output bias",
                "attention sinks",
                "expert biases",
                "clamped SwiGLU (limit 7, alpha 1.702)",
                "YaRN RoPE scaling ×32 of 4096 positions",
                "sliding window of 4 on 1 of every 2 layers",
            ],
        ),
    ];
    for (case, arch, features) in cases {
        let j = json_of(&webmoe(&["inspect", &fixture(case), "--json"]));
        assert_eq!(j["model"]["architecture"], *arch, "{case}");
        let got: Vec<&str> = j["model"]["features"].as_array().unwrap_or_else(|| panic!("{case}: {j}")).iter().filter_map(|f| f.as_str()).collect();
        assert_eq!(&got, features, "{case}");
        let text = String::from_utf8(webmoe(&["inspect", &fixture(case)]).stdout).unwrap();
        assert!(text.contains(&format!("{arch} architecture")) && text.contains(&format!("features: {}", features.join(", "))), "{case}: {text}");
    }
}

#[test]
fn logits_and_greedy_ids_match_the_reference() {
    let case = "mixtral-q4_k_m";
    let r = reference(case);
    let tokens = csv(&ids(&r["tokens"]));
    let tol = r["tolerance"]["max_abs"].as_f64().unwrap();
    let j = json_of(&webmoe(&["logits", "-m", &fixture(case), "--tokens", &tokens, "--kv-type", "f32", "--json"]));
    let (got, want) = (j["logits"].as_array().unwrap(), r["logits"].as_array().unwrap());
    assert_eq!(got.len(), want.len());
    for (p, (g, w)) in got.iter().zip(want).enumerate() {
        for (i, (a, b)) in g.as_array().unwrap().iter().zip(w.as_array().unwrap()).enumerate() {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!((a - b).abs() <= tol, "position {p} logit {i}: {a} vs {b}");
        }
    }
    let j = json_of(&webmoe(&["run", "-m", &fixture(case), "--tokens", &tokens, "-n", "16", "--temp", "0", "--kv-type", "f32", "--ignore-eos", "--json"]));
    assert_eq!(ids(&j["tokens"]), ids(&r["greedy"]));
    assert_eq!(ids(&j["prompt_tokens"]), ids(&r["tokens"]));
}

#[test]
fn a_seed_reproduces_a_sampled_generation() {
    let args = ["run", "-m", &fixture("moe-4x-top2-q8_0"), "--tokens", "1,300,301", "-n", "12", "--temp", "1.0", "--seed", "42", "--ignore-eos", "--json"];
    let a = json_of(&webmoe(&args));
    let b = json_of(&webmoe(&args));
    assert_eq!(a["tokens"], b["tokens"]);
    let mut other = args.to_vec();
    other[10] = "43";
    let c = json_of(&webmoe(&other));
    assert_ne!(a["tokens"], c["tokens"], "a different seed should give a different sample");
}

fn smollm2() -> Option<String> {
    let path = repo().join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if path.is_file() {
        return Some(path.display().to_string());
    }
    assert!(std::env::var("WEBMOE_REQUIRE_MODELS").as_deref() != Ok("1"), "models/SmolLM2-135M-Instruct.Q4_1.gguf is missing: run scripts/fetch-smollm2");
    eprintln!("skipped: models/SmolLM2-135M-Instruct.Q4_1.gguf is absent (scripts/fetch-smollm2 fetches it)");
    None
}

#[test]
fn smollm2_knows_the_capital_of_france() {
    let Some(model) = smollm2() else { return };
    let out = webmoe(&["run", "-m", &model, "-p", "The capital of France is", "-n", "12", "--temp", "0"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with(" Paris."), "{text:?}");
}

/// Every reference prompt: the same prompt ids as llama.cpp, and the float64 reference's greedy
/// ids up to its first near-tie (margin below 2 · 2e-3 · max(1, std of the logits)).
#[test]
fn smollm2_matches_the_reference_greedy_runs() {
    let Some(model) = smollm2() else { return };
    let r = reference("smollm2");
    for run in r["runs"].as_array().unwrap() {
        let prompt = run["prompt"].as_str().unwrap();
        let np = &run["numpy"];
        let want = ids(&np["greedy"]);
        let margins: Vec<f64> = np["greedy_margins"].as_array().unwrap().iter().map(|m| m.as_f64().unwrap()).collect();
        let threshold = 2.0 * 2e-3 * np["logits_std_first_step"].as_f64().unwrap().max(1.0);
        let judged = margins.iter().position(|&m| m < threshold).unwrap_or(want.len());
        let n = judged.to_string();
        let j = json_of(&webmoe(&["run", "-m", &model, "-p", prompt, "-n", &n, "--temp", "0", "--kv-type", "f32", "--ignore-eos", "--json"]));
        assert_eq!(ids(&j["prompt_tokens"]), ids(&run["prompt_ids"]), "prompt ids of {prompt:?}");
        assert_eq!(ids(&j["tokens"]), want[..judged], "greedy ids of {prompt:?} (judged: first {judged})");
    }
}

/// `webmoe chat ARGS` with `input` on stdin; fails unless it succeeds.
fn chat(args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_webmoe"))
        .arg("chat")
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run webmoe");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// A chat's second turn reuses the KV cache of the first: its prompt (the whole conversation)
/// is mostly found in the cache, and only the new part is run.
#[test]
fn a_second_chat_turn_reuses_the_first() {
    let Some(model) = smollm2() else { return };
    let out = chat(&["-m", &model, "-n", "8", "--temp", "0"], "What is the capital of France?\nAnd of Italy?\n");
    let err = String::from_utf8_lossy(&out.stderr);
    let turns: Vec<(u64, u64)> = err
        .lines()
        .filter_map(|l| l.strip_prefix('[').and_then(|l| l.split_once(" prompt tokens, ")))
        .map(|(total, rest)| (total.parse().unwrap(), rest.split(' ').next().unwrap().parse().unwrap()))
        .collect();
    assert_eq!(turns.len(), 2, "{err}");
    assert_eq!(turns[0].1, 0, "the first turn starts from an empty cache: {err}");
    let (total, reused) = turns[1];
    assert!(reused > turns[0].0 / 2 && reused < total, "the second turn reuses the first's tokens: {err}");
}

/// A file in the temporary directory holding `text`, named for this test process.
fn temp_file(name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!("webmoe-cli-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A schema that cannot be read or compiled is refused in one line naming it, before anything
/// is generated.
#[test]
fn a_schema_that_cannot_be_used_is_refused_in_one_line() {
    let model = fixture("mixtral-q8_0");
    let run = |schema: &str| webmoe(&["run", "-m", &model, "--tokens", "1,2", "--json-schema", schema]);
    assert_one_line_error(&run(&temp_file("unknown-type.json", r#"{"type": "nope"}"#)), "invalid json_schema {\"type\":\"nope\"}: the schema cannot be used: Invalid type: nope");
    assert_one_line_error(&run(&temp_file("not-json.json", "{\"type\":\n")), "the schema is not JSON");
    assert_one_line_error(&run("/nonexistent-schema.json"), "cannot read the JSON schema /nonexistent-schema.json");
    let both = webmoe(&["run", "-m", &model, "--tokens", "1,2", "--json-object", "--json-schema", "x.json"]);
    assert_one_line_error(&both, "--json-object");
}

/// `--json-schema` and `--json-object` with the real model: the text parses, follows the
/// schema, and the reply stops at the end of the value.
#[test]
fn smollm2_follows_a_json_schema() {
    let Some(model) = smollm2() else { return };
    let schema = temp_file(
        "person.json",
        r#"{"type": "object", "properties": {"name": {"type": "string", "maxLength": 20},
            "age": {"type": "integer", "minimum": 0, "maximum": 150}, "role": {"enum": ["admin", "editor", "viewer"]}},
            "required": ["name", "age", "role"], "additionalProperties": false}"#,
    );
    let prompt = "<|im_start|>user\nDescribe a fictional engineer as JSON.<|im_end|>\n<|im_start|>assistant\n";
    for sampling in [&["--temp", "0"][..], &["--seed", "4"][..]] {
        let args = [&["run", "-m", &model, "-p", prompt, "-n", "100", "--json", "--json-schema", &schema][..], sampling].concat();
        let j = json_of(&webmoe(&args));
        assert_eq!(j["finish_reason"], "stop", "{sampling:?}: {j}");
        let text = j["text"].as_str().unwrap();
        let reply: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{sampling:?}: {e}: {text}"));
        let keys: Vec<&String> = reply.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["name", "age", "role"], "{sampling:?}: {text}");
        assert!(reply["name"].as_str().is_some_and(|n| n.chars().count() <= 20), "{text}");
        assert!(reply["age"].as_u64().is_some_and(|a| a <= 150), "{text}");
        assert!(["admin", "editor", "viewer"].iter().any(|r| reply["role"] == *r), "{text}");
    }
    let j = json_of(&webmoe(&["run", "-m", &model, "-p", prompt, "-n", "100", "--json", "--json-object", "--seed", "2"]));
    let text = j["text"].as_str().unwrap();
    assert!(serde_json::from_str::<Value>(text).is_ok_and(|v| v.is_object()), "{j}");
}

/// `chat --json-schema`: every reply of the conversation is JSON that follows the schema.
#[test]
fn smollm2_chat_replies_follow_a_json_schema() {
    let Some(model) = smollm2() else { return };
    let schema = temp_file(
        "city.json",
        r#"{"type": "object", "properties": {"city": {"type": "string", "maxLength": 24}, "population": {"type": "integer", "minimum": 0}},
            "required": ["city", "population"], "additionalProperties": false}"#,
    );
    let out = chat(&["-m", &model, "-n", "60", "--seed", "3", "--json-schema", &schema], "Name a large city as JSON.\nAnother one, please.\n");
    let text = String::from_utf8(out.stdout).unwrap();
    let replies: Vec<&str> = text.split("> ").map(str::trim).filter(|r| !r.is_empty()).collect();
    assert_eq!(replies.len(), 2, "{text}");
    for reply in replies {
        let v: Value = serde_json::from_str(reply).unwrap_or_else(|e| panic!("{e}: {reply}"));
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["city", "population"], "{reply}");
        assert!(v["city"].as_str().is_some_and(|c| c.chars().count() <= 24) && v["population"].as_u64().is_some(), "{reply}");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_webmoe")).args(["chat", "-m", &model, "--json-schema", "/nonexistent-schema.json"]).output().unwrap();
    assert_one_line_error(&bad, "cannot read the JSON schema /nonexistent-schema.json");
}

#[test]
fn ctrl_c_stops_a_generation_within_a_token() {
    use std::time::{Duration, Instant};
    let child = Command::new(env!("CARGO_BIN_EXE_webmoe"))
        .args(["run", "-m", &fixture("mixtral-q8_0"), "--tokens", "1,300", "-n", "3000", "--temp", "0", "--ignore-eos", "--json"])
        .env("XDG_RUNTIME_DIR", std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run webmoe");
    // Let it load and generate a while, then interrupt it as a terminal would.
    std::thread::sleep(Duration::from_secs(4));
    let sent = Instant::now();
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    assert!(sent.elapsed() < Duration::from_secs(10), "stopping took {:?}", sent.elapsed());
    let j = json_of(&out);
    assert_eq!(j["finish_reason"], "interrupted");
    let n = j["tokens"].as_array().unwrap().len();
    assert!(n > 0 && n < 3000, "{n} tokens");
}

/// `bench --depth D` decodes after D tokens of context; a depth the context cannot hold is
/// refused, naming -c.
#[test]
fn bench_runs_at_a_depth_of_context() {
    let model = fixture("mixtral-q8_0");
    let j = json_of(&webmoe(&["bench", "-m", &model, "-p", "2", "-n", "3", "-r", "1", "-d", "20", "-c", "32", "--json"]));
    assert_eq!(j["depth"], 20);
    assert!(j["decode_tok_s"].as_f64().unwrap() > 0.0, "{j}");
    let out = webmoe(&["bench", "-m", &model, "-p", "2", "-n", "3", "-r", "1", "-d", "30", "-c", "32"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("-c sets it"), "{err}");
}

/// `bench --profile` times a prompt submit and a decode step by kernel: every layer's
/// projections by tensor and type, the attention, the router and the sampler.
#[test]
fn bench_profiles_by_kernel() {
    let model = fixture("mixtral-q4_k_m");
    let j = json_of(&webmoe(&["bench", "-m", &model, "-p", "3", "-n", "2", "-r", "1", "--profile", "--json"]));
    let p = &j["profile"];
    assert_eq!(p["prompt_tokens"], 3, "{j}");
    let kernels = |part: &str| -> Vec<String> { p[part].as_array().unwrap().iter().map(|k| k["kernel"].as_str().unwrap().to_string()).collect() };
    let decode = kernels("decode");
    for want in ["attention", "router", "sample"] {
        assert!(decode.iter().any(|k| k == want), "{want} in {decode:?}");
    }
    assert!(decode.iter().any(|k| k.starts_with("matvec routed ffn_down_exps Q")), "{decode:?}");
    assert!(kernels("prompt").iter().any(|k| k.contains(" ffn_down_exps Q")), "{p}");
    let text = String::from_utf8_lossy(&webmoe(&["bench", "-m", &model, "-p", "3", "-n", "2", "-r", "1", "--profile"]).stdout).to_string();
    assert!(text.contains("decode step, each dispatch submitted alone") && text.contains("share"), "{text}");
}
