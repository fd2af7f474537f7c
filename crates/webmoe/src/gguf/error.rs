//! What can be wrong with a GGUF file. Every message names the offending key, tensor or offset.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum GgufError {
    #[error("not a GGUF file: the first four bytes are {found:02x?}, expected \"GGUF\"")]
    BadMagic { found: [u8; 4] },
    #[error("this GGUF file is big-endian; webmoe reads little-endian GGUF files (re-convert the model on a little-endian machine)")]
    BigEndian,
    #[error("GGUF version {version} is not supported (webmoe reads versions 2 and 3; re-convert the model with a current llama.cpp)")]
    UnsupportedVersion { version: u32 },
    #[error("the file ends inside {what} at byte {offset} (it is {file_len} bytes): the download is incomplete or the file is damaged")]
    Truncated { what: String, offset: u64, file_len: u64 },
    #[error("{what} claims {count} entries at byte {offset}, more than the {remaining} bytes left in the file can hold")]
    CountTooLarge { what: String, count: u64, offset: u64, remaining: u64 },
    #[error("{what} at byte {offset} claims {len} bytes, which would make the header longer than the {max} bytes webmoe reads as a header: the file is damaged")]
    HeaderTooLarge { what: String, offset: u64, len: u64, max: u64 },
    #[error("metadata key {key:?} has unknown value type id {type_id}")]
    UnknownValueType { key: String, type_id: u32 },
    #[error("metadata array {key:?} nests arrays deeper than {max} levels")]
    ArrayTooDeep { key: String, max: usize },
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 { what: String },
    #[error("metadata key {key:?} appears twice")]
    DuplicateKey { key: String },
    #[error("tensor {name:?} appears twice in the tensor table")]
    DuplicateTensor { name: String },
    #[error("general.alignment is {value}; it must be a power of two")]
    BadAlignment { value: u64 },
    #[error("tensor {name:?} has unknown type id {type_id}")]
    UnknownTensorType { name: String, type_id: u32 },
    #[error("tensor {name:?} has {n_dims} dimensions; GGUF tensors have at most 4")]
    TooManyDims { name: String, n_dims: u32 },
    #[error("tensor {name:?} has a zero dimension")]
    ZeroDim { name: String },
    #[error("tensor {name:?} has dimensions {dims:?} whose size overflows")]
    SizeOverflow { name: String, dims: Vec<u64> },
    #[error("tensor {name:?} of type {ty} has rows of {row_len} values, not a multiple of its block size {block}")]
    RowNotBlockMultiple { name: String, ty: String, row_len: u64, block: u64 },
    #[error("tensor {name:?} data offset {offset} is not a multiple of the file's alignment {alignment}")]
    MisalignedTensor { name: String, offset: u64, alignment: u64 },
    #[error("tensor {name:?} ({size} bytes at data offset {offset}) reaches past the end of the file's data section ({data_len} bytes): the file is truncated or damaged")]
    TensorOutOfBounds { name: String, offset: u64, size: u64, data_len: u64 },
    #[error("tensors {first:?} and {second:?} overlap in the data section")]
    TensorsOverlap { first: String, second: String },
    #[error("metadata key {key:?} is missing")]
    MissingKey { key: String },
    #[error("split model: {what}")]
    Split { what: String },
    #[error("metadata key {key:?} should be {expected}, but it is {found}")]
    WrongType { key: String, expected: String, found: String },
}
