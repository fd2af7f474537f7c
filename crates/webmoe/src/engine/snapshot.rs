//! Copies of the sequence on the GPU: the KV rows and routing-log rows of the positions filled
//! so far, and the ids they hold. A caller that keeps several conversations saves the one in the
//! KV cache before running another and restores it later, instead of running its tokens again.
//!
//! A snapshot of `n` positions is one buffer, laid out per layer as `n` key rows then `n` value
//! rows (`kv_dim` values each, in the cache's type), then the routing log's `n` rows. Saving and
//! restoring are buffer copies in one submit each; nothing crosses to the CPU.

use super::Engine;
use crate::error::Result;
use crate::gpu::StorageBuffer;

/// A saved sequence; restore it with [`Engine::restore`] on the engine that made it.
pub struct KvSnapshot {
    buffer: StorageBuffer,
    /// Ids of the saved positions, in order.
    tokens: Vec<u32>,
}

impl KvSnapshot {
    /// The ids of the saved positions.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// GPU bytes the snapshot holds.
    pub fn gpu_bytes(&self) -> u64 {
        self.buffer.buffer.size()
    }
}

/// Byte lengths of one position's rows: (a K or V row of one layer, a routing-log row).
fn row_bytes(engine: &Engine) -> (u64, u64) {
    let c = &engine.model.config;
    let kv = c.kv_dim() as u64 * if engine.kv.f16 { 2 } else { 4 };
    (kv, (c.n_layer * c.n_expert_used * 4) as u64)
}

/// Copies move whole 4-byte words.
fn words(bytes: u64) -> u64 {
    bytes.div_ceil(4) * 4
}

impl Engine {
    /// GPU bytes a snapshot of `positions` positions takes.
    pub fn snapshot_bytes(&self, positions: usize) -> u64 {
        let (kv, route) = row_bytes(self);
        let n = positions as u64;
        self.model.config.n_layer as u64 * 2 * words(n * kv) + words(n * route)
    }

    /// The pieces of a snapshot of `n` positions, in its layout, as (the engine's buffer, the
    /// piece's offset in the snapshot, its length: the buffer's first `len` bytes); saving and
    /// restoring copy them in opposite directions. Empty pieces (no positions, no routing log)
    /// are left out.
    fn snapshot_pieces(&self, n: u64) -> Vec<(&wgpu::Buffer, u64, u64)> {
        let (kv, route) = row_bytes(self);
        let caches = self.kv.keys.iter().zip(&self.kv.values).flat_map(|(k, v)| [k, v]);
        let lens = caches.map(|cache| (&cache.buffer, words(n * kv))).chain([(&self.route_log.buffer, words(n * route))]);
        let mut at = 0;
        let mut pieces = Vec::new();
        for (buffer, len) in lens {
            if len > 0 {
                pieces.push((buffer, at, len));
            }
            at += len;
        }
        pieces
    }

    /// Save the positions filled so far (a step queued ahead is dropped first).
    pub async fn snapshot(&mut self) -> Result<KvSnapshot> {
        self.cancel_ahead();
        let n = self.pos as u64;
        let buffer = StorageBuffer::new(&self.gpu, "kv snapshot", self.snapshot_bytes(self.pos)).await?;
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        for (cache, at, len) in self.snapshot_pieces(n) {
            enc.copy_buffer_to_buffer(cache, 0, &buffer.buffer, at, len);
        }
        self.gpu.queue.submit([enc.finish()]);
        self.count(|c| c.submits += 1);
        self.gpu.check()?;
        Ok(KvSnapshot { buffer, tokens: self.seen[..self.pos].to_vec() })
    }

    /// Make `snapshot` the sequence: its positions fill the KV cache, and what follows starts
    /// as after [`Engine::truncate`] to its length. The copies are queued before any later
    /// submit, so the next prompt or step sees them.
    pub fn restore(&mut self, snapshot: &KvSnapshot) -> Result<()> {
        self.cancel_ahead();
        let n = snapshot.tokens.len() as u64;
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        for (cache, at, len) in self.snapshot_pieces(n) {
            enc.copy_buffer_to_buffer(&snapshot.buffer.buffer, at, cache, 0, len);
        }
        self.gpu.queue.submit([enc.finish()]);
        self.count(|c| c.submits += 1);
        self.pos = snapshot.tokens.len();
        self.seen = snapshot.tokens.clone();
        self.sample_step = 0;
        let ring = crate::kernels::sample::history_ring(&self.seen, self.sampler.history_capacity());
        self.history.write(&self.gpu, 0, bytemuck::cast_slice(&ring));
        self.gpu.check()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::{Engine, EngineOptions, KvType};
    use crate::gguf::{Gguf, MemorySource};
    use crate::gpu::{Gpu, GpuOptions};
    use crate::model::Model;
    use crate::testing::{model_bytes, oracle};

    fn engine(case: &str) -> Engine {
        let bytes = model_bytes(case);
        let model = Model::from_gguf(&Gguf::parse(&bytes).unwrap()).unwrap();
        let gpu = pollster::block_on(Gpu::new(&GpuOptions::default())).unwrap();
        let options = EngineOptions { kv_type: KvType::F32, batch: 5, context_length: Some(32), ..Default::default() };
        pollster::block_on(Engine::load(gpu, MemorySource::new(bytes), model, &options, &mut |_, _| {})).unwrap()
    }

    #[test]
    fn a_restored_sequence_continues_as_if_it_had_never_left() {
        let case = "mixtral-q8_0";
        let c = oracle(case);
        let mut e = engine(case);
        let first = &c.tokens[..7];
        pollster::block_on(e.logits(first)).unwrap();
        let routing = pollster::block_on(e.routing(0..first.len())).unwrap();
        let saved = pollster::block_on(e.snapshot()).unwrap();
        assert_eq!(saved.tokens(), first);
        assert_eq!(saved.gpu_bytes(), e.snapshot_bytes(first.len()).div_ceil(4) * 4);

        // Another sequence overwrites the cache, then the first comes back and goes on.
        e.reset();
        pollster::block_on(e.logits(&[5, 9, 14, 3, 2, 8, 1, 4])).unwrap();
        e.restore(&saved).unwrap();
        assert_eq!((e.position(), e.cached_prefix(&c.tokens)), (first.len(), first.len()));
        assert_eq!(pollster::block_on(e.routing(0..first.len())).unwrap(), routing, "routing log restored");
        let rest = pollster::block_on(e.logits(&c.tokens[first.len()..])).unwrap();

        let mut fresh = engine(case);
        let all = pollster::block_on(fresh.logits(&c.tokens)).unwrap();
        for (p, (got, want)) in rest.iter().zip(&all[first.len()..]).enumerate() {
            for (i, (a, b)) in got.iter().zip(want).enumerate() {
                assert!((a - b).abs() <= 1e-4, "position {}, logit {i}: {a} restored vs {b} fresh", first.len() + p);
            }
        }
    }
}
