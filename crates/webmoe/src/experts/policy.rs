//! Which slot to overwrite. Kept behind a small trait so policies can be compared; a policy
//! may also keep quotas (per layer, say) over a pool's slots.

/// A replacement policy over each pool's slots.
pub trait ExpertPolicy {
    /// The expert in `slot` of `pool` was used (chosen by a token, or just loaded).
    fn touch(&mut self, pool: usize, slot: usize);
    /// The slot of `pool` to overwrite, among `candidates` (never empty).
    fn victim(&mut self, pool: usize, candidates: &[usize]) -> usize;
}

/// Least recently used, over each pool's slots whatever layer holds them.
pub struct Lru {
    /// `last_use[pool][slot]`: the clock at the slot's last use.
    last_use: Vec<Vec<u64>>,
    clock: u64,
}

impl Lru {
    pub fn new(pool_slots: &[usize]) -> Lru {
        Lru { last_use: pool_slots.iter().map(|&n| vec![0; n]).collect(), clock: 0 }
    }
}

impl ExpertPolicy for Lru {
    fn touch(&mut self, pool: usize, slot: usize) {
        self.clock += 1;
        self.last_use[pool][slot] = self.clock;
    }

    fn victim(&mut self, pool: usize, candidates: &[usize]) -> usize {
        let uses = &self.last_use[pool];
        candidates.iter().copied().min_by_key(|&s| (uses[s], s)).unwrap_or(0)
    }
}
