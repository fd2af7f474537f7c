//! Adapter and device selection, limits, and error capture.

use super::error::GpuError;
use super::pipelines::PipelineCache;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Queue writes keep a staging copy of their bytes until a submit after them completes; a load
/// that writes gigabytes before its first submit would hold them all. Writes are flushed after
/// this many bytes.
const UPLOAD_FLUSH_BYTES: u64 = 256 << 20;

/// How to open the GPU.
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Cap on the bytes of any one storage binding, below what the adapter allows. Tests set it
    /// small to exercise the paths that split a tensor across bindings.
    pub max_binding_bytes: Option<u64>,
    /// Cap on the workgroups of one grid dimension, below the adapter's limit: tests set it small
    /// to exercise grids that fold their rows into the third dimension.
    pub max_workgroups_per_dimension: Option<u32>,
    /// Prefer a low-power adapter (an integrated GPU) over a discrete one.
    pub low_power: bool,
    /// Use only the portable kernel variants (no shader-f16, no subgroups) even where the adapter
    /// has more; natively, `WEBMOE_PORTABLE=1` in the environment does the same.
    pub portable_only: bool,
    /// A matrix × vector shape to use instead of the one chosen for the adapter (tests run each).
    pub matvec: Option<super::MatvecShape>,
    /// Routes per expert below which a prompt's experts run through the matvec, instead of the
    /// adapter's choice (0: always the grouped matmul; tests run both).
    pub matvec_experts_below: Option<u32>,
}

/// Optional features the adapter offers and this device enabled.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Capabilities {
    pub shader_f16: bool,
    pub subgroups: bool,
    pub timestamp_query: bool,
}

/// The device, queue and caches every launcher uses.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub caps: Capabilities,
    /// Bytes one storage binding may span: the adapter's limits (and the options' cap), rounded
    /// down to a multiple of 256 and kept below 4 GiB so byte offsets fit kernels' u32 indices.
    pub binding_limit: u64,
    /// Workgroups one grid dimension may count: the adapter's limit (and the options' cap).
    pub max_workgroups: u32,
    /// The memory the platform says the device's buffers may take, where it says.
    pub memory_budget: Option<super::MemoryBudget>,
    /// The form of each kernel that runs on this device.
    pub variants: super::Variants,
    pub(crate) pipelines: PipelineCache,
    /// Bytes queued by writes since the last flush.
    unflushed: AtomicU64,
    /// Errors the device reported outside an error scope, oldest first.
    uncaptured: Arc<Mutex<Vec<String>>>,
    lost: Arc<Mutex<Option<String>>>,
}

impl Gpu {
    /// Open the default adapter with the limits it allows.
    pub async fn new(options: &GpuOptions) -> Result<Gpu, GpuError> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        if cfg!(target_arch = "wasm32") {
            desc.backends = wgpu::Backends::BROWSER_WEBGPU;
        }
        let instance = wgpu::Instance::new(desc);
        let power_preference =
            if options.low_power { wgpu::PowerPreference::LowPower } else { wgpu::PowerPreference::HighPerformance };
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions { power_preference, ..Default::default() })
            .await
            .map_err(|e| GpuError::NoAdapter { reason: e.to_string() })?;
        Self::from_adapter(adapter, options).await
    }

    pub async fn from_adapter(adapter: wgpu::Adapter, options: &GpuOptions) -> Result<Gpu, GpuError> {
        let offered = adapter.features();
        let mut features = wgpu::Features::empty();
        let portable_only = options.portable_only || super::variants::portable_from_env();
        if !portable_only {
            features |= offered & (wgpu::Features::SHADER_F16 | wgpu::Features::SUBGROUP);
        }
        features |= offered & wgpu::Features::TIMESTAMP_QUERY;
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("webmoe"),
                required_features: features,
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::DeviceRequest { reason: e.to_string() })?;

        let uncaptured = Arc::new(Mutex::new(Vec::new()));
        let sink = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        let lost = Arc::new(Mutex::new(None));
        let lost_sink = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut l) = lost_sink.lock() {
                *l = Some(format!("{reason:?}: {message}"));
            }
        });

        let mut binding_limit = (limits.max_storage_buffer_binding_size as u64).min(limits.max_buffer_size);
        if let Some(cap) = options.max_binding_bytes {
            binding_limit = binding_limit.min(cap);
        }
        binding_limit = binding_limit.min((1u64 << 32) - 256) / 256 * 256;

        let max_workgroups = options
            .max_workgroups_per_dimension
            .map_or(limits.max_compute_workgroups_per_dimension, |cap| cap.min(limits.max_compute_workgroups_per_dimension))
            .max(1);

        let caps = Capabilities {
            shader_f16: features.contains(wgpu::Features::SHADER_F16),
            subgroups: features.contains(wgpu::Features::SUBGROUP),
            timestamp_query: features.contains(wgpu::Features::TIMESTAMP_QUERY),
        };
        let info = adapter.get_info();
        let memory_budget = super::memory::query(&adapter);
        let mut variants = super::Variants::choose(info.device_type, (info.subgroup_min_size, info.subgroup_max_size), &caps);
        if let Some(shape) = options.matvec {
            shape.check(&caps).map_err(|message| GpuError::Operation { message })?;
            variants.matvec = shape;
            variants.matvec_rows_per_matrix = false;
        }
        if let Some(below) = options.matvec_experts_below {
            variants.matvec_experts_below = below;
        }
        Ok(Gpu {
            device,
            queue,
            info,
            variants,
            limits,
            caps,
            binding_limit,
            max_workgroups,
            memory_budget,
            pipelines: PipelineCache::default(),
            unflushed: AtomicU64::new(0),
            uncaptured,
            lost,
        })
    }

    /// Fail if the device was lost or reported an error since the last check.
    pub fn check(&self) -> Result<(), GpuError> {
        if let Some(reason) = self.lost.lock().ok().and_then(|l| l.clone()) {
            return Err(GpuError::DeviceLost { reason });
        }
        let first = self.uncaptured.lock().ok().and_then(|mut v| if v.is_empty() { None } else { Some(v.remove(0)) });
        match first {
            Some(message) if message.to_lowercase().contains("out of memory") => {
                Err(GpuError::OutOfMemory { what: "GPU work".into(), bytes: 0 })
            }
            Some(message) => Err(GpuError::Operation { message }),
            None => Ok(()),
        }
    }

    pub fn is_lost(&self) -> bool {
        self.lost.lock().map(|l| l.is_some()).unwrap_or(true)
    }

    /// Count `bytes` just written with the queue; past [`UPLOAD_FLUSH_BYTES`], submit and wait
    /// (natively) so their staging memory is released. The browser copies a write at once.
    pub fn wrote(&self, bytes: u64) {
        if self.unflushed.fetch_add(bytes, Ordering::Relaxed) + bytes >= UPLOAD_FLUSH_BYTES {
            self.unflushed.store(0, Ordering::Relaxed);
            if cfg!(not(target_arch = "wasm32")) {
                self.queue.submit(std::iter::empty());
                self.poll_wait();
            }
        }
    }

    /// Block (natively) until submitted work is done; the browser completes work on its own.
    pub fn poll_wait(&self) {
        #[cfg(not(target_arch = "wasm32"))]
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
    }

    /// Wait until the GPU has finished every submit so far (natively by blocking, in the
    /// browser on the queue's own completion).
    pub async fn work_done(&self) -> Result<(), GpuError> {
        let (tx, rx) = futures_channel::oneshot::channel();
        self.queue.on_submitted_work_done(move || {
            let _ = tx.send(());
        });
        self.poll_wait();
        let finished = rx.await;
        self.check()?;
        finished.map_err(|_| GpuError::Operation { message: "the GPU dropped a completion callback".into() })
    }

    /// Adapter name and backend, for reports.
    pub fn describe(&self) -> String {
        format!("{} ({:?}, {:?})", self.info.name, self.info.backend, self.info.device_type)
    }
}
