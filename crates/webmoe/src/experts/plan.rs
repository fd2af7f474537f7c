//! How many expert slots each layer gets under a GPU memory budget.

use crate::error::{Error, Result};

/// The outcome of fitting a model into a budget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SlotPlan {
    /// Every expert fits: no streaming.
    AllResident,
    /// This many slots per layer (at least the experts used per token, fewer than the experts).
    Slots(usize),
}

/// Fit `slot_bytes[l]` (one expert of layer l, all its matrices) into what `budget` leaves after
/// `resident` bytes, with the same slot count in every layer.
pub fn plan_slots(budget: Option<u64>, resident: u64, slot_bytes: &[u64], n_expert: usize, n_used: usize) -> Result<SlotPlan> {
    let Some(budget) = budget else { return Ok(SlotPlan::AllResident) };
    let per_slot_all_layers: u64 = slot_bytes.iter().sum();
    let need = |slots: usize| resident + slots as u64 * per_slot_all_layers;
    if n_expert <= 1 || budget >= need(n_expert) {
        return if budget >= need(n_expert.max(1)) || n_expert <= 1 && budget >= resident {
            Ok(SlotPlan::AllResident)
        } else {
            Err(too_small(budget, need(n_expert.max(1)), resident))
        };
    }
    let minimum = need(n_used);
    if budget < minimum {
        return Err(too_small(budget, minimum, resident));
    }
    let slots = ((budget - resident) / per_slot_all_layers.max(1)) as usize;
    Ok(SlotPlan::Slots(slots.clamp(n_used, n_expert - 1)))
}

fn too_small(budget: u64, minimum: u64, resident: u64) -> Error {
    Error::InvalidOption {
        option: "GPU memory budget".into(),
        value: format!("{budget} bytes"),
        why: format!(
            "the model needs at least {minimum} bytes ({:.1} MiB): {resident} for the weights every token uses, the KV cache and scratch, plus the experts one token uses in every layer; give a larger budget or a smaller context",
            minimum as f64 / 1048576.0
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_map_to_slots() {
        // 2 layers of 8 experts, 100 bytes per expert per layer, 1000 bytes resident.
        let plan = |b| plan_slots(b, 1000, &[100, 100], 8, 2);
        assert_eq!(plan(None).unwrap(), SlotPlan::AllResident);
        assert_eq!(plan(Some(1000 + 1600)).unwrap(), SlotPlan::AllResident);
        assert_eq!(plan(Some(1000 + 1599)).unwrap(), SlotPlan::Slots(7));
        assert_eq!(plan(Some(1000 + 800)).unwrap(), SlotPlan::Slots(4));
        assert_eq!(plan(Some(1000 + 400)).unwrap(), SlotPlan::Slots(2));
        let e = plan(Some(1000 + 399)).unwrap_err().to_string();
        assert!(e.contains("at least 1400 bytes"), "{e}");
        // A dense model only needs its resident bytes.
        assert_eq!(plan_slots(Some(500), 500, &[], 1, 1).unwrap(), SlotPlan::AllResident);
        assert!(plan_slots(Some(499), 500, &[], 1, 1).is_err());
    }
}
