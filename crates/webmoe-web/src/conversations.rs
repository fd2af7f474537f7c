//! The conversations an engine keeps (`conversationId`). The KV cache holds one sequence; a
//! request that begins with it runs only its new tokens whatever its conversation. When requests
//! alternate between conversations, the one leaving the cache is saved as a GPU snapshot of its
//! KV rows ([`KvSnapshot`]) and restored when its conversation comes back, so switching costs
//! two buffer copies instead of a prefill. At most `max - 1` snapshots are kept (the cache holds
//! the `max`-th conversation), the least recently used dropped first; a conversation whose
//! snapshot was dropped (or could not be allocated) runs its tokens again when it comes back.

use webmoe::engine::{Engine, KvSnapshot};
use webmoe::Result;

/// Conversations kept when the caller does not say: the one in the KV cache only.
pub const DEFAULT_MAX_CONVERSATIONS: usize = 1;

pub struct Conversations {
    /// Conversations kept, the one in the KV cache included (≥ 1).
    max: usize,
    /// The conversation the KV cache holds; `None` for requests without an id.
    current: Option<String>,
    /// Saved conversations, least recently used first.
    saved: Vec<(String, KvSnapshot)>,
}

impl Conversations {
    pub fn new(max: usize) -> Conversations {
        Conversations { max: max.max(1), current: None, saved: Vec::new() }
    }

    /// Make the KV cache hold conversation `id` before its request runs: save the conversation
    /// it holds (when it has an id and snapshots are kept) and restore `id`'s snapshot when
    /// there is one. Without a snapshot the cache keeps what it holds, so a shared beginning
    /// (a system prompt) is still reused.
    pub async fn switch_to(&mut self, engine: &mut Engine, id: Option<&str>) -> Result<()> {
        if self.current.as_deref() == id {
            return Ok(());
        }
        // Taken out before the leaving conversation is saved, so that saving cannot evict it.
        let returning =
            id.and_then(|id| self.saved.iter().position(|(saved, _)| saved == id)).map(|i| self.saved.remove(i));
        if let Some(leaving) = self.current.take() {
            self.save(engine, leaving).await;
        }
        if let Some((_, snapshot)) = returning {
            engine.restore(&snapshot)?;
        }
        self.current = id.map(str::to_owned);
        Ok(())
    }

    /// Keep a snapshot of the cache under `id`, dropping the least recently used beyond the limit.
    /// A snapshot the GPU cannot allocate is skipped: the conversation then runs again.
    async fn save(&mut self, engine: &mut Engine, id: String) {
        self.saved.retain(|(saved, _)| *saved != id);
        if self.max < 2 || engine.position() == 0 {
            return;
        }
        while self.saved.len() >= self.max - 1 {
            self.saved.remove(0);
        }
        if let Ok(snapshot) = engine.snapshot().await {
            self.saved.push((id, snapshot));
        }
    }

    /// Forget conversation `id` (every conversation when `None`). Forgetting the one in the KV
    /// cache empties the cache, so its next request starts from nothing.
    pub fn forget(&mut self, engine: &mut Engine, id: Option<&str>) {
        match id {
            None => {
                self.saved.clear();
                self.current = None;
                engine.reset();
            }
            Some(id) => {
                self.saved.retain(|(saved, _)| saved != id);
                if self.current.as_deref() == Some(id) {
                    self.current = None;
                    engine.reset();
                }
            }
        }
    }

    /// The conversation the KV cache holds, and the ids of the saved ones (least recently used first).
    pub fn ids(&self) -> (Option<&str>, Vec<&str>) {
        (self.current.as_deref(), self.saved.iter().map(|(id, _)| id.as_str()).collect())
    }

    /// GPU bytes of the saved snapshots.
    pub fn gpu_bytes(&self) -> u64 {
        self.saved.iter().map(|(_, s)| s.gpu_bytes()).sum()
    }
}
