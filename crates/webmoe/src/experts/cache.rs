//! The bookkeeping of the expert slots: which expert is where, what to upload, and counts.

use super::policy::{Candidate, ExpertPolicy};

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

/// The slots of one pool: which layer's expert each holds.
struct PoolSlots {
    holder: Vec<Option<(usize, u32)>>,
    /// Slots filled by a prefetch that no token of their layer has used yet.
    prefetched: Vec<bool>,
}

/// Which expert is in which slot of each pool, and the policy that chooses victims. Layers
/// share the slots of their pool: an expert of any of them may take any slot.
pub struct ExpertCache {
    pools: Vec<PoolSlots>,
    /// The pool of each layer.
    pool_of_layer: Vec<usize>,
    /// Bytes one expert of each layer uploads.
    expert_bytes: Vec<u64>,
    policy: Box<dyn ExpertPolicy>,
    stats: ExpertStats,
}

impl ExpertCache {
    /// `pool_slots[p]` slots in pool p; layer l uses pool `pool_of_layer[l]` and uploads
    /// `expert_bytes[l]` bytes per expert.
    pub fn new(pool_slots: &[usize], pool_of_layer: Vec<usize>, expert_bytes: Vec<u64>, policy: Box<dyn ExpertPolicy>) -> ExpertCache {
        let pools = pool_slots.iter().map(|&n| PoolSlots { holder: vec![None; n], prefetched: vec![false; n] }).collect();
        ExpertCache { pools, pool_of_layer, expert_bytes, policy, stats: ExpertStats::default() }
    }

    pub fn stats(&self) -> ExpertStats {
        self.stats
    }

    pub fn add_stall(&mut self, seconds: f64) {
        self.stats.stall_seconds += seconds;
    }

    /// Slots of the pool `layer` uses.
    pub fn slots_of_layer(&self, layer: usize) -> usize {
        self.pools[self.pool_of_layer[layer]].holder.len()
    }

    /// Slots in every pool.
    pub fn total_slots(&self) -> usize {
        self.pools.iter().map(|p| p.holder.len()).sum()
    }

    pub fn slot_of(&self, layer: usize, expert: u32) -> Option<u32> {
        self.pools[self.pool_of_layer[layer]].holder.iter().position(|&h| h == Some((layer, expert))).map(|s| s as u32)
    }

    /// For each slot of `layer`'s pool, the expert of `layer` it holds (`None`: empty, or an
    /// expert of another layer).
    pub fn residents(&self, layer: usize) -> Vec<Option<u32>> {
        self.pools[self.pool_of_layer[layer]].holder.iter().map(|h| h.filter(|&(l, _)| l == layer).map(|(_, e)| e)).collect()
    }

    /// A slot of `pool` that holds none of `keep` (experts of `layer`): an empty one, else the
    /// policy's choice.
    fn free_slot(&mut self, pool: usize, layer: usize, keep: &[u32]) -> Option<usize> {
        let slots = &self.pools[pool].holder;
        if let Some(empty) = slots.iter().position(|h| h.is_none()) {
            return Some(empty);
        }
        let candidates: Vec<Candidate> = slots
            .iter()
            .enumerate()
            .filter_map(|(slot, h)| h.filter(|&(l, e)| !(l == layer && keep.contains(&e))).map(|(l, _)| Candidate { slot, layer: l }))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        Some(self.policy.victim(pool, &candidates, layer))
    }

    fn place(&mut self, layer: usize, expert: u32, slot: usize, prefetched: bool) -> Upload {
        let pool = self.pool_of_layer[layer];
        let p = &mut self.pools[pool];
        if p.prefetched[slot] {
            // Evicted before any token used it.
            self.stats.prefetch_wasted += 1;
        }
        p.holder[slot] = Some((layer, expert));
        p.prefetched[slot] = prefetched;
        self.stats.bytes_uploaded += self.expert_bytes[layer];
        self.policy.touch(pool, slot);
        Upload { layer, expert, slot: slot as u32 }
    }

    /// The distinct experts `chosen` by the tokens of a step at `layer` must be resident: count
    /// hits and misses and return the uploads the misses need. The caller guarantees the
    /// layer's pool has at least as many slots as distinct experts in `chosen`.
    pub fn require(&mut self, layer: usize, chosen: &[u32]) -> Vec<Upload> {
        let pool = self.pool_of_layer[layer];
        let mut distinct: Vec<u32> = chosen.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let mut uploads = Vec::new();
        for &e in &distinct {
            match self.slot_of(layer, e) {
                Some(slot) => {
                    let slot = slot as usize;
                    self.stats.hits += 1;
                    if std::mem::take(&mut self.pools[pool].prefetched[slot]) {
                        self.stats.prefetch_hits += 1;
                    }
                    self.policy.touch(pool, slot);
                }
                None => {
                    self.stats.misses += 1;
                    if let Some(slot) = self.free_slot(pool, layer, &distinct) {
                        uploads.push(self.place(layer, e, slot, false));
                    }
                }
            }
        }
        // Prefetches for this layer that it did not use this step were wasted.
        let p = &mut self.pools[pool];
        for slot in 0..p.prefetched.len() {
            if matches!(p.holder[slot], Some((l, _)) if l == layer) && std::mem::take(&mut p.prefetched[slot]) {
                self.stats.prefetch_wasted += 1;
            }
        }
        uploads
    }

    /// Upload the `predicted` experts of `layer` that are not resident, into slots that hold no
    /// expert in `predicted` itself.
    pub fn prefetch(&mut self, layer: usize, predicted: &[u32]) -> Vec<Upload> {
        let pool = self.pool_of_layer[layer];
        let mut uploads = Vec::new();
        for &e in predicted {
            if self.slot_of(layer, e).is_some() {
                continue;
            }
            if let Some(slot) = self.free_slot(pool, layer, predicted) {
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
        let mut c = ExpertCache::new(&[3], vec![0], vec![10], Box::new(Lru::new(&[3])));
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
        assert_eq!(c.residents(0), vec![Some(3), Some(1), Some(0)]);
    }

    #[test]
    fn prefetches_count_as_used_or_wasted() {
        let mut c = ExpertCache::new(&[2, 2], vec![0, 1], vec![10, 10], Box::new(Lru::new(&[2, 2])));
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

    /// Two layers in one pool of 3 slots: an expert of either layer may take any slot, and the
    /// least recently used one goes, whichever layer it belongs to.
    #[test]
    fn layers_share_the_slots_of_their_pool() {
        let mut c = ExpertCache::new(&[3], vec![0, 0], vec![10, 20], Box::new(Lru::new(&[3])));
        assert_eq!(c.require(0, &[4, 5]), vec![Upload { layer: 0, expert: 4, slot: 0 }, Upload { layer: 0, expert: 5, slot: 1 }]);
        // Layer 1's expert 4 is not layer 0's: a miss into the last empty slot.
        assert_eq!(c.require(1, &[4]), vec![Upload { layer: 1, expert: 4, slot: 2 }]);
        // Layer 1 now needs 4 (a hit) and 6: 6 evicts layer 0's expert 4, the least recently used.
        assert_eq!(c.require(1, &[6, 4]), vec![Upload { layer: 1, expert: 6, slot: 0 }]);
        assert_eq!(c.residents(0), vec![None, Some(5), None]);
        assert_eq!(c.residents(1), vec![Some(6), None, Some(4)]);
        assert_eq!(c.slot_of(0, 5), Some(1));
        assert_eq!(c.slot_of(0, 4), None);
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.bytes_uploaded), (1, 4, 10 + 10 + 20 + 20));
        assert_eq!((c.slots_of_layer(1), c.total_slots()), (3, 3));
    }
}
