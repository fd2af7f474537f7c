use std::io::{self, Write};

use super::*;
use crate::gguf::{GgmlType, Gguf};
use crate::model::Model;
use crate::reference::ReferenceModel;
use crate::tokenizer::Tokenizer;

/// 2 layers of hidden 256, 8 experts top-2, vocabulary 600, Q4_K_M.
fn small() -> Spec {
    Spec { vocab_size: 600, context_length: 256, ..Spec::mixtral_like(2, 256) }
}

#[test]
fn synthetic_models_are_valid_and_tokenize() {
    let mut spec = small();
    let bytes = model_bytes(&spec);
    let g = Gguf::parse(&bytes).unwrap();
    let m = Model::from_gguf(&g).unwrap();
    assert_eq!((m.config.n_layer, m.config.n_expert, m.config.n_expert_used, m.config.n_embd), (2, 8, 2, 256));
    assert_eq!(g.tensor("blk.1.ffn_down_exps.weight").unwrap().ty, GgmlType::Q6_K);
    assert_eq!(g.tensor("blk.0.attn_k.weight").unwrap().ty, GgmlType::Q8_0);
    assert_eq!(g.file_len, Generator::new(&spec).file_len());
    let t = Tokenizer::from_gguf(&g).unwrap();
    let ids = t.encode("hello", true).unwrap();
    assert_eq!(t.decode(&ids).unwrap(), "hello");
    spec.n_expert = 1;
    spec.mix = Mix::Pure(GgmlType::Q4_0);
    let g = Gguf::parse(&model_bytes(&spec)).unwrap();
    assert!(!Model::from_gguf(&g).unwrap().config.is_moe());
}

/// Counts and hashes what is written, keeping none of it, and records the largest single write
/// after the header.
#[derive(Default)]
struct CountingWriter {
    writes: usize,
    bytes: u64,
    largest_after_header: usize,
    hash: u64,
}

impl Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.writes > 0 {
            self.largest_after_header = self.largest_after_header.max(buf.len());
        }
        self.writes += 1;
        self.bytes += buf.len() as u64;
        for &b in buf {
            self.hash = (self.hash ^ u64::from(b)).wrapping_mul(0x100_0000_01B3);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn hash_of(bytes: &[u8]) -> u64 {
    let mut w = CountingWriter::default();
    w.write_all(bytes).unwrap();
    w.hash
}

#[test]
fn streamed_file_equals_the_in_memory_one_for_any_chunking_and_threads() {
    // Tensors of several segments and chunks: F32 embeddings of 600 × 256 = 2.3 segments.
    let spec = Spec { mix: Mix::Pure(GgmlType::F32), ..small() };
    let want = model_bytes(&spec);
    let path = std::env::temp_dir().join(format!("webmoe-synthetic-{}.gguf", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    Generator::new(&spec).threads(2).chunk_bytes(300_000).write(file, &mut |_| {}).unwrap();
    let on_disk = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(on_disk == want, "the file on disk differs from model_bytes");

    for (threads, chunk) in [(1, 1), (3, 1 << 20), (2, DEFAULT_CHUNK_BYTES)] {
        let mut got = Vec::new();
        Generator::new(&spec).threads(threads).chunk_bytes(chunk).write(&mut got, &mut |_| {}).unwrap();
        assert!(got == want, "{threads} threads, chunks of {chunk} bytes");
    }
}

#[test]
fn the_writer_holds_one_chunk_at_a_time() {
    let spec = small();
    let chunk = 256 << 10;
    let g = Generator::new(&spec).threads(2).chunk_bytes(chunk);
    let mut positions = Vec::new();
    let w = g.write(CountingWriter::default(), &mut |p| positions.push(p)).unwrap();
    assert_eq!(w.bytes, g.file_len());
    assert!(w.largest_after_header <= chunk, "a write of {} bytes, chunk {chunk}", w.largest_after_header);
    assert_eq!(w.hash, hash_of(&model_bytes(&spec)));
    assert_eq!(positions.first(), Some(&g.header_len()));
    assert_eq!(positions.last(), Some(&g.file_len()));
    assert!(positions.windows(2).all(|p| p[0] < p[1] && p[1] - p[0] <= chunk as u64 + 32));
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_others() {
    let a = model_bytes(&small());
    assert!(model_bytes(&small()) == a);
    let b = model_bytes(&Spec { seed: 2, ..small() });
    assert_eq!(a.len(), b.len());
    let g = Gguf::parse(&a).unwrap();
    let r = g.tensor_range(g.tensor("blk.0.attn_q.weight").unwrap());
    assert_ne!(a[r.start as usize..r.end as usize], b[r.start as usize..r.end as usize]);
}

#[test]
fn a_32_layer_q4_k_m_model_has_llama_quantize_types() {
    let spec = Spec { n_layer: 32, ..small() };
    let g = Generator::new(&spec);
    let more_bits = [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31];
    let mut seen = 0;
    for t in g.tensors() {
        let (layer, kind) = match t.name.strip_prefix("blk.").and_then(|r| r.split_once('.')) {
            Some((n, kind)) => (Some(n.parse::<usize>().unwrap()), kind),
            None => (None, t.name.as_str()),
        };
        let want = match kind {
            "token_embd.weight" | "attn_q.weight" | "ffn_gate_exps.weight" | "ffn_up_exps.weight" => GgmlType::Q4_K,
            "output.weight" => GgmlType::Q6_K,
            "attn_k.weight" | "attn_v.weight" => GgmlType::Q8_0,
            "attn_output.weight" => GgmlType::Q5_K,
            "ffn_down_exps.weight" if more_bits.contains(&layer.unwrap()) => GgmlType::Q6_K,
            "ffn_down_exps.weight" => GgmlType::Q4_K,
            "attn_norm.weight" | "ffn_norm.weight" | "output_norm.weight" | "ffn_gate_inp.weight" => GgmlType::F32,
            other => panic!("unexpected tensor {other} ({})", t.name),
        };
        assert_eq!(t.ty, want, "{}", t.name);
        seen += 1;
    }
    assert_eq!(seen, 3 + 32 * 10);
}

/// Data bytes of a Mixtral-shaped Q4_K_M model counted by hand: every matrix in its type (see
/// `Mix::Q4KM`), the F32 norms and routers, with each tensor's size already a multiple of the
/// 32-byte alignment.
fn q4_k_m_data_bytes(layers: u64, h: u64, f: u64, kv: u64, vocab: u64) -> u64 {
    let (q4_k, q5_k, q6_k, q8_0) =
        (|n: u64| n / 256 * 144, |n: u64| n / 256 * 176, |n: u64| n / 256 * 210, |n: u64| n / 32 * 34);
    let down_q6 = (0..layers).filter(|&i| use_more_bits(i as usize, layers as usize)).count() as u64;
    let experts = layers * 8 * 2 * q4_k(h * f) + 8 * (down_q6 * q6_k(h * f) + (layers - down_q6) * q4_k(h * f));
    let attention = layers * (q4_k(h * h) + q5_k(h * h) + 2 * q8_0(h * kv));
    let vectors = 4 * h * (2 * layers + 1) + layers * 4 * h * 8;
    experts + attention + vectors + q4_k(h * vocab) + q6_k(h * vocab)
}

#[test]
fn presets_have_the_real_shapes_and_sizes() {
    let g = Generator::new(&Spec::mixtral_8x7b());
    let dims = |name: &str| g.tensors().find(|t| t.name == name).unwrap().dims.clone();
    assert_eq!(dims("token_embd.weight"), [4096, 32000]);
    assert_eq!(dims("blk.31.attn_k.weight"), [4096, 1024]);
    assert_eq!(dims("blk.0.ffn_gate_exps.weight"), [4096, 14336, 8]);
    assert_eq!(dims("blk.0.ffn_down_exps.weight"), [14336, 4096, 8]);
    assert_eq!(dims("blk.0.ffn_gate_inp.weight"), [4096, 8]);
    assert_eq!(g.file_len() - g.header_len(), q4_k_m_data_bytes(32, 4096, 14336, 1024, 32000));
    let two_layers = Generator::new(&Spec { n_layer: 2, ..Spec::mixtral_8x7b() });
    assert_eq!(two_layers.file_len() - two_layers.header_len(), q4_k_m_data_bytes(2, 4096, 14336, 1024, 32000));
    let big = Generator::new(&Spec::mixtral_8x22b());
    assert_eq!(big.tensors().filter(|t| t.name.ends_with("ffn_up_exps.weight")).count(), 56);
    // Published llama.cpp Q4_K_M of Mixtral-8x22B-v0.1 (b2636): 85.58 GB.
    assert_eq!(big.file_len() - big.header_len(), q4_k_m_data_bytes(56, 6144, 16384, 1024, 32768));
    assert!((85.5e9..85.7e9).contains(&(big.file_len() as f64)), "{} bytes", big.file_len());
    for spec in [Spec::mixtral_8x7b(), Spec::mixtral_8x22b()] {
        spec.validate_with_synthetic_vocab().unwrap();
    }
}

#[test]
fn shapes_that_make_no_model_are_refused() {
    let bad = |spec: Spec| spec.validate_with_synthetic_vocab().unwrap_err().to_string();
    assert!(bad(Spec { n_head: 3, ..small() }).contains("heads = 3"));
    assert!(bad(Spec { n_head_kv: 3, ..small() }).contains("kv-heads = 3"));
    assert!(bad(Spec { n_expert_used: 9, ..small() }).contains("experts-used = 9"));
    assert!(bad(Spec { n_layer: 0, ..small() }).contains("layers = 0"));
    assert!(bad(Spec { vocab_size: 100, ..small() }).contains("259"));
    assert!(bad(Spec { n_embd: 1 << 24, n_ff: 1 << 24, ..small() }).contains("2^44"));
    let vocab = Vocab::synthetic(300);
    assert!(matches!(
        Generator::with_vocab(&small(), &vocab),
        Err(SyntheticError::VocabSize { vocab: 300, spec: 600 })
    ));
}

/// The experts token `t` chose in layer `l`, as a sorted set.
fn chosen(routing: &[crate::reference::Routing], t: usize, l: usize) -> Vec<usize> {
    let mut e: Vec<usize> = routing[t][l].iter().map(|&(e, _)| e).collect();
    e.sort_unstable();
    e
}

#[test]
fn a_deep_model_stays_finite_and_routes_tokens_differently() {
    let spec = Spec { n_layer: 32, n_embd: 256, n_ff: 256, n_head: 4, n_head_kv: 2, ..small() };
    let bytes = model_bytes(&spec);
    let model = Model::from_gguf(&Gguf::parse(&bytes).unwrap()).unwrap();
    let reference = ReferenceModel::load(&model, &bytes).unwrap();
    let tokens: Vec<u32> = vec![1, 300, 301, 260, 45, 470, 333, 290, 12, 511, 300, 599];
    let (logits, routing) = reference.forward(&tokens);
    for (pos, row) in logits.iter().enumerate() {
        assert!(row.iter().all(|v| v.is_finite()), "position {pos}: a logit is not finite");
        let rms = (row.iter().map(|v| v * v).sum::<f32>() / row.len() as f32).sqrt();
        assert!((0.05..50.0).contains(&rms), "position {pos}: logits of rms {rms}");
    }
    let mut used = vec![0usize; spec.n_expert];
    for l in 0..spec.n_layer {
        let first = chosen(&routing, 0, l);
        assert!((1..tokens.len()).any(|t| chosen(&routing, t, l) != first), "layer {l}: every token chose {first:?}");
        (0..tokens.len()).for_each(|t| chosen(&routing, t, l).iter().for_each(|&e| used[e] += 1));
    }
    // Over all layers and tokens, every expert is chosen, and none takes most of the choices.
    let total: usize = used.iter().sum();
    assert!(used.iter().all(|&n| n > 0 && n < total / 3), "choices per expert {used:?}");
}
