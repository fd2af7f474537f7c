//! Weight matrices on the GPU, in their GGUF block format, split into pages that each fit one
//! storage binding.
//!
//! A matrix holds `slots` copies of a `rows × cols` weight (slots hold experts; a dense matrix
//! has one). A page is a rectangle of that: rows `[row_begin, row_end)` of slots
//! `[slot_begin, slot_end)`. Either a page holds whole slots (the usual case: one page for the
//! whole matrix, or several experts per page), or, when one expert does not fit a binding, a row
//! range of a single slot. In a page, row n of slot s starts at byte
//! `(s − slot_begin) · slot_stride + (n − row_begin) · row_bytes`, where `slot_stride` is a slot's
//! bytes rounded up to 4 so that every slot starts on a word (GPU writes are 4-byte aligned).

use super::buffers::StorageBuffer;
use super::context::Gpu;
use super::error::GpuError;
use crate::gguf::{ByteSource, GgmlType, SourceError};
use crate::model::Matrix;
use std::ops::Range;

/// Bytes staged per upload write: bounds the host memory an upload holds at once.
const UPLOAD_CHUNK: u64 = 16 << 20;

/// One binding's worth of a matrix.
pub struct Page {
    pub buffer: StorageBuffer,
    pub slots: Range<u32>,
    pub rows: Range<u32>,
}

/// A weight matrix resident on the GPU.
pub struct GpuMatrix {
    pub name: String,
    pub ty: GgmlType,
    pub cols: u32,
    /// Rows per slot.
    pub rows: u32,
    pub slots: u32,
    pub row_bytes: u32,
    /// A slot's bytes, rounded up to a multiple of 4.
    pub slot_stride: u32,
    pub pages: Vec<Page>,
}

/// Why weights could not be put on the GPU.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error(transparent)]
    Source(#[from] SourceError),
}

impl GpuMatrix {
    /// `kernel` and the matrix, as profiles name a dispatch: `matvec ffn_gate_exps|ffn_up_exps Q4_K`
    /// (the tensor names without their layer and `.weight`).
    pub fn label(&self, kernel: &str) -> String {
        let short = |n: &str| {
            let n = n.strip_suffix(".weight").unwrap_or(n);
            match n.strip_prefix("blk.") {
                Some(rest) => rest.split_once('.').map_or(rest, |(_, t)| t).to_string(),
                None => n.to_string(),
            }
        };
        let names: Vec<String> = self.name.split(" | ").map(short).collect();
        format!("{kernel} {} {}", names.join("|"), self.ty)
    }

    /// Allocate pages for `slots` slots shaped like `m` (contents zero).
    pub async fn allocate(gpu: &Gpu, m: &Matrix, slots: usize) -> Result<GpuMatrix, GpuError> {
        Self::allocate_shape(gpu, &m.name, m.ty, m.cols, m.rows, slots).await
    }

    /// Allocate pages for `slots` slots of `rows × cols` values of `ty` (contents zero).
    pub async fn allocate_shape(gpu: &Gpu, name: &str, ty: GgmlType, cols: usize, rows: usize, slots: usize) -> Result<GpuMatrix, GpuError> {
        let row_bytes = ty.row_bytes(cols as u64).ok_or_else(|| GpuError::Operation {
            message: format!("{name}: rows of {cols} values are not whole {ty} blocks"),
        })?;
        let rows = rows as u64;
        let slot_bytes = rows * row_bytes;
        let slot_stride = slot_bytes.div_ceil(4) * 4;
        let limit = gpu.binding_limit;
        let mut pages = Vec::new();
        if slot_stride <= limit {
            let per_page = (limit / slot_stride).min(slots as u64).max(1);
            let mut s = 0u64;
            while s < slots as u64 {
                let n = per_page.min(slots as u64 - s);
                let label = format!("{name} experts {}..{}", s, s + n);
                let buffer = StorageBuffer::new(gpu, &label, n * slot_stride).await?;
                pages.push(Page { buffer, slots: s as u32..(s + n) as u32, rows: 0..rows as u32 });
                s += n;
            }
        } else {
            // Row bytes are even for every block format, so an even row count keeps each page's
            // size a multiple of 4.
            let per_page = (limit / row_bytes.max(1)) / 2 * 2;
            if per_page == 0 {
                return Err(GpuError::TooLargeForBinding { what: format!("two rows of {name}"), bytes: 2 * row_bytes, limit });
            }
            for s in 0..slots as u64 {
                let mut r = 0u64;
                while r < rows {
                    let n = per_page.min(rows - r);
                    let label = format!("{name} expert {} rows {}..{}", s, r, r + n);
                    let buffer = StorageBuffer::new(gpu, &label, n * row_bytes).await?;
                    pages.push(Page { buffer, slots: s as u32..s as u32 + 1, rows: r as u32..(r + n) as u32 });
                    r += n;
                }
            }
        }
        Ok(GpuMatrix {
            name: name.to_string(),
            ty,
            cols: cols as u32,
            rows: rows as u32,
            slots: slots as u32,
            row_bytes: row_bytes as u32,
            slot_stride: slot_stride as u32,
            pages,
        })
    }

    /// Allocate and fill from `source`, expert e of `m` going to slot e.
    pub async fn load<S: ByteSource>(gpu: &Gpu, source: &S, m: &Matrix) -> Result<GpuMatrix, UploadError> {
        let g = Self::allocate(gpu, m, m.n_experts()).await?;
        for (slot, range) in m.experts.iter().enumerate() {
            g.write_slot(gpu, source, slot as u32, std::slice::from_ref(range)).await?;
        }
        Ok(g)
    }

    /// Copy one slot's rows from `source`: the concatenation of `pieces` (file byte ranges that
    /// add up to `rows × row_bytes` bytes; several pieces when matrices are stacked by rows). The
    /// bytes travel in windows of at most [`UPLOAD_CHUNK`], so an upload holds little memory.
    pub async fn write_slot<S: ByteSource>(&self, gpu: &Gpu, source: &S, slot: u32, pieces: &[Range<u64>]) -> Result<(), UploadError> {
        let rb = self.row_bytes as u64;
        let total: u64 = pieces.iter().map(|p| p.end - p.start).sum();
        if total != self.rows as u64 * rb {
            return Err(UploadError::Gpu(GpuError::Operation {
                message: format!("{}: a slot holds {} bytes, {total} were given", self.name, self.rows as u64 * rb),
            }));
        }
        for page in self.pages.iter().filter(|p| p.slots.contains(&slot)) {
            let page_offset = (slot - page.slots.start) as u64 * self.slot_stride as u64;
            // The page holds this byte range of the slot's row stream.
            let stream = page.rows.start as u64 * rb..page.rows.end as u64 * rb;
            let mut at = stream.start;
            while at < stream.end {
                let n = UPLOAD_CHUNK.min(stream.end - at);
                // A slot's last window is padded with zeros into its own padding bytes.
                let mut staged = vec![0u8; (n.div_ceil(4) * 4) as usize];
                read_stream(source, pieces, at, &mut staged[..n as usize]).await?;
                page.buffer.write(gpu, page_offset + (at - stream.start), &staged);
                gpu.wrote(staged.len() as u64);
                at += n;
            }
        }
        Ok(())
    }

    /// Bytes on the GPU.
    pub fn gpu_bytes(&self) -> u64 {
        self.pages.iter().map(|p| p.buffer.buffer.size()).sum()
    }
}

/// Fill `dst` with the bytes at `offset` of the concatenation of `pieces` (file ranges).
async fn read_stream<S: ByteSource>(source: &S, pieces: &[Range<u64>], offset: u64, dst: &mut [u8]) -> Result<(), SourceError> {
    let mut piece_start = 0u64;
    let mut done = 0usize;
    for p in pieces {
        let len = p.end - p.start;
        let want = offset + done as u64;
        if done < dst.len() && want < piece_start + len {
            let from = want - piece_start;
            let n = ((len - from) as usize).min(dst.len() - done);
            source.read_at(p.start + from, &mut dst[done..done + n]).await?;
            done += n;
        }
        piece_start += len;
    }
    Ok(())
}
