//! GGUF writers: [`GgufWriter`] builds small files in memory (tests, fuzz seeds);
//! [`GgufStreamWriter`] writes files of any size front to back, the header first (every tensor's
//! size is declared up front, so every offset is known) and then the tensors' bytes in pieces, so
//! a 26 GB model is written in the memory of one piece. The first is built on the second.

use std::io::{self, Write};

use super::types::GgmlType;
use super::value::{Array, Value};
use super::DEFAULT_ALIGNMENT;

/// Collects metadata and tensors, then lays them out as a GGUF v3 file.
#[derive(Default)]
pub struct GgufWriter {
    metadata: Vec<(String, Value)>,
    tensors: Vec<(TensorEntry, Vec<u8>)>,
}

impl GgufWriter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn meta(&mut self, key: &str, value: Value) -> &mut Self {
        self.metadata.push((key.to_string(), value));
        self
    }

    /// Add a tensor: `dims` in ggml order (row length first), `data` its bytes in `ty`'s layout.
    /// The data need not match the shape (tests build malformed files this way).
    pub fn tensor(&mut self, name: &str, dims: &[u64], ty: GgmlType, data: Vec<u8>) -> &mut Self {
        let entry = TensorEntry { name: name.to_string(), dims: dims.to_vec(), ty, size: data.len() as u64 };
        self.tensors.push((entry, data));
        self
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let entries: Vec<TensorEntry> = self.tensors.iter().map(|(e, _)| e.clone()).collect();
        let header = GgufHeader::new(&self.metadata, &entries);
        let mut w = GgufStreamWriter::new(Vec::with_capacity(header.file_len() as usize), &header)
            .expect("writing to a Vec cannot fail");
        for (_, data) in &self.tensors {
            w.write_data(data).expect("each tensor's data is exactly its declared size");
        }
        w.finish().expect("every tensor was written")
    }
}

/// One entry of the tensor table, its data still to come.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorEntry {
    pub name: String,
    /// ggml order: row length first.
    pub dims: Vec<u64>,
    pub ty: GgmlType,
    /// Bytes of data.
    pub size: u64,
}

impl TensorEntry {
    /// An entry whose size follows from its shape and type; `None` when a row is not a whole
    /// number of blocks or the size overflows.
    pub fn sized(name: &str, dims: &[u64], ty: GgmlType) -> Option<TensorEntry> {
        let row = ty.row_bytes(dims.first().copied().unwrap_or(1))?;
        let size = dims.iter().skip(1).try_fold(row, |acc, &d| acc.checked_mul(d))?;
        Some(TensorEntry { name: name.to_string(), dims: dims.to_vec(), ty, size })
    }
}

/// A GGUF v3 header laid out: its bytes (padded to the data section) and where every tensor's
/// data starts.
pub struct GgufHeader {
    bytes: Vec<u8>,
    /// Absolute file offset of each tensor's data, in table order.
    starts: Vec<u64>,
    sizes: Vec<u64>,
}

impl GgufHeader {
    /// Metadata in file order, then the tensor table; tensor data aligned to `general.alignment`
    /// when the metadata sets a power of two, else 32 bytes.
    pub fn new(metadata: &[(String, Value)], tensors: &[TensorEntry]) -> GgufHeader {
        let align = metadata
            .iter()
            .find(|(k, _)| k == "general.alignment")
            .and_then(|(_, v)| v.as_u64())
            .filter(|a| a.is_power_of_two())
            .unwrap_or(DEFAULT_ALIGNMENT);
        let mut out = Vec::new();
        out.extend_from_slice(b"GGUF");
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(metadata.len() as u64).to_le_bytes());
        for (k, v) in metadata {
            put_str(&mut out, k);
            out.extend_from_slice(&(v.value_type() as u32).to_le_bytes());
            put_value(&mut out, v);
        }
        let mut offset = 0u64;
        let mut offsets = Vec::with_capacity(tensors.len());
        for t in tensors {
            put_str(&mut out, &t.name);
            out.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.extend_from_slice(&t.ty.id().to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            offsets.push(offset);
            offset = (offset + t.size).div_ceil(align) * align;
        }
        let data_start = (out.len() as u64).div_ceil(align) * align;
        out.resize(data_start as usize, 0);
        GgufHeader {
            bytes: out,
            starts: offsets.iter().map(|o| data_start + o).collect(),
            sizes: tensors.iter().map(|t| t.size).collect(),
        }
    }

    /// Bytes of the header, padding included: the data section's offset.
    /// The header's bytes: magic, metadata, tensor table and the padding before the first
    /// tensor's data.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Bytes of the whole file: up to the end of the last tensor (no padding after it).
    pub fn file_len(&self) -> u64 {
        match (self.starts.last(), self.sizes.last()) {
            (Some(start), Some(size)) => start + size,
            _ => self.len(),
        }
    }
}

/// Writes a GGUF file front to back into `out`: the header when created, then the tensors' data
/// in table order through [`write_data`](Self::write_data), in pieces of any size, with the
/// alignment padding between tensors written as each tensor begins.
pub struct GgufStreamWriter<W: Write> {
    out: W,
    starts: Vec<u64>,
    sizes: Vec<u64>,
    /// The tensor being written and how many of its bytes are written.
    current: usize,
    written: u64,
    /// Bytes written to `out`.
    pos: u64,
}

impl<W: Write> GgufStreamWriter<W> {
    /// Write `header` to `out`.
    pub fn new(mut out: W, header: &GgufHeader) -> io::Result<Self> {
        out.write_all(&header.bytes)?;
        Ok(GgufStreamWriter {
            out,
            starts: header.starts.clone(),
            sizes: header.sizes.clone(),
            current: 0,
            written: 0,
            pos: header.len(),
        })
    }

    /// Bytes written so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    fn pad_to(&mut self, offset: u64) -> io::Result<()> {
        const ZEROS: [u8; 64] = [0; 64];
        while self.pos < offset {
            let n = (offset - self.pos).min(ZEROS.len() as u64) as usize;
            self.out.write_all(&ZEROS[..n])?;
            self.pos += n as u64;
        }
        Ok(())
    }

    /// Append the next bytes of tensor data: they continue the current tensor and, once it is
    /// complete, the next ones. Bytes beyond the last tensor are refused.
    pub fn write_data(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            while self.current < self.sizes.len() && self.written == self.sizes[self.current] {
                self.current += 1;
                self.written = 0;
            }
            let Some(&size) = self.sizes.get(self.current) else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "more tensor data than the tensor table declares",
                ));
            };
            if self.written == 0 {
                self.pad_to(self.starts[self.current])?;
            }
            let n = (size - self.written).min(bytes.len() as u64) as usize;
            self.out.write_all(&bytes[..n])?;
            self.pos += n as u64;
            self.written += n as u64;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Check that every tensor is complete, flush, and give back the output.
    pub fn finish(mut self) -> io::Result<W> {
        while self.current < self.sizes.len() {
            let size = self.sizes[self.current];
            if self.written != size {
                let msg = format!("tensor {} has {} of its {size} bytes", self.current, self.written);
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, msg));
            }
            // Trailing empty tensors still place the end of the file at their offset.
            if size == 0 {
                self.pad_to(self.starts[self.current])?;
            }
            self.current += 1;
            self.written = 0;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::U8(x) => out.push(*x),
        Value::I8(x) => out.push(*x as u8),
        Value::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Bool(x) => out.push(*x as u8),
        Value::String(s) => put_str(out, s),
        Value::Array(a) => put_array(out, a),
    }
}

fn put_array(out: &mut Vec<u8>, a: &Array) {
    out.extend_from_slice(&(a.element_type() as u32).to_le_bytes());
    out.extend_from_slice(&(a.len() as u64).to_le_bytes());
    macro_rules! each {
        ($v:expr) => {
            for x in $v {
                out.extend_from_slice(&x.to_le_bytes());
            }
        };
    }
    match a {
        Array::U8(v) => out.extend_from_slice(v),
        Array::I8(v) => out.extend(v.iter().map(|&x| x as u8)),
        Array::Bool(v) => out.extend(v.iter().map(|&x| x as u8)),
        Array::U16(v) => each!(v),
        Array::I16(v) => each!(v),
        Array::U32(v) => each!(v),
        Array::I32(v) => each!(v),
        Array::U64(v) => each!(v),
        Array::I64(v) => each!(v),
        Array::F32(v) => each!(v),
        Array::F64(v) => each!(v),
        Array::String(v) => v.iter().for_each(|s| put_str(out, s)),
        Array::Array(v) => v.iter().for_each(|inner| put_array(out, inner)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::Gguf;

    fn entries() -> Vec<(TensorEntry, Vec<u8>)> {
        let t = |name: &str, dims: &[u64], ty, fill: u8| {
            let e = TensorEntry::sized(name, dims, ty).unwrap();
            let data = vec![fill; e.size as usize];
            (e, data)
        };
        vec![t("a", &[32, 3], GgmlType::Q8_0, 1), t("b", &[5], GgmlType::F32, 2), t("c", &[7, 2], GgmlType::F16, 3)]
    }

    #[test]
    fn data_written_in_any_pieces_gives_the_in_memory_file() {
        let mut whole = GgufWriter::new();
        whole.meta("general.architecture", Value::String("llama".into()));
        for (e, data) in entries() {
            whole.tensor(&e.name, &e.dims, e.ty, data);
        }
        let want = whole.to_bytes();
        let meta = vec![("general.architecture".to_string(), Value::String("llama".into()))];
        let header = GgufHeader::new(&meta, &entries().into_iter().map(|(e, _)| e).collect::<Vec<_>>());
        assert_eq!(header.file_len(), want.len() as u64);
        let all: Vec<u8> = entries().into_iter().flat_map(|(_, d)| d).collect();
        for piece in [1, 7, 100, all.len()] {
            let mut w = GgufStreamWriter::new(Vec::new(), &header).unwrap();
            for chunk in all.chunks(piece) {
                w.write_data(chunk).unwrap();
            }
            assert_eq!(w.finish().unwrap(), want, "pieces of {piece} bytes");
        }
        let g = Gguf::parse(&want).unwrap();
        assert_eq!(g.tensor("c").unwrap().offset % 32, 0);
    }

    #[test]
    fn too_much_or_too_little_data_is_refused() {
        let header = GgufHeader::new(&[], &entries().into_iter().map(|(e, _)| e).collect::<Vec<_>>());
        let total: u64 = entries().iter().map(|(e, _)| e.size).sum();
        let mut w = GgufStreamWriter::new(Vec::new(), &header).unwrap();
        w.write_data(&vec![0; total as usize]).unwrap();
        assert_eq!(w.write_data(&[0]).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        let mut short = GgufStreamWriter::new(Vec::new(), &header).unwrap();
        short.write_data(&[0; 10]).unwrap();
        assert_eq!(short.finish().unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }
}
