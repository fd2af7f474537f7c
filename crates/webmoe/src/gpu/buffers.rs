//! Typed buffer roles and the upload/readback helpers.
//!
//! A weight page, an activation and a parameter block are different types, so a launcher cannot
//! bind one where another belongs.

use super::context::Gpu;
use super::error::GpuError;
use wgpu::util::DeviceExt;

/// A storage buffer (weights, activations, caches). Sizes are padded to 4 bytes.
pub struct StorageBuffer {
    pub buffer: wgpu::Buffer,
    /// Bytes requested (before padding).
    pub len: u64,
}

/// A uniform block of kernel parameters, written once.
pub struct UniformBuffer {
    pub buffer: wgpu::Buffer,
}

const STORAGE: wgpu::BufferUsages =
    wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_DST).union(wgpu::BufferUsages::COPY_SRC);

impl StorageBuffer {
    /// A zeroed buffer of `len` bytes; an allocation the device refuses becomes `OutOfMemory`.
    pub async fn new(gpu: &Gpu, label: &str, len: u64) -> Result<StorageBuffer, GpuError> {
        let size = len.max(4).div_ceil(4) * 4;
        if size > gpu.limits.max_buffer_size {
            return Err(GpuError::TooLargeForBinding { what: label.into(), bytes: size, limit: gpu.limits.max_buffer_size });
        }
        let scope = gpu.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor { label: Some(label), size, usage: STORAGE, mapped_at_creation: false });
        if scope.pop().await.is_some() {
            return Err(GpuError::OutOfMemory { what: label.into(), bytes: size });
        }
        Ok(StorageBuffer { buffer, len })
    }

    /// A buffer holding `data` (padded with zeros to 4 bytes).
    pub fn with_data(gpu: &Gpu, label: &str, data: &[u8]) -> StorageBuffer {
        let mut padded;
        let contents = if data.len() % 4 == 0 && !data.is_empty() {
            data
        } else {
            padded = data.to_vec();
            padded.resize(data.len().max(4).div_ceil(4) * 4, 0);
            &padded
        };
        let buffer = gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: Some(label), contents, usage: STORAGE });
        StorageBuffer { buffer, len: data.len() as u64 }
    }

    /// Write `data` at byte `offset` (both padded to 4 bytes by the caller's layout).
    pub fn write(&self, gpu: &Gpu, offset: u64, data: &[u8]) {
        if data.len() % 4 == 0 {
            gpu.queue.write_buffer(&self.buffer, offset, data);
        } else {
            let mut padded = data.to_vec();
            padded.resize(data.len().div_ceil(4) * 4, 0);
            gpu.queue.write_buffer(&self.buffer, offset, &padded);
        }
    }

    pub fn binding(&self) -> wgpu::BindingResource<'_> {
        self.buffer.as_entire_binding()
    }
}

impl UniformBuffer {
    pub fn new<T: bytemuck::Pod>(gpu: &Gpu, label: &str, value: &T) -> UniformBuffer {
        let buffer = gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::bytes_of(value),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        });
        UniformBuffer { buffer }
    }

    pub fn write<T: bytemuck::Pod>(&self, gpu: &Gpu, value: &T) {
        gpu.queue.write_buffer(&self.buffer, 0, bytemuck::bytes_of(value));
    }

    pub fn binding(&self) -> wgpu::BindingResource<'_> {
        self.buffer.as_entire_binding()
    }
}

/// Copy `len` bytes at `offset` of `src` back to the CPU. Submits its own copy; waits for the
/// GPU (natively by polling, in the browser through the map callback).
pub async fn read_buffer(gpu: &Gpu, src: &wgpu::Buffer, offset: u64, len: u64) -> Result<Vec<u8>, GpuError> {
    let size = len.div_ceil(4) * 4;
    let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: size.max(4),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = gpu.device.create_command_encoder(&Default::default());
    enc.copy_buffer_to_buffer(src, offset, &staging, 0, size);
    gpu.queue.submit([enc.finish()]);
    map_read(gpu, &staging).await?;
    let bytes = {
        let view = staging.slice(..).get_mapped_range().map_err(|e| GpuError::Readback { reason: e.to_string() })?;
        view[..len as usize].to_vec()
    };
    staging.unmap();
    Ok(bytes)
}

/// Map a MAP_READ buffer and wait until it is readable.
pub async fn map_read(gpu: &Gpu, staging: &wgpu::Buffer) -> Result<(), GpuError> {
    let (tx, rx) = futures_channel::oneshot::channel();
    staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    gpu.poll_wait();
    match rx.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(gpu.check().err().unwrap_or(GpuError::Readback { reason: e.to_string() })),
        Err(_) => Err(gpu.check().err().unwrap_or(GpuError::Readback { reason: "the map request was dropped".into() })),
    }
}
