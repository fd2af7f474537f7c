//! The model's weights on the GPU: matrices in their block format, norm vectors as f32.

use crate::error::{Error, Result};
use crate::gguf::ByteSource;
use crate::gpu::{has_decoder, Gpu, GpuMatrix, StorageBuffer};
use crate::model::{Matrix, Model, Vector};
use crate::quant;

pub struct LayerWeights {
    pub attn_norm: StorageBuffer,
    pub wq: GpuMatrix,
    pub wk: GpuMatrix,
    pub wv: GpuMatrix,
    pub wo: GpuMatrix,
    pub ffn_norm: StorageBuffer,
    pub router: Option<GpuMatrix>,
    pub gate: GpuMatrix,
    pub up: GpuMatrix,
    pub down: GpuMatrix,
}

pub struct Weights {
    pub token_embd: GpuMatrix,
    pub output_norm: StorageBuffer,
    /// `None` when the model ties its output to the embedding.
    pub output: Option<GpuMatrix>,
    pub layers: Vec<LayerWeights>,
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
            if m.cols % 4 != 0 {
                return Err(Error::UnsupportedTensor {
                    name: m.name.clone(),
                    what: format!("rows of {} values", m.cols),
                    why: "row lengths must be a multiple of 4".into(),
                });
            }
        }
        Ok(())
    }

    /// Upload every weight from `source`; `progress(done, total)` is called with bytes.
    pub async fn upload<S: ByteSource>(gpu: &Gpu, source: &S, model: &Model, progress: &mut dyn FnMut(u64, u64)) -> Result<Weights> {
        Self::check(model)?;
        let l = &model.layout;
        let total: u64 = l.matrices().iter().map(|m| m.total_bytes()).sum();
        let mut done = 0u64;
        let mut matrix = async |m: &Matrix| -> Result<GpuMatrix> {
            let g = GpuMatrix::load(gpu, source, m).await?;
            done += m.total_bytes();
            progress(done, total);
            Ok(g)
        };
        let token_embd = matrix(&l.token_embd).await?;
        let mut layers = Vec::with_capacity(l.layers.len());
        for ly in &l.layers {
            layers.push(LayerWeights {
                attn_norm: vector(gpu, source, &ly.attn_norm).await?,
                wq: matrix(&ly.wq).await?,
                wk: matrix(&ly.wk).await?,
                wv: matrix(&ly.wv).await?,
                wo: matrix(&ly.wo).await?,
                ffn_norm: vector(gpu, source, &ly.ffn_norm).await?,
                router: match &ly.ffn.router {
                    Some(r) => Some(matrix(r).await?),
                    None => None,
                },
                gate: matrix(&ly.ffn.gate).await?,
                up: matrix(&ly.ffn.up).await?,
                down: matrix(&ly.ffn.down).await?,
            });
        }
        let output = if l.tied_output { None } else { Some(matrix(&l.output).await?) };
        let output_norm = vector(gpu, source, &l.output_norm).await?;
        gpu.check()?;
        Ok(Weights { token_embd, output_norm, output, layers })
    }

    /// Bytes the weights occupy on the GPU.
    pub fn gpu_bytes(&self) -> u64 {
        let mut all: Vec<&GpuMatrix> = vec![&self.token_embd];
        all.extend(self.output.as_ref());
        for l in &self.layers {
            all.extend([&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down]);
            all.extend(l.router.as_ref());
        }
        let vectors = self.output_norm.len + self.layers.iter().map(|l| l.attn_norm.len + l.ffn_norm.len).sum::<u64>();
        all.iter().map(|m| m.gpu_bytes()).sum::<u64>() + vectors
    }
}

/// A norm vector, dequantized on the CPU and uploaded as f32.
async fn vector<S: ByteSource>(gpu: &Gpu, source: &S, v: &Vector) -> Result<StorageBuffer> {
    let mut raw = vec![0u8; (v.range.end - v.range.start) as usize];
    source.read_at(v.range.start, &mut raw).await?;
    let values = quant::dequantize_to_vec(v.ty, &raw)?;
    Ok(StorageBuffer::with_data(gpu, &v.name, bytemuck::cast_slice(&values)))
}
