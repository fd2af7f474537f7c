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

/// A file of `len` bytes that holds `bytes` and then zeros, never materialised: a header-only
/// fixture standing for a large file.
struct SparseFile {
    bytes: Vec<u8>,
    len: u64,
}

impl ByteSource for SparseFile {
    fn len(&self) -> u64 {
        self.len
    }

    async fn read_at(&self, offset: u64, dst: &mut [u8]) -> Result<(), SourceError> {
        assert!(offset + dst.len() as u64 <= self.len, "read of {} bytes at {offset} past the end", dst.len());
        dst.fill(0);
        if let Some(held) = self.bytes.get(offset as usize..) {
            let n = dst.len().min(held.len());
            dst[..n].copy_from_slice(&held[..n]);
        }
        Ok(())
    }
}

fn header(n_tensors: u64, n_kv: u64) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&n_tensors.to_le_bytes());
    b.extend_from_slice(&n_kv.to_le_bytes());
    b
}

fn put_key(b: &mut Vec<u8>, key: &str, ty: ValueType) {
    b.extend_from_slice(&(key.len() as u64).to_le_bytes());
    b.extend_from_slice(key.as_bytes());
    b.extend_from_slice(&(ty as u32).to_le_bytes());
}

#[test]
fn counts_only_the_unread_rest_of_a_file_could_hold_reserve_nothing_up_front() {
    // Each count fits a file of u64::MAX bytes; room reserved for all of it would be exabytes
    // (a "capacity overflow" panic, or an abort on the allocation).
    let huge_tensor_count = header(1 << 58, 0);
    let huge_key_count = header(0, 1 << 59);
    let mut huge_string_array = header(0, 1);
    put_key(&mut huge_string_array, "a", ValueType::Array);
    huge_string_array.extend_from_slice(&(ValueType::String as u32).to_le_bytes());
    huge_string_array.extend_from_slice(&(1u64 << 59).to_le_bytes());
    let mut huge_nested_array = huge_string_array.clone();
    let at = huge_nested_array.len() - 12;
    huge_nested_array[at..at + 4].copy_from_slice(&(ValueType::Array as u32).to_le_bytes());
    for (case, bytes) in [
        ("tensor count", huge_tensor_count),
        ("metadata count", huge_key_count),
        ("string array length", huge_string_array),
        ("nested array length", huge_nested_array),
    ] {
        match parse_prefix(&bytes, u64::MAX) {
            Ok(Parsed::NeedBytes(n)) => assert_eq!(n, 2 * bytes.len() as u64, "{case}"),
            Ok(Parsed::Complete(_)) => panic!("{case}: a header that lacks its entries parsed"),
            Err(e) => panic!("{case}: {e}"),
        }
    }
}

/// A file of tests/fixtures/bad/: like a fuzz input, the start of a file whose last 8 bytes also
/// say how many more bytes the whole file holds (little-endian). Returns the bytes and that length.
fn bad_fixture(name: &str) -> (Vec<u8>, u64) {
    let path = format!("{}/../../tests/fixtures/bad/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let tail: [u8; 8] = bytes[bytes.len() - 8..].try_into().unwrap();
    let claimed = (bytes.len() as u64).saturating_add(u64::from_le_bytes(tail));
    (bytes, claimed)
}

#[test]
fn fuzzed_counts_that_reserved_gigabytes_now_reserve_what_was_read() {
    // 12 bytes standing for a file of 2.9e17 bytes whose tensor count (64M) is read from the
    // zeros after them: room for 64M table entries (4.8 GB) was reserved before any was read.
    let (bytes, claimed) = bad_fixture("tensor-count-reserved-beyond-prefix.gguf");
    assert!(matches!(parse_prefix(&bytes, claimed), Ok(Parsed::NeedBytes(24))));
    let e = pollster::block_on(Gguf::read(&SparseFile { bytes, len: claimed })).unwrap_err();
    assert_eq!(e, HeaderError::Format(GgufError::DuplicateTensor { name: String::new() }));
    // 125M metadata entries, then a first key of 72 MB: once the reader had fetched the key, room
    // for 5.5M entries (540 MB) was reserved; now the key is refused as longer than any header.
    let (bytes, claimed) = bad_fixture("metadata-count-reserved-beyond-header.gguf");
    let e = pollster::block_on(Gguf::read(&SparseFile { bytes, len: claimed })).unwrap_err();
    let expected = GgufError::HeaderTooLarge {
        what: "metadata key #0".into(),
        offset: 32,
        len: 0x0446_0000,
        max: MAX_HEADER_BYTES,
    };
    assert_eq!(e, HeaderError::Format(expected));
    // The same two counts at the scale of a real file (32 GiB): 2^30 table entries (77 GB) and
    // 2^31 metadata entries (120 GB) were reserved from the first 4 MiB read.
    let (bytes, claimed) = bad_fixture("tensor-count-in-a-32-gib-file.gguf");
    let e = pollster::block_on(Gguf::read(&SparseFile { bytes, len: claimed })).unwrap_err();
    assert_eq!(e, HeaderError::Format(GgufError::DuplicateTensor { name: String::new() }));
    let (bytes, claimed) = bad_fixture("metadata-count-in-a-32-gib-file.gguf");
    let e = pollster::block_on(Gguf::read(&SparseFile { bytes, len: claimed })).unwrap_err();
    assert_eq!(e, HeaderError::Format(GgufError::DuplicateKey { key: String::new() }));
}

#[test]
fn a_header_that_claims_more_than_the_header_limit_is_refused_before_reading_it() {
    // A 1 TiB string in a 2 TiB file: the reader fetched the whole string into memory first.
    let (bytes, claimed) = bad_fixture("string-longer-than-any-header.gguf");
    assert_eq!(claimed, 1 << 41);
    // Header (24 bytes), then key length, "k" and the value type: the string's length is at 37.
    let at: u64 = 24 + 8 + 1 + 4;
    let e = pollster::block_on(Gguf::read(&SparseFile { bytes: bytes.clone(), len: claimed })).unwrap_err();
    let expected = GgufError::HeaderTooLarge {
        what: "the value of metadata key \"k\"".into(),
        offset: at + 8,
        len: 1 << 40,
        max: MAX_HEADER_BYTES,
    };
    assert_eq!(e, HeaderError::Format(expected));
    // One byte under the limit is still a header (here one of zeros after the string).
    let under = MAX_HEADER_BYTES - at - 8;
    let mut bytes = bytes[..at as usize + 8].to_vec();
    bytes[at as usize..].copy_from_slice(&under.to_le_bytes());
    let g = pollster::block_on(Gguf::read(&SparseFile { bytes, len: claimed })).unwrap();
    assert_eq!(g.str("k").map(str::len), Ok(under as usize));
    assert_eq!(g.data_offset, MAX_HEADER_BYTES);
}
