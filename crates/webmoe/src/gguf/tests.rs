use super::*;

fn fixture(case: &str) -> Vec<u8> {
    let path = format!("{}/../../tests/fixtures/oracle/{case}/model.gguf", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn small_file() -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.meta("general.architecture", Value::String("llama".into()))
        .meta("llama.block_count", Value::U32(2))
        .meta("tokenizer.ggml.tokens", Value::Array(Array::String(vec!["a".into(), "bc".into()])))
        .meta("nested", Value::Array(Array::Array(vec![Array::I32(vec![1, 2]), Array::F64(vec![0.5])])))
        .meta("flag", Value::Bool(true))
        .tensor("w", &[32, 3], GgmlType::Q8_0, vec![7u8; 3 * 34])
        .tensor("v", &[5], GgmlType::F32, vec![1u8; 20]);
    w.to_bytes()
}

#[test]
fn parses_every_oracle_model() {
    for case in ["mixtral-q8_0", "mixtral-f16", "mixtral-q4_k_m", "dense-llama-q8_0", "mixtral-realvocab-q8_0"] {
        let bytes = fixture(case);
        let g = Gguf::parse(&bytes).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(g.str("general.architecture").unwrap(), "llama", "{case}");
        assert!(g.tensor("token_embd.weight").is_some(), "{case}");
        let last = g.tensors.iter().map(|t| g.data_offset + t.offset + t.size).max().unwrap();
        assert!(last <= bytes.len() as u64, "{case}");
    }
}

#[test]
fn merged_expert_tensor_has_expert_dimension_last() {
    let g = Gguf::parse(&fixture("mixtral-q8_0")).unwrap();
    let t = g.tensor("blk.0.ffn_gate_exps.weight").unwrap();
    // ggml shape [H, F, E]
    assert_eq!(t.dims, vec![256, 128, 8]);
    assert_eq!(t.ty, GgmlType::Q8_0);
    assert_eq!(t.size, 8 * 128 * (256 / 32) * 34);
}

#[test]
fn writer_output_parses_back_to_the_same_values() {
    let bytes = small_file();
    let g = Gguf::parse(&bytes).unwrap();
    assert_eq!(g.version, 3);
    assert_eq!(g.u64("llama.block_count").unwrap(), 2);
    assert_eq!(g.bool_opt("flag").unwrap(), Some(true));
    assert_eq!(g.array_opt("tokenizer.ggml.tokens").unwrap().unwrap().as_strings().unwrap(), ["a", "bc"]);
    match g.get("nested") {
        Some(Value::Array(Array::Array(inner))) => assert_eq!(inner[0], Array::I32(vec![1, 2])),
        other => panic!("nested array came back as {other:?}"),
    }
    let w = g.tensor("w").unwrap();
    assert_eq!((w.dims.clone(), w.ty, w.size), (vec![32, 3], GgmlType::Q8_0, 102));
    assert_eq!(&bytes[g.tensor_range(w).start as usize..][..102], &[7u8; 102][..]);
    assert_eq!(g.tensor("v").unwrap().offset % 32, 0);
}

#[test]
fn wrong_key_types_are_named() {
    let g = Gguf::parse(&small_file()).unwrap();
    let e = g.u64("general.architecture").unwrap_err();
    assert!(e.to_string().contains("general.architecture"), "{e}");
    let e = g.u64("missing.key").unwrap_err();
    assert_eq!(e, GgufError::MissingKey { key: "missing.key".into() });
}

#[test]
fn every_truncation_is_an_error_never_a_panic() {
    let bytes = small_file();
    for cut in 0..bytes.len() {
        let prefix = &bytes[..cut];
        match Gguf::parse(prefix) {
            Err(GgufError::Truncated { .. } | GgufError::CountTooLarge { .. } | GgufError::TensorOutOfBounds { .. }) => {}
            Err(GgufError::BadMagic { .. }) if cut < 4 => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn a_prefix_asks_for_more_bytes_and_then_completes() {
    let bytes = small_file();
    let mut want = 8;
    loop {
        match parse_prefix(&bytes[..want], bytes.len() as u64).unwrap() {
            Parsed::Complete(g) => {
                assert_eq!(g.tensors.len(), 2);
                break;
            }
            Parsed::NeedBytes(n) => {
                assert!(n as usize > want && n as usize <= bytes.len() * 2, "asked for {n} with {want}");
                want = (n as usize).min(bytes.len());
            }
        }
    }
}

#[test]
fn source_reads_the_header_in_growing_prefixes() {
    let bytes = fixture("mixtral-realvocab-q8_0");
    let src = MemorySource::new(bytes);
    let g = pollster::block_on(Gguf::read(&src)).unwrap();
    assert_eq!(g.array_opt("tokenizer.ggml.tokens").unwrap().unwrap().len(), 32000);
}

fn patched(bytes: &[u8], at: usize, with: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at..at + with.len()].copy_from_slice(with);
    b
}

#[test]
fn malformed_headers_name_the_problem() {
    let good = small_file();
    assert!(matches!(Gguf::parse(&patched(&good, 0, b"GGML")), Err(GgufError::BadMagic { .. })));
    assert_eq!(Gguf::parse(&patched(&good, 4, &1u32.to_le_bytes())).unwrap_err(), GgufError::UnsupportedVersion { version: 1 });
    assert_eq!(Gguf::parse(&patched(&good, 4, &3u32.to_be_bytes())).unwrap_err(), GgufError::BigEndian);
    // A tensor count the file cannot hold is refused before anything is allocated for it.
    let e = Gguf::parse(&patched(&good, 8, &u64::MAX.to_le_bytes())).unwrap_err();
    assert!(matches!(e, GgufError::CountTooLarge { count: u64::MAX, .. }), "{e:?}");
    let e = Gguf::parse(&patched(&good, 16, &(1u64 << 40).to_le_bytes())).unwrap_err();
    assert!(matches!(e, GgufError::CountTooLarge { .. }), "{e:?}");
    // The first key's value type id sits after its 8-byte length and 20 bytes of name.
    let e = Gguf::parse(&patched(&good, 24 + 8 + 20, &99u32.to_le_bytes())).unwrap_err();
    assert_eq!(e, GgufError::UnknownValueType { key: "general.architecture".into(), type_id: 99 });
}

fn with_tensor(name: &str, dims: &[u64], ty: GgmlType, len: usize) -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.tensor(name, dims, ty, vec![0u8; len]);
    w.to_bytes()
}

#[test]
fn tensor_table_lies_are_caught() {
    // Header: magic, version, counts (24 bytes), then name len (8) + name.
    let t_at = |name: &str| 24 + 8 + name.len();
    let good = with_tensor("t", &[32, 2], GgmlType::Q8_0, 68);
    assert!(Gguf::parse(&good).is_ok());
    // n_dims = 9
    let e = Gguf::parse(&patched(&good, t_at("t"), &9u32.to_le_bytes())).unwrap_err();
    assert!(matches!(e, GgufError::TooManyDims { n_dims: 9, .. }), "{e:?}");
    // dims[1] huge: size overflows or reaches past the end
    let e = Gguf::parse(&patched(&good, t_at("t") + 4 + 8, &(1u64 << 62).to_le_bytes())).unwrap_err();
    assert!(matches!(e, GgufError::SizeOverflow { .. } | GgufError::TensorOutOfBounds { .. }), "{e:?}");
    // unknown type id
    let e = Gguf::parse(&patched(&good, t_at("t") + 4 + 16, &77u32.to_le_bytes())).unwrap_err();
    assert_eq!(e, GgufError::UnknownTensorType { name: "t".into(), type_id: 77 });
    // row length not a multiple of the block
    let e = Gguf::parse(&patched(&good, t_at("t") + 4, &33u64.to_le_bytes())).unwrap_err();
    assert!(matches!(e, GgufError::RowNotBlockMultiple { row_len: 33, block: 32, .. }), "{e:?}");
    // misaligned and out-of-range offsets
    let e = Gguf::parse(&patched(&good, t_at("t") + 4 + 16 + 4, &3u64.to_le_bytes())).unwrap_err();
    assert!(matches!(e, GgufError::MisalignedTensor { offset: 3, .. }), "{e:?}");
    let e = Gguf::parse(&patched(&good, t_at("t") + 4 + 16 + 4, &(1u64 << 50).to_le_bytes())).unwrap_err();
    assert!(matches!(e, GgufError::TensorOutOfBounds { .. }), "{e:?}");
}

#[test]
fn overlapping_tensors_and_duplicates_are_refused() {
    let mut w = GgufWriter::new();
    w.tensor("a", &[64], GgmlType::F32, vec![0; 256]).tensor("b", &[8], GgmlType::F32, vec![0; 32]);
    let bytes = w.to_bytes();
    let g = Gguf::parse(&bytes).unwrap();
    assert_eq!(g.tensor("b").unwrap().offset, 256);
    // Point b's offset inside a.
    let b_offset_at = 24 + (8 + 1 + 4 + 8 + 4 + 8) + (8 + 1 + 4 + 8 + 4);
    let e = Gguf::parse(&patched(&bytes, b_offset_at, &32u64.to_le_bytes())).unwrap_err();
    assert!(matches!(e, GgufError::TensorsOverlap { .. }), "{e:?}");

    let mut w = GgufWriter::new();
    w.meta("k", Value::U8(1)).meta("k", Value::U8(2));
    assert_eq!(Gguf::parse(&w.to_bytes()).unwrap_err(), GgufError::DuplicateKey { key: "k".into() });
    let mut w = GgufWriter::new();
    w.meta("general.alignment", Value::U32(24));
    assert_eq!(Gguf::parse(&w.to_bytes()).unwrap_err(), GgufError::BadAlignment { value: 24 });
}

#[test]
fn random_corruption_never_panics() {
    let good = small_file();
    let mut state = 0x2545F4914F6CDD1Du64;
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut b = good.clone();
        for k in 0..1 + (state % 4) as usize {
            let at = ((state >> (8 * k)) as usize) % b.len();
            b[at] = (state >> 32 >> k) as u8;
        }
        let _ = Gguf::parse(&b);
    }
}
