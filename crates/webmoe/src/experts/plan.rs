//! How many expert slots each pool gets under a GPU memory budget.
//!
//! Layers whose experts have the same matrices (types and shapes) share one pool of slots, so a
//! budget is not divided into a fixed number of slots per layer: the smallest budget that runs a
//! model holds the resident weights plus the experts one token uses in a single layer of each
//! pool, and everything above that is shared by all the pool's layers.

use crate::error::{Error, Result};

/// Layers that can share expert slots: their experts have the same matrices.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolShape {
    /// The layers, in order.
    pub layers: Vec<usize>,
    /// GPU bytes of one slot: one expert of one of these layers, every matrix.
    pub slot_bytes: u64,
}

/// The outcome of fitting a model into a budget.
#[derive(Clone, Debug, PartialEq)]
pub enum SlotPlan {
    /// Every expert fits: no streaming.
    AllResident,
    /// Slots per pool (in the order of the shapes given), each at least the experts used per
    /// token and at most every expert of the pool's layers.
    Pooled(Vec<usize>),
}

/// Bytes of the experts under `plan` for pools of `shapes` with `n_expert` experts per layer.
pub fn expert_bytes(plan: &SlotPlan, shapes: &[PoolShape], n_expert: usize) -> u128 {
    let slots: Vec<usize> = match plan {
        SlotPlan::AllResident => shapes.iter().map(|p| p.layers.len() * n_expert).collect(),
        SlotPlan::Pooled(s) => s.clone(),
    };
    shapes.iter().zip(slots).map(|(p, s)| s as u128 * p.slot_bytes as u128).sum()
}

/// The smallest budget that runs: `resident` bytes and `n_used` slots in every pool.
pub fn minimum_budget(resident: u64, shapes: &[PoolShape], n_used: usize) -> u64 {
    let slots: u128 = shapes.iter().map(|p| n_used as u128 * p.slot_bytes as u128).sum();
    u64::try_from(resident as u128 + slots).unwrap_or(u64::MAX)
}

/// Fit the pools of `shapes` into what `budget` leaves after `resident` bytes. Each pool first
/// gets the `n_used` slots a layer needs to run, then the rest is shared out in proportion to
/// the experts each pool holds, so every layer keeps about the same share of its experts.
pub fn plan_slots(budget: Option<u64>, resident: u64, shapes: &[PoolShape], n_expert: usize, n_used: usize) -> Result<SlotPlan> {
    let Some(budget) = budget else { return Ok(SlotPlan::AllResident) };
    let everything = resident as u128 + expert_bytes(&SlotPlan::AllResident, shapes, n_expert);
    if n_expert <= 1 || shapes.is_empty() {
        return if budget as u128 >= everything { Ok(SlotPlan::AllResident) } else { Err(too_small(budget, everything as u64, resident)) };
    }
    if budget as u128 >= everything {
        return Ok(SlotPlan::AllResident);
    }
    let minimum = minimum_budget(resident, shapes, n_used);
    if budget < minimum {
        return Err(too_small(budget, minimum, resident));
    }
    let spare = (budget - minimum) as u128;
    // Bytes of every expert beyond the first n_used slots of each pool.
    let weight: u128 = shapes.iter().map(|p| (p.layers.len() * n_expert - n_used) as u128 * p.slot_bytes as u128).sum();
    let slots = shapes
        .iter()
        .map(|p| {
            let room = (p.layers.len() * n_expert - n_used) as u128;
            // This pool's share of the spare bytes, in slots: spare · room · slot / weight / slot.
            let extra = (spare * room / weight.max(1)).min(room);
            n_used + extra as usize
        })
        .collect();
    Ok(SlotPlan::Pooled(slots))
}

fn too_small(budget: u64, minimum: u64, resident: u64) -> Error {
    Error::InvalidOption {
        option: "GPU memory budget".into(),
        value: format!("{budget} bytes"),
        why: format!(
            "the model needs at least {minimum} bytes ({:.1} MiB): {resident} for the weights every token uses, the KV cache and scratch, plus the experts one token uses in one layer; give a larger budget or a smaller context",
            minimum as f64 / 1048576.0
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(layers: std::ops::Range<usize>, slot_bytes: u64) -> PoolShape {
        PoolShape { layers: layers.collect(), slot_bytes }
    }

    #[test]
    fn budgets_map_to_pooled_slots() {
        // 2 layers of 8 experts in one pool, 100 bytes per expert, 1000 bytes resident.
        let shapes = [pool(0..2, 100)];
        let plan = |b| plan_slots(b, 1000, &shapes, 8, 2);
        assert_eq!(plan(None).unwrap(), SlotPlan::AllResident);
        assert_eq!(plan(Some(1000 + 1600)).unwrap(), SlotPlan::AllResident);
        assert_eq!(plan(Some(1000 + 1599)).unwrap(), SlotPlan::Pooled(vec![15]));
        assert_eq!(plan(Some(1000 + 800)).unwrap(), SlotPlan::Pooled(vec![8]));
        // The minimum is the experts of one token in one layer, not in every layer.
        assert_eq!(plan(Some(1000 + 200)).unwrap(), SlotPlan::Pooled(vec![2]));
        let e = plan(Some(1000 + 199)).unwrap_err().to_string();
        assert!(e.contains("at least 1200 bytes"), "{e}");
        // A dense model only needs its resident bytes.
        assert_eq!(plan_slots(Some(500), 500, &[], 1, 1).unwrap(), SlotPlan::AllResident);
        assert!(plan_slots(Some(499), 500, &[], 1, 1).is_err());
    }

    #[test]
    fn pools_share_the_budget_by_the_experts_they_hold() {
        // 24 layers of 100-byte experts and 8 of 150-byte ones (another type of down projection).
        let shapes = [pool(0..24, 100), pool(24..32, 150)];
        let minimum = minimum_budget(0, &shapes, 2);
        assert_eq!(minimum, 2 * 100 + 2 * 150);
        let SlotPlan::Pooled(slots) = plan_slots(Some(minimum + 10_000), 0, &shapes, 8, 2).unwrap() else { panic!("pooled") };
        // Each pool holds about the same share of its own experts.
        let shares: Vec<f64> = slots.iter().zip(&shapes).map(|(&s, p)| s as f64 / (p.layers.len() * 8) as f64).collect();
        assert!((shares[0] - shares[1]).abs() < 0.05, "{slots:?} → {shares:?}");
        let used: u64 = slots.iter().zip(&shapes).map(|(&s, p)| s as u64 * p.slot_bytes).sum();
        assert!(used <= minimum + 10_000, "{used}");
        assert_eq!(expert_bytes(&SlotPlan::Pooled(slots), &shapes, 8), used as u128);
    }
}
