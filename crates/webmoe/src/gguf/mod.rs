//! GGUF reader: header, metadata and tensor table, over any [`ByteSource`].
//!
//! The parser sees only a prefix of the file (the header) and asks for more when the header is
//! longer, so a browser can fetch the first megabytes of a remote file and stop there.

mod error;
mod parse;
mod source;
mod split;
mod types;
mod value;
mod write;

pub use error::GgufError;
pub use parse::{parse_prefix, Parsed};
pub use source::{ByteSource, MemorySource, SourceError};
pub use split::{split_part_names, ConcatSource};
#[cfg(not(target_arch = "wasm32"))]
pub use source::MmapSource;
pub use types::GgmlType;
pub use value::{Array, Value, ValueType};
pub use write::{GgufHeader, GgufStreamWriter, GgufWriter, TensorEntry};

/// `general.alignment` when the file does not set it.
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// First read when looking for the header; most headers (vocabulary included) fit in a few MiB.
const FIRST_HEADER_READ: u64 = 4 << 20;

/// Most bytes a header may take. The largest real headers (vocabularies of 150k-260k tokens with
/// their scores or merges) take under 16 MiB; a length or count field that reaches further is
/// damage, and following it would read and hold that much of the file (the parsed form of a
/// header takes a few times its size again).
pub const MAX_HEADER_BYTES: u64 = 64 << 20;

/// A parsed GGUF header.
#[derive(Clone, Debug)]
pub struct Gguf {
    pub version: u32,
    /// Metadata in file order.
    pub metadata: Vec<(String, Value)>,
    pub tensors: Vec<TensorInfo>,
    pub alignment: u64,
    /// Absolute file offset of the data section; tensor offsets are relative to it.
    pub data_offset: u64,
    pub file_len: u64,
}

/// One entry of the tensor table.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// ggml order: `dims[0]` is the row length (contiguous), then rows, then experts.
    pub dims: Vec<u64>,
    pub ty: GgmlType,
    /// Offset within the data section.
    pub offset: u64,
    /// Bytes, checked against the data section when the header was parsed.
    pub size: u64,
}

impl TensorInfo {
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }

    /// Values per row (`dims[0]`).
    pub fn row_len(&self) -> u64 {
        self.dims.first().copied().unwrap_or(1)
    }

    /// Rows in the whole tensor (all dimensions after the first).
    pub fn n_rows(&self) -> u64 {
        self.dims.iter().skip(1).product()
    }

    pub fn row_bytes(&self) -> u64 {
        self.size / self.n_rows().max(1)
    }
}

/// Why a header could not be read: the source failed, or the bytes are not a valid GGUF header.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HeaderError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Format(#[from] GgufError),
}

impl Gguf {
    /// Read and parse the header of `source`, fetching more of it only when the header needs it.
    pub async fn read<S: ByteSource>(source: &S) -> Result<Gguf, HeaderError> {
        let file_len = source.len();
        let mut want = FIRST_HEADER_READ.min(file_len);
        loop {
            let mut prefix = vec![0u8; want as usize];
            source.read_at(0, &mut prefix).await?;
            match parse_prefix(&prefix, file_len)? {
                Parsed::Complete(g) => return Ok(g),
                // The parser asks for more than it has (at least twice as much, at most
                // MAX_HEADER_BYTES) only when the file holds more.
                Parsed::NeedBytes(n) => want = n.min(file_len),
            }
        }
    }

    /// Parse a header from a complete file held in memory.
    pub fn parse(bytes: &[u8]) -> Result<Gguf, GgufError> {
        match parse_prefix(bytes, bytes.len() as u64)? {
            Parsed::Complete(g) => Ok(g),
            Parsed::NeedBytes(_) => unreachable!("the whole file was given, so the parser never asks for more"),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Absolute file range of a tensor's bytes.
    pub fn tensor_range(&self, t: &TensorInfo) -> std::ops::Range<u64> {
        let start = self.data_offset + t.offset;
        start..start + t.size
    }

    fn wrong_type(key: &str, expected: &str, v: &Value) -> GgufError {
        GgufError::WrongType { key: key.into(), expected: expected.into(), found: v.to_string() }
    }

    /// An unsigned integer key, if present.
    pub fn u64_opt(&self, key: &str) -> Result<Option<u64>, GgufError> {
        self.get(key).map(|v| v.as_u64().ok_or_else(|| Self::wrong_type(key, "an unsigned integer", v))).transpose()
    }

    pub fn u64(&self, key: &str) -> Result<u64, GgufError> {
        self.u64_opt(key)?.ok_or_else(|| GgufError::MissingKey { key: key.into() })
    }

    pub fn f64_opt(&self, key: &str) -> Result<Option<f64>, GgufError> {
        self.get(key).map(|v| v.as_f64().ok_or_else(|| Self::wrong_type(key, "a number", v))).transpose()
    }

    pub fn bool_opt(&self, key: &str) -> Result<Option<bool>, GgufError> {
        self.get(key).map(|v| v.as_bool().ok_or_else(|| Self::wrong_type(key, "a bool", v))).transpose()
    }

    pub fn str_opt(&self, key: &str) -> Result<Option<&str>, GgufError> {
        self.get(key).map(|v| v.as_str().ok_or_else(|| Self::wrong_type(key, "a string", v))).transpose()
    }

    pub fn str(&self, key: &str) -> Result<&str, GgufError> {
        self.str_opt(key)?.ok_or_else(|| GgufError::MissingKey { key: key.into() })
    }

    pub fn array_opt(&self, key: &str) -> Result<Option<&Array>, GgufError> {
        self.get(key).map(|v| v.as_array().ok_or_else(|| Self::wrong_type(key, "an array", v))).transpose()
    }
}

#[cfg(test)]
mod tests;
