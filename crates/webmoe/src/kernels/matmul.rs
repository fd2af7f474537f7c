//! Quantized matrix × matrix over the rows of a prompt (shaders/matmul.wgsl): the batched
//! counterpart of [`super::matvec`], with the same page model, epilogues and expert slots. Each
//! weight value is decoded once per tile of 16 rows instead of once per row.

use super::matvec::{glu_id, Bias, Epilogue};
use super::moe_group::ExpertGroups;
use super::{groups, KernelEnv};
use crate::gpu::{Dispatch, Gpu, GpuError, GpuMatrix, Grid, Kernel, PipelineKey, StorageBuffer, UniformBuffer};
use crate::model::Activation;

/// Weight rows per workgroup (`TILE_N` in the shader).
const ROWS_PER_WORKGROUP: u32 = 64;
/// Input rows per workgroup (`TILE_T` in the shader).
const TOKENS_PER_WORKGROUP: u32 = 16;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    cols: u32,
    row_bytes: u32,
    slot_stride: u32,
    slot_begin: u32,
    slot_end: u32,
    row_begin: u32,
    row_end: u32,
    x_div: u32,
    slot_base: u32,
    x_stride: u32,
    y_stride: u32,
    y_offset: u32,
    bias_stride: u32,
    _pad: [u32; 3],
}

/// Expert mode: each expert's weights multiply exactly the routes that chose it, as grouped by
/// [`super::moe_group::moe_group`]. Output row a belongs to route a = `t · k + j`.
pub struct Grouped<'a> {
    pub groups: &'a ExpertGroups,
    /// Expert → slot, (layers · experts).
    pub slots: &'a StorageBuffer,
    /// This layer's first entry in `slots`.
    pub slot_base: u32,
    /// Whether each route has its own input row (the down projection reads its route's
    /// activation) rather than sharing its token's row (gate and up read the token's state).
    pub input_per_route: bool,
}

pub struct Matmul<'a> {
    pub weights: &'a GpuMatrix,
    /// Input rows of `weights.cols` values (a multiple of 32), `x_stride` apart.
    pub x: &'a StorageBuffer,
    pub x_stride: u32,
    /// Output rows of `weights.rows` values, `y_stride` apart, written from element `y_offset`.
    pub y: &'a StorageBuffer,
    pub y_stride: u32,
    pub y_offset: u32,
    pub epilogue: Epilogue,
    pub aux: Option<&'a StorageBuffer>,
    pub grouped: Option<Grouped<'a>>,
    /// Added before the epilogue; row e of it for expert e when grouped.
    pub bias: Option<Bias<'a>>,
    /// The FFN activation of the `SiluMul` epilogue.
    pub activation: Activation,
}

impl<'a> Matmul<'a> {
    /// Plain `y[t] = W x[t]` for every token of the submit, rows packed.
    pub fn dense(weights: &'a GpuMatrix, x: &'a StorageBuffer, y: &'a StorageBuffer) -> Matmul<'a> {
        Matmul {
            weights,
            x,
            x_stride: weights.cols,
            y,
            y_stride: weights.rows,
            y_offset: 0,
            epilogue: Epilogue::Store,
            aux: None,
            grouped: None,
            bias: None,
            activation: Activation::SwiGlu,
        }
    }

    pub fn epilogue(mut self, epilogue: Epilogue, aux: Option<&'a StorageBuffer>) -> Self {
        self.epilogue = epilogue;
        self.aux = aux;
        self
    }

    /// Run over the routes of `grouped` instead of the tokens.
    pub fn grouped(mut self, grouped: Grouped<'a>) -> Self {
        self.grouped = Some(grouped);
        self
    }
}

/// One dispatch per page of `m.weights`, each over tiles of 64 weight rows × 16 tokens (or, when
/// grouped, 16 routes of one expert; grid z runs over the experts).
pub fn matmul(gpu: &Gpu, env: &KernelEnv, m: &Matmul) -> Result<Vec<Dispatch>, GpuError> {
    let w = m.weights;
    let key = PipelineKey::new(Kernel::Matmul)
        .weights(w.ty)
        .constant("GROUPED", m.grouped.is_some() as u32)
        .constant("EPILOGUE", m.epilogue.id())
        .constant("BIAS", m.bias.is_some() as u32)
        .constant("GLU", glu_id(m.activation));
    let pipeline = gpu.pipeline(&key)?;
    let (x_div, slot_base, experts) = match &m.grouped {
        Some(g) => (if g.input_per_route { 1 } else { g.groups.k }, g.slot_base, g.groups.n_experts),
        None => (1, 0, 1),
    };
    let slots = m.grouped.as_ref().map_or(&env.unused, |g| g.slots);
    let offsets = m.grouped.as_ref().map_or(&env.unused, |g| &g.groups.offsets);
    let order = m.grouped.as_ref().map_or(&env.unused, |g| &g.groups.order);
    let aux = m.aux.unwrap_or(&env.unused);
    let bias = m.bias.map_or(&env.unused, |b| b.values);
    let label = w.label(if m.grouped.is_some() { "matmul grouped" } else { "matmul" });
    w.pages
        .iter()
        .map(|page| {
            let params = Params {
                cols: w.cols,
                row_bytes: w.row_bytes,
                slot_stride: w.slot_stride,
                slot_begin: page.slots.start,
                slot_end: page.slots.end,
                row_begin: page.rows.start,
                row_end: page.rows.end,
                x_div,
                slot_base,
                x_stride: m.x_stride,
                y_stride: m.y_stride,
                y_offset: m.y_offset,
                bias_stride: m.bias.map_or(0, |b| b.stride),
                _pad: [0; 3],
            };
            let params = UniformBuffer::new(gpu, "matmul params", &params);
            let bind_group = gpu.bind_group(
                "matmul",
                &pipeline,
                &[
                    env.step.binding(),
                    params.binding(),
                    page.buffer.binding(),
                    m.x.binding(),
                    m.y.binding(),
                    aux.binding(),
                    slots.binding(),
                    offsets.binding(),
                    order.binding(),
                    bias.binding(),
                ],
            );
            let x = groups(page.rows.end - page.rows.start, ROWS_PER_WORKGROUP);
            let grid = Grid::TokenTiles { x, tile: TOKENS_PER_WORKGROUP, z: experts };
            Ok(Dispatch { label: label.clone().into(), slots: m.grouped.as_ref().map(|_| page.slots.clone()), pipeline: pipeline.clone(), bind_group, grid })
        })
        .collect()
}

#[cfg(test)]
mod tests;
