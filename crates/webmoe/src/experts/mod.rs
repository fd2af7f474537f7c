//! Expert residency: which experts live on the GPU when not all of them fit.
//!
//! Under a GPU memory budget, every layer gets the same number of expert slots (at least the
//! experts a token uses). The non-expert weights, KV cache and scratch are always resident. Each
//! step, a layer's chosen experts are made resident before its expert kernels run: hits are free,
//! misses upload the expert from the host tier into a slot the policy frees. The next layer's
//! likely experts (its router applied to the current hidden state) are uploaded early.
//! [`ExpertCache`] keeps the bookkeeping and the statistics; the engine does the GPU work.

mod cache;
mod plan;
mod policy;

pub use cache::{ExpertCache, ExpertStats, Upload};
pub use plan::{plan_slots, SlotPlan};
pub use policy::{ExpertPolicy, Lru};
