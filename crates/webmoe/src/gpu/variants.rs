//! Which form of each kernel runs: chosen once per device, here, from the adapter's kind,
//! features and limits, and reported by `webmoe adapter` and `webmoe bench`.
//!
//! The portable forms use nothing beyond core WebGPU; `GpuOptions::portable_only` (natively also
//! `WEBMOE_PORTABLE=1`) makes them the only ones chosen.

use super::context::Capabilities;
use crate::gguf::GgmlType;

/// How the matrix × vector product (shaders/matvec.wgsl) shares out a matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatvecShape {
    /// Invocations per workgroup (at most 64).
    pub workgroup: u32,
    /// Invocations that share the rows of a group, taking the row's pieces in turn: 1, or a
    /// power of two dividing `workgroup` (`workgroup` itself with subgroups).
    pub lanes: u32,
    /// Rows each group computes, sharing each x value they load (1 to 8).
    pub rows: u32,
    pub reduce: Reduce,
}

/// How the lanes of a group add up their partial sums.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    /// A tree in workgroup memory (core WebGPU).
    Workgroup,
    /// `subgroupAdd`; `multi`: the workgroup may hold several subgroups, whose sums are then
    /// added through workgroup memory.
    Subgroup { multi: bool },
}

impl MatvecShape {
    /// Rows one workgroup computes.
    pub fn rows_per_workgroup(&self) -> u32 {
        self.workgroup / self.lanes * self.rows
    }

    /// Whether the shape is one the kernel can run on a device with `caps`.
    pub fn check(&self, caps: &Capabilities) -> Result<(), String> {
        let pow2 = |n: u32| n.is_power_of_two();
        let ok = (1..=64).contains(&self.workgroup)
            && pow2(self.lanes)
            && self.workgroup % self.lanes == 0
            && (1..=8).contains(&self.rows)
            && match self.reduce {
                Reduce::Workgroup => true,
                Reduce::Subgroup { .. } => caps.subgroups && self.lanes == self.workgroup,
            };
        if ok {
            Ok(())
        } else {
            Err(format!("matvec shape {self:?} does not fit the kernel on this device"))
        }
    }

    fn describe(&self) -> String {
        let reduce = match self.reduce {
            Reduce::Workgroup if self.lanes == 1 => "a row per invocation".to_string(),
            Reduce::Workgroup => "workgroup-memory tree".to_string(),
            Reduce::Subgroup { multi: false } => "subgroupAdd".to_string(),
            Reduce::Subgroup { multi: true } => "subgroupAdd + workgroup memory".to_string(),
        };
        format!("{} rows × {} lanes per group, {} invocations, {reduce}", self.rows, self.lanes, self.workgroup)
    }
}

/// The chosen form of every kernel that has more than one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variants {
    pub matvec: MatvecShape,
    /// Fit the matvec's rows per invocation to each matrix ([`Variants::matvec_for`]): the
    /// row-per-invocation form chosen for a CPU adapter. Off for a shape asked for by hand.
    pub matvec_rows_per_matrix: bool,
    /// A prompt chunk whose routes per expert (tokens · k / experts) are fewer than this runs
    /// its routed experts through the matvec, route by route, instead of the grouped matmul.
    pub matvec_experts_below: u32,
    /// Only core WebGPU is used (asked for, or the adapter offers nothing more).
    pub portable: bool,
}

impl Variants {
    /// The forms for an adapter of kind `device_type` whose subgroups are between
    /// `subgroup_sizes` invocations, with the features `caps` this device enabled.
    pub fn choose(device_type: wgpu::DeviceType, subgroup_sizes: (u32, u32), caps: &Capabilities) -> Variants {
        let portable = !caps.subgroups && !caps.shader_f16;
        let matvec = if device_type == wgpu::DeviceType::Cpu {
            // Shaders run on the CPU, a SIMD batch of invocations at a time: with a row per
            // invocation, every x load has one address for the whole batch (one scalar load),
            // and there is nothing to reduce.
            MatvecShape { workgroup: 64, lanes: 1, rows: 2, reduce: Reduce::Workgroup }
        } else if caps.subgroups && subgroup_sizes.1 <= 64 {
            // One subgroup per workgroup where the size is fixed (32 on NVIDIA and Apple), so the
            // reduction needs no barrier; otherwise 64 invocations and one barrier.
            let (min, max) = subgroup_sizes;
            let workgroup = if min == max { max.max(4) } else { 64 };
            MatvecShape { workgroup, lanes: workgroup, rows: 4, reduce: Reduce::Subgroup { multi: workgroup > min } }
        } else {
            MatvecShape { workgroup: 64, lanes: 64, rows: 4, reduce: Reduce::Workgroup }
        };
        let cpu = device_type == wgpu::DeviceType::Cpu;
        // On a CPU adapter the matmul's tiles of 16 rows cost about 13 matvec rows whatever
        // their fill (BENCHMARKS.md, "Where a token's GPU time goes"): below 8 routes per
        // expert, the matvec per route is the faster.
        let matvec_experts_below = if cpu { 8 } else { 0 };
        Variants { matvec, matvec_rows_per_matrix: cpu, matvec_experts_below, portable }
    }

    /// The matvec shape for a matrix of `ty`, `paired` when each output reads a gate row and
    /// an up row. A CPU adapter runs an invocation's dot products side by side in vector
    /// registers, and past what those hold it spills: there the shape's `rows` is the number of
    /// weight rows an invocation reads at once, halved for a paired matrix (two rows per
    /// output) and for the types whose piece decoders keep more values live (BENCHMARKS.md,
    /// "Rows per invocation": 2 rows run these at 0.5–0.7× the speed of 1, the rest at 1.2–1.6×).
    pub fn matvec_for(&self, ty: GgmlType, paired: bool) -> MatvecShape {
        let mut shape = self.matvec;
        if self.matvec_rows_per_matrix {
            let heavy = matches!(ty, GgmlType::Q5_0 | GgmlType::Q3_K | GgmlType::Q5_K | GgmlType::Q6_K | GgmlType::MXFP4);
            shape.rows = (shape.rows >> (paired as u32 + heavy as u32)).max(1);
        }
        shape
    }

    /// One line per kernel: which form runs.
    pub fn describe(&self) -> String {
        let mut fitted = if self.matvec_rows_per_matrix { " (rows halved for paired matrices and heavier decoders)" } else { "" }.to_string();
        if self.matvec_experts_below > 0 {
            fitted += &format!("; prompt experts with under {} routes each through the matvec", self.matvec_experts_below);
        }
        format!("matvec: {}{fitted}{}", self.matvec.describe(), if self.portable { " (portable)" } else { "" })
    }

    pub fn to_json(&self) -> serde_json::Value {
        let m = &self.matvec;
        let reduce = match m.reduce {
            Reduce::Workgroup if m.lanes == 1 => "none",
            Reduce::Workgroup => "workgroup",
            Reduce::Subgroup { multi: false } => "subgroup",
            Reduce::Subgroup { multi: true } => "subgroup+workgroup",
        };
        serde_json::json!({
            "portable": self.portable,
            "matvec": { "workgroup": m.workgroup, "lanes": m.lanes, "rows": m.rows, "reduce": reduce, "rows_per_matrix": self.matvec_rows_per_matrix },
            "matvec_experts_below": self.matvec_experts_below,
        })
    }
}

/// `WEBMOE_PORTABLE=1` (natively): use the portable forms only.
pub fn portable_from_env() -> bool {
    cfg!(not(target_arch = "wasm32")) && portable_flag(std::env::var("WEBMOE_PORTABLE").ok().as_deref())
}

fn portable_flag(value: Option<&str>) -> bool {
    value == Some("1")
}

#[cfg(test)]
mod tests;
