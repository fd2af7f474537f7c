//! A synthetic model written front to back in bounded memory.
//!
//! Every tensor's size follows from its shape and type, so the header (metadata, tensor table,
//! offsets) is written first; then each tensor's data in chunks of a few MiB. A tensor's values
//! are cut into segments of [`SEGMENT_VALUES`], each filled from its own random stream derived
//! from (seed, tensor, segment): chunks are produced independently, on any number of threads, and
//! the bytes depend on neither the chunk size nor the thread count. Worker threads fill chunks
//! while the calling thread writes them in order; each worker has at most three chunk buffers
//! alive (one being filled, one queued, one being written), so memory stays near
//! `3 × threads × chunk` whatever the model's size.

use std::io::{self, Write};
use std::sync::mpsc;

use super::blocks::{fill_norm, fill_weights};
use super::mix::{Place, Role};
use super::rng::Rng;
use super::vocab::Vocab;
use super::{Spec, SyntheticError};
use crate::gguf::{GgufHeader, GgufStreamWriter, TensorEntry, Value};

/// Values per segment: the unit with its own random stream (a multiple of every block size).
pub const SEGMENT_VALUES: u64 = 1 << 16;

/// Bytes per chunk unless set otherwise.
pub const DEFAULT_CHUNK_BYTES: usize = 4 << 20;

/// Spread of the router's weights in units of 1/√n_embd: router logits of about unit spread,
/// so the top-k choice follows the token rather than a few large weights.
const ROUTER_GAIN: f32 = 1.0;

/// What a tensor's values are.
#[derive(Clone, Copy, Debug)]
enum Fill {
    /// Norm weights, about 1.
    Norm,
    /// Weights of mean 0 and this standard deviation.
    Weights(f32),
}

struct Planned {
    entry: TensorEntry,
    fill: Fill,
    /// Bytes per segment.
    segment_bytes: u64,
}

/// A piece of one tensor's data: `count` segments from `first`.
struct Job {
    tensor: usize,
    first: u64,
    count: u64,
}

/// A synthetic model, planned: its metadata, tensor table and how each tensor is filled.
pub struct Generator {
    header: GgufHeader,
    tensors: Vec<Planned>,
    seed: u64,
    threads: usize,
    chunk_bytes: usize,
}

impl Generator {
    /// The model `spec` describes, with the synthetic vocabulary of `spec.vocab_size` tokens.
    pub fn new(spec: &Spec) -> Generator {
        Generator::build(spec, &Vocab::synthetic(spec.vocab_size))
    }

    /// The model `spec` describes with `vocab`'s tokenizer metadata, which must hold
    /// `spec.vocab_size` tokens.
    pub fn with_vocab(spec: &Spec, vocab: &Vocab) -> Result<Generator, SyntheticError> {
        if vocab.len() != spec.vocab_size {
            return Err(SyntheticError::VocabSize { vocab: vocab.len(), spec: spec.vocab_size });
        }
        Ok(Generator::build(spec, vocab))
    }

    /// Threads filling chunks (at least 1); the bytes do not depend on it.
    pub fn threads(mut self, n: usize) -> Generator {
        self.threads = n.max(1);
        self
    }

    /// Bytes per write (rounded down to whole segments, at least one); the bytes written do not
    /// depend on it.
    pub fn chunk_bytes(mut self, n: usize) -> Generator {
        self.chunk_bytes = n.max(1);
        self
    }

    /// Bytes of the file.
    pub fn file_len(&self) -> u64 {
        self.header.file_len()
    }

    /// The header alone. A file of these bytes extended to [`Generator::file_len`] (sparse: every
    /// weight zero) has the model's shape, tensor table and size, which is all that reads only
    /// headers needs (`webmoe inspect`, the GPU budget arithmetic), at sizes no disk here holds.
    pub fn header_bytes(&self) -> &[u8] {
        self.header.bytes()
    }

    /// Bytes of the header (the offset of the first tensor's data).
    pub fn header_len(&self) -> u64 {
        self.header.len()
    }

    /// The tensor table: name, ggml dims and type of each tensor, in file order.
    pub fn tensors(&self) -> impl Iterator<Item = &TensorEntry> {
        self.tensors.iter().map(|t| &t.entry)
    }

    fn build(spec: &Spec, vocab: &Vocab) -> Generator {
        let s = spec;
        let head_dim = s.n_embd / s.n_head.max(1);
        let moe = s.n_expert > 1;
        let u32_of = |n: usize| Value::U32(n as u32);
        let mut meta: Vec<(String, Value)> = vec![
            ("general.architecture".into(), Value::String("llama".into())),
            (
                "general.name".into(),
                Value::String(format!("synthetic-{}x{}-{}L", s.n_expert.max(1), s.n_embd, s.n_layer)),
            ),
            ("llama.context_length".into(), u32_of(s.context_length)),
            ("llama.embedding_length".into(), u32_of(s.n_embd)),
            ("llama.block_count".into(), u32_of(s.n_layer)),
            ("llama.feed_forward_length".into(), u32_of(s.n_ff)),
            ("llama.attention.head_count".into(), u32_of(s.n_head)),
            ("llama.attention.head_count_kv".into(), u32_of(s.n_head_kv)),
            ("llama.rope.freq_base".into(), Value::F32(1e6)),
            ("llama.attention.layer_norm_rms_epsilon".into(), Value::F32(1e-5)),
            ("llama.vocab_size".into(), u32_of(s.vocab_size)),
        ];
        meta.extend(vocab.metadata().iter().cloned());
        if moe {
            meta.push(("llama.expert_count".into(), u32_of(s.n_expert)));
            meta.push(("llama.expert_used_count".into(), u32_of(s.n_expert_used)));
        }
        meta.push(("llama.rope.dimension_count".into(), u32_of(head_dim)));
        meta.push(("general.file_type".into(), Value::U32(s.mix.file_type())));
        meta.push(("general.quantization_version".into(), Value::U32(2)));

        let (h, f, e, v) = (s.n_embd as u64, s.n_ff as u64, s.n_expert as u64, s.vocab_size as u64);
        let (q_dim, kv_dim) = (s.n_head as u64 * head_dim as u64, s.n_head_kv as u64 * head_dim as u64);
        let inv_sqrt = |fan_in: u64| 1.0 / (fan_in.max(1) as f32).sqrt();
        let mut tensors = Vec::new();
        let mut add = |name: String, role: Role, layer: usize, dims: &[u64]| {
            let ty =
                s.mix.tensor_type(Place { role, layer, n_layer: s.n_layer, n_expert: s.n_expert, row_len: dims[0] });
            let fill = match role {
                Role::AttnNorm | Role::FfnNorm | Role::OutputNorm => Fill::Norm,
                Role::TokenEmbd => Fill::Weights(1.0),
                Role::Router => Fill::Weights(ROUTER_GAIN * inv_sqrt(dims[0])),
                _ => Fill::Weights(inv_sqrt(dims[0])),
            };
            let entry = TensorEntry::sized(&name, dims, ty).unwrap_or_else(|| {
                // The mix falls back to a type whose blocks fit the rows; F16 fits any.
                unreachable!("{name}: rows of {} values are not whole {ty} blocks", dims[0])
            });
            let segment_bytes = SEGMENT_VALUES / ty.block_elems() * ty.block_bytes();
            tensors.push(Planned { entry, fill, segment_bytes });
        };
        add("token_embd.weight".into(), Role::TokenEmbd, 0, &[h, v]);
        for l in 0..s.n_layer {
            let name = |kind: &str, suffix: &str| format!("blk.{l}.{kind}{suffix}.weight");
            add(name("attn_norm", ""), Role::AttnNorm, l, &[h]);
            add(name("attn_q", ""), Role::AttnQ, l, &[h, q_dim]);
            add(name("attn_k", ""), Role::AttnK, l, &[h, kv_dim]);
            add(name("attn_v", ""), Role::AttnV, l, &[h, kv_dim]);
            add(name("attn_output", ""), Role::AttnOutput, l, &[q_dim, h]);
            add(name("ffn_norm", ""), Role::FfnNorm, l, &[h]);
            if moe {
                add(name("ffn_gate_inp", ""), Role::Router, l, &[h, e]);
                add(name("ffn_gate", "_exps"), Role::FfnGate, l, &[h, f, e]);
                add(name("ffn_up", "_exps"), Role::FfnUp, l, &[h, f, e]);
                add(name("ffn_down", "_exps"), Role::FfnDown, l, &[f, h, e]);
            } else {
                add(name("ffn_gate", ""), Role::FfnGate, l, &[h, f]);
                add(name("ffn_up", ""), Role::FfnUp, l, &[h, f]);
                add(name("ffn_down", ""), Role::FfnDown, l, &[f, h]);
            }
        }
        add("output_norm.weight".into(), Role::OutputNorm, 0, &[h]);
        add("output.weight".into(), Role::Output, 0, &[h, v]);

        let entries: Vec<TensorEntry> = tensors.iter().map(|t| t.entry.clone()).collect();
        Generator {
            header: GgufHeader::new(&meta, &entries),
            tensors,
            seed: s.seed,
            threads: 1,
            chunk_bytes: DEFAULT_CHUNK_BYTES,
        }
    }

    /// Every tensor's data cut into chunks of whole segments, in file order.
    fn jobs(&self) -> Vec<Job> {
        let mut jobs = Vec::new();
        for (i, t) in self.tensors.iter().enumerate() {
            let segments = t.entry.size.div_ceil(t.segment_bytes);
            let per_chunk = (self.chunk_bytes as u64 / t.segment_bytes).max(1);
            let mut first = 0;
            while first < segments {
                let count = per_chunk.min(segments - first);
                jobs.push(Job { tensor: i, first, count });
                first += count;
            }
        }
        jobs
    }

    /// The bytes of `job` into `buf` (resized to them).
    fn fill(&self, job: &Job, buf: &mut Vec<u8>) {
        let t = &self.tensors[job.tensor];
        let start = job.first * t.segment_bytes;
        let end = ((job.first + job.count) * t.segment_bytes).min(t.entry.size);
        buf.clear();
        buf.resize((end - start) as usize, 0);
        for (k, segment) in buf.chunks_mut(t.segment_bytes as usize).enumerate() {
            let mut rng = Rng::derived(self.seed, job.tensor as u64, job.first + k as u64);
            match t.fill {
                Fill::Norm => fill_norm(&mut rng, segment),
                Fill::Weights(std) => fill_weights(t.entry.ty, std, &mut rng, segment),
            }
        }
    }

    /// Write the file to `out`, calling `progress` with the bytes written so far after the header
    /// and after every chunk.
    pub fn write<W: Write>(&self, out: W, progress: &mut dyn FnMut(u64)) -> io::Result<W> {
        let jobs = self.jobs();
        let mut w = GgufStreamWriter::new(out, &self.header)?;
        progress(w.position());
        let workers = self.threads.min(jobs.len()).max(1);
        std::thread::scope(|scope| -> io::Result<()> {
            let mut filled = Vec::with_capacity(workers);
            let mut emptied = Vec::with_capacity(workers);
            for worker in 0..workers {
                // Bounded to one queued chunk: a worker runs at most one chunk ahead of the writer.
                let (full_tx, full_rx) = mpsc::sync_channel::<Vec<u8>>(1);
                let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
                let jobs = &jobs;
                scope.spawn(move || {
                    for job in jobs.iter().skip(worker).step_by(workers) {
                        let mut buf = empty_rx.try_recv().unwrap_or_default();
                        self.fill(job, &mut buf);
                        if full_tx.send(buf).is_err() {
                            return; // the writer stopped on an error
                        }
                    }
                });
                filled.push(full_rx);
                emptied.push(empty_tx);
            }
            for k in 0..jobs.len() {
                let buf = filled[k % workers].recv().map_err(|_| io::Error::other("a generating thread stopped"))?;
                w.write_data(&buf)?;
                progress(w.position());
                // The worker may have finished its jobs and gone; the buffer is then dropped.
                let _ = emptied[k % workers].send(buf);
            }
            Ok(())
        })?;
        w.finish()
    }
}
