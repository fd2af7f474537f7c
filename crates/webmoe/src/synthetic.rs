//! Synthetic models: valid GGUF files of any llama-architecture shape, with random weights in
//! the block formats real files use. They exercise the loader, the kernels and the expert cache
//! at sizes the reference fixtures do not reach (benchmarks, memory tests); their outputs are
//! meaningless text.

use crate::gguf::{Array, GgmlType, GgufWriter, Value};

/// A small xorshift generator: deterministic data without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.uniform()).collect()
    }

    pub fn fill_bytes(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let r = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
    }
}

/// Byte offsets of the f16 scale fields within one block of `ty`.
fn scale_fields(ty: GgmlType) -> &'static [usize] {
    match ty {
        GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q8_0 => &[0],
        GgmlType::Q4_1 | GgmlType::Q5_1 | GgmlType::Q4_K | GgmlType::Q5_K => &[0, 2],
        GgmlType::Q2_K => &[80, 82],
        GgmlType::Q3_K => &[108],
        GgmlType::Q6_K => &[208],
        _ => &[],
    }
}

/// `n_values` random values of `ty` (a whole number of blocks) as a file stores them, with every
/// f16 scale set to a finite value of about `scale / 16` so no block decodes to Inf or NaN.
pub fn random_tensor_bytes(ty: GgmlType, n_values: usize, scale: f32, rng: &mut Rng) -> Vec<u8> {
    let (elems, block_bytes) = ty.block_geometry();
    let n_blocks = n_values / elems as usize;
    match ty {
        GgmlType::F32 => (0..n_values).flat_map(|_| (rng.uniform() * scale).to_le_bytes()).collect(),
        GgmlType::F16 => (0..n_values).flat_map(|_| half::f16::from_f32(rng.uniform() * scale).to_le_bytes()).collect(),
        GgmlType::BF16 => (0..n_values).flat_map(|_| half::bf16::from_f32(rng.uniform() * scale).to_le_bytes()).collect(),
        _ => {
            let mut out = vec![0u8; n_blocks * block_bytes as usize];
            rng.fill_bytes(&mut out);
            for block in out.chunks_exact_mut(block_bytes as usize) {
                for &at in scale_fields(ty) {
                    let d = half::f16::from_f32(rng.uniform() * scale / 16.0);
                    block[at..at + 2].copy_from_slice(&d.to_le_bytes());
                }
            }
            out
        }
    }
}

/// Per tensor kind, the type a quantization mix gives it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mix {
    /// Every matrix one type.
    Pure(GgmlType),
    /// The pattern llama-quantize's Q4_K_M gives an MoE model: Q4_K, with Q6_K output and the
    /// down projections of alternate layers, Q8_0 attention keys/values, Q5_K attention output.
    Q4KM,
}

impl Mix {
    fn type_of(self, kind: &str, layer: usize) -> GgmlType {
        match self {
            Mix::Pure(t) => t,
            Mix::Q4KM => match kind {
                "output" => GgmlType::Q6_K,
                "attn_k" | "attn_v" => GgmlType::Q8_0,
                "attn_output" => GgmlType::Q5_K,
                "ffn_down" if layer % 2 == 1 => GgmlType::Q6_K,
                _ => GgmlType::Q4_K,
            },
        }
    }
}

/// The shape of a synthetic model.
#[derive(Clone, Debug)]
pub struct Spec {
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_ff: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    /// 0 or 1: dense.
    pub n_expert: usize,
    pub n_expert_used: usize,
    /// At least 259 (special and byte tokens come first).
    pub vocab_size: usize,
    pub context_length: usize,
    pub mix: Mix,
    pub seed: u64,
}

impl Spec {
    /// A Mixtral-shaped model scaled down: 8 experts, top-2, Q4_K_M mix.
    pub fn mixtral_like(n_layer: usize, n_embd: usize) -> Spec {
        Spec {
            n_layer,
            n_embd,
            n_ff: n_embd * 7 / 2 / 256 * 256,
            n_head: n_embd / 128,
            n_head_kv: (n_embd / 128 / 4).max(1),
            n_expert: 8,
            n_expert_used: 2,
            vocab_size: 32000,
            context_length: 4096,
            mix: Mix::Q4KM,
            seed: 1,
        }
    }
}

/// A SentencePiece-style vocabulary: `<unk>`, `<s>`, `</s>`, the 256 byte tokens, then pieces.
fn vocabulary(size: usize) -> (Vec<String>, Vec<f32>, Vec<i32>) {
    let mut tokens = vec!["<unk>".to_string(), "<s>".to_string(), "</s>".to_string()];
    let mut types = vec![2, 3, 3];
    for b in 0..256 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(6);
    }
    // "▁" and the letters, then "▁a" … "▁z", then two-letter pieces: each piece is the
    // concatenation of two earlier ones, so BPE merges reach every piece.
    let letters: Vec<char> = ('a'..='z').collect();
    let mut pieces: Vec<String> = vec!["\u{2581}".to_string()];
    pieces.extend(letters.iter().map(|c| c.to_string()));
    pieces.extend(letters.iter().map(|c| format!("\u{2581}{c}")));
    pieces.extend(letters.iter().flat_map(|a| letters.iter().map(move |b| format!("{a}{b}"))));
    for piece in pieces.into_iter().take(size.saturating_sub(tokens.len())) {
        tokens.push(piece);
        types.push(1);
    }
    // Larger vocabularies continue with numbered pieces of letters, as long as they need.
    let mut n = 0usize;
    while tokens.len() < size {
        tokens.push(format!("{}{}{}", letters[n % 26], letters[(n / 26) % 26], "q".repeat(1 + n / 676)));
        types.push(1);
        n += 1;
    }
    tokens.truncate(size);
    types.truncate(size);
    let scores = (0..size).map(|i| -(i as f32)).collect();
    (tokens, scores, types)
}

/// The GGUF file of a synthetic model.
pub fn model_bytes(spec: &Spec) -> Vec<u8> {
    let mut rng = Rng::new(spec.seed);
    let s = spec;
    let head_dim = s.n_embd / s.n_head;
    let kv = s.n_head_kv * head_dim;
    let (tokens, scores, types) = vocabulary(s.vocab_size);
    let mut w = GgufWriter::new();
    w.meta("general.architecture", Value::String("llama".into()))
        .meta("general.name", Value::String(format!("synthetic-{}x{}-{}L", s.n_expert.max(1), s.n_embd, s.n_layer)))
        .meta("llama.context_length", Value::U32(s.context_length as u32))
        .meta("llama.embedding_length", Value::U32(s.n_embd as u32))
        .meta("llama.block_count", Value::U32(s.n_layer as u32))
        .meta("llama.feed_forward_length", Value::U32(s.n_ff as u32))
        .meta("llama.attention.head_count", Value::U32(s.n_head as u32))
        .meta("llama.attention.head_count_kv", Value::U32(s.n_head_kv as u32))
        .meta("llama.rope.freq_base", Value::F32(1e6))
        .meta("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5))
        .meta("llama.vocab_size", Value::U32(s.vocab_size as u32))
        .meta("tokenizer.ggml.model", Value::String("llama".into()))
        .meta("tokenizer.ggml.tokens", Value::Array(Array::String(tokens)))
        .meta("tokenizer.ggml.scores", Value::Array(Array::F32(scores)))
        .meta("tokenizer.ggml.token_type", Value::Array(Array::I32(types)))
        .meta("tokenizer.ggml.bos_token_id", Value::U32(1))
        .meta("tokenizer.ggml.eos_token_id", Value::U32(2))
        .meta("tokenizer.ggml.unknown_token_id", Value::U32(0));
    let moe = s.n_expert > 1;
    if moe {
        w.meta("llama.expert_count", Value::U32(s.n_expert as u32)).meta("llama.expert_used_count", Value::U32(s.n_expert_used as u32));
    }
    let norm = |rng: &mut Rng, n: usize| -> Vec<u8> { (0..n).flat_map(|_| (1.0 + 0.1 * rng.uniform()).to_le_bytes()).collect() };
    let matrix = |w: &mut GgufWriter, rng: &mut Rng, name: &str, kind: &str, layer: usize, dims: &[u64], scale: f32| {
        let ty = s.mix.type_of(kind, layer);
        let n: u64 = dims.iter().product();
        w.tensor(name, dims, ty, random_tensor_bytes(ty, n as usize, scale, rng));
    };
    let (h, f, e, v) = (s.n_embd as u64, s.n_ff as u64, s.n_expert as u64, s.vocab_size as u64);
    matrix(&mut w, &mut rng, "token_embd.weight", "token_embd", 0, &[h, v], 1.0);
    for l in 0..s.n_layer {
        let name = |k: &str| format!("blk.{l}.{k}.weight");
        w.tensor(&name("attn_norm"), &[h], GgmlType::F32, norm(&mut rng, s.n_embd));
        let inv = |fan_in: u64| 1.0 / (fan_in as f32).sqrt() * 4.0;
        matrix(&mut w, &mut rng, &name("attn_q"), "attn_q", l, &[h, h], inv(h));
        matrix(&mut w, &mut rng, &name("attn_k"), "attn_k", l, &[h, kv as u64], inv(h));
        matrix(&mut w, &mut rng, &name("attn_v"), "attn_v", l, &[h, kv as u64], inv(h));
        matrix(&mut w, &mut rng, &name("attn_output"), "attn_output", l, &[h, h], inv(h));
        w.tensor(&name("ffn_norm"), &[h], GgmlType::F32, norm(&mut rng, s.n_embd));
        if moe {
            let router: Vec<u8> = (0..h * e).flat_map(|_| (rng.uniform() * 3.0 / (h as f32).sqrt()).to_le_bytes()).collect();
            w.tensor(&name("ffn_gate_inp"), &[h, e], GgmlType::F32, router);
            matrix(&mut w, &mut rng, &name("ffn_gate_exps"), "ffn_gate", l, &[h, f, e], inv(h));
            matrix(&mut w, &mut rng, &name("ffn_up_exps"), "ffn_up", l, &[h, f, e], inv(h));
            matrix(&mut w, &mut rng, &name("ffn_down_exps"), "ffn_down", l, &[f, h, e], inv(f));
        } else {
            matrix(&mut w, &mut rng, &name("ffn_gate"), "ffn_gate", l, &[h, f], inv(h));
            matrix(&mut w, &mut rng, &name("ffn_up"), "ffn_up", l, &[h, f], inv(h));
            matrix(&mut w, &mut rng, &name("ffn_down"), "ffn_down", l, &[f, h], inv(f));
        }
    }
    w.tensor("output_norm.weight", &[h], GgmlType::F32, norm(&mut rng, s.n_embd));
    matrix(&mut w, &mut rng, "output.weight", "output", 0, &[h, v], 3.0 / (h as f32).sqrt() * 4.0);
    w.to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::Gguf;
    use crate::model::Model;
    use crate::tokenizer::Tokenizer;

    #[test]
    fn synthetic_models_are_valid_and_tokenize() {
        let mut spec = Spec::mixtral_like(2, 256);
        spec.vocab_size = 600;
        let bytes = model_bytes(&spec);
        let g = Gguf::parse(&bytes).unwrap();
        let m = Model::from_gguf(&g).unwrap();
        assert_eq!((m.config.n_layer, m.config.n_expert, m.config.n_expert_used, m.config.n_embd), (2, 8, 2, 256));
        assert_eq!(g.tensor("blk.1.ffn_down_exps.weight").unwrap().ty, GgmlType::Q6_K);
        assert_eq!(g.tensor("blk.0.attn_k.weight").unwrap().ty, GgmlType::Q8_0);
        let t = Tokenizer::from_gguf(&g).unwrap();
        let ids = t.encode("hello", true).unwrap();
        assert_eq!(t.decode(&ids).unwrap(), "hello");
        spec.n_expert = 1;
        spec.mix = Mix::Pure(GgmlType::Q4_0);
        let g = Gguf::parse(&model_bytes(&spec)).unwrap();
        assert!(!Model::from_gguf(&g).unwrap().config.is_moe());
    }
}
