//! Which slot to overwrite. Kept behind a small trait so policies can be compared.

/// A replacement policy over each layer's slots.
pub trait ExpertPolicy {
    /// The expert in `slot` of `layer` was used (chosen by a token, or just loaded).
    fn touch(&mut self, layer: usize, slot: usize);
    /// The slot of `layer` to overwrite, among `candidates` (never empty).
    fn victim(&mut self, layer: usize, candidates: &[usize]) -> usize;
}

/// Least recently used, per layer.
pub struct Lru {
    /// `last_use[layer][slot]`: the clock at the slot's last use.
    last_use: Vec<Vec<u64>>,
    clock: u64,
}

impl Lru {
    pub fn new(n_layer: usize, slots_per_layer: usize) -> Lru {
        Lru { last_use: vec![vec![0; slots_per_layer]; n_layer], clock: 0 }
    }
}

impl ExpertPolicy for Lru {
    fn touch(&mut self, layer: usize, slot: usize) {
        self.clock += 1;
        self.last_use[layer][slot] = self.clock;
    }

    fn victim(&mut self, layer: usize, candidates: &[usize]) -> usize {
        let uses = &self.last_use[layer];
        candidates.iter().copied().min_by_key(|&s| (uses[s], s)).unwrap_or(0)
    }
}
