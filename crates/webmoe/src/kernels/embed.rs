//! Embedding lookup from a quantized table (shaders/embed.wgsl): one dispatch per page.

use super::{groups, KernelEnv};
use crate::gpu::{Dispatch, Gpu, GpuError, GpuMatrix, Grid, Kernel, PipelineKey, StorageBuffer, UniformBuffer};

/// Values one workgroup writes: 64 invocations of one 32-value chunk each.
const VALUES_PER_WORKGROUP: u32 = 64 * 32;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    cols: u32,
    row_begin: u32,
    row_end: u32,
    row_bytes: u32,
    scale: f32,
    _pad: [u32; 3],
}

/// `out[t] = table[tokens[t]] · scale` for every token of the submit (`table` has one slot).
pub fn embed(gpu: &Gpu, env: &KernelEnv, table: &GpuMatrix, tokens: &StorageBuffer, out: &StorageBuffer, scale: f32) -> Result<Vec<Dispatch>, GpuError> {
    let pipeline = gpu.pipeline(&PipelineKey::new(Kernel::Embed).weights(table.ty))?;
    table
        .pages
        .iter()
        .map(|page| {
            let params = UniformBuffer::new(
                gpu,
                "embed params",
                &Params { cols: table.cols, row_begin: page.rows.start, row_end: page.rows.end, row_bytes: table.row_bytes, scale, _pad: [0; 3] },
            );
            let bind_group =
                gpu.bind_group("embed", &pipeline, &[env.step.binding(), params.binding(), page.buffer.binding(), tokens.binding(), out.binding()]);
            Ok(Dispatch { label: "embed".into(), slots: None, pipeline: pipeline.clone(), bind_group, grid: Grid::PerToken { x: groups(table.cols, VALUES_PER_WORKGROUP), per_token: 1 } })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::{GgmlType, MemorySource};
    use crate::kernels::testing::*;
    use crate::kernels::Step;
    use crate::model::Matrix;
    use crate::synthetic::{random_tensor_bytes, Rng};
    use crate::quant::{self};

    fn check(gpu: &Gpu, ty: GgmlType, vocab: usize, cols: usize) {
        check_scaled(gpu, ty, vocab, cols, 1.0);
    }

    fn check_scaled(gpu: &Gpu, ty: GgmlType, vocab: usize, cols: usize, scale: f32) {
        let env = KernelEnv::new(gpu);
        let mut rng = Rng::new(3);
        let bytes = random_tensor_bytes(ty, vocab * cols, 1.0, &mut rng);
        let values = quant::dequantize_to_vec(ty, &bytes).unwrap();
        let m = Matrix { name: "token_embd".into(), ty, cols, rows: vocab, experts: vec![0..bytes.len() as u64] };
        let table = pollster::block_on(GpuMatrix::load(gpu, &MemorySource::new(bytes), &m)).unwrap();
        let tokens: Vec<u32> = vec![0, vocab as u32 - 1, 5, 5, 17 % vocab as u32];
        let (tb, ob) = (u32_buffer(gpu, &tokens), zeros(gpu, tokens.len() * cols));
        let d = embed(gpu, &env, &table, &tb, &ob, scale).unwrap();
        run(gpu, &env, Step { n_tokens: tokens.len() as u32, ..Default::default() }, &d);
        let want: Vec<f32> = tokens.iter().flat_map(|&t| values[t as usize * cols..(t as usize + 1) * cols].iter().map(|v| v * scale).collect::<Vec<_>>()).collect();
        // A lookup only decodes, and one f32 product rounds the same everywhere: it must be exact.
        assert_close(&format!("embed {ty} ×{scale}"), &read_f32(gpu, &ob), &want, 0.0);
    }

    #[test]
    fn looks_up_rows_of_every_type() {
        for ty in crate::kernels::matvec::tests::gpu_types() {
            check(gpu(), ty, 37, ty.block_elems().max(32) as usize * 2);
        }
    }

    #[test]
    fn looks_up_rows_wider_than_one_workgroup() {
        check(gpu(), GgmlType::Q4_0, 19, 2 * VALUES_PER_WORKGROUP as usize + 96);
    }

    #[test]
    fn scales_rows_by_the_embedding_multiplier() {
        check_scaled(gpu(), GgmlType::Q8_0, 23, 96, 12.0);
        check_scaled(gpu(), GgmlType::F16, 23, 64, 0.3);
    }

    #[test]
    fn looks_up_rows_across_pages() {
        check(&gpu_with_binding_limit(256), GgmlType::Q8_0, 41, 64);
    }
}
