//! The bookkeeping of the expert slots: which expert is where, what to upload, and counts.

use super::policy::ExpertPolicy;

/// An expert to copy from the host tier into a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Upload {
    pub layer: usize,
    pub expert: u32,
    pub slot: u32,
}

/// What the cache did, in total since the engine was loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ExpertStats {
    /// Chosen experts that were already resident.
    pub hits: u64,
    /// Chosen experts that had to be uploaded before their layer could run.
    pub misses: u64,
    /// Bytes copied to the GPU, for misses and prefetches.
    pub bytes_uploaded: u64,
    /// Experts uploaded ahead of their layer on a prediction.
    pub prefetches: u64,
    /// Prefetched experts that their layer then chose.
    pub prefetch_hits: u64,
    /// Prefetched experts their layer did not choose.
    pub prefetch_wasted: u64,
    /// Time spent waiting for the uploads of misses.
    pub stall_seconds: f64,
}

impl ExpertStats {
    pub fn hit_rate(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 {
            1.0
        } else {
            self.hits as f64 / total as f64
        }
    }

    /// What happened between `earlier` (a reading of the same engine's totals) and these totals.
    pub fn since(&self, earlier: &ExpertStats) -> ExpertStats {
        ExpertStats {
            hits: self.hits - earlier.hits,
            misses: self.misses - earlier.misses,
            bytes_uploaded: self.bytes_uploaded - earlier.bytes_uploaded,
            prefetches: self.prefetches - earlier.prefetches,
            prefetch_hits: self.prefetch_hits - earlier.prefetch_hits,
            prefetch_wasted: self.prefetch_wasted - earlier.prefetch_wasted,
            stall_seconds: self.stall_seconds - earlier.stall_seconds,
        }
    }

    /// The share of prefetches their layer used.
    pub fn prefetch_accuracy(&self) -> f64 {
        let judged = self.prefetch_hits + self.prefetch_wasted;
        if judged == 0 {
            0.0
        } else {
            self.prefetch_hits as f64 / judged as f64
        }
    }
}

struct LayerSlots {
    expert_of_slot: Vec<Option<u32>>,
    /// Slots filled by a prefetch that no token of the layer has used yet.
    prefetched: Vec<bool>,
}

/// Which expert is in which slot of each layer, and the policy that chooses victims.
pub struct ExpertCache {
    layers: Vec<LayerSlots>,
    /// Bytes one expert of each layer uploads.
    expert_bytes: Vec<u64>,
    policy: Box<dyn ExpertPolicy>,
    stats: ExpertStats,
}

impl ExpertCache {
    pub fn new(slots_per_layer: usize, expert_bytes: Vec<u64>, policy: Box<dyn ExpertPolicy>) -> ExpertCache {
        let layers = expert_bytes
            .iter()
            .map(|_| LayerSlots { expert_of_slot: vec![None; slots_per_layer], prefetched: vec![false; slots_per_layer] })
            .collect();
        ExpertCache { layers, expert_bytes, policy, stats: ExpertStats::default() }
    }

    pub fn stats(&self) -> ExpertStats {
        self.stats
    }

    pub fn add_stall(&mut self, seconds: f64) {
        self.stats.stall_seconds += seconds;
    }

    pub fn slot_of(&self, layer: usize, expert: u32) -> Option<u32> {
        self.layers[layer].expert_of_slot.iter().position(|&e| e == Some(expert)).map(|s| s as u32)
    }

    /// The expert in each slot of `layer` (`None`: empty).
    pub fn residents(&self, layer: usize) -> &[Option<u32>] {
        &self.layers[layer].expert_of_slot
    }

    /// A slot for `expert` in `layer` that holds none of `keep`: an empty one, else the policy's.
    fn free_slot(&mut self, layer: usize, keep: &[u32]) -> Option<usize> {
        let slots = &self.layers[layer].expert_of_slot;
        if let Some(empty) = slots.iter().position(|e| e.is_none()) {
            return Some(empty);
        }
        let candidates: Vec<usize> = (0..slots.len()).filter(|&s| slots[s].is_none_or(|e| !keep.contains(&e))).collect();
        if candidates.is_empty() {
            return None;
        }
        Some(self.policy.victim(layer, &candidates))
    }

    fn place(&mut self, layer: usize, expert: u32, slot: usize, prefetched: bool) -> Upload {
        let l = &mut self.layers[layer];
        if l.prefetched[slot] {
            // Evicted before any token used it.
            self.stats.prefetch_wasted += 1;
        }
        l.expert_of_slot[slot] = Some(expert);
        l.prefetched[slot] = prefetched;
        self.stats.bytes_uploaded += self.expert_bytes[layer];
        self.policy.touch(layer, slot);
        Upload { layer, expert, slot: slot as u32 }
    }

    /// The distinct experts `chosen` by the tokens of a step at `layer` must be resident: count
    /// hits and misses and return the uploads the misses need. The caller guarantees the layer
    /// has at least as many slots as distinct experts in `chosen`.
    pub fn require(&mut self, layer: usize, chosen: &[u32]) -> Vec<Upload> {
        let mut distinct: Vec<u32> = chosen.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let mut uploads = Vec::new();
        for &e in &distinct {
            match self.slot_of(layer, e) {
                Some(slot) => {
                    let slot = slot as usize;
                    self.stats.hits += 1;
                    if std::mem::take(&mut self.layers[layer].prefetched[slot]) {
                        self.stats.prefetch_hits += 1;
                    }
                    self.policy.touch(layer, slot);
                }
                None => {
                    self.stats.misses += 1;
                    if let Some(slot) = self.free_slot(layer, &distinct) {
                        uploads.push(self.place(layer, e, slot, false));
                    }
                }
            }
        }
        // Prefetches the layer did not use this step were wasted.
        let l = &mut self.layers[layer];
        for slot in 0..l.prefetched.len() {
            if std::mem::take(&mut l.prefetched[slot]) {
                self.stats.prefetch_wasted += 1;
            }
        }
        uploads
    }

    /// Upload the `predicted` experts of `layer` that are not resident, into slots that hold no
    /// expert in `predicted` itself.
    pub fn prefetch(&mut self, layer: usize, predicted: &[u32]) -> Vec<Upload> {
        let mut uploads = Vec::new();
        for &e in predicted {
            if self.slot_of(layer, e).is_some() {
                continue;
            }
            if let Some(slot) = self.free_slot(layer, predicted) {
                self.stats.prefetches += 1;
                uploads.push(self.place(layer, e, slot, true));
            }
        }
        uploads
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experts::Lru;

    /// One layer, 3 slots, 10 bytes per expert; a scripted sequence of choices with the counts
    /// worked out by hand.
    #[test]
    fn scripted_routing_counts_hits_misses_and_bytes() {
        let mut c = ExpertCache::new(3, vec![10], Box::new(Lru::new(1, 3)));
        // Step 1: experts 0 and 1 — two misses into the empty slots 0 and 1.
        assert_eq!(c.require(0, &[0, 1]), vec![Upload { layer: 0, expert: 0, slot: 0 }, Upload { layer: 0, expert: 1, slot: 1 }]);
        // Step 2: 1 and 2 — a hit, and a miss into the last empty slot.
        assert_eq!(c.require(0, &[1, 2]), vec![Upload { layer: 0, expert: 2, slot: 2 }]);
        // Step 3: 3 and 1 — 1 hits; 3 misses and evicts the least recently used, expert 0.
        assert_eq!(c.require(0, &[3, 1]), vec![Upload { layer: 0, expert: 3, slot: 0 }]);
        // Step 4: 0 and 0 (two tokens, one expert) — one miss; the LRU is now expert 2 (slot 2).
        assert_eq!(c.require(0, &[0, 0]), vec![Upload { layer: 0, expert: 0, slot: 2 }]);
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.bytes_uploaded), (2, 5, 50));
        assert_eq!(c.residents(0), &[Some(3), Some(1), Some(0)]);
    }

    #[test]
    fn prefetches_count_as_used_or_wasted() {
        let mut c = ExpertCache::new(2, vec![10, 10], Box::new(Lru::new(2, 2)));
        c.require(1, &[0, 1]);
        // Layer 1 is predicted to use 2 and 1: 2 is uploaded over 0 (1 is kept, being predicted).
        assert_eq!(c.prefetch(1, &[2, 1]), vec![Upload { layer: 1, expert: 2, slot: 0 }]);
        // The layer then uses 2 (a prefetch hit) and 1.
        assert!(c.require(1, &[2, 1]).is_empty());
        // Predicted 3 for the next step, but the layer uses 2 and 1 again: the prefetch is wasted.
        c.prefetch(1, &[3]);
        let uploads = c.require(1, &[2, 1]);
        let s = c.stats();
        assert_eq!((s.prefetches, s.prefetch_hits, s.prefetch_wasted), (2, 1, 1));
        // The wasted prefetch evicted expert 1's or 2's slot, so one of them missed.
        assert_eq!((s.misses, uploads.len()), (3, 1));
        assert_eq!(s.bytes_uploaded, 10 * (2 + 2 + 1));
    }
}
