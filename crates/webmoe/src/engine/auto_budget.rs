//! The GPU budget an engine takes when its caller sets none: what the platform says the device
//! may use (see [`crate::gpu::MemoryBudget`]), less a margin, when the model would not fit with
//! every expert resident. A model that fits runs with no budget, as if none were needed.

use super::footprint::footprint;
use super::EngineOptions;
use crate::error::Result;
use crate::gpu::{BudgetSource, Gpu, MemoryBudget};
use crate::model::Model;

/// Bytes the process itself needs beside GPU buffers when they share system memory: upload
/// staging, the tokenizer, the runtime.
const SYSTEM_MARGIN: u64 = 3 << 30;

/// The chosen budget and a line saying why.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoBudget {
    /// `None`: every expert fits, no limit is needed.
    pub gpu_budget: Option<u64>,
    pub summary: String,
}

/// What of `available` bytes the engine takes: a fifth of system memory and at least
/// [`SYSTEM_MARGIN`] stay for the rest of the process and the machine; a tenth of a device
/// heap stays for other programs and the driver.
pub fn usable_bytes(budget: &MemoryBudget) -> u64 {
    let a = budget.available;
    match budget.source {
        BudgetSource::SystemMemory => (a / 5 * 4).min(a.saturating_sub(SYSTEM_MARGIN)),
        BudgetSource::DeviceHeap => a / 10 * 9,
    }
}

/// The budget for `model` with `options` (whose own `gpu_budget` is not consulted) on `gpu`.
pub fn automatic_budget(gpu: &Gpu, model: &Model, options: &EngineOptions) -> Result<AutoBudget> {
    let unlimited = EngineOptions { gpu_budget: None, ..options.clone() };
    let needed = footprint(model, &unlimited, gpu.binding_limit)?.total();
    let Some(platform) = gpu.memory_budget else {
        return Ok(AutoBudget {
            gpu_budget: None,
            summary: format!("GPU budget: none; the adapter reports no memory budget, so all {} are made resident (--gpu-budget limits it)", gib(needed)),
        });
    };
    let usable = usable_bytes(&platform);
    if needed <= usable {
        return Ok(AutoBudget {
            gpu_budget: None,
            summary: format!("GPU budget: none needed; the model's {} fit in {} of {}", gib(needed), gib(usable), platform.source.describe()),
        });
    }
    Ok(AutoBudget {
        gpu_budget: Some(usable),
        summary: format!(
            "GPU budget: {} of {} {}; the model needs {} with every expert resident, so experts stream in from the file (--gpu-budget chooses another)",
            gib(usable),
            gib(platform.available),
            platform.source.describe(),
            gib(needed)
        ),
    })
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins_leave_room_for_the_process_and_the_machine() {
        let sys = |gib: u64| usable_bytes(&MemoryBudget { available: gib << 30, source: BudgetSource::SystemMemory });
        // 23 GiB free: a fifth stays. 8 GiB free: 3 GiB stay. 2 GiB free: nothing is taken.
        assert_eq!(sys(23), (23u64 << 30) / 5 * 4);
        assert_eq!(sys(8), 5 << 30);
        assert_eq!(sys(2), 0);
        let heap = usable_bytes(&MemoryBudget { available: 10 << 30, source: BudgetSource::DeviceHeap });
        assert_eq!(heap, (10u64 << 30) / 10 * 9);
    }
}
