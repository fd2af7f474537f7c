//! Every supported format against values the `gguf` Python package (llama.cpp's gguf-py) gives
//! for the same blocks: `tests/fixtures/quant/<TYPE>.blocks` and `<TYPE>.f32`, written by
//! `scripts/gen-quant-fixtures.py`. Random blocks plus all-0x00 / all-0xFF edge blocks.

use super::*;

/// The fixture pair of one type: (raw blocks, expected values as little-endian f32 bytes).
macro_rules! fixture {
    ($name:literal) => {
        (
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/quant/", $name, ".blocks")).as_slice(),
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/quant/", $name, ".f32")).as_slice(),
        )
    };
}

fn fixture(ty: GgmlType) -> (&'static [u8], &'static [u8]) {
    match ty {
        GgmlType::F32 => fixture!("F32"),
        GgmlType::F16 => fixture!("F16"),
        GgmlType::BF16 => fixture!("BF16"),
        GgmlType::Q4_0 => fixture!("Q4_0"),
        GgmlType::Q4_1 => fixture!("Q4_1"),
        GgmlType::Q5_0 => fixture!("Q5_0"),
        GgmlType::Q5_1 => fixture!("Q5_1"),
        GgmlType::Q8_0 => fixture!("Q8_0"),
        GgmlType::Q2_K => fixture!("Q2_K"),
        GgmlType::Q3_K => fixture!("Q3_K"),
        GgmlType::Q4_K => fixture!("Q4_K"),
        GgmlType::Q5_K => fixture!("Q5_K"),
        GgmlType::Q6_K => fixture!("Q6_K"),
        GgmlType::MXFP4 => fixture!("MXFP4"),
        other => panic!("no fixture for {other}: add it to scripts/gen-quant-fixtures.py and here"),
    }
}

/// Our dequantization of the type's fixture blocks equals gguf-py's bit for bit (any NaN equals
/// any NaN: the float formats carry random NaN payloads through).
fn assert_matches_gguf_py(ty: GgmlType) {
    let (blocks, expected_bytes) = fixture(ty);
    let expected: Vec<f32> =
        expected_bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let block_count = blocks.len() as u64 / ty.block_bytes();
    assert!(block_count >= 100, "{ty}: fixture has only {block_count} blocks");
    assert_eq!(expected.len() as u64, block_count * ty.block_elems(), "{ty}: fixture value count");

    let got = dequantize_to_vec(ty, blocks).unwrap_or_else(|e| panic!("{ty}: {e}"));
    assert_eq!(got.len(), expected.len(), "{ty}: value count");
    for (i, (&g, &e)) in got.iter().zip(&expected).enumerate() {
        let same = g.to_bits() == e.to_bits() || (g.is_nan() && e.is_nan());
        assert!(
            same,
            "{ty} value {i} (block {}, offset {}): got {g:e} ({:#010x}), gguf-py {e:e} ({:#010x})",
            i as u64 / ty.block_elems(),
            i as u64 % ty.block_elems(),
            g.to_bits(),
            e.to_bits()
        );
    }
}

#[test]
fn f32_matches_gguf_py() {
    assert_matches_gguf_py(GgmlType::F32);
}

#[test]
fn f16_matches_gguf_py() {
    assert_matches_gguf_py(GgmlType::F16);
}

#[test]
fn bf16_matches_gguf_py() {
    assert_matches_gguf_py(GgmlType::BF16);
}

#[test]
fn q4_0_matches_gguf_py() {
    assert_matches_gguf_py(GgmlType::Q4_0);
}

#[test]
fn q4_1_matches_gguf_py() {
    assert_matches_gguf_py(GgmlType::Q4_1);
}

#[test]
fn q5_0_matches_gguf_py() {
    assert_matches_gguf_py(GgmlType::Q5_0);
}

#[test]
fn q5_1_matches_gguf_py() {
    assert_matches_gguf_py(GgmlType::Q5_1);
}

#[test]
fn q8_0_matches_gguf_py() {
    assert_matches_gguf_py(GgmlType::Q8_0);
}

#[test]
fn q2_k_matches_gguf_py() {
    assert_matches_gguf_py(GgmlType::Q2_K);
}

#[test]
fn q3_k_matches_gguf_py() {
    assert_matches_gguf_py(GgmlType::Q3_K);
}

#[test]
fn q4_k_matches_gguf_py() {
    assert_matches_gguf_py(GgmlType::Q4_K);
}

#[test]
fn q5_k_matches_gguf_py() {
    assert_matches_gguf_py(GgmlType::Q5_K);
}

#[test]
fn q6_k_matches_gguf_py() {
    assert_matches_gguf_py(GgmlType::Q6_K);
}

#[test]
fn mxfp4_matches_gguf_py() {
    assert_matches_gguf_py(GgmlType::MXFP4);
}

/// Every ggml type id, as a type.
fn all_types() -> impl Iterator<Item = GgmlType> {
    (0..64).filter_map(GgmlType::from_id)
}

#[test]
fn supported_list_and_decoders_agree() {
    for ty in all_types() {
        assert_eq!(block_decoder(ty).is_some(), is_supported(ty), "{ty}: decoder present vs listed in SUPPORTED");
    }
}

#[test]
fn unsupported_type_is_refused_by_name() {
    let bytes = vec![0u8; GgmlType::IQ2_XS.block_bytes() as usize];
    let err = dequantize_to_vec(GgmlType::IQ2_XS, &bytes).expect_err("IQ2_XS has no decoder");
    assert!(matches!(err, QuantError::Unsupported { ty: GgmlType::IQ2_XS, .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("IQ2_XS"), "{message}");
    for ty in SUPPORTED {
        assert!(message.contains(ty.name()), "message does not list {ty}: {message}");
    }
    assert_eq!(check_supported(GgmlType::IQ2_XS), Err(err));
}

#[test]
fn partial_block_is_refused() {
    let ty = GgmlType::Q4_K;
    let bytes = vec![0u8; ty.block_bytes() as usize + 10];
    let err = dequantize_to_vec(ty, &bytes).expect_err("154 bytes are not whole Q4_K blocks");
    assert_eq!(err, QuantError::PartialBlock { ty, len: 154, block_bytes: 144 });
}

#[test]
fn output_of_the_wrong_length_is_refused() {
    let ty = GgmlType::Q5_0;
    let bytes = vec![0u8; 2 * ty.block_bytes() as usize];
    let mut out = vec![0f32; 63];
    let err = dequantize(ty, &bytes, &mut out).expect_err("2 Q5_0 blocks hold 64 values");
    assert_eq!(err, QuantError::OutputLength { ty, len: 44, values: 64, out_len: 63 });
}
