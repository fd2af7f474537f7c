//! Where model bytes come from: a memory-mapped file natively, bytes in memory, or a source the
//! browser build plugs in (IndexedDB shards). The reader and loader only ever ask for byte ranges.

use std::future::Future;

/// A random-access, read-only byte source. Reads may complete asynchronously (the browser's
/// storage is asynchronous); native sources complete at once.
pub trait ByteSource {
    /// Total length in bytes.
    fn len(&self) -> u64;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fill `dst` with the bytes at `offset..offset + dst.len()`.
    fn read_at(&self, offset: u64, dst: &mut [u8]) -> impl Future<Output = Result<(), SourceError>>;
}

/// A failed read, with what the source knows about why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("reading {len} bytes at offset {offset} failed: {reason}")]
pub struct SourceError {
    pub offset: u64,
    pub len: u64,
    pub reason: String,
}

fn out_of_range(offset: u64, len: usize, total: u64) -> SourceError {
    SourceError { offset, len: len as u64, reason: format!("the source holds only {total} bytes") }
}

/// Bytes held in memory (tests, small models, a buffer the caller already has).
pub struct MemorySource {
    bytes: Vec<u8>,
}

impl MemorySource {
    pub fn new(bytes: Vec<u8>) -> Self {
        MemorySource { bytes }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// The bytes at `offset..offset + len` of `bytes`, if they are all there.
pub(crate) fn slice_at(bytes: &[u8], offset: u64, len: usize) -> Result<&[u8], SourceError> {
    let start = usize::try_from(offset).map_err(|_| out_of_range(offset, len, bytes.len() as u64))?;
    start
        .checked_add(len)
        .and_then(|end| bytes.get(start..end))
        .ok_or_else(|| out_of_range(offset, len, bytes.len() as u64))
}

impl ByteSource for MemorySource {
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    async fn read_at(&self, offset: u64, dst: &mut [u8]) -> Result<(), SourceError> {
        dst.copy_from_slice(slice_at(&self.bytes, offset, dst.len())?);
        Ok(())
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::MmapSource;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::*;
    use std::path::Path;

    /// A memory-mapped file: the operating system pages weights in as they are uploaded.
    pub struct MmapSource {
        map: memmap2::Mmap,
    }

    impl MmapSource {
        pub fn open(path: &Path) -> std::io::Result<Self> {
            let file = std::fs::File::open(path)?;
            // A folder opens like a file on Linux and then fails to map with "No such device".
            if file.metadata()?.is_dir() {
                return Err(std::io::Error::new(std::io::ErrorKind::IsADirectory, "it is a folder, not a GGUF file"));
            }
            // SAFETY: the map is read-only; a file changed underneath by another process would
            // give wrong weights, not memory unsafety in this process's own data structures.
            let map = unsafe { memmap2::Mmap::map(&file)? };
            Ok(MmapSource { map })
        }

        pub fn bytes(&self) -> &[u8] {
            &self.map
        }
    }

    impl ByteSource for MmapSource {
        fn len(&self) -> u64 {
            self.map.len() as u64
        }

        async fn read_at(&self, offset: u64, dst: &mut [u8]) -> Result<(), SourceError> {
            dst.copy_from_slice(slice_at(&self.map, offset, dst.len())?);
            Ok(())
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::MmapSource;

    #[test]
    fn a_folder_is_refused_as_a_folder() {
        match MmapSource::open(&std::env::temp_dir()) {
            Ok(_) => panic!("a folder was mapped as a model file"),
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::IsADirectory, "{e}");
                assert!(e.to_string().contains("folder"), "{e}");
            }
        }
    }
}
