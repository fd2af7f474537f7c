//! The choice of forms, and whole models through the forms it makes on other adapters, run here.

use super::*;
use crate::engine::{Engine, EngineOptions, KvType};
use crate::gguf::{Gguf, MemorySource};
use crate::gpu::{Gpu, GpuOptions};
use crate::model::Model;
use crate::testing::{model_bytes, oracle};

const ALL: Capabilities = Capabilities { shader_f16: true, subgroups: true, timestamp_query: true };
const NONE: Capabilities = Capabilities { shader_f16: false, subgroups: false, timestamp_query: false };

#[test]
fn each_kind_of_adapter_gets_its_form() {
    use wgpu::DeviceType::*;
    let cpu = Variants::choose(Cpu, (8, 8), &ALL).matvec;
    assert_eq!((cpu.lanes, cpu.reduce), (1, Reduce::Workgroup), "a row per invocation on the CPU");
    let fixed = Variants::choose(DiscreteGpu, (32, 32), &ALL).matvec;
    assert_eq!((fixed.workgroup, fixed.lanes, fixed.reduce), (32, 32, Reduce::Subgroup { multi: false }));
    let varying = Variants::choose(DiscreteGpu, (32, 64), &ALL).matvec;
    assert_eq!((varying.workgroup, varying.reduce), (64, Reduce::Subgroup { multi: true }));
    let portable = Variants::choose(DiscreteGpu, (32, 32), &NONE);
    assert!(portable.portable);
    assert_eq!((portable.matvec.lanes, portable.matvec.reduce), (64, Reduce::Workgroup));
    for v in [cpu, fixed, varying, portable.matvec] {
        v.check(&ALL).unwrap();
    }
    assert!(fixed.check(&NONE).is_err(), "subgroup forms need subgroups");
}

#[test]
fn cpu_adapters_fit_matvec_rows_to_the_matrix() {
    use crate::gguf::GgmlType::*;
    let cpu = Variants::choose(wgpu::DeviceType::Cpu, (8, 8), &ALL);
    let rows = |ty, paired| cpu.matvec_for(ty, paired).rows;
    assert_eq!((rows(Q4_K, false), rows(Q4_K, true), rows(Q6_K, false), rows(Q6_K, true)), (2, 1, 1, 1));
    let gpu = Variants::choose(wgpu::DeviceType::DiscreteGpu, (32, 32), &ALL);
    assert_eq!(gpu.matvec_for(Q6_K, true), gpu.matvec, "GPU forms keep their shape");
    assert_eq!((cpu.matvec_experts_below, gpu.matvec_experts_below), (8, 0), "only the CPU runs few routes per expert through the matvec");
}

#[test]
fn webmoe_portable_is_1() {
    assert!(portable_flag(Some("1")));
    assert!(!portable_flag(Some("0")));
    assert!(!portable_flag(None));
}

#[test]
fn portable_only_enables_no_optional_feature() {
    let gpu = pollster::block_on(Gpu::new(&GpuOptions { portable_only: true, ..Default::default() })).unwrap();
    assert!(!gpu.caps.subgroups && !gpu.caps.shader_f16);
    assert!(gpu.variants.portable);
    assert_ne!(gpu.variants.matvec.reduce, Reduce::Subgroup { multi: true });
}

/// Logits of `case` with an f32 cache, on a device opened with `options`.
fn check_oracle(case: &str, options: &GpuOptions) {
    let c = oracle(case);
    let bytes = model_bytes(case);
    let model = Model::from_gguf(&Gguf::parse(&bytes).unwrap()).unwrap();
    let gpu = pollster::block_on(Gpu::new(options)).unwrap();
    let label = format!("{case} {}", gpu.variants.describe());
    let engine_options = EngineOptions { kv_type: KvType::F32, batch: 5, context_length: Some(32), ..Default::default() };
    let mut e = pollster::block_on(Engine::load(gpu, MemorySource::new(bytes), model, &engine_options, &mut |_, _| {})).unwrap();
    c.check_logits(&label, &pollster::block_on(e.logits(&c.tokens)).unwrap());
}

const CASES: [&str; 3] = ["mixtral-q4_0", "mixtral-q3_k_m", "mixtral-q4_k_m"];

/// The form a GPU without subgroups gets, forced: whole workgroups on a row group, added in a
/// workgroup-memory tree.
#[test]
fn oracle_cases_through_the_portable_gpu_form() {
    let shape = Variants::choose(wgpu::DeviceType::DiscreteGpu, (32, 32), &NONE).matvec;
    for case in CASES {
        check_oracle(case, &GpuOptions { portable_only: true, matvec: Some(shape), ..Default::default() });
    }
}

/// The form a GPU with subgroups of this adapter's sizes gets, where this adapter has subgroups.
#[test]
fn oracle_cases_through_the_subgroup_gpu_form() {
    let probe = pollster::block_on(Gpu::new(&GpuOptions::default())).unwrap();
    if !probe.caps.subgroups {
        return;
    }
    let sizes = (probe.info.subgroup_min_size, probe.info.subgroup_max_size);
    let shape = Variants::choose(wgpu::DeviceType::DiscreteGpu, sizes, &probe.caps).matvec;
    assert!(matches!(shape.reduce, Reduce::Subgroup { .. }));
    for case in CASES {
        check_oracle(case, &GpuOptions { matvec: Some(shape), ..Default::default() });
    }
}
