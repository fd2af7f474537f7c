//! Split GGUF files (`model-00001-of-00003.gguf` …), as llama.cpp's gguf-split writes them: each
//! part is a GGUF file with its own header and tensors; the first carries the model's metadata,
//! and every part carries `split.no`, `split.count` and `split.tensors.count`.
//!
//! The parts are read as one byte space, part after part ([`ConcatSource`]), and their tensor
//! tables merged into one [`Gguf`] whose tensor offsets are absolute in that space.

use super::{ByteSource, Gguf, GgufError, HeaderError, SourceError};
use std::collections::HashSet;

/// Several byte sources read as their concatenation.
pub struct ConcatSource<S> {
    parts: Vec<S>,
    /// Where each part starts in the concatenation; `starts[parts.len()]` is the total length.
    starts: Vec<u64>,
}

impl<S: ByteSource> ConcatSource<S> {
    pub fn new(parts: Vec<S>) -> Self {
        let mut starts = vec![0u64];
        for p in &parts {
            starts.push(starts[starts.len() - 1] + p.len());
        }
        ConcatSource { parts, starts }
    }

    pub fn parts(&self) -> &[S] {
        &self.parts
    }

    /// Where part `i` starts.
    pub fn start_of(&self, i: usize) -> u64 {
        self.starts[i]
    }
}

impl<S: ByteSource> ByteSource for ConcatSource<S> {
    fn len(&self) -> u64 {
        self.starts[self.parts.len()]
    }

    async fn read_at(&self, offset: u64, dst: &mut [u8]) -> Result<(), SourceError> {
        let end = offset.checked_add(dst.len() as u64).filter(|&e| e <= self.len()).ok_or_else(|| SourceError {
            offset,
            len: dst.len() as u64,
            reason: format!("the split model holds only {} bytes", self.len()),
        })?;
        let mut at = offset;
        while at < end {
            // The part holding byte `at`: the last whose start is at or before it.
            let i = self.starts.partition_point(|&s| s <= at) - 1;
            let part_end = self.starts[i + 1].min(end);
            let from = (at - offset) as usize;
            let to = (part_end - offset) as usize;
            self.parts[i].read_at(at - self.starts[i], &mut dst[from..to]).await?;
            at = part_end;
        }
        Ok(())
    }
}

/// Parts of a split file whose split keys disagree with each other or with the files given.
fn split_error(what: String) -> HeaderError {
    HeaderError::Format(GgufError::Split { what })
}

impl Gguf {
    /// Read the headers of all parts of a model (one part: an ordinary file) and merge them.
    /// The result describes `ConcatSource::new(parts)`.
    pub async fn read_parts<S: ByteSource>(source: &ConcatSource<S>) -> Result<Gguf, HeaderError> {
        let parts = source.parts();
        let mut headers = Vec::with_capacity(parts.len());
        for p in parts {
            headers.push(Gguf::read(p).await?);
        }
        let count = headers[0].u64_opt("split.count").map_err(HeaderError::Format)?.unwrap_or(1);
        if count != parts.len() as u64 {
            return Err(split_error(format!("split.count is {count}, but {} file(s) were given; give every part, in order", parts.len())));
        }
        if parts.len() == 1 {
            return Ok(headers.remove(0));
        }
        let mut merged = headers[0].clone();
        merged.tensors.clear();
        merged.data_offset = 0;
        merged.file_len = source.len();
        let mut names = HashSet::new();
        for (i, h) in headers.iter().enumerate() {
            let no = h.u64_opt("split.no").map_err(HeaderError::Format)?;
            if no != Some(i as u64) {
                return Err(split_error(format!("part {} of the files given has split.no {no:?}; give the parts in order", i + 1)));
            }
            for t in &h.tensors {
                if !names.insert(t.name.clone()) {
                    return Err(HeaderError::Format(GgufError::DuplicateTensor { name: t.name.clone() }));
                }
                let mut t = t.clone();
                t.offset += source.start_of(i) + h.data_offset;
                merged.tensors.push(t);
            }
        }
        if let Some(total) = headers[0].u64_opt("split.tensors.count").map_err(HeaderError::Format)? {
            if total != merged.tensors.len() as u64 {
                return Err(split_error(format!("split.tensors.count is {total}, but the parts hold {} tensors", merged.tensors.len())));
            }
        }
        Ok(merged)
    }
}

/// The names of every part of a split model, from the name of one part
/// (`name-00002-of-00003.gguf` → `name-00001-of-00003.gguf` … `name-00003-of-00003.gguf`);
/// `None` when the name does not follow that pattern.
pub fn split_part_names(name: &str) -> Option<Vec<String>> {
    let stem = name.strip_suffix(".gguf")?;
    let (head, count) = stem.rsplit_once("-of-")?;
    let (prefix, no) = head.rsplit_once('-')?;
    if no.len() != 5 || count.len() != 5 || !no.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: usize = count.parse().ok()?;
    if n == 0 || no.parse::<usize>().ok()? > n {
        return None;
    }
    Some((1..=n).map(|i| format!("{prefix}-{i:05}-of-{count}.gguf")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::{GgmlType, GgufWriter, MemorySource, Value};

    fn part(no: u16, count: u16, tensors: &[(&str, u8)], total: i32) -> Vec<u8> {
        let mut w = GgufWriter::new();
        if no == 0 {
            w.meta("general.architecture", Value::String("llama".into()));
        }
        w.meta("split.no", Value::U16(no)).meta("split.count", Value::U16(count)).meta("split.tensors.count", Value::I32(total));
        for (name, fill) in tensors {
            w.tensor(name, &[8], GgmlType::F32, vec![*fill; 32]);
        }
        w.to_bytes()
    }

    #[test]
    fn parts_merge_into_one_byte_space() {
        let parts = vec![part(0, 3, &[("a", 1)], 4), part(1, 3, &[("b", 2), ("c", 3)], 4), part(2, 3, &[("d", 4)], 4)];
        let joined: Vec<u8> = parts.concat();
        let source = ConcatSource::new(parts.into_iter().map(MemorySource::new).collect());
        let g = pollster::block_on(Gguf::read_parts(&source)).unwrap();
        assert_eq!(g.str("general.architecture").unwrap(), "llama");
        assert_eq!(g.tensors.len(), 4);
        for (name, fill) in [("a", 1u8), ("b", 2), ("c", 3), ("d", 4)] {
            let r = g.tensor_range(g.tensor(name).unwrap());
            let mut bytes = vec![0u8; (r.end - r.start) as usize];
            // A read that crosses parts is served piecewise.
            pollster::block_on(source.read_at(r.start, &mut bytes)).unwrap();
            assert!(bytes.iter().all(|&b| b == fill), "tensor {name}");
        }
        // A read that spans all three parts.
        let mut across = vec![0u8; joined.len() - 20];
        pollster::block_on(source.read_at(10, &mut across)).unwrap();
        assert_eq!(across, joined[10..joined.len() - 10]);
        assert!(pollster::block_on(source.read_at(joined.len() as u64 - 5, &mut [0u8; 6])).is_err());
    }

    #[test]
    fn missing_or_misordered_parts_are_named() {
        let p = |no| part(no, 2, &[(if no == 0 { "a" } else { "b" }, 1)], 2);
        let e = pollster::block_on(Gguf::read_parts(&ConcatSource::new(vec![MemorySource::new(p(0))]))).unwrap_err();
        assert!(e.to_string().contains("split.count is 2, but 1 file(s)"), "{e}");
        let e = pollster::block_on(Gguf::read_parts(&ConcatSource::new(vec![MemorySource::new(p(1)), MemorySource::new(p(0))]))).unwrap_err();
        assert!(e.to_string().contains("in order"), "{e}");
        let bad_total = vec![MemorySource::new(part(0, 2, &[("a", 1)], 3)), MemorySource::new(part(1, 2, &[("b", 1)], 3))];
        let e = pollster::block_on(Gguf::read_parts(&ConcatSource::new(bad_total))).unwrap_err();
        assert!(e.to_string().contains("split.tensors.count is 3"), "{e}");
    }

    #[test]
    fn part_names_follow_the_split_pattern() {
        assert_eq!(
            split_part_names("m/mixtral-Q4_K_M-00002-of-00003.gguf").unwrap(),
            ["m/mixtral-Q4_K_M-00001-of-00003.gguf", "m/mixtral-Q4_K_M-00002-of-00003.gguf", "m/mixtral-Q4_K_M-00003-of-00003.gguf"]
        );
        assert_eq!(split_part_names("model.gguf"), None);
        assert_eq!(split_part_names("x-1-of-2.gguf"), None);
    }
}
