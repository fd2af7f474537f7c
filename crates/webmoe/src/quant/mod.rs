//! Block formats: which ggml types webmoe runs, and their plain CPU dequantization.
//!
//! The CPU dequantizers are the reference the WGSL decoders (`shaders/quant/*.wgsl`) are tested
//! against, and what the CPU reference forward pass reads weights through. Each format's layout
//! is written down once here and once in its WGSL decoder.

mod float;
mod k_quants;
mod legacy;
mod mxfp4;
mod q5;
#[cfg(test)]
mod tests;

use crate::gguf::GgmlType;

/// A type the file uses that webmoe cannot run, or bytes that do not fit the type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuantError {
    #[error("tensor type {ty} is not supported by webmoe (supported: {supported}); use a file quantized with one of those")]
    Unsupported { ty: GgmlType, supported: String },
    #[error("{len} bytes are not a whole number of {ty} blocks ({block_bytes} bytes each)")]
    PartialBlock { ty: GgmlType, len: usize, block_bytes: u64 },
    #[error("{len} bytes of {ty} hold {values} values, but the output has room for {out_len}")]
    OutputLength { ty: GgmlType, len: usize, values: u64, out_len: usize },
}

/// Types webmoe reads, on the CPU and on the GPU: the float formats, then ggml's 32-value block
/// formats, then the 256-value K-quants, each group in ggml's type-id order, then MXFP4.
pub const SUPPORTED: &[GgmlType] = &[
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q2_K,
    GgmlType::Q3_K,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
    GgmlType::MXFP4,
];

pub fn is_supported(ty: GgmlType) -> bool {
    SUPPORTED.contains(&ty)
}

/// Refuse a type webmoe cannot run, naming it and what would work instead.
pub fn check_supported(ty: GgmlType) -> Result<(), QuantError> {
    if is_supported(ty) {
        Ok(())
    } else {
        Err(unsupported(ty))
    }
}

fn unsupported(ty: GgmlType) -> QuantError {
    QuantError::Unsupported { ty, supported: SUPPORTED.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ") }
}

/// Decodes one block: `bytes` is exactly one block of the type, `out` exactly its values.
type BlockDecoder = fn(bytes: &[u8], out: &mut [f32]);

/// The CPU decoder of each type in `SUPPORTED` (a test checks the two agree).
fn block_decoder(ty: GgmlType) -> Option<BlockDecoder> {
    Some(match ty {
        GgmlType::F32 => float::dequant_f32,
        GgmlType::F16 => float::dequant_f16,
        GgmlType::BF16 => float::dequant_bf16,
        GgmlType::Q4_0 => legacy::dequant_q4_0,
        GgmlType::Q4_1 => legacy::dequant_q4_1,
        GgmlType::Q5_0 => q5::dequant_q5_0,
        GgmlType::Q5_1 => q5::dequant_q5_1,
        GgmlType::Q8_0 => legacy::dequant_q8_0,
        GgmlType::Q2_K => k_quants::dequant_q2_k,
        GgmlType::Q3_K => k_quants::dequant_q3_k,
        GgmlType::Q4_K => k_quants::dequant_q4_k,
        GgmlType::Q5_K => k_quants::dequant_q5_k,
        GgmlType::Q6_K => k_quants::dequant_q6_k,
        GgmlType::MXFP4 => mxfp4::dequant_mxfp4,
        _ => return None,
    })
}

/// The f16 at byte `at` of `b`, widened (exactly: every f16 is an f32).
fn f16_at(b: &[u8], at: usize) -> f32 {
    half::f16::from_bits(u16::from_le_bytes([b[at], b[at + 1]])).to_f32()
}

/// Dequantize whole blocks of `ty` from `bytes` into `out` (`out.len()` values, which must be the
/// number of values those bytes hold).
pub fn dequantize(ty: GgmlType, bytes: &[u8], out: &mut [f32]) -> Result<(), QuantError> {
    let decode = block_decoder(ty).ok_or_else(|| unsupported(ty))?;
    let (elems, block_bytes) = ty.block_geometry();
    let len = bytes.len();
    if !(len as u64).is_multiple_of(block_bytes) {
        return Err(QuantError::PartialBlock { ty, len, block_bytes });
    }
    let values = len as u64 / block_bytes * elems;
    if values != out.len() as u64 {
        return Err(QuantError::OutputLength { ty, len, values, out_len: out.len() });
    }
    for (block, block_out) in bytes.chunks_exact(block_bytes as usize).zip(out.chunks_exact_mut(elems as usize)) {
        decode(block, block_out);
    }
    Ok(())
}

/// Dequantize a whole tensor's bytes to a new vector.
pub fn dequantize_to_vec(ty: GgmlType, bytes: &[u8]) -> Result<Vec<f32>, QuantError> {
    let (elems, block_bytes) = ty.block_geometry();
    let mut out = vec![0f32; (bytes.len() as u64 / block_bytes * elems) as usize];
    dequantize(ty, bytes, &mut out)?;
    Ok(out)
}
