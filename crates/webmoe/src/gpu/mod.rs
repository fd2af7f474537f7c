//! The GPU context: device, queue, limits, capabilities, the pipeline cache, and the small set of
//! buffer and dispatch helpers every kernel launcher shares.

mod bandwidth;
mod buffers;
mod context;
mod dispatch;
mod error;
mod matrix;
mod memory;
mod pipelines;
mod shaders;
mod variants;

pub use bandwidth::copy_bandwidth;
pub use buffers::{map_read, read_buffer, StorageBuffer, UniformBuffer};
pub use context::{Capabilities, Gpu, GpuOptions};
pub use dispatch::{Dispatch, Grid};
pub use error::GpuError;
pub use matrix::{GpuMatrix, Page, UploadError};
pub use memory::{BudgetSource, MemoryBudget};
pub use pipelines::PipelineKey;
pub use shaders::{has_decoder, Kernel};
pub use variants::{MatvecShape, Reduce, Variants};
