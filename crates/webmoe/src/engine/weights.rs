//! The model's weights on the GPU: matrices in their block format, norm and bias vectors as f32.
//!
//! Projections that read the same input are stacked by rows when their types agree, so one
//! dispatch computes them together: q | k | v (or the subset that shares a type), and an FFN's
//! gate | up (per expert). Stacking changes where rows live, not their bytes.
//!
//! The FFN matrices live apart from their layers: with every expert resident each layer has its
//! own (expert e in slot e); when experts stream in, the layers of a pool share one set of
//! matrices whose slots hold experts of any of those layers.

use crate::error::{Error, Result};
use crate::experts::{PoolShape, SlotPlan};
use crate::gguf::ByteSource;
use crate::gpu::{has_decoder, Gpu, GpuMatrix, StorageBuffer};
use crate::model::{LayerLayout, Matrix, Model, SharedExpert, Vector};
use crate::quant;

/// One stacked projection of the attention input and where its output starts in a q | k | v row.
pub struct QkvPart {
    pub weights: GpuMatrix,
    pub offset: u32,
}

/// An FFN's gate and up projections.
pub enum GateUp {
    /// Each slot holds the gate rows, then the up rows.
    Stacked(GpuMatrix),
    /// Different types, or a slot too large for one binding when stacked.
    Separate { gate: GpuMatrix, up: GpuMatrix },
}

/// An FFN's matrices, with one slot per expert they hold (one for a dense layer).
pub struct Ffn {
    pub gate_up: GateUp,
    pub down: GpuMatrix,
}

impl Ffn {
    fn gpu_bytes(&self) -> u64 {
        let gate_up = match &self.gate_up {
            GateUp::Stacked(m) => m.gpu_bytes(),
            GateUp::Separate { gate, up } => gate.gpu_bytes() + up.gpu_bytes(),
        };
        gate_up + self.down.gpu_bytes()
    }
}

/// A layer's per-expert biases of its expert projections, f32, each expert's row after the
/// previous one's (resident whatever the budget: they are indexed by expert, not slot).
pub struct ExpertBiasBuffers {
    /// Laid out like the gate and up matrices' rows: (experts, 2 · n_ff) with each expert's gate
    /// bias then its up bias when they stack, else one (experts, n_ff) buffer each.
    pub gate_up: GateUpBias,
    /// (experts, n_embd).
    pub down: StorageBuffer,
}

pub enum GateUpBias {
    Stacked(StorageBuffer),
    Separate { gate: StorageBuffer, up: StorageBuffer },
}

/// A layer's shared expert: its gate row (one row of H) and its FFN.
pub struct SharedWeights {
    pub gate_inp: GpuMatrix,
    pub ffn: Ffn,
}

impl SharedWeights {
    fn gpu_bytes(&self) -> u64 {
        self.gate_inp.gpu_bytes() + self.ffn.gpu_bytes()
    }
}

pub struct LayerWeights {
    pub attn_norm: StorageBuffer,
    pub qkv: Vec<QkvPart>,
    /// q | k | v biases, laid out like a row of the stacked projections' output.
    pub qkv_bias: Option<StorageBuffer>,
    /// Per-head RMSNorm weights of the queries and of the keys.
    pub qk_norm: Option<[StorageBuffer; 2]>,
    pub wo: GpuMatrix,
    /// Added to the attention output projection (n_embd values).
    pub wo_bias: Option<StorageBuffer>,
    /// Each query head's sink logit (n_head values).
    pub attn_sinks: Option<StorageBuffer>,
    pub ffn_norm: StorageBuffer,
    pub router: Option<GpuMatrix>,
    /// Added to the router's logits (n_expert values).
    pub router_bias: Option<StorageBuffer>,
    /// Always resident, whatever the budget: every token runs it.
    pub shared: Option<SharedWeights>,
    pub expert_biases: Option<ExpertBiasBuffers>,
    /// The layer's FFN matrices in [`Weights::ffns`].
    pub ffn: usize,
}

pub struct Weights {
    pub token_embd: GpuMatrix,
    pub output_norm: StorageBuffer,
    /// `None` when the model ties its output to the embedding.
    pub output: Option<GpuMatrix>,
    pub layers: Vec<LayerWeights>,
    /// FFN matrices: one per layer, or one per expert pool when experts stream in.
    pub ffns: Vec<Ffn>,
}

/// Upload progress over the bytes of every matrix.
struct Uploader<'a, S> {
    gpu: &'a Gpu,
    source: &'a S,
    done: u64,
    total: u64,
    progress: &'a mut dyn FnMut(u64, u64),
}

impl<S: ByteSource> Uploader<'_, S> {
    /// `parts` stacked by rows into one matrix (one part: the matrix itself), with `slots` slots:
    /// every expert uploaded into the slot of its number when `fill`, else empty slots for the
    /// expert cache to fill. The parts share a type, a row length and an expert count.
    async fn stacked_in(&mut self, parts: &[&Matrix], slots: usize, fill: bool) -> Result<GpuMatrix> {
        let first = parts[0];
        let rows = parts.iter().map(|m| m.rows).sum();
        let name = parts.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(" | ");
        let g = GpuMatrix::allocate_shape(self.gpu, &name, first.ty, first.cols, rows, slots).await?;
        if fill {
            for e in 0..first.n_experts() {
                g.write_slot(self.gpu, self.source, e as u32, &expert_pieces(parts, e)).await?;
            }
            self.done += parts.iter().map(|m| m.total_bytes()).sum::<u64>();
            (self.progress)(self.done, self.total);
        }
        Ok(g)
    }

    async fn stacked(&mut self, parts: &[&Matrix]) -> Result<GpuMatrix> {
        self.stacked_in(parts, parts[0].n_experts(), true).await
    }

    async fn matrix(&mut self, m: &Matrix) -> Result<GpuMatrix> {
        self.stacked(&[m]).await
    }

    /// An FFN's matrices, gate | up stacked when `gate_up_stacked`: every expert of the layer in
    /// the slot of its number, or `empty_slots` empty slots for the expert cache.
    async fn ffn(&mut self, [gate, up, down]: [&Matrix; 3], gate_up_stacked: bool, empty_slots: Option<usize>) -> Result<Ffn> {
        let (slots, fill) = match empty_slots {
            Some(n) => (n, false),
            None => (down.n_experts(), true),
        };
        let gate_up = if gate_up_stacked {
            GateUp::Stacked(self.stacked_in(&[gate, up], slots, fill).await?)
        } else {
            GateUp::Separate { gate: self.stacked_in(&[gate], slots, fill).await?, up: self.stacked_in(&[up], slots, fill).await? }
        };
        Ok(Ffn { gate_up, down: self.stacked_in(&[down], slots, fill).await? })
    }
}

/// The file ranges of expert `e` of `parts` stacked by rows.
fn expert_pieces(parts: &[&Matrix], e: usize) -> Vec<std::ops::Range<u64>> {
    parts.iter().map(|m| m.experts[e].clone()).collect()
}

/// Runs of consecutive matrices with the same type: [q, k, v] → [[q, k, v]] or [[q], [k, v]] ….
fn runs_of_equal_type<'a>(ms: &[&'a Matrix]) -> Vec<Vec<&'a Matrix>> {
    let mut runs: Vec<Vec<&Matrix>> = Vec::new();
    for &m in ms {
        match runs.last_mut() {
            Some(run) if run[0].ty == m.ty => run.push(m),
            _ => runs.push(vec![m]),
        }
    }
    runs
}

/// How a layer's projections are stacked: the q | k | v runs, and whether gate | up stack.
pub(super) struct Stacking<'a> {
    pub qkv: Vec<Vec<&'a Matrix>>,
    pub gate: &'a Matrix,
    pub up: &'a Matrix,
    pub gate_up_stacked: bool,
}

impl<'a> Stacking<'a> {
    pub fn of(ly: &'a LayerLayout, binding_limit: u64) -> Stacking<'a> {
        let (gate, up) = (&ly.ffn.gate, &ly.ffn.up);
        Stacking { qkv: runs_of_equal_type(&[&ly.wq, &ly.wk, &ly.wv]), gate, up, gate_up_stacked: gate_up_stacks(gate, up, binding_limit) }
    }

    /// GPU bytes of the stacked matrices.
    pub fn bytes(&self) -> u64 {
        let gate_up =
            if self.gate_up_stacked { stacked_bytes(&[self.gate, self.up]) } else { stacked_bytes(&[self.gate]) + stacked_bytes(&[self.up]) };
        self.qkv.iter().map(|run| stacked_bytes(run)).sum::<u64>() + gate_up
    }
}

/// Whether an FFN's gate and up stack into one matrix: the same type, and a slot of both within
/// one binding.
fn gate_up_stacks(gate: &Matrix, up: &Matrix, binding_limit: u64) -> bool {
    let stacked_slot = (gate.expert_bytes() + up.expert_bytes()).div_ceil(4) * 4;
    gate.ty == up.ty && stacked_slot <= binding_limit
}

/// GPU bytes of a layer's shared expert, stacked as it is uploaded.
pub(super) fn shared_expert_bytes(s: &SharedExpert, binding_limit: u64) -> u64 {
    let gate_up = if gate_up_stacks(&s.gate, &s.up, binding_limit) { stacked_bytes(&[&s.gate, &s.up]) } else { stacked_bytes(&[&s.gate]) + stacked_bytes(&[&s.up]) };
    stacked_bytes(&[&s.gate_inp]) + gate_up + stacked_bytes(&[&s.down])
}

/// GPU bytes of a stack of matrices: each slot padded to a word.
pub(super) fn stacked_bytes(parts: &[&Matrix]) -> u64 {
    let slot: u64 = parts.iter().map(|m| m.expert_bytes()).sum();
    parts[0].n_experts() as u64 * slot.div_ceil(4) * 4
}

impl Weights {
    /// The lm_head.
    pub fn output(&self) -> &GpuMatrix {
        self.output.as_ref().unwrap_or(&self.token_embd)
    }

    /// Check that every matrix can run on the GPU, before any upload starts.
    pub fn check(model: &Model) -> Result<()> {
        for m in model.layout.matrices() {
            if !has_decoder(m.ty) {
                return Err(Error::UnsupportedTensor { name: m.name.clone(), what: m.ty.to_string(), why: "no GPU kernel reads this type yet".into() });
            }
            if m.cols % 32 != 0 {
                return Err(Error::UnsupportedTensor {
                    name: m.name.clone(),
                    what: format!("rows of {} values", m.cols),
                    why: "row lengths must be a multiple of 32".into(),
                });
            }
        }
        Ok(())
    }

    /// Upload every weight from `source`. Experts are placed as `plan` says: all of them in
    /// each layer's own matrices, or empty slots of the `pools` (for the expert cache to fill);
    /// `progress(done, total)` is called with bytes.
    pub async fn upload<S: ByteSource>(
        gpu: &Gpu,
        source: &S,
        model: &Model,
        plan: &SlotPlan,
        pools: &[PoolShape],
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Weights> {
        Self::check(model)?;
        let l = &model.layout;
        let streamed = matches!(plan, SlotPlan::Pooled(_));
        // Streamed experts are not part of the load.
        let streamed_bytes: u64 =
            if streamed { l.layers.iter().map(|ly| ly.ffn.gate.total_bytes() + ly.ffn.up.total_bytes() + ly.ffn.down.total_bytes()).sum() } else { 0 };
        let total = l.matrices().iter().map(|m| m.total_bytes()).sum::<u64>() - streamed_bytes;
        let mut up = Uploader { gpu, source, done: 0, total, progress };
        let mut ffns = Vec::new();
        let mut ffn_of_layer = vec![0; l.layers.len()];
        if let SlotPlan::Pooled(pool_slots) = plan {
            // One set of empty matrices per pool, shaped like the pool's first layer.
            for (pool, &slots) in pools.iter().zip(pool_slots) {
                let stacking = Stacking::of(&l.layers[pool.layers[0]], gpu.binding_limit);
                let first = &l.layers[pool.layers[0]].ffn;
                ffns.push(up.ffn([&first.gate, &first.up, &first.down], stacking.gate_up_stacked, Some(slots)).await?);
                for &layer in &pool.layers {
                    ffn_of_layer[layer] = ffns.len() - 1;
                }
            }
        }
        let token_embd = up.matrix(&l.token_embd).await?;
        let mut layers = Vec::with_capacity(l.layers.len());
        for (i, ly) in l.layers.iter().enumerate() {
            let stacking = Stacking::of(ly, gpu.binding_limit);
            let mut qkv = Vec::new();
            let mut offset = 0u32;
            for run in &stacking.qkv {
                let weights = up.stacked(run).await?;
                let rows = weights.rows;
                qkv.push(QkvPart { weights, offset });
                offset += rows;
            }
            if !streamed {
                ffns.push(up.ffn([&ly.ffn.gate, &ly.ffn.up, &ly.ffn.down], stacking.gate_up_stacked, None).await?);
                ffn_of_layer[i] = ffns.len() - 1;
            }
            let qkv_bias = match &ly.qkv_bias {
                Some(b) => Some(vectors(gpu, source, "qkv bias", &[&b.q, &b.k, &b.v], 1.0).await?),
                None => None,
            };
            let shared = match &ly.ffn.shared {
                Some(s) => {
                    let stacked = gate_up_stacks(&s.gate, &s.up, gpu.binding_limit);
                    Some(SharedWeights { gate_inp: up.matrix(&s.gate_inp).await?, ffn: up.ffn([&s.gate, &s.up, &s.down], stacked, None).await? })
                }
                None => None,
            };
            let qk_norm = match &ly.qk_norm {
                Some(n) => Some([vector(gpu, source, &n.q).await?, vector(gpu, source, &n.k).await?]),
                None => None,
            };
            let expert_biases = match &ly.ffn.expert_biases {
                Some(b) => {
                    let n_expert = ly.ffn.gate.n_experts();
                    let gate_up = match stacking.gate_up_stacked {
                        true => GateUpBias::Stacked(expert_rows(gpu, source, "gate | up biases", &[&b.gate, &b.up], n_expert).await?),
                        false => GateUpBias::Separate { gate: vector(gpu, source, &b.gate).await?, up: vector(gpu, source, &b.up).await? },
                    };
                    Some(ExpertBiasBuffers { gate_up, down: vector(gpu, source, &b.down).await? })
                }
                None => None,
            };
            layers.push(LayerWeights {
                attn_norm: vector(gpu, source, &ly.attn_norm).await?,
                qkv,
                qkv_bias,
                qk_norm,
                wo: up.matrix(&ly.wo).await?,
                wo_bias: optional_vector(gpu, source, &ly.wo_bias).await?,
                attn_sinks: optional_vector(gpu, source, &ly.attn_sinks).await?,
                ffn_norm: vector(gpu, source, &ly.ffn_norm).await?,
                router: match &ly.ffn.router {
                    Some(r) => Some(up.matrix(r).await?),
                    None => None,
                },
                router_bias: match &ly.ffn.router_bias {
                    Some(b) => Some(vector(gpu, source, b).await?),
                    None => None,
                },
                shared,
                expert_biases,
                ffn: ffn_of_layer[i],
            });
        }
        let output = if l.tied_output { None } else { Some(up.matrix(&l.output).await?) };
        // logits = W_out · (rms_norm(x) · output_norm) / s_logit, with the division in the weights.
        let output_norm = vectors(gpu, source, &l.output_norm.name, &[&l.output_norm], 1.0 / model.config.scales.logit).await?;
        gpu.check()?;
        Ok(Weights { token_embd, output_norm, output, layers, ffns })
    }

    /// The FFN matrices of `layer`.
    pub fn ffn(&self, layer: usize) -> &Ffn {
        &self.ffns[self.layers[layer].ffn]
    }

    /// Copy expert `expert` of layer `layer` (as `model` lays it out) from `source` into `slot`.
    pub async fn upload_expert<S: ByteSource>(&self, gpu: &Gpu, source: &S, model: &Model, layer: usize, expert: usize, slot: u32) -> Result<()> {
        let (ffn, ly) = (self.ffn(layer), &model.layout.layers[layer]);
        match &ffn.gate_up {
            GateUp::Stacked(gu) => gu.write_slot(gpu, source, slot, &expert_pieces(&[&ly.ffn.gate, &ly.ffn.up], expert)).await?,
            GateUp::Separate { gate, up } => {
                gate.write_slot(gpu, source, slot, &expert_pieces(&[&ly.ffn.gate], expert)).await?;
                up.write_slot(gpu, source, slot, &expert_pieces(&[&ly.ffn.up], expert)).await?;
            }
        }
        ffn.down.write_slot(gpu, source, slot, &expert_pieces(&[&ly.ffn.down], expert)).await?;
        Ok(())
    }

    /// Bytes of the expert matrices (gate, up and down of MoE layers) on the GPU.
    pub fn expert_bytes(&self) -> u64 {
        if self.layers.iter().all(|l| l.router.is_none()) {
            return 0;
        }
        self.ffns.iter().map(Ffn::gpu_bytes).sum()
    }

    /// Bytes the weights occupy on the GPU.
    pub fn gpu_bytes(&self) -> u64 {
        let mut all: Vec<&GpuMatrix> = vec![&self.token_embd];
        all.extend(self.output.as_ref());
        for l in &self.layers {
            all.extend(l.qkv.iter().map(|p| &p.weights));
            all.push(&l.wo);
            all.extend(l.router.as_ref());
        }
        let layer_vectors = |l: &LayerWeights| {
            let norms = l.qk_norm.as_ref().map_or(0, |[q, k]| q.len + k.len);
            let len = |b: &Option<StorageBuffer>| b.as_ref().map_or(0, |b| b.len);
            let expert_biases = l.expert_biases.as_ref().map_or(0, |b| {
                let gate_up = match &b.gate_up {
                    GateUpBias::Stacked(gu) => gu.len,
                    GateUpBias::Separate { gate, up } => gate.len + up.len,
                };
                gate_up + b.down.len
            });
            l.attn_norm.len + l.ffn_norm.len + len(&l.qkv_bias) + len(&l.router_bias) + len(&l.wo_bias) + len(&l.attn_sinks) + norms + expert_biases
        };
        let vectors = self.output_norm.len + self.layers.iter().map(layer_vectors).sum::<u64>();
        let shared: u64 = self.layers.iter().filter_map(|l| l.shared.as_ref()).map(SharedWeights::gpu_bytes).sum();
        all.iter().map(|m| m.gpu_bytes()).sum::<u64>() + self.ffns.iter().map(Ffn::gpu_bytes).sum::<u64>() + shared + vectors
    }
}

/// A norm or bias vector, dequantized on the CPU and uploaded as f32.
async fn vector<S: ByteSource>(gpu: &Gpu, source: &S, v: &Vector) -> Result<StorageBuffer> {
    vectors(gpu, source, &v.name, &[v], 1.0).await
}

async fn optional_vector<S: ByteSource>(gpu: &Gpu, source: &S, v: &Option<Vector>) -> Result<Option<StorageBuffer>> {
    match v {
        Some(v) => Ok(Some(vector(gpu, source, v).await?)),
        None => Ok(None),
    }
}

/// Per-expert vectors (each `experts` rows long) interleaved by expert as one f32 buffer: expert
/// e's row of the first vector, then its row of the second, …, then expert e + 1's.
async fn expert_rows<S: ByteSource>(gpu: &Gpu, source: &S, label: &str, vs: &[&Vector], experts: usize) -> Result<StorageBuffer> {
    let mut parts = Vec::with_capacity(vs.len());
    for v in vs {
        parts.push(read_values(source, v).await?);
    }
    let mut values = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for e in 0..experts {
        for p in &parts {
            let row = p.len() / experts;
            values.extend_from_slice(&p[e * row..(e + 1) * row]);
        }
    }
    Ok(StorageBuffer::with_data(gpu, label, bytemuck::cast_slice(&values)))
}

/// Vectors dequantized, multiplied by `scale` and uploaded one after the other as one f32 buffer.
async fn vectors<S: ByteSource>(gpu: &Gpu, source: &S, label: &str, vs: &[&Vector], scale: f32) -> Result<StorageBuffer> {
    let mut values = Vec::new();
    for v in vs {
        values.extend(read_values(source, v).await?.into_iter().map(|x| x * scale));
    }
    Ok(StorageBuffer::with_data(gpu, label, bytemuck::cast_slice(&values)))
}

/// A vector's values, read from `source` and dequantized.
pub(super) async fn read_values<S: ByteSource>(source: &S, v: &Vector) -> Result<Vec<f32>> {
    let mut raw = vec![0u8; (v.range.end - v.range.start) as usize];
    source.read_at(v.range.start, &mut raw).await?;
    Ok(quant::dequantize_to_vec(v.ty, &raw)?)
}
