//! WGSL sources. Each kernel is one file under `shaders/`; a kernel that reads quantized weights
//! is compiled once per weight type by placing the byte helpers and that type's decoder (which
//! define `load32` and the matvec's pieces) before it, and a kernel with variants of its entry
//! point (the matvec's reductions) is followed by the variant's file; the kernels that compute
//! the FFN activation have its file placed after the common one. Those fixed
//! concatenations are the only assembly done on shader text.

use crate::gguf::GgmlType;

const COMMON: &str = include_str!("../../../../shaders/common.wgsl");
const BYTES: &str = include_str!("../../../../shaders/quant/bytes.wgsl");
const CHUNK_PIECES: &str = include_str!("../../../../shaders/quant/chunk_pieces.wgsl");
const MATVEC: &str = include_str!("../../../../shaders/matvec.wgsl");
const GLU: &str = include_str!("../../../../shaders/glu.wgsl");

/// The compute kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    RmsNorm,
    /// The matrix × vector product, its partial sums added in workgroup memory.
    Matvec,
    /// The same, added with subgroup operations (needs the adapter's subgroups).
    MatvecSubgroups,
    Matmul,
    MoeGroup,
    Embed,
    RopeKv,
    Attention,
    Router,
    Swiglu,
    Sample,
}

impl Kernel {
    pub fn name(self) -> &'static str {
        match self {
            Kernel::RmsNorm => "rms_norm",
            Kernel::Matvec => "matvec",
            Kernel::MatvecSubgroups => "matvec_subgroups",
            Kernel::Matmul => "matmul",
            Kernel::MoeGroup => "moe_group",
            Kernel::Embed => "embed",
            Kernel::RopeKv => "rope_kv",
            Kernel::Attention => "attention",
            Kernel::Router => "router",
            Kernel::Swiglu => "swiglu",
            Kernel::Sample => "sample",
        }
    }

    fn source(self) -> &'static str {
        match self {
            Kernel::Matvec | Kernel::MatvecSubgroups => MATVEC,
            Kernel::RmsNorm => include_str!("../../../../shaders/rms_norm.wgsl"),
            Kernel::Matmul => include_str!("../../../../shaders/matmul.wgsl"),
            Kernel::MoeGroup => include_str!("../../../../shaders/moe_group.wgsl"),
            Kernel::Embed => include_str!("../../../../shaders/embed.wgsl"),
            Kernel::RopeKv => include_str!("../../../../shaders/rope_kv.wgsl"),
            Kernel::Attention => include_str!("../../../../shaders/attention.wgsl"),
            Kernel::Router => include_str!("../../../../shaders/router.wgsl"),
            Kernel::Swiglu => include_str!("../../../../shaders/swiglu.wgsl"),
            Kernel::Sample => include_str!("../../../../shaders/sample.wgsl"),
        }
    }

    /// The file that gives a kernel with variants its entry point, placed after its source.
    fn entry_variant(self) -> Option<&'static str> {
        match self {
            Kernel::Matvec => Some(include_str!("../../../../shaders/matvec_tree.wgsl")),
            Kernel::MatvecSubgroups => Some(include_str!("../../../../shaders/matvec_subgroups.wgsl")),
            _ => None,
        }
    }

    /// Whether the kernel computes the FFN activation (`glu`, shaders/glu.wgsl).
    fn computes_activation(self) -> bool {
        matches!(self, Kernel::Matvec | Kernel::MatvecSubgroups | Kernel::Matmul | Kernel::Swiglu)
    }

    /// Whether the kernel reads weights through a type's `load32`.
    pub fn reads_weights(self) -> bool {
        matches!(self, Kernel::Matvec | Kernel::MatvecSubgroups | Kernel::Matmul | Kernel::Embed | Kernel::Router)
    }
}

/// The WGSL decoder of a weight type, if there is one.
pub fn decoder(ty: GgmlType) -> Option<&'static str> {
    Some(match ty {
        GgmlType::F32 => include_str!("../../../../shaders/quant/f32.wgsl"),
        GgmlType::F16 => include_str!("../../../../shaders/quant/f16.wgsl"),
        GgmlType::BF16 => include_str!("../../../../shaders/quant/bf16.wgsl"),
        GgmlType::Q8_0 => include_str!("../../../../shaders/quant/q8_0.wgsl"),
        GgmlType::Q4_0 => include_str!("../../../../shaders/quant/q4_0.wgsl"),
        GgmlType::Q4_1 => include_str!("../../../../shaders/quant/q4_1.wgsl"),
        GgmlType::Q5_0 => include_str!("../../../../shaders/quant/q5_0.wgsl"),
        GgmlType::Q5_1 => include_str!("../../../../shaders/quant/q5_1.wgsl"),
        GgmlType::Q2_K => include_str!("../../../../shaders/quant/q2_k.wgsl"),
        GgmlType::Q3_K => include_str!("../../../../shaders/quant/q3_k.wgsl"),
        GgmlType::Q4_K => include_str!("../../../../shaders/quant/q4_k.wgsl"),
        GgmlType::Q5_K => include_str!("../../../../shaders/quant/q5_k.wgsl"),
        GgmlType::Q6_K => include_str!("../../../../shaders/quant/q6_k.wgsl"),
        GgmlType::MXFP4 => include_str!("../../../../shaders/quant/mxfp4.wgsl"),
        _ => return None,
    })
}

/// The full module text of `kernel`, with the decoder of `weights` where it reads weights.
pub fn module_source(kernel: Kernel, weights: Option<GgmlType>) -> Result<String, String> {
    let mut src = String::from(COMMON);
    if kernel.computes_activation() {
        src.push_str(GLU);
    }
    if kernel.reads_weights() {
        let ty = weights.ok_or_else(|| format!("kernel {} needs a weight type", kernel.name()))?;
        let dec = decoder(ty).ok_or_else(|| format!("no GPU decoder for {ty}"))?;
        src.push_str(BYTES);
        src.push_str(dec);
        if !has_own_pieces(ty) {
            src.push_str(CHUNK_PIECES);
        }
    }
    src.push_str(kernel.source());
    if let Some(entry) = kernel.entry_variant() {
        src.push_str(entry);
    }
    Ok(src)
}

/// Whether the decoder of `ty` defines its own matvec pieces (the K-quants, whose 32-value chunks
/// are spread over the super-block); the others take their chunks as pieces.
fn has_own_pieces(ty: GgmlType) -> bool {
    matches!(ty, GgmlType::Q2_K | GgmlType::Q3_K | GgmlType::Q4_K | GgmlType::Q5_K | GgmlType::Q6_K)
}

/// Whether kernels can read weights of type `ty`.
pub fn has_decoder(ty: GgmlType) -> bool {
    decoder(ty).is_some()
}
