//! Running with experts streamed in: a submit per layer, so the CPU learns each layer's choice
//! of experts and makes them resident before the layer's expert kernels run.
//!
//! For the tokens of a submit, layer by layer:
//!
//! ```text
//! submit  embed + layer 0 up to its router (and its prediction of layer 1)    → read routes
//! for each layer l:
//!     for each round of the layer's chosen experts that fits its pool's slots:
//!         upload the round's misses; point the slot table at the round's experts
//!         submit  l's expert kernels (+ layer l+1 up to its router, after the last round) → read routes
//!         after that submit: upload the predicted experts of layer l+1 (overlapping the GPU)
//! the last layer's last round also runs the final norm and the tail (lm_head, sampler)
//! ```
//!
//! A slot the GPU still reads for an earlier submit may be overwritten: queue writes run after
//! the work submitted before them. The expert kernels of a round are encoded only for the pages
//! of the pool that hold the round's slots.
//!
//! Every kernel computes exactly what it computes with all experts resident (a route whose
//! expert has no slot in a round is skipped and computed in its own round), so the output is
//! the same whatever the budget.

use super::load::NO_SLOT;
use super::run::Tail;
use super::Engine;
use crate::error::Result;
use crate::experts::ExpertCache;
use crate::gguf::{ByteSource, SourceError};
use crate::gpu::{map_read, Gpu, GpuError, StorageBuffer};
use crate::model::ModelConfig;
use std::future::Future;
use std::pin::Pin;
use web_time::Instant;

/// The host tier experts stream from: the model file (mmapped natively; IndexedDB shards in the
/// browser), behind a byte source whose type the engine does not need to know.
pub(super) trait HostTier {
    fn size(&self) -> u64;
    fn read_boxed<'a>(&'a self, offset: u64, dst: &'a mut [u8]) -> Pin<Box<dyn Future<Output = Result<(), SourceError>> + 'a>>;
}

impl<S: ByteSource> HostTier for S {
    fn size(&self) -> u64 {
        self.len()
    }

    fn read_boxed<'a>(&'a self, offset: u64, dst: &'a mut [u8]) -> Pin<Box<dyn Future<Output = Result<(), SourceError>> + 'a>> {
        Box::pin(self.read_at(offset, dst))
    }
}

/// A boxed host tier read as a byte source again.
struct Host<'a>(&'a dyn HostTier);

impl ByteSource for Host<'_> {
    fn len(&self) -> u64 {
        self.0.size()
    }

    async fn read_at(&self, offset: u64, dst: &mut [u8]) -> Result<(), SourceError> {
        self.0.read_boxed(offset, dst).await
    }
}

/// The expert cache and what running layer by layer needs.
pub(super) struct Streaming {
    host: Box<dyn HostTier>,
    pub cache: ExpertCache,
    n_expert: usize,
    k: usize,
    /// MAP_READ: a submit's routes, then its predicted routes, (2, batch, k) records.
    staging: wgpu::Buffer,
    /// Bytes of one half of `staging`.
    routes_bytes: u64,
    /// (batch, H) predicted normed state, (batch, k) predicted routes, (k) prediction log.
    prediction: (StorageBuffer, StorageBuffer, StorageBuffer),
}

/// The routes of a submit's tokens for one layer, and the prediction for the next.
struct Choice {
    experts: Vec<u32>,
    predicted: Vec<u32>,
}

impl Streaming {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        gpu: &Gpu,
        host: Box<dyn HostTier>,
        cache: ExpertCache,
        c: &ModelConfig,
        batch: usize,
        prediction: (StorageBuffer, StorageBuffer, StorageBuffer),
    ) -> Streaming {
        let routes_bytes = (batch * c.n_expert_used * 8) as u64;
        let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("routes read-back"),
            size: 2 * routes_bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Streaming { host, cache, n_expert: c.n_expert, k: c.n_expert_used, staging, routes_bytes, prediction }
    }

    /// GPU bytes of the prediction buffers.
    pub fn prediction_bytes(&self) -> u64 {
        let (h, routes, log) = &self.prediction;
        [h, routes, log].iter().map(|b| b.len.div_ceil(4) * 4).sum()
    }

    /// Split a layer's distinct chosen experts into rounds that fit its pool's slots, resident
    /// ones first (they need no upload).
    fn rounds(&self, layer: usize, chosen: &[u32]) -> Vec<Vec<u32>> {
        let mut distinct = chosen.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        distinct.sort_by_key(|&e| self.cache.slot_of(layer, e).is_none());
        distinct.chunks(self.cache.slots_of_layer(layer)).map(|c| c.to_vec()).collect()
    }
}

impl Engine {
    /// The body for `n` tokens, a submit per layer and round, then `tail`.
    pub(super) async fn run_streaming(&self, st: &mut Streaming, n: usize, tail: Tail) -> Result<()> {
        let body = self.passes.body(n);
        let layers = &body.layers;
        let enc = self.encode(n, body.embed.iter().chain(&layers[0].front));
        let mut choice = self.submit_and_read_routes(st, enc, n).await?;
        for (l, layer) in layers.iter().enumerate() {
            let rounds = st.rounds(l, &choice.experts);
            let predicted = std::mem::take(&mut choice.predicted);
            for (r, round) in rounds.iter().enumerate() {
                self.make_resident(st, l, round, true).await?;
                let slots = self.write_table(st, l, round);
                let experts = layer.experts.iter().filter(|d| d.serves_any(&slots));
                let last_round = r + 1 == rounds.len();
                match layers.get(l + 1) {
                    Some(next) if last_round => {
                        let enc = self.encode(n, experts.chain(&next.front));
                        self.gpu.queue.submit([enc.finish()]);
                        // Upload the next layer's likely experts while the GPU works.
                        self.make_resident_predicted(st, l + 1, &predicted).await?;
                        choice = self.read_routes(st, n).await?;
                    }
                    Some(_) => {
                        let enc = self.encode(n, experts);
                        self.gpu.queue.submit([enc.finish()]);
                    }
                    None if last_round => {
                        let enc = self.encode(n, experts.chain(&body.final_norm).chain(self.tail(tail)));
                        self.gpu.queue.submit([self.finish(enc, tail)]);
                    }
                    None => {
                        let enc = self.encode(n, experts);
                        self.gpu.queue.submit([enc.finish()]);
                    }
                }
            }
        }
        Ok(())
    }

    /// Upload the experts of `round` that `layer` misses.
    async fn make_resident(&self, st: &mut Streaming, layer: usize, round: &[u32], stalls: bool) -> Result<()> {
        let t = Instant::now();
        let uploads = st.cache.require(layer, round);
        self.upload(st, &uploads).await?;
        if stalls && !uploads.is_empty() {
            st.cache.add_stall(t.elapsed().as_secs_f64());
        }
        Ok(())
    }

    /// Upload the experts predicted for `layer` that are not resident, as slots allow.
    async fn make_resident_predicted(&self, st: &mut Streaming, layer: usize, predicted: &[u32]) -> Result<()> {
        let mut distinct = predicted.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        distinct.truncate(st.cache.slots_of_layer(layer));
        let uploads = st.cache.prefetch(layer, &distinct);
        self.upload(st, &uploads).await
    }

    async fn upload(&self, st: &mut Streaming, uploads: &[crate::experts::Upload]) -> Result<()> {
        let host = Host(st.host.as_ref());
        for u in uploads {
            self.weights.upload_expert(&self.gpu, &host, &self.model, u.layer, u.expert as usize, u.slot).await?;
        }
        Ok(())
    }

    /// Point `layer`'s slot table at the slots of `round`'s experts only: a route whose expert is
    /// not in the round is skipped by this round's kernels. (Uploads may have moved other experts
    /// of the layer, so the whole row is written before the layer's expert kernels run.) Returns
    /// the round's slots.
    fn write_table(&self, st: &Streaming, layer: usize, round: &[u32]) -> Vec<u32> {
        let row: Vec<u32> = (0..st.n_expert as u32)
            .map(|e| if round.contains(&e) { st.cache.slot_of(layer, e).unwrap_or(NO_SLOT) } else { NO_SLOT })
            .collect();
        self.slots.write(&self.gpu, (layer * st.n_expert * 4) as u64, bytemuck::cast_slice(&row));
        row.into_iter().filter(|&s| s != NO_SLOT).collect()
    }

    /// Submit `enc` with a copy of the routes (and predicted routes) for read-back, and read them.
    async fn submit_and_read_routes(&self, st: &mut Streaming, enc: wgpu::CommandEncoder, n: usize) -> Result<Choice> {
        self.gpu.queue.submit([enc.finish()]);
        self.read_routes(st, n).await
    }

    /// Copy the last submit's routes and predictions out and read them.
    async fn read_routes(&self, st: &mut Streaming, n: usize) -> Result<Choice> {
        let bytes = (n * st.k * 8) as u64;
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&self.scratch.routes.buffer, 0, &st.staging, 0, bytes);
        enc.copy_buffer_to_buffer(&st.prediction.1.buffer, 0, &st.staging, st.routes_bytes, bytes);
        self.gpu.queue.submit([enc.finish()]);
        map_read(&self.gpu, &st.staging).await?;
        self.count(|c| {
            c.readbacks += 1;
            c.submits += 1;
        });
        let experts_of = |from: u64| -> Result<Vec<u32>> {
            let view = st.staging.slice(from..from + bytes).get_mapped_range().map_err(|e| GpuError::Readback { reason: e.to_string() })?;
            let words: &[u32] = bytemuck::cast_slice(&view);
            Ok(words.chunks(2).map(|r| r[0]).collect())
        };
        let choice = Choice { experts: experts_of(0)?, predicted: experts_of(st.routes_bytes)? };
        st.staging.unmap();
        self.gpu.check()?;
        Ok(choice)
    }
}
