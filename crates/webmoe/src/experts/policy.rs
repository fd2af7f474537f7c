//! Which slot to overwrite. Kept behind a small trait so policies can be compared; a policy
//! may also keep quotas (per layer, say) over a pool's slots.

/// A slot that could be overwritten, and the layer whose expert it holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    pub slot: usize,
    pub layer: usize,
}

/// A replacement policy over each pool's slots.
pub trait ExpertPolicy {
    /// The expert in `slot` of `pool` was used (chosen by a token, or just loaded).
    fn touch(&mut self, pool: usize, slot: usize);
    /// The slot of `pool` to overwrite for an expert of `for_layer`, among `candidates` (never
    /// empty).
    fn victim(&mut self, pool: usize, candidates: &[Candidate], for_layer: usize) -> usize;
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

    fn victim(&mut self, pool: usize, candidates: &[Candidate], _for_layer: usize) -> usize {
        let uses = &self.last_use[pool];
        candidates.iter().map(|c| c.slot).min_by_key(|&s| (uses[s], s)).unwrap_or(0)
    }
}

/// Layers run in order, token after token, so when a pool holds fewer experts than a token's
/// pass uses, least-recently-used evicts exactly the experts needed soonest (the next layers')
/// and misses every time. This policy evicts the expert whose layer runs again last: for an
/// expert of layer c, the other experts of c itself (needed one token later), then those of
/// c − 1, c − 2, …; least recently used among equals. A pool then keeps a stable set of experts
/// across tokens instead of cycling through all of them.
pub struct NextUse {
    lru: Lru,
    n_layer: usize,
}

impl NextUse {
    pub fn new(pool_slots: &[usize], n_layer: usize) -> NextUse {
        NextUse { lru: Lru::new(pool_slots), n_layer: n_layer.max(1) }
    }

    /// Layers from `for_layer` until `layer` runs again: 1 for the next layer, `n_layer` for
    /// `for_layer` itself.
    fn distance(&self, layer: usize, for_layer: usize) -> usize {
        (layer + 2 * self.n_layer - for_layer - 1) % self.n_layer + 1
    }
}

impl ExpertPolicy for NextUse {
    fn touch(&mut self, pool: usize, slot: usize) {
        self.lru.touch(pool, slot);
    }

    fn victim(&mut self, pool: usize, candidates: &[Candidate], for_layer: usize) -> usize {
        let uses = &self.lru.last_use[pool];
        candidates
            .iter()
            .max_by_key(|c| (self.distance(c.layer, for_layer), std::cmp::Reverse(uses[c.slot]), std::cmp::Reverse(c.slot)))
            .map_or(0, |c| c.slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_use_evicts_the_layer_that_runs_again_last() {
        let mut p = NextUse::new(&[4], 4);
        for slot in 0..4 {
            p.touch(0, slot);
        }
        let c = |slot, layer| Candidate { slot, layer };
        // For layer 2: layer 2's own other expert runs again last, then layer 1's, then 0's, then 3's.
        assert_eq!(p.victim(0, &[c(0, 3), c(1, 0), c(2, 2), c(3, 1)], 2), 2);
        assert_eq!(p.victim(0, &[c(0, 3), c(1, 0), c(3, 1)], 2), 3);
        assert_eq!(p.victim(0, &[c(0, 3), c(1, 0)], 2), 1);
        // Among experts of one layer, the least recently used.
        p.touch(0, 0);
        assert_eq!(p.victim(0, &[c(0, 1), c(1, 1)], 2), 1);
    }
}
