//! Quantized matrix × vector (shaders/matvec.wgsl): one dispatch per page of the weight, in the
//! shape the device's [`crate::gpu::Variants`] chose.

use super::{groups, KernelEnv};
use crate::gpu::{Dispatch, Gpu, GpuError, GpuMatrix, Grid, Kernel, PipelineKey, Reduce, StorageBuffer, UniformBuffer};
use crate::model::Activation;

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
    y_offset: u32,
    pair_rows: u32,
    bias_stride: u32,
    _pad: u32,
}

/// What happens to each output value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Epilogue {
    Store,
    /// `y += W x` (a residual connection).
    Add,
    /// `y = act(aux, W x)`, the FFN activation of the gate projection `aux` (laid out like
    /// `y`) and the up projection.
    SiluMul,
}

impl Epilogue {
    /// The kernels' `EPILOGUE` constant.
    pub(crate) fn id(self) -> u32 {
        match self {
            Epilogue::Store => 0,
            Epilogue::Add => 1,
            Epilogue::SiluMul => 2,
        }
    }
}

/// A bias added to every output row before the epilogue: `values[e · stride + n]` for output
/// n of expert e (0 for a dense matrix), f32.
#[derive(Clone, Copy)]
pub struct Bias<'a> {
    pub values: &'a StorageBuffer,
    pub stride: u32,
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
    /// Output rows of `weights.rows` values (half that when `paired`), `y_stride` apart,
    /// written from element `y_offset` of each row.
    pub y: &'a StorageBuffer,
    pub y_stride: u32,
    pub y_offset: u32,
    pub epilogue: Epilogue,
    pub aux: Option<&'a StorageBuffer>,
    pub routed: Option<Routed<'a>>,
    /// Compute only one output row, from the submit's last token (the lm_head after a prompt).
    pub last_token_only: bool,
    /// The weight stacks an FFN's gate rows over its up rows; the output is the activation
    /// `act(gate x, up x)` (the epilogue is not used).
    pub paired: bool,
    /// Added before the epilogue (a paired matrix's bias is stacked like its rows).
    pub bias: Option<Bias<'a>>,
    /// The FFN activation of the `SiluMul` epilogue and of `paired`.
    pub activation: Activation,
}

impl<'a> Matvec<'a> {
    /// Plain `y[t] = W x[t]` for every token of the submit, rows packed.
    pub fn dense(weights: &'a GpuMatrix, x: &'a StorageBuffer, y: &'a StorageBuffer) -> Matvec<'a> {
        Matvec {
            weights,
            x,
            x_stride: weights.cols,
            y,
            y_stride: weights.rows,
            y_offset: 0,
            epilogue: Epilogue::Store,
            aux: None,
            routed: None,
            last_token_only: false,
            paired: false,
            bias: None,
            activation: Activation::SwiGlu,
        }
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
    let shape = gpu.variants.matvec_for(w.ty, m.paired);
    let (kernel, multi_subgroup) = match shape.reduce {
        Reduce::Workgroup => (Kernel::Matvec, None),
        Reduce::Subgroup { multi } => (Kernel::MatvecSubgroups, Some(multi)),
    };
    let mut key = PipelineKey::new(kernel)
        .weights(w.ty)
        .constant("ROUTED", m.routed.is_some() as u32)
        .constant("EPILOGUE", m.epilogue.id())
        .constant("X_LAST_TOKEN", m.last_token_only as u32)
        .constant("PAIRED", m.paired as u32)
        .constant("BIAS", m.bias.is_some() as u32)
        .constant("GLU", glu_id(m.activation))
        .constant("WG", shape.workgroup)
        .constant("LANES", shape.lanes)
        .constant("ROWS", shape.rows);
    if let Some(multi) = multi_subgroup {
        key = key.constant("MULTI_SUBGROUP", multi as u32);
    }
    let pipeline = gpu.pipeline(&key)?;
    let (a_per_token, x_div, slot_base) = match &m.routed {
        Some(r) => (r.k, if r.input_per_route { 1 } else { r.k }, r.slot_base),
        None => (1, 1, 0),
    };
    let per_token = if m.last_token_only { 1 } else { a_per_token };
    let routes = m.routed.as_ref().map_or(&env.unused, |r| r.routes);
    let slots = m.routed.as_ref().map_or(&env.unused, |r| r.slots);
    let aux = m.aux.unwrap_or(&env.unused);
    let bias = m.bias.map_or(&env.unused, |b| b.values);
    let half = w.rows / 2;
    if m.paired && (w.rows % 2 != 0 || w.pages.iter().any(|p| p.rows.start != 0 || p.rows.end != w.rows)) {
        return Err(GpuError::Operation { message: format!("{}: a paired matvec needs an even row count and pages of whole slots", w.name) });
    }
    let label = w.label(if m.routed.is_some() { "matvec routed" } else { "matvec" });
    w.pages
        .iter()
        .map(|page| {
            let rows = if m.paired { 0..half } else { page.rows.clone() };
            let params = Params {
                cols: w.cols,
                row_bytes: w.row_bytes,
                slot_stride: w.slot_stride,
                slot_begin: page.slots.start,
                slot_end: page.slots.end,
                row_begin: rows.start,
                row_end: rows.end,
                a_per_token: per_token,
                x_div,
                slot_base,
                x_stride: m.x_stride,
                y_stride: m.y_stride,
                y_offset: m.y_offset,
                pair_rows: half,
                bias_stride: m.bias.map_or(0, |b| b.stride),
                _pad: 0,
            };
            let params = UniformBuffer::new(gpu, "matvec params", &params);
            let bind_group = gpu.bind_group(
                "matvec",
                &pipeline,
                &[
                    env.step.binding(),
                    params.binding(),
                    page.buffer.binding(),
                    m.x.binding(),
                    m.y.binding(),
                    routes.binding(),
                    slots.binding(),
                    aux.binding(),
                    bias.binding(),
                ],
            );
            let x = groups(rows.end - rows.start, shape.rows_per_workgroup());
            let grid = Grid::Folded { x, per_token: (!m.last_token_only).then_some(per_token), fold: gpu.max_workgroups };
            Ok(Dispatch { label: label.clone().into(), slots: m.routed.as_ref().map(|_| page.slots.clone()), pipeline: pipeline.clone(), bind_group, grid })
        })
        .collect()
}

/// The kernels' `GLU` constant (shaders/glu.wgsl) for an activation.
pub(crate) fn glu_id(activation: Activation) -> u32 {
    match activation {
        Activation::SwiGlu => 0,
        Activation::SwiGluClamped => 1,
    }
}

#[cfg(test)]
pub(crate) mod tests;
