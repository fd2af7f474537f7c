//! Ctrl-C during generation: the reply stops before its next token and the engine stays usable
//! (`chat` goes back to its prompt); Ctrl-C with nothing generating ends the program as usual.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Set by Ctrl-C while a generation runs.
#[derive(Clone)]
pub struct Interrupt {
    requested: Arc<AtomicBool>,
    generating: Arc<AtomicBool>,
}

impl Interrupt {
    /// Install the handler (once per process).
    pub fn install() -> Result<Interrupt, ctrlc::Error> {
        let interrupt = Interrupt { requested: Arc::default(), generating: Arc::default() };
        let handler = interrupt.clone();
        ctrlc::set_handler(move || {
            if handler.generating.load(Ordering::SeqCst) {
                handler.requested.store(true, Ordering::SeqCst);
            } else {
                // 128 + SIGINT, as a shell reports an interrupted program.
                std::process::exit(130);
            }
        })?;
        Ok(interrupt)
    }

    /// A generation starts: Ctrl-C now stops it instead of the program.
    pub fn generating(&self) {
        self.requested.store(false, Ordering::SeqCst);
        self.generating.store(true, Ordering::SeqCst);
    }

    /// The generation ended.
    pub fn idle(&self) {
        self.generating.store(false, Ordering::SeqCst);
    }

    /// Whether Ctrl-C asked the running generation to stop.
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }
}
