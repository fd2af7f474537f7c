//! How much memory the platform says this process may use for GPU buffers.
//!
//! Sources, in order: the device-local heap budget Vulkan reports (VK_EXT_memory_budget) for a
//! discrete or virtual GPU; for a CPU adapter (a software device, whose buffers live in process
//! memory) and an integrated GPU (which shares system memory), the system's available memory.
//! Other platforms report nothing, and the engine then sets no limit of its own.

/// A memory budget and where it comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryBudget {
    /// Bytes available for this process's GPU buffers now.
    pub available: u64,
    pub source: BudgetSource,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetSource {
    /// The budget of the device's largest device-local memory heap, less what is in use.
    DeviceHeap,
    /// The system's available memory (GPU buffers share it with everything else).
    SystemMemory,
}

impl BudgetSource {
    pub fn describe(self) -> &'static str {
        match self {
            BudgetSource::DeviceHeap => "the device's memory budget",
            BudgetSource::SystemMemory => "available system memory",
        }
    }
}

/// What `adapter` may use, where the platform reports it.
pub fn query(adapter: &wgpu::Adapter) -> Option<MemoryBudget> {
    let info = adapter.get_info();
    match info.device_type {
        wgpu::DeviceType::Cpu | wgpu::DeviceType::IntegratedGpu => {
            system_available().map(|available| MemoryBudget { available, source: BudgetSource::SystemMemory })
        }
        _ => device_heap(adapter).map(|available| MemoryBudget { available, source: BudgetSource::DeviceHeap }),
    }
}

/// `MemAvailable` of /proc/meminfo: what can be allocated without swapping.
#[cfg(target_os = "linux")]
fn system_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_available(&text)
}

#[cfg(not(target_os = "linux"))]
fn system_available() -> Option<u64> {
    None
}

/// The `MemAvailable:` line of a /proc/meminfo text, in bytes.
#[cfg(any(target_os = "linux", test))]
fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(all(not(target_arch = "wasm32"), any(target_os = "linux", target_os = "windows", target_os = "android")))]
fn device_heap(adapter: &wgpu::Adapter) -> Option<u64> {
    use ash::vk;
    // SAFETY: the guard borrows the live adapter for these read-only queries and nothing it
    // returns outlives it.
    let hal = unsafe { adapter.as_hal::<wgpu::hal::api::Vulkan>() }?;
    let shared = hal.shared_instance();
    let instance = shared.raw_instance();
    let physical = hal.raw_physical_device();
    if shared.instance_api_version() < vk::API_VERSION_1_1 {
        return None;
    }
    // SAFETY: `physical` belongs to `instance`, which is alive while the guard is.
    let extensions = unsafe { instance.enumerate_device_extension_properties(physical) }.ok()?;
    if !extensions.iter().any(|e| e.extension_name_as_c_str() == Ok(ash::ext::memory_budget::NAME)) {
        return None;
    }
    let mut budget = vk::PhysicalDeviceMemoryBudgetPropertiesEXT::default();
    let mut properties = vk::PhysicalDeviceMemoryProperties2::default().push_next(&mut budget);
    // SAFETY: as above; the instance is Vulkan 1.1, which has this query in its core.
    unsafe { instance.get_physical_device_memory_properties2(physical, &mut properties) };
    let heaps = properties.memory_properties;
    (0..heaps.memory_heap_count as usize)
        .filter(|&h| heaps.memory_heaps[h].flags.contains(vk::MemoryHeapFlags::DEVICE_LOCAL))
        .map(|h| budget.heap_budget[h].saturating_sub(budget.heap_usage[h]))
        .max()
        .filter(|&bytes| bytes > 0)
}

#[cfg(not(all(not(target_arch = "wasm32"), any(target_os = "linux", target_os = "windows", target_os = "android"))))]
fn device_heap(_adapter: &wgpu::Adapter) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_available_is_read_in_bytes() {
        let text = "MemTotal:       24576000 kB\nMemFree:         1000 kB\nMemAvailable:   20480000 kB\n";
        assert_eq!(parse_mem_available(text), Some(20480000 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 1 kB\n"), None);
        assert_eq!(parse_mem_available("MemAvailable: lots kB\n"), None);
    }
}
