use super::*;
use crate::gguf::{GgmlType, Gguf, GgufWriter, Value};
use crate::model::{Architecture, Features, QkNorm, RopeMode, Routing};

fn model_bytes_of(case: &str) -> Vec<u8> {
    let path = format!("{}/../../tests/fixtures/oracle/{case}/model.gguf", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn load(case: &str) -> Model {
    Model::from_gguf(&Gguf::parse(&model_bytes_of(case)).unwrap()).unwrap_or_else(|e| panic!("{case}: {e}"))
}

#[test]
fn mixtral_fixture_config_and_layout() {
    let m = load("mixtral-q8_0");
    let c = &m.config;
    assert_eq!((c.n_embd, c.n_layer, c.n_head, c.n_head_kv, c.head_dim, c.n_ff), (256, 2, 4, 2, 64, 128));
    assert_eq!((c.n_expert, c.n_expert_used, c.vocab_size), (8, 2, 512));
    assert_eq!(c.rope_theta, 1e6);
    let l = &m.layout.layers[1];
    assert_eq!((l.ffn.gate.cols, l.ffn.gate.rows, l.ffn.gate.n_experts()), (256, 128, 8));
    assert_eq!((l.ffn.down.cols, l.ffn.down.rows), (128, 256));
    assert_eq!(l.ffn.router.as_ref().map(|r| (r.rows, r.ty)), Some((8, GgmlType::F32)));
    assert!(!m.layout.tied_output);
}

#[test]
fn split_and_merged_experts_describe_the_same_slabs() {
    let merged = load("mixtral-q8_0");
    let split = load("mixtral-split-experts-q8_0");
    for (a, b) in merged.layout.layers.iter().zip(&split.layout.layers) {
        for (x, y) in [(&a.ffn.gate, &b.ffn.gate), (&a.ffn.up, &b.ffn.up), (&a.ffn.down, &b.ffn.down)] {
            assert_eq!((x.ty, x.cols, x.rows, x.n_experts()), (y.ty, y.cols, y.rows, y.n_experts()));
            assert_eq!(x.expert_bytes(), y.expert_bytes());
        }
    }
}

#[test]
fn every_oracle_model_loads() {
    for case in [
        "mixtral-f16",
        "mixtral-q4_0",
        "mixtral-q4_1",
        "moe-4x-top2-q8_0",
        "moe-8x-top1-q8_0",
        "dense-llama-q8_0",
        "mixtral-realvocab-q8_0",
    ] {
        let m = load(case);
        assert_eq!(m.layout.layers.len(), m.config.n_layer, "{case}");
    }
    let dense = load("dense-llama-q8_0");
    assert_eq!((dense.config.n_expert, dense.config.n_expert_used), (1, 1));
    assert!(dense.layout.layers[0].ffn.router.is_none());
    assert_eq!(load("moe-8x-top1-q8_0").config.n_expert_used, 1);
    assert_eq!(load("moe-4x-top2-q8_0").config.n_expert, 4);
}

/// A minimal valid dense model, to be broken one key or tensor at a time.
fn tiny(edit: impl Fn(&mut Vec<(String, Value)>, &mut Vec<(String, Vec<u64>, GgmlType)>)) -> Result<Model, ModelError> {
    tiny_arch("llama", edit)
}

/// [`tiny`] of architecture `arch`: its keys under that prefix, with the tensors and keys its
/// features need (qwen2: q/k/v biases; qwen3: q/k norms; both: the RMS epsilon).
fn tiny_arch(arch: &str, edit: impl Fn(&mut Vec<(String, Value)>, &mut Vec<(String, Vec<u64>, GgmlType)>)) -> Result<Model, ModelError> {
    let mut meta: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(arch.into())),
        (format!("{arch}.embedding_length"), Value::U32(8)),
        (format!("{arch}.block_count"), Value::U32(1)),
        (format!("{arch}.feed_forward_length"), Value::U32(16)),
        (format!("{arch}.attention.head_count"), Value::U32(2)),
        (format!("{arch}.attention.head_count_kv"), Value::U32(1)),
        (format!("{arch}.context_length"), Value::U32(64)),
        (format!("{arch}.vocab_size"), Value::U32(10)),
    ];
    if arch != "llama" {
        meta.push((format!("{arch}.attention.layer_norm_rms_epsilon"), Value::F32(1e-6)));
    }
    let mut tensors: Vec<(String, Vec<u64>, GgmlType)> = vec![
        ("token_embd.weight".into(), vec![8, 10], GgmlType::F32),
        ("output_norm.weight".into(), vec![8], GgmlType::F32),
        ("blk.0.attn_norm.weight".into(), vec![8], GgmlType::F32),
        ("blk.0.attn_q.weight".into(), vec![8, 8], GgmlType::F32),
        ("blk.0.attn_k.weight".into(), vec![8, 4], GgmlType::F32),
        ("blk.0.attn_v.weight".into(), vec![8, 4], GgmlType::F32),
        ("blk.0.attn_output.weight".into(), vec![8, 8], GgmlType::F32),
        ("blk.0.ffn_norm.weight".into(), vec![8], GgmlType::F32),
        ("blk.0.ffn_gate.weight".into(), vec![8, 16], GgmlType::F32),
        ("blk.0.ffn_up.weight".into(), vec![8, 16], GgmlType::F32),
        ("blk.0.ffn_down.weight".into(), vec![16, 8], GgmlType::F32),
    ];
    if arch == "qwen2" {
        for (p, n) in [("q", 8), ("k", 4), ("v", 4)] {
            tensors.push((format!("blk.0.attn_{p}.bias"), vec![n], GgmlType::F32));
        }
    }
    if arch == "qwen3" {
        for p in ["q", "k"] {
            tensors.push((format!("blk.0.attn_{p}_norm.weight"), vec![4], GgmlType::F32));
        }
    }
    edit(&mut meta, &mut tensors);
    let mut w = GgufWriter::new();
    for (k, v) in meta {
        w.meta(&k, v);
    }
    for (name, dims, ty) in tensors {
        let n: u64 = dims.iter().product();
        let bytes = ty.row_bytes(dims[0]).unwrap() * (n / dims[0]);
        w.tensor(&name, &dims, ty, vec![0; bytes as usize]);
    }
    Model::from_gguf(&Gguf::parse(&w.to_bytes()).unwrap())
}

fn set(meta: &mut [(String, Value)], key: &str, v: Value) {
    meta.iter_mut().find(|(k, _)| k == key).unwrap().1 = v;
}

#[test]
fn a_minimal_dense_model_ties_its_output() {
    let m = tiny(|_, _| {}).unwrap();
    assert!(m.layout.tied_output);
    assert_eq!(m.layout.output, m.layout.token_embd);
}

#[test]
fn inconsistent_metadata_is_refused_by_name() {
    let err = |f: &dyn Fn(&mut Vec<(String, Value)>, &mut Vec<(String, Vec<u64>, GgmlType)>)| tiny(f).unwrap_err().to_string();
    let e = err(&|m, _| set(m, "general.architecture", Value::String("gptx".into())));
    assert!(e.contains("\"gptx\""), "{e}");
    let e = err(&|m, _| set(m, "llama.attention.head_count", Value::U32(0)));
    assert!(e.contains("llama.attention.head_count"), "{e}");
    let e = err(&|m, _| set(m, "llama.attention.head_count", Value::U32(3)));
    assert!(e.contains("must divide"), "{e}");
    let e = err(&|m, _| set(m, "llama.attention.head_count_kv", Value::U32(3)));
    assert!(e.contains("head_count_kv"), "{e}");
    let e = err(&|m, _| set(m, "llama.vocab_size", Value::U32(11)));
    assert!(e.contains("11 tokens") && e.contains("10 rows"), "{e}");
    let e = err(&|m, _| m.push(("llama.expert_count".into(), Value::U32(4))));
    assert!(e.contains("expert_used_count"), "{e}");
    let e = err(&|m, _| {
        m.push(("llama.expert_count".into(), Value::U32(4)));
        m.push(("llama.expert_used_count".into(), Value::U32(5)));
    });
    assert!(e.contains("between 1 and the expert count 4"), "{e}");
    let e = err(&|m, _| {
        m.push(("llama.expert_count".into(), Value::U32(4)));
        m.push(("llama.expert_used_count".into(), Value::U32(2)));
    });
    assert!(e.contains("ffn_gate_inp"), "{e}");
    let e = err(&|_, t| t.push(("blk.0.ffn_gate_exps.weight".into(), vec![8, 16, 4], GgmlType::F32)));
    assert!(e.contains("no llama.expert_count"), "{e}");
}

#[test]
fn a_query_width_past_32_bits_is_refused() {
    // 4096 heads of 2^20: 2^32 values per query, which wraps a 32-bit usize.
    let e = tiny(|m, _| {
        set(m, "llama.attention.head_count", Value::U32(4096));
        set(m, "llama.attention.head_count_kv", Value::U32(4096));
        m.push(("llama.attention.key_length".into(), Value::U32(1 << 20)));
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("llama.attention.head_count is 4096") && e.contains("implausibly wide"), "{e}");
}

#[test]
fn wrong_shapes_and_types_name_the_tensor() {
    let e = tiny(|_, t| t[3].1 = vec![8, 6]).unwrap_err().to_string();
    assert!(e.contains("blk.0.attn_q.weight") && e.contains("[8, 6]"), "{e}");
    let e = tiny(|_, t| t.retain(|x| x.0 != "blk.0.ffn_up.weight")).unwrap_err().to_string();
    assert!(e.contains("blk.0.ffn_up.weight") && e.contains("missing"), "{e}");
    let e = tiny(|m, t| {
        set(m, "llama.embedding_length", Value::U32(256));
        set(m, "llama.feed_forward_length", Value::U32(256));
        for x in t.iter_mut() {
            for d in x.1.iter_mut() {
                *d = match *d {
                    8 | 16 => 256,
                    4 => 128,
                    other => other,
                };
            }
        }
        t[3].2 = GgmlType::IQ2_XS;
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("blk.0.attn_q.weight") && e.contains("IQ2_XS"), "{e}");
}

#[test]
fn qwen2_fixture_has_biases_neox_rope_and_a_tied_output() {
    let m = load("qwen2-q8_0");
    let c = &m.config;
    assert_eq!(c.arch, Architecture::Qwen2);
    assert_eq!(c.features, Features { rope: RopeMode::Neox, qkv_bias: true, qk_norm: QkNorm::None, routing: Routing::TopKThenSoftmax, shared_expert: false, router_bias: false, ..Features::BASE });
    assert_eq!((c.n_embd, c.n_head, c.n_head_kv, c.head_dim, c.n_ff, c.n_expert), (256, 4, 2, 64, 512, 1));
    assert_eq!(c.rms_eps, 1e-6);
    assert!(m.layout.tied_output);
    let b = m.layout.layers[1].qkv_bias.as_ref().unwrap();
    assert_eq!((b.q.len, b.k.len, b.v.len), (256, 128, 128));
    assert!(m.layout.layers[0].qk_norm.is_none());
    assert_eq!(m.features(), ["NEOX RoPE", "q/k/v biases", "tied output"]);
}

#[test]
fn each_architecture_checks_its_own_keys_and_tensors() {
    assert!(tiny_arch("qwen2", |_, _| {}).is_ok());
    let err = |arch: &str, f: &dyn Fn(&mut Vec<(String, Value)>, &mut Vec<(String, Vec<u64>, GgmlType)>)| tiny_arch(arch, f).unwrap_err().to_string();
    let e = err("qwen2", &|_, t| t.retain(|x| x.0 != "blk.0.attn_k.bias"));
    assert!(e.contains("blk.0.attn_k.bias") && e.contains("missing"), "{e}");
    let e = err("qwen2", &|_, t| t.iter_mut().for_each(|x| if x.0 == "blk.0.attn_v.bias" { x.1 = vec![8] }));
    assert!(e.contains("blk.0.attn_v.bias") && e.contains("[8]"), "{e}");
    let e = err("qwen2", &|m, _| m.retain(|x| !x.0.ends_with("layer_norm_rms_epsilon")));
    assert!(e.contains("qwen2.attention.layer_norm_rms_epsilon is missing"), "{e}");
    let e = err("qwen2", &|m, _| m.push(("qwen2.expert_count".into(), Value::U32(4))));
    assert!(e.contains("qwen2.expert_count is 4") && e.contains("no experts"), "{e}");
    let e = err("qwen2", &|m, _| m.push(("qwen2.rope.dimension_count".into(), Value::U32(2))));
    assert!(e.contains("qwen2.rope.dimension_count is 2") && e.contains("whole heads of 4"), "{e}");
    let e = err("qwen2", &|m, _| {
        m.push(("qwen2.rope.scaling.type".into(), Value::String("longrope".into())));
        m.push(("qwen2.rope.scaling.factor".into(), Value::F32(4.0)));
    });
    assert!(e.contains("qwen2.rope.scaling.type is longrope") && e.contains("RoPE scaling"), "{e}");
    // Keys under another architecture's prefix are not this one's.
    let e = err("qwen2", &|m, _| m.iter_mut().for_each(|x| x.0 = x.0.replace("qwen2.block_count", "llama.block_count")));
    assert!(e.contains("qwen2.block_count"), "{e}");
    let e = err("mistral9", &|_, _| {});
    assert!(e.contains("\"mistral9\"") && e.contains("qwen3moe"), "{e}");
}

#[test]
fn a_tensor_the_architecture_does_not_read_is_refused() {
    let err = |arch: &str, f: &dyn Fn(&mut Vec<(String, Value)>, &mut Vec<(String, Vec<u64>, GgmlType)>)| tiny_arch(arch, f).unwrap_err().to_string();
    let e = err("llama", &|_, t| t.push(("blk.0.attn_output.bias".into(), vec![8], GgmlType::F32)));
    assert!(e.contains("blk.0.attn_output.bias") && e.contains("output biases"), "{e}");
    let e = err("qwen2", &|_, t| t.push(("rope_freqs.weight".into(), vec![2], GgmlType::F32)));
    assert!(e.contains("rope_freqs.weight") && e.contains("qwen2") && e.contains("RoPE frequency factors"), "{e}");
    let e = err("qwen2", &|_, t| t.push(("blk.0.attn_q_norm.weight".into(), vec![4], GgmlType::F32)));
    assert!(e.contains("blk.0.attn_q_norm.weight") && e.contains("qwen2"), "{e}");
    // llama reads q/k/v biases when a file has them, in every layer.
    let m = tiny(|_, t| {
        for (p, n) in [("q", 8), ("k", 4), ("v", 4)] {
            t.push((format!("blk.0.attn_{p}.bias"), vec![n], GgmlType::F32));
        }
    })
    .unwrap();
    assert!(m.config.features.qkv_bias && m.layout.layers[0].qkv_bias.is_some());
    let e = err("llama", &|_, t| t.push(("blk.0.attn_q.bias".into(), vec![8], GgmlType::F32)));
    assert!(e.contains("blk.0.attn_k.bias") && e.contains("missing"), "{e}");
}

#[test]
fn llama_reads_rope_frequency_factors_of_one_per_rotated_pair() {
    let freqs = |len: u64, ty: GgmlType| move |_: &mut Vec<(String, Value)>, t: &mut Vec<(String, Vec<u64>, GgmlType)>| t.push(("rope_freqs.weight".into(), vec![len], ty));
    // Heads of 4: 2 pairs.
    let m = tiny(freqs(2, GgmlType::F32)).unwrap();
    let v = m.layout.rope_freqs.as_ref().unwrap();
    assert_eq!((v.name.as_str(), v.len, v.ty), ("rope_freqs.weight", 2, GgmlType::F32));
    assert_eq!(m.features(), ["interleaved RoPE", "RoPE frequency factors", "tied output"]);
    assert!(tiny(|_, _| {}).unwrap().layout.rope_freqs.is_none());
    // One factor per rotated pair, not per pair of the head.
    let m = tiny(|m, t| {
        m.push(("llama.rope.dimension_count".into(), Value::U32(2)));
        t.push(("rope_freqs.weight".into(), vec![1], GgmlType::F32));
    })
    .unwrap();
    assert_eq!(m.layout.rope_freqs.map(|v| v.len), Some(1));
    let e = tiny(freqs(4, GgmlType::F32)).unwrap_err().to_string();
    assert!(e.contains("\"rope_freqs.weight\"") && e.contains("[4]") && e.contains("[2]"), "{e}");
    let e = tiny(freqs(2, GgmlType::F16)).unwrap_err().to_string();
    assert!(e.contains("\"rope_freqs.weight\"") && e.contains("F16") && e.contains("F32"), "{e}");
}

/// The fixture's model with one more tensor of `data`.
fn with_tensor(case: &str, name: &str, dims: &[u64], data: Vec<u8>) -> Result<Model, ModelError> {
    let base = model_bytes_of(case);
    let g = Gguf::parse(&base).unwrap();
    let mut w = GgufWriter::new();
    for (k, v) in &g.metadata {
        w.meta(k, v.clone());
    }
    for t in &g.tensors {
        let r = g.tensor_range(t);
        w.tensor(&t.name, &t.dims, t.ty, base[r.start as usize..r.end as usize].to_vec());
    }
    w.tensor(name, dims, GgmlType::F32, data);
    Model::from_gguf(&Gguf::parse(&w.to_bytes()).unwrap())
}

#[test]
fn granite_reads_rope_frequency_factors_and_the_newer_architectures_refuse_them() {
    // llama.cpp's granite loader creates rope_freqs as llama's does; the qwen, olmoe and gpt-oss
    // graphs pass no factors to ggml_rope_ext.
    for (case, reads) in [("granitemoe-32x-top8-q8_0", true), ("qwen3moe-16x-top4-q8_0", false), ("olmoe-64x-top8-q8_0", false), ("gpt-oss-8x-top4-mxfp4", false)] {
        let pairs = load(case).config.rope_dim as u64 / 2;
        let m = with_tensor(case, "rope_freqs.weight", &[pairs], 1f32.to_le_bytes().repeat(pairs as usize));
        match reads {
            true => assert_eq!(m.unwrap().layout.rope_freqs.map(|v| v.len as u64), Some(pairs), "{case}"),
            false => {
                let e = m.unwrap_err().to_string();
                assert!(e.contains("rope_freqs.weight") && e.contains("RoPE frequency factors"), "{case}: {e}");
            }
        }
    }
}

#[test]
fn llama3_rope_freqs_fixture_has_64_factors_for_its_heads_of_128() {
    let m = load("llama3-rope-freqs-f32");
    let c = &m.config;
    assert_eq!((c.arch, c.n_embd, c.n_head, c.n_head_kv, c.head_dim, c.rope_dim), (Architecture::Llama, 128, 2, 1, 128, 128));
    assert_eq!(c.rope_theta, 500_000.0);
    let v = m.layout.rope_freqs.as_ref().unwrap();
    assert_eq!((v.len, v.ty), (64, GgmlType::F32));
    assert_eq!(m.features(), ["interleaved RoPE", "RoPE frequency factors"]);
}

#[test]
fn a_vocabulary_unlike_the_embedding_is_refused() {
    let tokens = |n: usize| Value::Array(crate::gguf::Array::String((0..n).map(|i| format!("t{i}")).collect()));
    let e = tiny(|m, _| {
        m.retain(|x| x.0 != "llama.vocab_size");
        m.push(("tokenizer.ggml.tokens".into(), tokens(12)));
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("tokenizer.ggml.tokens gives a vocabulary of 12 tokens") && e.contains("10 rows"), "{e}");
    let e = tiny(|m, _| m.push(("tokenizer.ggml.tokens".into(), tokens(9)))).unwrap_err().to_string();
    assert!(e.contains("tokenizer.ggml.tokens gives a vocabulary of 9 tokens") && e.contains("10 rows"), "{e}");
    assert_eq!(tiny(|m, _| m.push(("tokenizer.ggml.tokens".into(), tokens(10)))).unwrap().config.vocab_size, 10);
}

#[test]
fn qwen3_fixture_has_per_head_qk_norms_and_its_own_head_size() {
    let m = load("qwen3-q8_0");
    let c = &m.config;
    assert_eq!(c.arch, Architecture::Qwen3);
    assert_eq!(c.features, Features { rope: RopeMode::Neox, qkv_bias: false, qk_norm: QkNorm::PerHead, routing: Routing::TopKThenSoftmax, shared_expert: false, router_bias: false, ..Features::BASE });
    // key_length 64 with 8 heads: queries are 512 wide in a 256-wide model.
    assert_eq!((c.n_embd, c.n_head, c.n_head_kv, c.head_dim, c.q_dim(), c.rope_dim), (256, 8, 4, 64, 512, 64));
    let l = &m.layout.layers[0];
    assert_eq!((l.wq.rows, l.wo.cols), (512, 512));
    let n = l.qk_norm.as_ref().unwrap();
    assert_eq!((n.q.len, n.k.len), (64, 64));
    assert!(m.layout.tied_output);
    assert_eq!(m.features(), ["NEOX RoPE", "per-head q/k RMSNorm", "tied output"]);
}

#[test]
fn qwen3_needs_its_qk_norms_of_one_head() {
    assert!(tiny_arch("qwen3", |_, _| {}).is_ok());
    let e = tiny_arch("qwen3", |_, t| t.retain(|x| x.0 != "blk.0.attn_k_norm.weight")).unwrap_err().to_string();
    assert!(e.contains("blk.0.attn_k_norm.weight") && e.contains("missing"), "{e}");
    // A norm over the whole projection (olmoe's) is not qwen3's.
    let e = tiny_arch("qwen3", |_, t| t.iter_mut().for_each(|x| if x.0 == "blk.0.attn_q_norm.weight" { x.1 = vec![8] })).unwrap_err().to_string();
    assert!(e.contains("blk.0.attn_q_norm.weight") && e.contains("[8]") && e.contains("[4]"), "{e}");
    let e = tiny_arch("qwen3", |_, t| t.push(("blk.0.attn_q.bias".into(), vec![8], GgmlType::F32))).unwrap_err().to_string();
    assert!(e.contains("blk.0.attn_q.bias") && e.contains("not part of a qwen3 model"), "{e}");
    let e = tiny_arch("qwen3", |m, _| m.push(("qwen3.attention.value_length".into(), Value::U32(6)))).unwrap_err().to_string();
    assert!(e.contains("qwen3.attention.value_length is 6"), "{e}");
}

#[test]
fn qwen3moe_fixture_routes_by_softmax_then_renormalised_top_k() {
    let m = load("qwen3moe-16x-top4-q8_0");
    let c = &m.config;
    assert_eq!(c.arch, Architecture::Qwen3Moe);
    assert_eq!(c.features.routing, Routing::SoftmaxThenTopK { renormalise: true });
    assert_eq!(c.features.qk_norm, QkNorm::PerHead);
    // The expert width is expert_feed_forward_length (96), not feed_forward_length (768).
    assert_eq!((c.n_expert, c.n_expert_used, c.n_ff, c.head_dim, c.q_dim()), (16, 4, 96, 64, 512));
    let l = &m.layout.layers[0];
    assert_eq!((l.ffn.gate.rows, l.ffn.down.cols, l.ffn.gate.n_experts()), (96, 96, 16));
    assert!(!m.layout.tied_output);
    assert_eq!(m.features(), ["NEOX RoPE", "per-head q/k RMSNorm", "router softmax then top-k, renormalised"]);
}

#[test]
fn qwen3moe_keys_are_checked_against_its_routing() {
    let base = model_bytes_of("qwen3moe-16x-top4-q8_0");
    let edited = |f: &dyn Fn(&mut Vec<(String, Value)>)| {
        let g = Gguf::parse(&base).unwrap();
        let mut meta = g.metadata.clone();
        f(&mut meta);
        let mut w = GgufWriter::new();
        for (k, v) in meta {
            w.meta(&k, v);
        }
        for t in &g.tensors {
            let r = g.tensor_range(t);
            w.tensor(&t.name, &t.dims, t.ty, base[r.start as usize..r.end as usize].to_vec());
        }
        Model::from_gguf(&Gguf::parse(&w.to_bytes()).unwrap())
    };
    assert!(edited(&|_| {}).is_ok());
    assert!(edited(&|m| m.push(("qwen3moe.expert_weights_norm".into(), Value::Bool(true)))).is_ok());
    let e = edited(&|m| m.push(("qwen3moe.expert_weights_norm".into(), Value::Bool(false)))).unwrap_err().to_string();
    assert!(e.contains("qwen3moe.expert_weights_norm is false") && e.contains("renormalises"), "{e}");
    let e = edited(&|m| m.push(("qwen3moe.expert_gating_func".into(), Value::U32(2)))).unwrap_err().to_string();
    assert!(e.contains("qwen3moe.expert_gating_func is 2") && e.contains("softmax"), "{e}");
    let e = edited(&|m| m.retain(|x| x.0 != "qwen3moe.expert_count")).unwrap_err().to_string();
    assert!(e.contains("qwen3moe.expert_count is missing") && e.contains("has experts"), "{e}");
    // Without expert_feed_forward_length llama.cpp takes feed_forward_length / expert_used_count
    // (768 / 4 = 192), which the experts' tensors do not have.
    let e = edited(&|m| m.retain(|x| x.0 != "qwen3moe.expert_feed_forward_length")).unwrap_err().to_string();
    assert!(e.contains("blk.0.ffn_gate_exps.weight") && e.contains("192"), "{e}");
}

/// The fixture's metadata edited by `f` and its tensor table (names, dims) by `t`; a reshaped
/// tensor keeps the leading bytes of its data.
fn edited_case(case: &str, f: &dyn Fn(&mut Vec<(String, Value)>), t: &dyn Fn(&mut Vec<(String, Vec<u64>)>)) -> Result<Model, ModelError> {
    let base = model_bytes_of(case);
    let g = Gguf::parse(&base).unwrap();
    let mut meta = g.metadata.clone();
    f(&mut meta);
    let mut table: Vec<(String, Vec<u64>)> = g.tensors.iter().map(|x| (x.name.clone(), x.dims.clone())).collect();
    t(&mut table);
    let mut w = GgufWriter::new();
    for (k, v) in meta {
        w.meta(&k, v);
    }
    for (name, dims) in table {
        let src = g.tensors.iter().find(|x| x.name == name).unwrap();
        let r = g.tensor_range(src);
        let size = src.ty.row_bytes(dims[0]).unwrap() * (dims.iter().product::<u64>() / dims[0]);
        let mut bytes = base[r.start as usize..r.end as usize].to_vec();
        bytes.resize(size as usize, 0);
        w.tensor(&name, &dims, src.ty, bytes);
    }
    Model::from_gguf(&Gguf::parse(&w.to_bytes()).unwrap())
}

#[test]
fn olmoe_fixture_norms_whole_projections_and_does_not_renormalise() {
    let m = load("olmoe-64x-top8-q8_0");
    let c = &m.config;
    assert_eq!(c.arch, Architecture::Olmoe);
    assert_eq!(c.features, Features { rope: RopeMode::Neox, qkv_bias: false, qk_norm: QkNorm::Whole, routing: Routing::SoftmaxThenTopK { renormalise: false }, shared_expert: false, router_bias: false, ..Features::BASE });
    // The experts' width is feed_forward_length; head_dim is hidden / heads.
    assert_eq!((c.n_embd, c.n_head, c.n_head_kv, c.head_dim, c.n_ff, c.n_expert, c.n_expert_used), (128, 4, 4, 32, 64, 64, 8));
    let n = m.layout.layers[1].qk_norm.as_ref().unwrap();
    assert_eq!((n.q.len, n.k.len), (128, 128));
    assert!(!m.layout.tied_output);
    assert_eq!(m.features(), ["NEOX RoPE", "q/k RMSNorm over the whole projection", "router softmax then top-k, not renormalised"]);
}

#[test]
fn olmoe_refuses_per_head_norms_and_renormalised_routing_by_name() {
    let case = "olmoe-64x-top8-q8_0";
    let same = |_: &mut Vec<(String, Vec<u64>)>| {};
    assert!(edited_case(case, &|_| {}, &same).is_ok());
    // qwen3's per-head norm of 32 values is not olmoe's norm over the 128-value projection.
    let e = edited_case(case, &|_| {}, &|t| t.iter_mut().for_each(|x| if x.0 == "blk.0.attn_q_norm.weight" { x.1 = vec![32] })).unwrap_err().to_string();
    assert!(e.contains("blk.0.attn_q_norm.weight") && e.contains("[32]") && e.contains("[128]"), "{e}");
    let e = edited_case(case, &|_| {}, &|t| t.retain(|x| x.0 != "blk.1.attn_k_norm.weight")).unwrap_err().to_string();
    assert!(e.contains("blk.1.attn_k_norm.weight") && e.contains("missing"), "{e}");
    let e = edited_case(case, &|m| m.push(("olmoe.expert_weights_norm".into(), Value::Bool(true))), &same).unwrap_err().to_string();
    assert!(e.contains("olmoe.expert_weights_norm is true") && e.contains("does not renormalise"), "{e}");
    let e = edited_case(case, &|m| m.retain(|x| x.0 != "olmoe.attention.layer_norm_rms_epsilon"), &same).unwrap_err().to_string();
    assert!(e.contains("olmoe.attention.layer_norm_rms_epsilon is missing"), "{e}");
    let e = edited_case(case, &|m| m.retain(|x| x.0 != "olmoe.expert_count"), &same).unwrap_err().to_string();
    assert!(e.contains("olmoe.expert_count is missing"), "{e}");
}

#[test]
fn qwen2moe_fixture_has_a_shared_expert_of_its_own_width() {
    let m = load("qwen2moe-8x-top4-shexp-q8_0");
    let c = &m.config;
    assert_eq!(c.arch, Architecture::Qwen2Moe);
    let routing = Routing::SoftmaxThenTopK { renormalise: false };
    assert_eq!(c.features, Features { rope: RopeMode::Neox, qkv_bias: true, qk_norm: QkNorm::None, routing, shared_expert: true, router_bias: false, ..Features::BASE });
    // Three widths: feed_forward_length 384 (unused), experts 128, the shared expert 256.
    assert_eq!((c.n_ff, c.n_ff_shexp, c.n_expert, c.n_expert_used), (128, 256, 8, 4));
    let s = m.layout.layers[1].ffn.shared.as_ref().unwrap();
    assert_eq!((s.gate_inp.rows, s.gate_inp.cols, s.gate_inp.ty), (1, 256, GgmlType::F32));
    assert_eq!((s.gate.rows, s.up.rows, s.down.cols, s.down.rows), (256, 256, 256, 256));
    assert_eq!(m.features(), ["NEOX RoPE", "q/k/v biases", "router softmax then top-k, not renormalised", "shared expert with a sigmoid gate"]);
}

#[test]
fn qwen2moe_refuses_a_shared_expert_unlike_its_metadata_by_name() {
    let case = "qwen2moe-8x-top4-shexp-q8_0";
    let same = |_: &mut Vec<(String, Vec<u64>)>| {};
    let e = edited_case(case, &|_| {}, &|t| t.retain(|x| x.0 != "blk.0.ffn_gate_inp_shexp.weight")).unwrap_err().to_string();
    assert!(e.contains("blk.0.ffn_gate_inp_shexp.weight") && e.contains("missing"), "{e}");
    let e = edited_case(case, &|_| {}, &|t| t.retain(|x| x.0 != "blk.1.ffn_down_shexp.weight")).unwrap_err().to_string();
    assert!(e.contains("blk.1.ffn_down_shexp.weight") && e.contains("missing"), "{e}");
    // Without its own key the shared width falls back to feed_forward_length (384), which the
    // tensors do not have.
    let e = edited_case(case, &|m| m.retain(|x| x.0 != "qwen2moe.expert_shared_feed_forward_length"), &same).unwrap_err().to_string();
    assert!(e.contains("blk.0.ffn_gate_shexp.weight") && e.contains("384"), "{e}");
    let e = edited_case(case, &|m| m.iter_mut().for_each(|x| if x.0 == "qwen2moe.expert_shared_feed_forward_length" { x.1 = Value::U32(0) }), &same).unwrap_err().to_string();
    assert!(e.contains("qwen2moe.expert_shared_feed_forward_length is 0"), "{e}");
    let e = edited_case(case, &|_| {}, &|t| t.retain(|x| x.0 != "blk.0.attn_v.bias")).unwrap_err().to_string();
    assert!(e.contains("blk.0.attn_v.bias") && e.contains("missing"), "{e}");
    let e = edited_case(case, &|m| m.push(("qwen2moe.expert_weights_norm".into(), Value::Bool(true))), &same).unwrap_err().to_string();
    assert!(e.contains("qwen2moe.expert_weights_norm is true"), "{e}");
    // A shared expert in an architecture without one is a tensor it would ignore.
    let e = tiny_arch("qwen3", |_, t| t.push(("blk.0.ffn_gate_shexp.weight".into(), vec![8, 16], GgmlType::F32))).unwrap_err().to_string();
    assert!(e.contains("blk.0.ffn_gate_shexp.weight") && e.contains("not part of a qwen3 model") && e.contains("shared experts"), "{e}");
}

#[test]
fn granitemoe_fixture_reads_its_four_multipliers() {
    let m = load("granitemoe-32x-top8-q8_0");
    let c = &m.config;
    assert_eq!(c.arch, Architecture::GraniteMoe);
    assert_eq!(c.features, Features { rope: RopeMode::Interleaved, qkv_bias: false, qk_norm: QkNorm::None, routing: Routing::TopKThenSoftmax, shared_expert: false, router_bias: false, ..Features::BASE });
    assert_eq!(c.scales, crate::model::Scales { embedding: 12.0, residual: 0.22, attention: Some(0.015625), logit: 6.0 });
    assert_eq!((c.n_embd, c.n_ff, c.n_expert, c.n_expert_used, c.head_dim), (128, 64, 32, 8, 32));
    assert!(m.layout.tied_output);
    assert_eq!(
        m.features(),
        ["interleaved RoPE", "router top-k then softmax", "embedding ×12", "residual branches ×0.22", "attention scale 0.015625", "logits ÷6", "tied output"]
    );
    // The other architectures have none.
    assert_eq!(load("qwen3moe-16x-top4-q8_0").config.scales, crate::model::Scales::NONE);
}

#[test]
fn granitemoe_multipliers_are_checked_by_key() {
    let case = "granitemoe-32x-top8-q8_0";
    let same = |_: &mut Vec<(String, Vec<u64>)>| {};
    let set_f32 = |k: &'static str, v: f32| move |m: &mut Vec<(String, Value)>| m.iter_mut().for_each(|x| if x.0 == k { x.1 = Value::F32(v) });
    // 0 means "not applied", as in llama.cpp.
    let m = edited_case(case, &set_f32("granitemoe.attention.scale", 0.0), &same).unwrap();
    assert_eq!(m.config.scales.attention, None);
    let e = edited_case(case, &set_f32("granitemoe.residual_scale", -0.5), &same).unwrap_err().to_string();
    assert!(e.contains("granitemoe.residual_scale is -0.5") && e.contains("positive"), "{e}");
    let e = edited_case(case, &set_f32("granitemoe.logit_scale", f32::INFINITY), &same).unwrap_err().to_string();
    assert!(e.contains("granitemoe.logit_scale is inf"), "{e}");
    // llama.cpp requires the logit scale and divides by it: absent or 0 is refused.
    let e = edited_case(case, &|m| m.retain(|x| x.0 != "granitemoe.logit_scale"), &same).unwrap_err().to_string();
    assert!(e.contains("granitemoe.logit_scale is missing"), "{e}");
    let e = edited_case(case, &set_f32("granitemoe.logit_scale", 0.0), &same).unwrap_err().to_string();
    assert!(e.contains("granitemoe.logit_scale is 0"), "{e}");
    // The others may be absent, as in llama.cpp: not applied.
    let m = edited_case(case, &|m| m.retain(|x| x.0 != "granitemoe.embedding_scale" && x.0 != "granitemoe.residual_scale"), &same).unwrap();
    assert_eq!((m.config.scales.embedding, m.config.scales.residual), (1.0, 1.0));
    let e = edited_case(case, &|m| m.push(("granitemoe.rope.scaling.finetuned".into(), Value::Bool(false))), &same).unwrap_err().to_string();
    assert!(e.contains("granitemoe.rope.scaling.finetuned is false"), "{e}");
    let e = edited_case(case, &|m| m.iter_mut().for_each(|x| if x.0 == "granitemoe.expert_count" { x.1 = Value::U32(1) }), &same).unwrap_err().to_string();
    assert!(e.contains("granitemoe.expert_count is 1") && e.contains("at least 2 experts"), "{e}");
}

#[test]
fn rope_scaling_is_read_as_llama_cpp_reads_it() {
    let scaling = |edit: &dyn Fn(&mut Vec<(String, Value)>)| tiny_arch("qwen2", |m, _| edit(m)).map(|m| m.config.rope_scaling);
    let with = |pairs: &[(&str, Value)]| {
        let pairs: Vec<(String, Value)> = pairs.iter().map(|(k, v)| (format!("qwen2.{k}"), v.clone())).collect();
        move |m: &mut Vec<(String, Value)>| m.extend(pairs.iter().cloned())
    };
    assert_eq!(scaling(&|_| {}), Ok(RopeScaling::None));
    // Qwen2.5's long-context YaRN: the original context and the betas as written, or their
    // defaults (the trained context, 32 and 1).
    let y = with(&[("rope.scaling.type", Value::String("yarn".into())), ("rope.scaling.factor", Value::F32(4.0)), ("rope.scaling.original_context_length", Value::U32(32))]);
    assert_eq!(scaling(&y), Ok(RopeScaling::Yarn { factor: 4.0, original_context: 32, beta_fast: 32.0, beta_slow: 1.0 }));
    let y = with(&[
        ("rope.scaling.type", Value::String("yarn".into())),
        ("rope.scaling.factor", Value::F32(32.0)),
        ("rope.scaling.yarn_beta_fast", Value::F32(16.0)),
        ("rope.scaling.yarn_beta_slow", Value::F32(2.0)),
    ]);
    assert_eq!(scaling(&y), Ok(RopeScaling::Yarn { factor: 32.0, original_context: 64, beta_fast: 16.0, beta_slow: 2.0 }));
    let m = tiny_arch("qwen2", |m, _| y(m)).unwrap();
    assert!(m.features().contains(&"YaRN RoPE scaling ×32 of 64 positions".to_string()), "{:?}", m.features());
    // A factor without a type is linear; the older key too; type none, or a factor of 1, is none.
    assert_eq!(scaling(&with(&[("rope.scaling.factor", Value::F32(2.0))])), Ok(RopeScaling::Linear { factor: 2.0 }));
    assert_eq!(scaling(&with(&[("rope.scale_linear", Value::F32(8.0))])), Ok(RopeScaling::Linear { factor: 8.0 }));
    assert_eq!(scaling(&with(&[("rope.scaling.type", Value::String("none".into())), ("rope.scaling.factor", Value::F32(2.0))])), Ok(RopeScaling::None));
    assert_eq!(scaling(&with(&[("rope.scaling.type", Value::String("yarn".into())), ("rope.scaling.factor", Value::F32(1.0))])), Ok(RopeScaling::None));
    // What webmoe does not apply is refused by its key.
    let refused = |pairs: &[(&str, Value)], want: &str| {
        let e = scaling(&with(pairs)).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    };
    let yarn_x4 = [("rope.scaling.type", Value::String("yarn".into())), ("rope.scaling.factor", Value::F32(4.0))];
    refused(&[("rope.scaling.factor", Value::F32(-2.0))], "qwen2.rope.scaling.factor is -2");
    refused(&[yarn_x4[0].clone(), yarn_x4[1].clone(), ("rope.scaling.yarn_attn_factor", Value::F32(0.5))], "qwen2.rope.scaling.yarn_attn_factor is 0.5");
    refused(&[yarn_x4[0].clone(), yarn_x4[1].clone(), ("rope.scaling.yarn_log_multiplier", Value::F32(0.1))], "qwen2.rope.scaling.yarn_log_multiplier is 0.1");
    refused(&[yarn_x4[0].clone(), yarn_x4[1].clone(), ("rope.scaling.original_context_length", Value::U32(0))], "qwen2.rope.scaling.original_context_length is 0");
    refused(&[yarn_x4[0].clone(), yarn_x4[1].clone(), ("rope.scaling.yarn_beta_slow", Value::F32(0.0))], "qwen2.rope.scaling.yarn_beta_slow is 0");
}

#[test]
fn gpt_oss_fixture_has_sinks_a_window_on_even_layers_and_biases_everywhere() {
    let case = "gpt-oss-8x-top4-mxfp4";
    let m = load(case);
    let c = &m.config;
    assert_eq!(c.arch, Architecture::GptOss);
    let want = Features {
        rope: RopeMode::Neox,
        qkv_bias: true,
        router_bias: true,
        attn_output_bias: true,
        attention_sinks: true,
        expert_biases: true,
        activation: crate::model::Activation::SwiGluClamped,
        ..Features::BASE
    };
    assert_eq!(c.features, want);
    assert_eq!((c.n_embd, c.n_head, c.head_dim, c.n_ff, c.n_expert, c.n_expert_used), (160, 4, 64, 128, 8, 4));
    assert_eq!((c.attention_window(0), c.attention_window(1), c.attention_window(2)), (Some(4), None, Some(4)));
    let l = &m.layout.layers[0];
    assert_eq!((l.wo_bias.as_ref().unwrap().len, l.attn_sinks.as_ref().unwrap().len), (160, 4));
    let b = l.ffn.expert_biases.as_ref().unwrap();
    assert_eq!((b.gate.len, b.up.len, b.down.len), (128 * 8, 128 * 8, 160 * 8));
    assert_eq!(l.ffn_norm.name, "blk.0.post_attention_norm.weight");
    assert_eq!(l.ffn.gate.ty, GgmlType::MXFP4);
    let words = m.features();
    for f in ["attention sinks", "expert biases", "router bias", "sliding window of 4 on 1 of every 2 layers", "clamped SwiGLU (limit 7, alpha 1.702)"] {
        assert!(words.iter().any(|w| w == f), "{f} missing from {words:?}");
    }
    // The window is a key llama.cpp requires for the architecture; sinks and biases are tensors.
    let same = |_: &mut Vec<(String, Vec<u64>)>| {};
    let e = edited_case(case, &|m| m.retain(|x| x.0 != "gpt-oss.attention.sliding_window"), &same).unwrap_err().to_string();
    assert!(e.contains("\"gpt-oss.attention.sliding_window\" is missing"), "{e}");
    let e = edited_case(case, &|m| m.iter_mut().for_each(|x| if x.0 == "gpt-oss.attention.sliding_window" { x.1 = Value::U32(0) }), &same).unwrap_err().to_string();
    assert!(e.contains("gpt-oss.attention.sliding_window is 0"), "{e}");
    let e = edited_case(case, &|_| {}, &|t| t.retain(|x| x.0 != "blk.1.attn_sinks.weight")).unwrap_err().to_string();
    assert!(e.contains("blk.1.attn_sinks.weight"), "{e}");
    let e = edited_case(case, &|_| {}, &|t| t.retain(|x| x.0 != "blk.0.ffn_down_exps.bias")).unwrap_err().to_string();
    assert!(e.contains("blk.0.ffn_down_exps.bias"), "{e}");
}
