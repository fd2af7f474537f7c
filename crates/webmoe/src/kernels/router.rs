//! The fused MoE router (shaders/router.wgsl): RMSNorm, gate matvec, top-k and the chosen
//! experts' weights in the model's routing order, for up to 256 experts.

use super::KernelEnv;
use crate::gpu::{Dispatch, Gpu, GpuError, GpuMatrix, Grid, Kernel, PipelineKey, StorageBuffer, UniformBuffer};
use crate::model::Routing;

/// Invocations of the router's workgroup.
const WORKGROUP: u32 = 256;

/// Invocations that share one expert's row: as many as leave every expert a row in one pass
/// (a power of two, at least 1).
fn lanes_per_expert(n_expert: u32) -> u32 {
    let per_row = (WORKGROUP / n_expert.max(1)).max(1);
    1 << (31 - per_row.leading_zeros())
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    cols: u32,
    n_expert: u32,
    k: u32,
    row_bytes: u32,
    layer: u32,
    n_layer: u32,
    log_positions: u32,
    eps: f32,
}

/// Where the router logs its choices: `(positions, n_layer, k)` u32 experts, position p at
/// `p % positions`.
pub struct RouteLog<'a> {
    pub buffer: &'a StorageBuffer,
    pub positions: u32,
    pub n_layer: u32,
    pub layer: u32,
}

/// Bytes of one route record `{expert: u32, weight: f32}`.
pub const ROUTE_BYTES: u64 = 8;

/// The FFN's RMSNorm of the residual stream `x`, written to `h`.
pub struct Norm<'a> {
    pub weight: &'a StorageBuffer,
    pub eps: f32,
    pub h: &'a StorageBuffer,
}

/// `h = rms_norm(x) · weight`, then each token's `k` routes from the logits `W h (+ bias)` weighed
/// as `routing` says, logged. The router weight has `n_expert` rows and must fit one page (it is
/// at most 256 rows of the hidden size); the bias has `n_expert` values.
#[allow(clippy::too_many_arguments)]
pub fn router(
    gpu: &Gpu,
    env: &KernelEnv,
    w: &GpuMatrix,
    bias: Option<&StorageBuffer>,
    k: u32,
    routing: Routing,
    x: &StorageBuffer,
    norm: &Norm,
    routes: &StorageBuffer,
    log: &RouteLog,
) -> Result<Dispatch, GpuError> {
    let [page] = w.pages.as_slice() else {
        return Err(GpuError::TooLargeForBinding { what: w.name.clone(), bytes: w.row_bytes as u64 * w.rows as u64, limit: gpu.binding_limit });
    };
    let key = PipelineKey::new(Kernel::Router)
        .weights(w.ty)
        .constant("RENORMALISE", routing.weights_sum_to_one() as u32)
        .constant("LANES", lanes_per_expert(w.rows))
        .constant("BIAS", bias.is_some() as u32);
    let pipeline = gpu.pipeline(&key)?;
    let params = Params {
        cols: w.cols,
        n_expert: w.rows,
        k,
        row_bytes: w.row_bytes,
        layer: log.layer,
        n_layer: log.n_layer,
        log_positions: log.positions,
        eps: norm.eps,
    };
    let params = UniformBuffer::new(gpu, "router params", &params);
    let bind_group = gpu.bind_group(
        "router",
        &pipeline,
        &[
            env.step.binding(),
            params.binding(),
            page.buffer.binding(),
            x.binding(),
            norm.weight.binding(),
            norm.h.binding(),
            routes.binding(),
            log.buffer.binding(),
            bias.unwrap_or(&env.unused).binding(),
        ],
    );
    Ok(Dispatch { label: "router".into(), slots: None, pipeline, bind_group, grid: Grid::PerToken { x: 1, per_token: 1 } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::{GgmlType, MemorySource};
    use crate::kernels::testing::*;
    use crate::kernels::Step;
    use crate::model::Matrix;
    use crate::reference::ops;
    use crate::synthetic::Rng;

    fn f32_matrix(gpu: &Gpu, w: &[f32], rows: usize, cols: usize) -> GpuMatrix {
        let m = Matrix { name: "router".into(), ty: GgmlType::F32, cols, rows, experts: vec![0..(w.len() * 4) as u64] };
        pollster::block_on(GpuMatrix::load(gpu, &MemorySource::new(bytemuck::cast_slice(w).to_vec()), &m)).unwrap()
    }

    const ORDERS: [Routing; 3] = [Routing::TopKThenSoftmax, Routing::SoftmaxThenTopK { renormalise: true }, Routing::SoftmaxThenTopK { renormalise: false }];

    #[test]
    fn picks_the_top_k_with_the_weights_of_each_routing_order() {
        let gpu = gpu();
        let env = KernelEnv::new(gpu);
        let mut rng = Rng::new(6);
        // 256 and 128 experts (Qwen3 MoE) use 1 and 2 invocations a row; 3 experts leave most
        // idle; the last shape has more 32-value chunks per row than the workgroup has invocations.
        for (n_expert, k, cols, t) in [(8usize, 2usize, 256usize, 5usize), (64, 8, 96, 3), (4, 1, 32, 2), (3, 3, 8256, 1), (128, 8, 256, 3), (256, 8, 64, 2), (200, 6, 96, 2)] {
            // Router weights 3 N(0, 1/H) as in real routers: logits of order 1, so the weights differ.
            let w: Vec<f32> = rng.vec(n_expert * cols).iter().map(|v| v * 3.0 / (cols as f32).sqrt()).collect();
            let gm = f32_matrix(gpu, &w, n_expert, cols);
            let x = rng.vec(t * cols);
            let norm_w = rng.vec(cols);
            // A router bias of the logits' order (gpt-oss), or none.
            let bias_values = rng.vec(n_expert);
            let bias_b = f32_buffer(gpu, &bias_values);
            for (routing, with_bias) in ORDERS.into_iter().flat_map(|r| [(r, false), (r, true)]) {
                let label = format!("E={n_expert} k={k} {routing:?} bias={with_bias}");
                let (xb, rb, nb, hb) = (f32_buffer(gpu, &x), u32_buffer(gpu, &vec![0; t * k * 2]), f32_buffer(gpu, &norm_w), zeros(gpu, t * cols));
                let norm = Norm { weight: &nb, eps: 1e-5, h: &hb };
                // A log of 8 positions of 3 layers, written as layer 1 from position 6: the tokens
                // land at positions 6, 7, 8, … → rows 6, 7, 0, … (the log wraps).
                let lb = u32_buffer(gpu, &vec![u32::MAX; 8 * 3 * k]);
                let log = RouteLog { buffer: &lb, positions: 8, n_layer: 3, layer: 1 };
                let d = router(gpu, &env, &gm, with_bias.then_some(&bias_b), k as u32, routing, &xb, &norm, &rb, &log).unwrap();
                run(gpu, &env, Step { pos0: 6, n_tokens: t as u32, ..Default::default() }, &[d]);
                let got = read_u32(gpu, &rb);
                let logged = read_u32(gpu, &lb);
                let got_h = read_f32(gpu, &hb);
                for r in 0..t {
                    let mut h = vec![0f32; cols];
                    ops::rms_norm(&x[r * cols..(r + 1) * cols], &norm_w, 1e-5, &mut h);
                    assert_close("normed state", &got_h[r * cols..(r + 1) * cols], &h, 1e-5);
                    let mut logits = vec![0f32; n_expert];
                    ops::matvec(&w, &h, &mut logits);
                    if with_bias {
                        logits.iter_mut().zip(&bias_values).for_each(|(l, b)| *l += b);
                    }
                    let want = ops::route(&logits, k, routing);
                    for (j, &(e, wt)) in want.iter().enumerate() {
                        let (ge, gw) = (got[(r * k + j) * 2], f32::from_bits(got[(r * k + j) * 2 + 1]));
                        assert_eq!(ge as usize, e, "{label} token {r} route {j}: expert");
                        assert!((gw - wt).abs() < 1e-5, "{label} token {r} route {j}: weight GPU {gw}, CPU {wt}");
                        let row = (6 + r) % 8;
                        assert_eq!(logged[(row * 3 + 1) * k + j] as usize, e, "{label} token {r} route {j}: logged expert");
                    }
                }
            }
        }
    }

    /// Softmax-then-top-k renormalised is top-k-then-softmax (the same experts, the same weights);
    /// without renormalising, the weights are the full softmax's and sum to less than 1.
    #[test]
    fn the_routing_orders_agree_only_when_renormalised() {
        let mut rng = Rng::new(9);
        let logits: Vec<f32> = rng.vec(128).iter().map(|v| 2.0 * v).collect();
        let a = ops::route(&logits, 8, Routing::TopKThenSoftmax);
        let b = ops::route(&logits, 8, Routing::SoftmaxThenTopK { renormalise: true });
        let c = ops::route(&logits, 8, Routing::SoftmaxThenTopK { renormalise: false });
        for ((x, y), z) in a.iter().zip(&b).zip(&c) {
            assert_eq!((x.0, x.0), (y.0, z.0));
            assert!((x.1 - y.1).abs() < 1e-6, "{a:?} vs {b:?}");
        }
        let sum = |r: &[(usize, f32)]| r.iter().map(|p| p.1).sum::<f32>();
        assert!((sum(&a) - 1.0).abs() < 1e-6 && (sum(&b) - 1.0).abs() < 1e-6);
        let mut p = logits.clone();
        ops::softmax(&mut p);
        for &(e, w) in &c {
            assert_eq!(w, p[e], "not renormalised: the full softmax's probability");
        }
        assert!(sum(&c) < 0.99, "{}", sum(&c));
        // The experts come best first.
        assert!(a.windows(2).all(|w| logits[w[0].0] >= logits[w[1].0]));
    }

    #[test]
    fn ties_go_to_the_lower_expert() {
        let gpu = gpu();
        let env = KernelEnv::new(gpu);
        // Rows 1, 2 and 3 (and 201, 202 of 256) give equal logits; the two chosen must be 1 and 2.
        let cols = 32;
        for n_expert in [4usize, 256] {
            let mut w = vec![0f32; n_expert * cols];
            for e in [1, 2, 3, 201, 202].into_iter().filter(|&e| e < n_expert) {
                w[e * cols] = 1.0;
            }
            let mut x = vec![0f32; cols];
            x[0] = 1.0;
            let gm = f32_matrix(gpu, &w, n_expert, cols);
            let (xb, rb, lb) = (f32_buffer(gpu, &x), u32_buffer(gpu, &[0; 4]), u32_buffer(gpu, &[0; 2]));
            let (nb, hb) = (f32_buffer(gpu, &[1.0; 32]), zeros(gpu, cols));
            let norm = Norm { weight: &nb, eps: 0.0, h: &hb };
            let log = RouteLog { buffer: &lb, positions: 1, n_layer: 1, layer: 0 };
            let d = router(gpu, &env, &gm, None, 2, Routing::TopKThenSoftmax, &xb, &norm, &rb, &log).unwrap();
            run(gpu, &env, Step { n_tokens: 1, ..Default::default() }, &[d]);
            let got = read_u32(gpu, &rb);
            assert_eq!((got[0], got[2]), (1, 2), "{n_expert} experts");
            assert_eq!((f32::from_bits(got[1]), f32::from_bits(got[3])), (0.5, 0.5));
        }
    }

    #[test]
    fn rows_share_as_many_invocations_as_fit() {
        assert_eq!([1, 3, 8, 16, 60, 64, 128, 200, 256].map(lanes_per_expert), [256, 64, 32, 16, 4, 4, 2, 1, 1]);
    }
}
