//! Compute pipelines, compiled once per (kernel, weight type, override constants).

use super::context::Gpu;
use super::error::GpuError;
use super::shaders::{module_source, Kernel};
use crate::gguf::GgmlType;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What makes two pipelines the same.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PipelineKey {
    pub kernel: Kernel,
    pub weights: Option<GgmlType>,
    /// WGSL `override` constants by name.
    pub constants: Vec<(&'static str, u32)>,
}

impl PipelineKey {
    pub fn new(kernel: Kernel) -> Self {
        PipelineKey { kernel, weights: None, constants: Vec::new() }
    }

    pub fn weights(mut self, ty: GgmlType) -> Self {
        self.weights = Some(ty);
        self
    }

    pub fn constant(mut self, name: &'static str, value: u32) -> Self {
        self.constants.push((name, value));
        self
    }
}

#[derive(Default)]
pub(crate) struct PipelineCache {
    pipelines: Mutex<HashMap<PipelineKey, Arc<wgpu::ComputePipeline>>>,
}

impl Gpu {
    /// The pipeline for `key`, compiled on first use. A shader that does not compile surfaces as
    /// an error from [`Gpu::check`].
    pub fn pipeline(&self, key: &PipelineKey) -> Result<Arc<wgpu::ComputePipeline>, GpuError> {
        let mut cache = self.pipelines.pipelines.lock().map_err(|_| GpuError::Operation { message: "pipeline cache poisoned".into() })?;
        if let Some(p) = cache.get(key) {
            return Ok(p.clone());
        }
        let source = module_source(key.kernel, key.weights).map_err(|message| GpuError::Operation { message })?;
        let label = match key.weights {
            Some(ty) => format!("{}<{ty}>", key.kernel.name()),
            None => key.kernel.name().to_string(),
        };
        let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(&label),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let constants: Vec<(&str, f64)> = key.constants.iter().map(|&(n, v)| (n, v as f64)).collect();
        let pipeline = Arc::new(self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&label),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: wgpu::PipelineCompilationOptions { constants: &constants, zero_initialize_workgroup_memory: true },
            cache: None,
        }));
        cache.insert(key.clone(), pipeline.clone());
        Ok(pipeline)
    }

    /// A bind group for `pipeline`'s group 0, binding `resources` to bindings 0, 1, 2, … in order.
    pub fn bind_group(&self, label: &str, pipeline: &wgpu::ComputePipeline, resources: &[wgpu::BindingResource<'_>]) -> wgpu::BindGroup {
        let layout = pipeline.get_bind_group_layout(0);
        let entries: Vec<wgpu::BindGroupEntry> =
            resources.iter().enumerate().map(|(i, r)| wgpu::BindGroupEntry { binding: i as u32, resource: r.clone() }).collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor { label: Some(label), layout: &layout, entries: &entries })
    }
}
