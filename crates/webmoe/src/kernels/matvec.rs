//! Quantized matrix × vector (shaders/matvec.wgsl): one dispatch per page of the weight.

use super::{groups, KernelEnv};
use crate::gpu::{Dispatch, Gpu, GpuError, GpuMatrix, Grid, Kernel, PipelineKey, StorageBuffer, UniformBuffer};

/// Invocations per workgroup.
const WORKGROUP: u32 = 256;

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
    a_per_token: u32,
    x_div: u32,
    slot_base: u32,
    x_stride: u32,
    y_stride: u32,
}

/// What happens to each output value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Epilogue {
    Store,
    /// `y += W x` (a residual connection).
    Add,
    /// `y = silu(aux) · W x` (SwiGLU: `aux` holds the gate projection, laid out like `y`).
    SiluMul,
}

/// Expert routing of a matvec: output row a uses the expert chosen by route a.
pub struct Routed<'a> {
    pub routes: &'a StorageBuffer,
    pub slots: &'a StorageBuffer,
    /// This layer's first entry in `slots`.
    pub slot_base: u32,
    /// Experts used per token.
    pub k: u32,
    /// Whether each route has its own input row (the down projection reads its expert's
    /// activation) rather than sharing its token's row (gate and up read the token's state).
    pub input_per_route: bool,
}

pub struct Matvec<'a> {
    pub weights: &'a GpuMatrix,
    /// Input rows of `weights.cols` values, `x_stride` apart.
    pub x: &'a StorageBuffer,
    pub x_stride: u32,
    /// Output rows of `weights.rows` values, `y_stride` apart.
    pub y: &'a StorageBuffer,
    pub y_stride: u32,
    pub epilogue: Epilogue,
    pub aux: Option<&'a StorageBuffer>,
    pub routed: Option<Routed<'a>>,
    /// Compute only one output row, from the submit's last token (the lm_head after a prompt).
    pub last_token_only: bool,
}

impl<'a> Matvec<'a> {
    /// Plain `y[t] = W x[t]` for every token of the submit, rows packed.
    pub fn dense(weights: &'a GpuMatrix, x: &'a StorageBuffer, y: &'a StorageBuffer) -> Matvec<'a> {
        Matvec { weights, x, x_stride: weights.cols, y, y_stride: weights.rows, epilogue: Epilogue::Store, aux: None, routed: None, last_token_only: false }
    }

    pub fn epilogue(mut self, epilogue: Epilogue, aux: Option<&'a StorageBuffer>) -> Self {
        self.epilogue = epilogue;
        self.aux = aux;
        self
    }
}

/// One dispatch per page of `m.weights`.
pub fn matvec(gpu: &Gpu, env: &KernelEnv, m: &Matvec) -> Result<Vec<Dispatch>, GpuError> {
    let w = m.weights;
    let epilogue_id = match m.epilogue {
        Epilogue::Store => 0,
        Epilogue::Add => 1,
        Epilogue::SiluMul => 2,
    };
    let key = PipelineKey::new(Kernel::Matvec)
        .weights(w.ty)
        .constant("ROUTED", m.routed.is_some() as u32)
        .constant("EPILOGUE", epilogue_id)
        .constant("X_LAST_TOKEN", m.last_token_only as u32)
        .constant("LANES", gpu.tuning.matvec_lanes);
    let pipeline = gpu.pipeline(&key)?;
    let (a_per_token, x_div, slot_base) = match &m.routed {
        Some(r) => (r.k, if r.input_per_route { 1 } else { r.k }, r.slot_base),
        None => (1, 1, 0),
    };
    let per_token = if m.last_token_only { 1 } else { a_per_token };
    let routes = m.routed.as_ref().map_or(&env.unused, |r| r.routes);
    let slots = m.routed.as_ref().map_or(&env.unused, |r| r.slots);
    let aux = m.aux.unwrap_or(&env.unused);
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
                a_per_token: per_token,
                x_div,
                slot_base,
                x_stride: m.x_stride,
                y_stride: m.y_stride,
            };
            let params = UniformBuffer::new(gpu, "matvec params", &params);
            let bind_group = gpu.bind_group(
                "matvec",
                &pipeline,
                &[env.step.binding(), params.binding(), page.buffer.binding(), m.x.binding(), m.y.binding(), routes.binding(), slots.binding(), aux.binding()],
            );
            let x = groups(page.rows.end - page.rows.start, WORKGROUP / gpu.tuning.matvec_lanes);
            let grid = if m.last_token_only { Grid::Fixed([x, 1, 1]) } else { Grid::PerToken { x, per_token } };
            Ok(Dispatch { label: "matvec", pipeline: pipeline.clone(), bind_group, grid })
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests;
