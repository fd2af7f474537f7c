//! Expert residency: which experts live on the GPU when not all of them fit.
//!
//! Under a GPU memory budget, the experts live in pools of slots shared by every layer whose
//! experts have the same matrices (one pool for most models; a Q4_K_M file whose down
//! projections alternate between two types has two). The non-expert weights, KV cache and
//! scratch are always resident. Each step, a layer's chosen experts are made resident before its
//! expert kernels run: hits are free, misses upload the expert from the host tier into a slot of
//! the layer's pool that the policy frees. The next layer's
//! likely experts (its router applied to the current hidden state) are uploaded early.
//! [`ExpertCache`] keeps the bookkeeping and the statistics; the engine does the GPU work.

mod cache;
mod plan;
mod policy;

pub use cache::{ExpertCache, ExpertStats, Upload};
pub use plan::{expert_bytes, minimum_budget, plan_slots, PoolShape, SlotPlan};
pub use policy::{Candidate, ExpertPolicy, Lru, NextUse};
