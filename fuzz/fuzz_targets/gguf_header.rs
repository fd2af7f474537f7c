//! The GGUF header reader over arbitrary bytes: `Gguf::parse` of the input as a whole file,
//! `parse_prefix` of the input as the start of a longer file, and `Gguf::read` where the header
//! reaches past the input. Each must return a header or an error, never panic, and allocate only
//! what the bytes it was given (or the file length it was told) can justify. A header that parses
//! must describe tensors that lie inside the file, aligned and apart.

#![no_main]

mod input;

use libfuzzer_sys::fuzz_target;
use webmoe::gguf::{parse_prefix, ByteSource, Gguf, MemorySource, Parsed, SourceError};

fuzz_target!(|bytes: &[u8]| {
    let whole = Gguf::parse(bytes);
    if let Ok(g) = &whole {
        check_header(g, bytes.len() as u64);
    }
    // Reading through a source gives what parsing the whole file gives.
    let read = pollster::block_on(Gguf::read(&MemorySource::new(bytes.to_vec())));
    assert_eq!(format!("{read:?}"), format!("{:?}", whole.map_err(webmoe::gguf::HeaderError::Format)));

    let file_len = input::claimed_len(bytes);
    match parse_prefix(bytes, file_len) {
        Ok(Parsed::Complete(g)) => check_header(&g, file_len),
        Ok(Parsed::NeedBytes(n)) => {
            assert!(n > bytes.len() as u64, "asked for {n} bytes when given {}", bytes.len());
            // The reader's loop of growing prefixes, over a file that is the input then zeros.
            if let Ok(g) = pollster::block_on(Gguf::read(&SparseFile { bytes, len: file_len })) {
                check_header(&g, file_len);
            }
        }
        Err(_) => {}
    }
});

/// What every parsed header promises the loader.
fn check_header(g: &Gguf, file_len: u64) {
    assert!(g.alignment.is_power_of_two(), "alignment {}", g.alignment);
    assert_eq!(g.data_offset % g.alignment, 0, "data offset {} for alignment {}", g.data_offset, g.alignment);
    assert_eq!(g.file_len, file_len);
    let mut extents = Vec::with_capacity(g.tensors.len());
    for t in &g.tensors {
        let rows: u64 = t.dims.iter().skip(1).product();
        assert_eq!(Some(t.size), t.ty.row_bytes(t.row_len()).map(|r| r * rows), "size of tensor {:?}", t.name);
        assert_eq!(t.offset % g.alignment, 0, "offset of tensor {:?}", t.name);
        let range = g.tensor_range(t);
        assert!(range.end <= file_len, "tensor {:?} ends at {} in a file of {file_len} bytes", t.name, range.end);
        extents.push(range);
    }
    extents.sort_by_key(|r| r.start);
    for pair in extents.windows(2) {
        assert!(pair[0].end <= pair[1].start, "tensors overlap: {:?} and {:?}", pair[0], pair[1]);
    }
}

/// A file of `len` bytes that holds `bytes` and then zeros, never materialised: a huge claimed
/// file costs only what a reader asks of it.
struct SparseFile<'a> {
    bytes: &'a [u8],
    len: u64,
}

impl ByteSource for SparseFile<'_> {
    fn len(&self) -> u64 {
        self.len
    }

    async fn read_at(&self, offset: u64, dst: &mut [u8]) -> Result<(), SourceError> {
        if offset.checked_add(dst.len() as u64).is_none_or(|end| end > self.len) {
            return Err(SourceError {
                offset,
                len: dst.len() as u64,
                reason: format!("the file holds only {} bytes", self.len),
            });
        }
        dst.fill(0);
        if let Some(held) = usize::try_from(offset).ok().and_then(|from| self.bytes.get(from..)) {
            let n = dst.len().min(held.len());
            dst[..n].copy_from_slice(&held[..n]);
        }
        Ok(())
    }
}
