//! GPU failures, each with what the user can do about it.

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GpuError {
    #[error("no WebGPU adapter is available ({reason}); check that the GPU driver (or, without a GPU, a software Vulkan driver such as Mesa lavapipe) is installed")]
    NoAdapter { reason: String },
    #[error("the GPU refused to create a device ({reason})")]
    DeviceRequest { reason: String },
    #[error("the GPU device was lost ({reason}); close other GPU-heavy programs or tabs and load the model again")]
    DeviceLost { reason: String },
    #[error("the GPU could not allocate {bytes} bytes for {what}; try a smaller context length, a smaller model or quantization, or a GPU memory budget")]
    OutOfMemory { what: String, bytes: u64 },
    #[error("{what} needs {bytes} bytes in one GPU binding, more than this adapter allows ({limit}); try a smaller context length or quantization")]
    TooLargeForBinding { what: String, bytes: u64, limit: u64 },
    #[error("a GPU operation failed: {message}")]
    Operation { message: String },
    #[error("reading results back from the GPU failed: {reason}")]
    Readback { reason: String },
}
