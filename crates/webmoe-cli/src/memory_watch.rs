//! The process's peak anonymous memory, sampled from /proc/self/status (Linux): what `bench`
//! reports beside speed. Anonymous memory is what the process allocated itself — on a software
//! GPU device the weights' buffers too — and excludes the memory-mapped model file, which the
//! kernel can drop and read again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A background sampler; `stop` gives the peak seen, in bytes.
pub struct MemoryWatch {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// RssAnon of /proc/self/status, in bytes (`None` where the platform has no such file).
pub fn anonymous_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("RssAnon:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kib| kib * 1024)
}

impl MemoryWatch {
    /// Start sampling every 20 ms.
    pub fn start() -> MemoryWatch {
        let peak = Arc::new(AtomicU64::new(anonymous_bytes().unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(now) = anonymous_bytes() {
                    p.fetch_max(now, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        MemoryWatch { peak, stop, thread: Some(thread) }
    }

    /// The highest reading so far; `None` where the platform gives none.
    pub fn peak(&self) -> Option<u64> {
        anonymous_bytes().map(|now| self.peak.fetch_max(now, Ordering::Relaxed).max(now))
    }
}

impl Drop for MemoryWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
