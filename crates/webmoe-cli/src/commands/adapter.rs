//! `webmoe adapter`: what the GPU offers.

use crate::args::AdapterArgs;
use crate::load::CliResult;
use serde_json::json;
use std::io::Write;
use webmoe::gpu::{Gpu, GpuOptions};

pub fn run(a: &AdapterArgs) -> CliResult<()> {
    let mut out = std::io::stdout().lock();
    let gpu = pollster::block_on(Gpu::new(&GpuOptions::default()))?;
    let (info, l, c) = (&gpu.info, &gpu.limits, &gpu.caps);
    if a.json {
        let result = json!({
            "name": info.name,
            "vendor": info.vendor,
            "device": info.device,
            "device_type": format!("{:?}", info.device_type),
            "backend": format!("{:?}", info.backend),
            "driver": info.driver,
            "driver_info": info.driver_info,
            "features": { "shader_f16": c.shader_f16, "subgroups": c.subgroups, "timestamp_query": c.timestamp_query },
            "subgroup_sizes": [info.subgroup_min_size, info.subgroup_max_size],
            "kernels": gpu.variants.to_json(),
            "limits": {
                "max_buffer_size": l.max_buffer_size,
                "max_storage_buffer_binding_size": l.max_storage_buffer_binding_size,
                "max_storage_buffers_per_shader_stage": l.max_storage_buffers_per_shader_stage,
                "max_compute_workgroup_storage_size": l.max_compute_workgroup_storage_size,
                "max_compute_invocations_per_workgroup": l.max_compute_invocations_per_workgroup,
                "max_compute_workgroups_per_dimension": l.max_compute_workgroups_per_dimension,
            },
        });
        writeln!(out, "{result}")?;
    } else {
        writeln!(out, "adapter: {}", gpu.describe())?;
        writeln!(out, "driver: {} {}", info.driver, info.driver_info)?;
        writeln!(out, "features: shader-f16 {}, subgroups {} ({}–{} invocations), timestamp-query {}", c.shader_f16, c.subgroups, info.subgroup_min_size, info.subgroup_max_size, c.timestamp_query)?;
        writeln!(out, "kernels: {}", gpu.variants.describe())?;
        writeln!(out, 
            "limits: max buffer {} B, max storage binding {} B, {} storage buffers per stage, {} B workgroup memory, {} invocations per workgroup",
            l.max_buffer_size,
            l.max_storage_buffer_binding_size,
            l.max_storage_buffers_per_shader_stage,
            l.max_compute_workgroup_storage_size,
            l.max_compute_invocations_per_workgroup
        )?;
    }
    Ok(())
}
