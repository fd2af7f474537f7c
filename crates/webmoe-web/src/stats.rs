//! What `engine.stats()` reports: speed of the last generation, how often each expert was
//! chosen in the current sequence, what the expert cache did, and memory.

use serde::Serialize;
use webmoe::engine::MemoryReport;
use webmoe::experts::ExpertStats;
use webmoe::generate::GenerationStats;

/// The figures, as the JavaScript `EngineStats` object (camelCase fields).
#[derive(Serialize, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub prompt_tokens: usize,
    /// Of `prompt_tokens`, the leading ones the KV cache already held, which did not run again.
    pub cached_tokens: usize,
    /// What `contextOverflow` left out of the prompt: messages, or ids of a token prompt.
    pub dropped_messages: usize,
    pub dropped_tokens: usize,
    pub generated_tokens: usize,
    pub prefill_tokens_per_second: f64,
    pub decode_tokens_per_second: f64,
    /// CPU seconds the generation spent on structured output's token masks.
    pub constraint_seconds: f64,
    /// Positions filled in the KV cache (prompt and fed generated tokens).
    pub positions: usize,
    /// `[layer][expert]`: how many positions of the current sequence chose that expert.
    pub expert_counts: Vec<Vec<u32>>,
    pub expert_cache: ExpertCache,
    pub gpu_memory: GpuMemory,
    /// Bytes of the WebAssembly memory: it only grows, so this is its peak.
    pub wasm_memory: f64,
    pub conversations: ConversationFigures,
}

/// The conversations the engine keeps (`conversationId`).
#[derive(Serialize, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConversationFigures {
    /// The conversation the KV cache holds (`None`: the last request had no id).
    pub current: Option<String>,
    /// Conversations saved as GPU snapshots, least recently used first.
    pub saved: Vec<String>,
}

/// GPU bytes by purpose.
#[derive(Serialize, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GpuMemory {
    /// Every weight on the GPU, expert slots included.
    pub weights: f64,
    /// Of `weights`, the expert slots.
    pub experts: f64,
    pub kv_cache: f64,
    pub scratch: f64,
    /// Tables and small buffers (RoPE angles, expert slot table, routing log, sampler state).
    pub other: f64,
    /// Snapshots of the conversations saved besides the one in the KV cache.
    pub snapshots: f64,
    pub total: f64,
}

impl From<&MemoryReport> for GpuMemory {
    fn from(m: &MemoryReport) -> Self {
        GpuMemory {
            weights: m.weights as f64,
            experts: m.experts as f64,
            kv_cache: m.kv_cache as f64,
            scratch: m.scratch as f64,
            other: m.other as f64,
            snapshots: 0.0,
            total: m.total() as f64,
        }
    }
}

/// The expert cache: its slots (in pools the layers share), which expert of each layer each slot
/// of its pool holds, and what it did since the model was loaded. With every expert resident,
/// `slots` is the expert count times the layers, every choice is a hit and `residency` is `None`.
#[derive(Serialize, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExpertCache {
    /// Slots of every pool together.
    pub slots: usize,
    /// `[layer][slot]`: for each slot of the layer's pool, the layer's expert it holds (`None`:
    /// empty or another layer's), when experts stream in.
    /// Serialized with `None` as `null` (see [`Stats::to_js`]).
    pub residency: Option<Vec<Vec<Option<u32>>>>,
    pub hits: f64,
    pub misses: f64,
    pub hit_rate: f64,
    pub bytes_uploaded: f64,
    pub prefetches: f64,
    pub prefetch_hits: f64,
    pub prefetch_wasted: f64,
    pub stall_seconds: f64,
}

impl ExpertCache {
    pub fn new(slots: usize, s: &ExpertStats, residency: Option<Vec<Vec<Option<u32>>>>) -> ExpertCache {
        ExpertCache {
            slots,
            residency,
            hits: s.hits as f64,
            misses: s.misses as f64,
            hit_rate: s.hit_rate(),
            bytes_uploaded: s.bytes_uploaded as f64,
            prefetches: s.prefetches as f64,
            prefetch_hits: s.prefetch_hits as f64,
            prefetch_wasted: s.prefetch_wasted as f64,
            stall_seconds: s.stall_seconds,
        }
    }
}

/// The figures of a sequence, from its parts.
pub struct SequenceFigures {
    pub positions: usize,
    pub conversations: ConversationFigures,
    pub expert_counts: Vec<Vec<u32>>,
    pub expert_cache: ExpertCache,
    pub gpu_memory: GpuMemory,
}

impl Stats {
    pub fn new(generation: &GenerationStats, sequence: SequenceFigures, wasm_memory: f64) -> Stats {
        Stats {
            prompt_tokens: generation.prompt_tokens,
            cached_tokens: generation.cached_tokens,
            dropped_messages: 0,
            dropped_tokens: 0,
            generated_tokens: generation.generated_tokens,
            prefill_tokens_per_second: generation.prefill_tok_s(),
            decode_tokens_per_second: generation.decode_tok_s(),
            constraint_seconds: generation.constraint_seconds,
            positions: sequence.positions,
            expert_counts: sequence.expert_counts,
            expert_cache: sequence.expert_cache,
            gpu_memory: sequence.gpu_memory,
            wasm_memory,
            conversations: sequence.conversations,
        }
    }

    /// The JavaScript `EngineStats` object. Missing values become `null`, not `undefined`: an
    /// empty slot is `null` in `expertCache.residency`, and so is the residency of an engine
    /// whose experts are all resident.
    pub fn to_js(&self) -> Result<wasm_bindgen::JsValue, serde_wasm_bindgen::Error> {
        self.serialize(&serde_wasm_bindgen::Serializer::new().serialize_missing_as_null(true))
    }
}

/// Per-layer expert choice counts from a routing log `[position][layer][j]` (the experts each
/// position chose, best first) of a model with `n_layer` layers and `n_expert` experts. A dense
/// model (one expert, an empty log per layer) counts every position for its single FFN.
pub fn expert_counts(routing: &[Vec<Vec<u32>>], n_layer: usize, n_expert: usize) -> Vec<Vec<u32>> {
    let mut counts = vec![vec![0u32; n_expert]; n_layer];
    for position in routing {
        for (layer, chosen) in position.iter().enumerate().take(n_layer) {
            if n_expert == 1 {
                counts[layer][0] += 1;
                continue;
            }
            for &e in chosen {
                if let Some(count) = counts[layer].get_mut(e as usize) {
                    *count += 1;
                }
            }
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_choice_of_every_position_per_layer() {
        // 3 positions, 2 layers, top-2 of 4.
        let log = vec![vec![vec![0, 3], vec![1, 2]], vec![vec![3, 1], vec![1, 0]], vec![vec![3, 0], vec![2, 1]]];
        let expected = vec![vec![2, 1, 0, 3], vec![1, 3, 2, 0]];
        let got = expert_counts(&log, 2, 4);
        for layer in 0..2 {
            assert_eq!(
                got[layer], expected[layer],
                "layer {layer}: got {:?}, expected {:?}",
                got[layer], expected[layer]
            );
        }
    }

    #[test]
    fn a_dense_model_counts_each_position_once_per_layer() {
        let log = vec![vec![vec![], vec![]]; 5];
        assert_eq!(expert_counts(&log, 2, 1), vec![vec![5], vec![5]]);
    }
}
