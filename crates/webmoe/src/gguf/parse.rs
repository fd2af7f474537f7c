//! The GGUF header parser: magic, version, metadata, tensor table, data offset.
//!
//! Layout (little-endian, v2/v3): "GGUF" u32:version u64:n_tensors u64:n_kv, then n_kv entries of
//! {string key, u32 type, value}, then n_tensors entries of {string name, u32 n_dims,
//! u64 dims[n_dims], u32 type, u64 offset}, padding to `general.alignment` (default 32), data.
//!
//! Every count is checked against the bytes left in the file, and room is reserved only for the
//! items the bytes at hand can hold, so the memory the parser takes is bounded by the length of the
//! prefix it was given. A header may not reach past [`MAX_HEADER_BYTES`], so a length field cannot
//! make a reader fetch and hold most of a large file as "header".

use super::error::GgufError;
use super::types::GgmlType;
use super::value::{Array, Value, ValueType};
use super::{Gguf, TensorInfo, DEFAULT_ALIGNMENT, MAX_HEADER_BYTES};
use std::collections::HashSet;

/// Arrays of arrays deeper than this are refused (no real file nests at all).
const MAX_ARRAY_DEPTH: usize = 4;

/// Least bytes of one tensor table entry: name length (8), n_dims (4), type (4), offset (8).
const MIN_TENSOR_ENTRY: u64 = 24;

/// Least bytes of one metadata entry: key length (8), type (4), a one-byte value.
const MIN_METADATA_ENTRY: u64 = 13;

/// Outcome of parsing a prefix of a file: the header, or how many bytes are needed to go on.
pub enum Parsed {
    Complete(Gguf),
    /// The header reaches past the prefix given; try again with at least this many bytes.
    NeedBytes(u64),
}

/// Parse a GGUF header from `bytes`, a prefix of a file of `file_len` bytes.
pub fn parse_prefix(bytes: &[u8], file_len: u64) -> Result<Parsed, GgufError> {
    let mut r = Reader { bytes, pos: 0, file_len };
    match parse(&mut r) {
        Ok(g) => Ok(Parsed::Complete(g)),
        Err(Stop::NeedBytes(n)) => Ok(Parsed::NeedBytes(n)),
        Err(Stop::Bad(e)) => Err(e),
    }
}

enum Stop {
    /// The prefix ended before the header did; the file is longer, so more bytes can be read.
    NeedBytes(u64),
    Bad(GgufError),
}

impl From<GgufError> for Stop {
    fn from(e: GgufError) -> Self {
        Stop::Bad(e)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    file_len: u64,
}

impl<'a> Reader<'a> {
    fn offset(&self) -> u64 {
        self.pos as u64
    }

    /// Bytes the file still holds after the current position (not just the prefix).
    fn remaining_in_file(&self) -> u64 {
        self.file_len.saturating_sub(self.offset())
    }

    fn take(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&'a [u8], Stop> {
        let Some(end) = self.offset().checked_add(n).filter(|&end| end <= self.file_len) else {
            return Err(GgufError::Truncated { what: what(), offset: self.offset(), file_len: self.file_len }.into());
        };
        if end > MAX_HEADER_BYTES {
            return Err(GgufError::HeaderTooLarge {
                what: what(),
                offset: self.offset(),
                len: n,
                max: MAX_HEADER_BYTES,
            }
            .into());
        }
        if end > self.bytes.len() as u64 {
            return Err(Stop::NeedBytes(end.max(self.bytes.len() as u64 * 2).min(MAX_HEADER_BYTES)));
        }
        let s = &self.bytes[self.pos..end as usize];
        self.pos = end as usize;
        Ok(s)
    }

    /// Room to reserve for `count` items of type `T`, each encoded in at least `min_item_len`
    /// bytes: never more bytes than the prefix at hand holds. `count` was checked only against the
    /// whole file, most of which a prefix has not read, so reserving for all of it would let one
    /// field allocate gigabytes; real entries beyond the reservation grow the vector as they parse.
    fn capacity<T>(&self, count: u64, min_item_len: u64) -> usize {
        let at_hand = (self.bytes.len() - self.pos) as u64;
        count.min(at_hand / min_item_len.max(std::mem::size_of::<T>() as u64)) as usize
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N], Stop> {
        let s = self.take(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, Stop> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, Stop> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A count of items each taking at least `min_item_len` bytes: refused if the rest of the
    /// file could not hold that many.
    fn count(&mut self, min_item_len: u64, what: &dyn Fn() -> String) -> Result<u64, Stop> {
        let count = self.u64(what)?;
        let remaining = self.remaining_in_file();
        if count.saturating_mul(min_item_len) > remaining {
            return Err(GgufError::CountTooLarge { what: what(), count, offset: self.offset(), remaining }.into());
        }
        Ok(count)
    }

    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String, Stop> {
        let len = self.count(1, what)?;
        let raw = self.take(len, what)?;
        String::from_utf8(raw.to_vec()).map_err(|_| GgufError::InvalidUtf8 { what: what() }.into())
    }
}

fn parse(r: &mut Reader) -> Result<Gguf, Stop> {
    let magic: [u8; 4] = r.array(&|| "the magic number".into())?;
    if &magic != b"GGUF" {
        return Err(GgufError::BadMagic { found: magic }.into());
    }
    let version = r.u32(&|| "the version".into())?;
    if version & 0xFFFF == 0 && version != 0 {
        // A big-endian file stores 3 as 0x03000000.
        return Err(GgufError::BigEndian.into());
    }
    if version != 2 && version != 3 {
        return Err(GgufError::UnsupportedVersion { version }.into());
    }
    let n_tensors = r.count(MIN_TENSOR_ENTRY, &|| "the tensor count".into())?;
    let n_kv = r.count(MIN_METADATA_ENTRY, &|| "the metadata count".into())?;

    let mut metadata: Vec<(String, Value)> =
        Vec::with_capacity(r.capacity::<(String, Value)>(n_kv, MIN_METADATA_ENTRY));
    let mut keys = HashSet::new();
    for i in 0..n_kv {
        let key = r.string(&|| format!("metadata key #{i}"))?;
        let type_id = r.u32(&|| format!("the type of metadata key {key:?}"))?;
        let ty = ValueType::from_id(type_id).ok_or_else(|| GgufError::UnknownValueType { key: key.clone(), type_id })?;
        let value = read_value(r, ty, &key, 0)?;
        if !keys.insert(key.clone()) {
            return Err(GgufError::DuplicateKey { key }.into());
        }
        metadata.push((key, value));
    }

    let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some((_, v)) => match v.as_u64() {
            Some(a) if a.is_power_of_two() => a,
            Some(a) => return Err(GgufError::BadAlignment { value: a }.into()),
            None => {
                return Err(GgufError::WrongType {
                    key: "general.alignment".into(),
                    expected: "an unsigned integer".into(),
                    found: v.value_type().name().into(),
                }
                .into())
            }
        },
    };

    let mut tensors = Vec::with_capacity(r.capacity::<TensorInfo>(n_tensors, MIN_TENSOR_ENTRY));
    let mut names = HashSet::new();
    for i in 0..n_tensors {
        let name = r.string(&|| format!("the name of tensor #{i}"))?;
        let n_dims = r.u32(&|| format!("the dimension count of tensor {name:?}"))?;
        if n_dims > 4 {
            return Err(GgufError::TooManyDims { name, n_dims }.into());
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for d in 0..n_dims {
            dims.push(r.u64(&|| format!("dimension {d} of tensor {name:?}"))?);
        }
        let type_id = r.u32(&|| format!("the type of tensor {name:?}"))?;
        let offset = r.u64(&|| format!("the data offset of tensor {name:?}"))?;
        let ty = GgmlType::from_id(type_id).ok_or_else(|| GgufError::UnknownTensorType { name: name.clone(), type_id })?;
        let size = tensor_size(&name, &dims, ty)?;
        if offset % alignment != 0 {
            return Err(GgufError::MisalignedTensor { name, offset, alignment }.into());
        }
        if !names.insert(name.clone()) {
            return Err(GgufError::DuplicateTensor { name }.into());
        }
        tensors.push(TensorInfo { name, dims, ty, offset, size });
    }

    let data_offset = r.offset().div_ceil(alignment) * alignment;
    let data_len = r.file_len.saturating_sub(data_offset);
    check_extents(&tensors, data_len)?;
    Ok(Gguf { version, metadata, tensors, alignment, data_offset, file_len: r.file_len })
}

fn read_value(r: &mut Reader, ty: ValueType, key: &str, depth: usize) -> Result<Value, Stop> {
    let what = || format!("the value of metadata key {key:?}");
    Ok(match ty {
        ValueType::U8 => Value::U8(r.array::<1>(&what)?[0]),
        ValueType::I8 => Value::I8(r.array::<1>(&what)?[0] as i8),
        ValueType::U16 => Value::U16(u16::from_le_bytes(r.array(&what)?)),
        ValueType::I16 => Value::I16(i16::from_le_bytes(r.array(&what)?)),
        ValueType::U32 => Value::U32(u32::from_le_bytes(r.array(&what)?)),
        ValueType::I32 => Value::I32(i32::from_le_bytes(r.array(&what)?)),
        ValueType::U64 => Value::U64(u64::from_le_bytes(r.array(&what)?)),
        ValueType::I64 => Value::I64(i64::from_le_bytes(r.array(&what)?)),
        ValueType::F32 => Value::F32(f32::from_le_bytes(r.array(&what)?)),
        ValueType::F64 => Value::F64(f64::from_le_bytes(r.array(&what)?)),
        ValueType::Bool => Value::Bool(r.array::<1>(&what)?[0] != 0),
        ValueType::String => Value::String(r.string(&what)?),
        ValueType::Array => Value::Array(read_array(r, key, depth)?),
    })
}

fn read_array(r: &mut Reader, key: &str, depth: usize) -> Result<Array, Stop> {
    if depth >= MAX_ARRAY_DEPTH {
        return Err(GgufError::ArrayTooDeep { key: key.into(), max: MAX_ARRAY_DEPTH }.into());
    }
    let what = || format!("the array of metadata key {key:?}");
    let type_id = r.u32(&what)?;
    let ty = ValueType::from_id(type_id).ok_or_else(|| GgufError::UnknownValueType { key: key.into(), type_id })?;
    let n = r.count(ty.min_encoded_len(), &what)?;
    macro_rules! fixed {
        ($variant:ident, $t:ty) => {{
            // `count` checked that n values of this size fit in the file, so the product does not overflow.
            let raw = r.take(n * std::mem::size_of::<$t>() as u64, &what)?;
            Array::$variant(
                raw.chunks_exact(std::mem::size_of::<$t>()).map(|c| <$t>::from_le_bytes(c.try_into().unwrap_or_default())).collect(),
            )
        }};
    }
    Ok(match ty {
        ValueType::U8 => Array::U8(r.take(n, &what)?.to_vec()),
        ValueType::I8 => Array::I8(r.take(n, &what)?.iter().map(|&b| b as i8).collect()),
        ValueType::Bool => Array::Bool(r.take(n, &what)?.iter().map(|&b| b != 0).collect()),
        ValueType::U16 => fixed!(U16, u16),
        ValueType::I16 => fixed!(I16, i16),
        ValueType::U32 => fixed!(U32, u32),
        ValueType::I32 => fixed!(I32, i32),
        ValueType::U64 => fixed!(U64, u64),
        ValueType::I64 => fixed!(I64, i64),
        ValueType::F32 => fixed!(F32, f32),
        ValueType::F64 => fixed!(F64, f64),
        ValueType::String => {
            let mut v = Vec::with_capacity(r.capacity::<String>(n, ty.min_encoded_len()));
            for i in 0..n {
                v.push(r.string(&|| format!("element {i} of metadata array {key:?}"))?);
            }
            Array::String(v)
        }
        ValueType::Array => {
            let mut v = Vec::with_capacity(r.capacity::<Array>(n, ty.min_encoded_len()));
            for _ in 0..n {
                v.push(read_array(r, key, depth + 1)?);
            }
            Array::Array(v)
        }
    })
}

/// Bytes of a tensor of type `ty` with ggml dimensions `dims` (dims[0] is the row length).
fn tensor_size(name: &str, dims: &[u64], ty: GgmlType) -> Result<u64, GgufError> {
    if dims.iter().any(|&d| d == 0) {
        return Err(GgufError::ZeroDim { name: name.into() });
    }
    let overflow = || GgufError::SizeOverflow { name: name.into(), dims: dims.to_vec() };
    let row_len = dims.first().copied().unwrap_or(1);
    let rows = dims.iter().skip(1).try_fold(1u64, |acc, &d| acc.checked_mul(d)).ok_or_else(overflow)?;
    if row_len % ty.block_elems() != 0 {
        return Err(GgufError::RowNotBlockMultiple {
            name: name.into(),
            ty: ty.name().into(),
            row_len,
            block: ty.block_elems(),
        });
    }
    let row_bytes = ty.row_bytes(row_len).ok_or_else(overflow)?;
    // Keep every element count addressable by 64-bit arithmetic downstream.
    rows.checked_mul(row_len).ok_or_else(overflow)?;
    rows.checked_mul(row_bytes).ok_or_else(overflow)
}

/// Every tensor must lie inside the data section, and no two may share bytes.
fn check_extents(tensors: &[TensorInfo], data_len: u64) -> Result<(), GgufError> {
    for t in tensors {
        if t.offset.checked_add(t.size).is_none_or(|end| end > data_len) {
            return Err(GgufError::TensorOutOfBounds { name: t.name.clone(), offset: t.offset, size: t.size, data_len });
        }
    }
    let mut order: Vec<&TensorInfo> = tensors.iter().collect();
    order.sort_by_key(|t| t.offset);
    for pair in order.windows(2) {
        if pair[0].offset + pair[0].size > pair[1].offset {
            return Err(GgufError::TensorsOverlap { first: pair[0].name.clone(), second: pair[1].name.clone() });
        }
    }
    Ok(())
}
