//! Which ggml type each tensor gets: one type for every matrix, or the per-tensor choice
//! llama.cpp's `llama-quantize Q4_K_M` makes.

use crate::gguf::GgmlType;

/// What a tensor is in a llama-architecture model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    TokenEmbd,
    AttnNorm,
    AttnQ,
    AttnK,
    AttnV,
    AttnOutput,
    FfnNorm,
    /// `ffn_gate_inp`: the MoE router.
    Router,
    FfnGate,
    FfnUp,
    FfnDown,
    OutputNorm,
    Output,
}

impl Role {
    /// The tensor-name part llama.cpp uses (`blk.N.<kind>.weight`, or `<kind>.weight`).
    pub fn kind(self) -> &'static str {
        match self {
            Role::TokenEmbd => "token_embd",
            Role::AttnNorm => "attn_norm",
            Role::AttnQ => "attn_q",
            Role::AttnK => "attn_k",
            Role::AttnV => "attn_v",
            Role::AttnOutput => "attn_output",
            Role::FfnNorm => "ffn_norm",
            Role::Router => "ffn_gate_inp",
            Role::FfnGate => "ffn_gate",
            Role::FfnUp => "ffn_up",
            Role::FfnDown => "ffn_down",
            Role::OutputNorm => "output_norm",
            Role::Output => "output",
        }
    }

    /// Vectors and the router stay F32 in every mix (llama-quantize quantizes neither 1-D tensors
    /// nor `ffn_gate_inp`).
    pub fn is_quantized(self) -> bool {
        !matches!(self, Role::AttnNorm | Role::FfnNorm | Role::OutputNorm | Role::Router)
    }
}

/// Per tensor kind, the type a quantization mix gives it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mix {
    /// Every matrix one type (`llama-quantize --pure`).
    Pure(GgmlType),
    /// What `llama-quantize … Q4_K_M` gives a llama-architecture model, as llama.cpp's
    /// `llama_tensor_get_type_impl` (src/llama-quant.cpp, ggml-org/llama.cpp) decides it:
    ///
    /// | tensor                  | 8 experts (Mixtral 8x7B, 8x22B) | other expert counts, dense   |
    /// |-------------------------|---------------------------------|------------------------------|
    /// | token_embd              | Q4_K                            | Q4_K                         |
    /// | output                  | Q6_K                            | Q6_K                         |
    /// | attn_q                  | Q4_K                            | Q4_K                         |
    /// | attn_k                  | Q8_0                            | Q4_K                         |
    /// | attn_v                  | Q8_0                            | Q6_K on more-bits layers, else Q4_K |
    /// | attn_output             | Q5_K                            | Q4_K                         |
    /// | ffn_gate, ffn_up (_exps)| Q4_K                            | Q4_K                         |
    /// | ffn_down (_exps)        | Q6_K on more-bits layers, else Q4_K | the same                 |
    /// | norms, ffn_gate_inp     | F32                             | F32                          |
    ///
    /// The "more-bits" layers are llama.cpp's `use_more_bits(i, n)`: the first n/8, the last n/8
    /// (i ≥ 7n/8), and every third layer between (`(i − n/8) % 3 == 2`); for Mixtral's 32 layers
    /// 0–3, 6, 9, …, 27 and 28–31, 16 in all. The 8-expert rules are llama.cpp's "for the
    /// 8-expert model, bumping this to Q8_0 trades just ~128MB". A row length that is not a whole
    /// number of 256-value blocks falls back as llama.cpp's `tensor_type_fallback` does (see
    /// [`fallback`]). Left out: llama.cpp gives a 70B dense model's attn_v Q5_K where this table
    /// says Q4_K (it knows the model's size class; the generator does not).
    Q4KM,
}

/// llama.cpp's `use_more_bits`: the layers Q4_K_M gives more bits.
pub fn use_more_bits(layer: usize, n_layer: usize) -> bool {
    let (i, n) = (layer as i64, n_layer as i64);
    i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
}

/// The type llama-quantize uses when rows of `row_len` values are not whole blocks of `ty`
/// (`tensor_type_fallback`): Q2_K, Q3_K → Q4_0; Q4_K → Q5_0; Q5_K → Q5_1; Q6_K → Q8_0; and F16
/// when even that does not fit.
pub fn fallback(ty: GgmlType, row_len: u64) -> GgmlType {
    if row_len.is_multiple_of(ty.block_elems()) {
        return ty;
    }
    let next = match ty {
        GgmlType::Q2_K | GgmlType::Q3_K => GgmlType::Q4_0,
        GgmlType::Q4_K => GgmlType::Q5_0,
        GgmlType::Q5_K => GgmlType::Q5_1,
        GgmlType::Q6_K => GgmlType::Q8_0,
        _ => GgmlType::F16,
    };
    if row_len.is_multiple_of(next.block_elems()) {
        next
    } else {
        GgmlType::F16
    }
}

/// Where a tensor sits in its model: what `Mix` needs to choose its type.
#[derive(Clone, Copy, Debug)]
pub struct Place {
    pub role: Role,
    /// The block the tensor belongs to (0 for tensors outside the blocks).
    pub layer: usize,
    pub n_layer: usize,
    pub n_expert: usize,
    /// `dims[0]`, the values per row.
    pub row_len: u64,
}

impl Mix {
    /// The type of the tensor at `p`.
    pub fn tensor_type(self, p: Place) -> GgmlType {
        if !p.role.is_quantized() {
            return GgmlType::F32;
        }
        let ty = match self {
            Mix::Pure(t) => t,
            Mix::Q4KM => Self::q4_k_m(p),
        };
        fallback(ty, p.row_len)
    }

    fn q4_k_m(p: Place) -> GgmlType {
        let eight_experts = p.n_expert == 8;
        let more_bits = use_more_bits(p.layer, p.n_layer);
        match p.role {
            Role::Output => GgmlType::Q6_K,
            Role::AttnK if eight_experts => GgmlType::Q8_0,
            Role::AttnV if eight_experts => GgmlType::Q8_0,
            Role::AttnV if more_bits => GgmlType::Q6_K,
            Role::AttnOutput if eight_experts => GgmlType::Q5_K,
            Role::FfnDown if more_bits => GgmlType::Q6_K,
            _ => GgmlType::Q4_K,
        }
    }

    /// `general.file_type`: llama.cpp's `llama_ftype` for this mix (a pure K-quant mix is the
    /// "mostly" type whose base it is).
    pub fn file_type(self) -> u32 {
        match self {
            Mix::Q4KM => 15,
            Mix::Pure(t) => match t {
                GgmlType::F32 => 0,
                GgmlType::F16 => 1,
                GgmlType::Q4_0 => 2,
                GgmlType::Q4_1 => 3,
                GgmlType::Q8_0 => 7,
                GgmlType::Q5_0 => 8,
                GgmlType::Q5_1 => 9,
                GgmlType::Q2_K => 10,
                GgmlType::Q3_K => 11,
                GgmlType::Q4_K => 14,
                GgmlType::Q5_K => 16,
                GgmlType::Q6_K => 18,
                GgmlType::BF16 => 32,
                _ => 1024, // LLAMA_FTYPE_GUESSED
            },
        }
    }

    /// The mix a `--type` name stands for: `Q4_K_M`, or any type webmoe reads (every matrix that
    /// type), case-insensitively.
    pub fn from_name(name: &str) -> Option<Mix> {
        if name.eq_ignore_ascii_case("Q4_K_M") {
            return Some(Mix::Q4KM);
        }
        crate::quant::SUPPORTED.iter().copied().find(|t| t.name().eq_ignore_ascii_case(name)).map(Mix::Pure)
    }

    /// The names `from_name` accepts.
    pub fn names() -> Vec<&'static str> {
        std::iter::once("Q4_K_M").chain(crate::quant::SUPPORTED.iter().map(|t| t.name())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q4km(role: Role, layer: usize, n_layer: usize, n_expert: usize) -> GgmlType {
        Mix::Q4KM.tensor_type(Place { role, layer, n_layer, n_expert, row_len: 4096 })
    }

    #[test]
    fn more_bits_layers_of_a_32_layer_model() {
        let layers: Vec<usize> = (0..32).filter(|&i| use_more_bits(i, 32)).collect();
        assert_eq!(layers, [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]);
        // The 2-layer oracle fixture (llama-quantize output): ffn_down Q4_K in block 0, Q6_K in 1.
        assert_eq!((use_more_bits(0, 2), use_more_bits(1, 2)), (false, true));
        // 56 layers (Mixtral 8x22B): the first and last 7.
        assert!((0..7).chain(49..56).all(|i| use_more_bits(i, 56)) && !use_more_bits(7, 56));
    }

    #[test]
    fn dense_and_four_expert_models_follow_the_general_rules() {
        assert_eq!(q4km(Role::AttnK, 5, 32, 4), GgmlType::Q4_K);
        assert_eq!(q4km(Role::AttnOutput, 5, 32, 1), GgmlType::Q4_K);
        assert_eq!(q4km(Role::AttnV, 0, 32, 4), GgmlType::Q6_K);
        assert_eq!(q4km(Role::AttnV, 4, 32, 1), GgmlType::Q4_K);
        assert_eq!(q4km(Role::Router, 4, 32, 4), GgmlType::F32);
    }

    #[test]
    fn rows_that_are_not_whole_blocks_fall_back_as_llama_quantize_does() {
        let at = |row_len| Place { role: Role::FfnDown, layer: 0, n_layer: 32, n_expert: 8, row_len };
        assert_eq!(Mix::Q4KM.tensor_type(at(4096)), GgmlType::Q6_K);
        assert_eq!(Mix::Q4KM.tensor_type(at(96)), GgmlType::Q8_0);
        assert_eq!(Mix::Pure(GgmlType::Q4_K).tensor_type(at(96)), GgmlType::Q5_0);
        assert_eq!(Mix::Pure(GgmlType::Q8_0).tensor_type(at(48)), GgmlType::F16);
    }

    #[test]
    fn type_names() {
        assert_eq!(Mix::from_name("q4_k_m"), Some(Mix::Q4KM));
        assert_eq!(Mix::from_name("Q6_K"), Some(Mix::Pure(GgmlType::Q6_K)));
        assert_eq!(Mix::from_name("Q8_0"), Some(Mix::Pure(GgmlType::Q8_0)));
        assert_eq!(Mix::from_name("IQ2_XS"), None, "a type webmoe cannot run is not offered");
    }
}
