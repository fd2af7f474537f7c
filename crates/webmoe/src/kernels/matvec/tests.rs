use super::*;
use crate::gguf::{GgmlType, MemorySource};
use crate::gpu::{GpuOptions, MatvecShape, Reduce};
use crate::kernels::testing::*;
use crate::kernels::Step;
use crate::model::{Activation, Matrix};
use crate::synthetic::{random_tensor_bytes, Rng};
use crate::quant::{self};
use crate::reference::ops;

/// A random `experts × rows × cols` weight of type `ty`: the file bytes and the dequantized values.
fn random_matrix(ty: GgmlType, experts: usize, rows: usize, cols: usize, rng: &mut Rng) -> (Matrix, MemorySource, Vec<Vec<f32>>) {
    let bytes = random_tensor_bytes(ty, experts * rows * cols, 1.0, rng);
    let slab = bytes.len() / experts;
    let values = (0..experts).map(|e| quant::dequantize_to_vec(ty, &bytes[e * slab..(e + 1) * slab]).unwrap()).collect();
    let m = Matrix { name: format!("w<{ty}>"), ty, cols, rows, experts: (0..experts).map(|e| (e * slab) as u64..((e + 1) * slab) as u64).collect() };
    (m, MemorySource::new(bytes), values)
}

/// The types with a GPU decoder; K-quants join as their decoders land.
pub(crate) fn gpu_types() -> Vec<GgmlType> {
    quant::SUPPORTED.iter().copied().filter(|&t| crate::gpu::has_decoder(t)).collect()
}

#[test]
fn dense_matches_cpu_for_every_type_and_odd_shapes() {
    for gpu in &gpus_with_each_matvec_shape() {
        dense_matches_cpu(gpu);
    }
}

fn dense_matches_cpu(gpu: &Gpu) {
    let env = KernelEnv::new(gpu);
    let mut rng = Rng::new(7);
    let shape = gpu.variants.matvec;
    for ty in gpu_types() {
        let block = ty.block_elems() as usize;
        // The last shape has 5 blocks per row even for the 256-value K-quants, so rows cross
        // several super-blocks at unaligned byte offsets.
        for (rows, cols, t) in [(1, block.max(32), 1), (37, 3 * block.max(32), 3), (130, 512, 2), (11, 5 * block.max(64), 2)] {
            let (m, src, w) = random_matrix(ty, 1, rows, cols, &mut rng);
            let gm = pollster::block_on(GpuMatrix::load(gpu, &src, &m)).unwrap();
            let x = rng.vec(t * cols);
            let (xb, yb) = (f32_buffer(gpu, &x), zeros(gpu, t * rows));
            let d = matvec(gpu, &env, &Matvec::dense(&gm, &xb, &yb)).unwrap();
            run(gpu, &env, Step { n_tokens: t as u32, ..Default::default() }, &d);
            let mut want = vec![0f32; t * rows];
            for r in 0..t {
                ops::matvec(&w[0], &x[r * cols..(r + 1) * cols], &mut want[r * rows..(r + 1) * rows]);
            }
            assert_close(&format!("{ty} {rows}x{cols} t={t} {shape:?}"), &read_f32(gpu, &yb), &want, 2e-5 * (cols as f32).sqrt());
        }
    }
}

/// An output projection of 262144 rows (Gemma's vocabulary; gpt-oss has 201088, Qwen 151936)
/// needs more workgroups than one grid dimension allows on most adapters (65535).
#[test]
fn a_262144_row_projection_runs_within_the_grid_limits() {
    let shape = MatvecShape { workgroup: 64, lanes: 64, rows: 1, reduce: Reduce::Workgroup };
    let gpu = gpu_with(GpuOptions { matvec: Some(shape), ..Default::default() });
    let env = KernelEnv::new(&gpu);
    let mut rng = Rng::new(11);
    let (rows, cols) = (262_144, 32);
    let (m, src, w) = random_matrix(GgmlType::Q8_0, 1, rows, cols, &mut rng);
    let gm = pollster::block_on(GpuMatrix::load(&gpu, &src, &m)).unwrap();
    let x = rng.vec(cols);
    let (xb, yb) = (f32_buffer(&gpu, &x), zeros(&gpu, rows));
    let d = matvec(&gpu, &env, &Matvec::dense(&gm, &xb, &yb)).unwrap();
    assert!(d.iter().all(|d| d.grid.size(1).iter().all(|&n| n <= gpu.max_workgroups)), "every grid within {}", gpu.max_workgroups);
    run(&gpu, &env, Step { n_tokens: 1, ..Default::default() }, &d);
    let mut want = vec![0f32; rows];
    ops::matvec(&w[0], &x, &mut want);
    assert_close("262144 rows", &read_f32(&gpu, &yb), &want, 2e-5 * (cols as f32).sqrt());
}

#[test]
fn epilogues_add_and_gate() {
    let gpu = gpu();
    let env = KernelEnv::new(gpu);
    let mut rng = Rng::new(8);
    let (rows, cols) = (45, 64);
    let (m, src, w) = random_matrix(GgmlType::Q8_0, 1, rows, cols, &mut rng);
    let gm = pollster::block_on(GpuMatrix::load(gpu, &src, &m)).unwrap();
    let x = rng.vec(cols);
    let y0 = rng.vec(rows);
    let aux = rng.vec(rows);
    let mut wx = vec![0f32; rows];
    ops::matvec(&w[0], &x, &mut wx);

    let (xb, yb) = (f32_buffer(gpu, &x), f32_buffer(gpu, &y0));
    let d = matvec(gpu, &env, &Matvec::dense(&gm, &xb, &yb).epilogue(Epilogue::Add, None)).unwrap();
    run(gpu, &env, Step { n_tokens: 1, ..Default::default() }, &d);
    let want: Vec<f32> = y0.iter().zip(&wx).map(|(a, b)| a + b).collect();
    assert_close("add", &read_f32(gpu, &yb), &want, 1e-4);

    let (yb, ab) = (zeros(gpu, rows), f32_buffer(gpu, &aux));
    let d = matvec(gpu, &env, &Matvec::dense(&gm, &xb, &yb).epilogue(Epilogue::SiluMul, Some(&ab))).unwrap();
    run(gpu, &env, Step { n_tokens: 1, ..Default::default() }, &d);
    let want: Vec<f32> = aux.iter().zip(&wx).map(|(&g, &u)| ops::silu(g) * u).collect();
    assert_close("silu_mul", &read_f32(gpu, &yb), &want, 1e-4);
}

/// Route records as the router kernel writes them: (expert, weight) pairs.
fn routes_buffer(gpu: &Gpu, routes: &[(u32, f32)]) -> StorageBuffer {
    let words: Vec<u32> = routes.iter().flat_map(|&(e, w)| [e, w.to_bits()]).collect();
    u32_buffer(gpu, &words)
}

fn check_routed(gpu: &Gpu, label: &str) {
    let env = KernelEnv::new(gpu);
    let mut rng = Rng::new(9);
    let (experts, rows, cols, k, t) = (6, 24, 64, 2, 3);
    for ty in [GgmlType::Q4_0, GgmlType::F16, GgmlType::Q8_0] {
        let (m, src, w) = random_matrix(ty, experts, rows, cols, &mut rng);
        // Expert e is stored in slot (e + 1) % experts, as an expert cache might place it; the
        // slot table (at entry slot_base + e) says so.
        let gm = pollster::block_on(GpuMatrix::allocate(gpu, &m, experts)).unwrap();
        let layer_slots: Vec<u32> = (0..experts as u32).map(|e| (e + 1) % experts as u32).collect();
        for (e, range) in m.experts.iter().enumerate() {
            pollster::block_on(gm.write_slot(gpu, &src, layer_slots[e], std::slice::from_ref(range))).unwrap();
        }
        let mut slots = vec![99u32; experts];
        slots.extend_from_slice(&layer_slots);
        let chosen: Vec<(u32, f32)> = (0..t * k).map(|i| (((i * 5 + 1) % experts) as u32, 0.5)).collect();
        for input_per_route in [false, true] {
            let x_rows = if input_per_route { t * k } else { t };
            let x = rng.vec(x_rows * cols);
            let (xb, yb) = (f32_buffer(gpu, &x), zeros(gpu, t * k * rows));
            let (rb, sb) = (routes_buffer(gpu, &chosen), u32_buffer(gpu, &slots));
            let mv = Matvec {
                routed: Some(Routed { routes: &rb, slots: &sb, slot_base: experts as u32, k: k as u32, input_per_route }),
                y_stride: rows as u32,
                ..Matvec::dense(&gm, &xb, &yb)
            };
            let d = matvec(gpu, &env, &mv).unwrap();
            run(gpu, &env, Step { n_tokens: t as u32, ..Default::default() }, &d);
            let mut want = vec![0f32; t * k * rows];
            for a in 0..t * k {
                let e = chosen[a].0 as usize;
                let xr = if input_per_route { a } else { a / k };
                ops::matvec(&w[e], &x[xr * cols..(xr + 1) * cols], &mut want[a * rows..(a + 1) * rows]);
            }
            assert_close(&format!("{label} {ty} routed input_per_route={input_per_route}"), &read_f32(gpu, &yb), &want, 1e-4);
        }
    }
}

#[test]
fn routed_rows_use_the_chosen_experts_slot() {
    for gpu in &gpus_with_each_matvec_shape() {
        check_routed(gpu, &format!("one page, {:?}", gpu.variants.matvec));
    }
}

#[test]
fn matrices_split_across_small_bindings_give_the_same_result() {
    // 256-byte bindings: a few rows per page, so experts are split across pages and pages hold
    // parts of one expert.
    let small = gpu_with_binding_limit(256);
    check_routed(&small, "256-byte pages");
    let env = KernelEnv::new(&small);
    let mut rng = Rng::new(10);
    let (rows, cols) = (29, 96);
    let (m, src, w) = random_matrix(GgmlType::Q4_1, 1, rows, cols, &mut rng);
    let gm = pollster::block_on(GpuMatrix::load(&small, &src, &m)).unwrap();
    assert!(gm.pages.len() > 4, "expected several pages, got {}", gm.pages.len());
    let x = rng.vec(cols);
    let (xb, yb) = (f32_buffer(&small, &x), zeros(&small, rows));
    let d = matvec(&small, &env, &Matvec::dense(&gm, &xb, &yb)).unwrap();
    run(&small, &env, Step { n_tokens: 1, ..Default::default() }, &d);
    let mut want = vec![0f32; rows];
    ops::matvec(&w[0], &x, &mut want);
    assert_close("paged dense", &read_f32(&small, &yb), &want, 1e-4);
}

#[test]
fn paired_rows_give_the_swiglu_activation_at_an_offset() {
    for gpu in &gpus_with_each_matvec_shape() {
        let env = KernelEnv::new(gpu);
        let mut rng = Rng::new(12);
        let (experts, half, cols, k, t) = (3, 37, 64, 2, 2);
        let (m, src, w) = random_matrix(GgmlType::Q8_0, experts, 2 * half, cols, &mut rng);
        let gm = pollster::block_on(GpuMatrix::load(gpu, &src, &m)).unwrap();
        let x = rng.vec(t * cols);
        let chosen: Vec<(u32, f32)> = (0..t * k).map(|i| ((i % experts) as u32, 1.0)).collect();
        let slots: Vec<u32> = (0..experts as u32).collect();
        let (xb, rb, sb) = (f32_buffer(gpu, &x), routes_buffer(gpu, &chosen), u32_buffer(gpu, &slots));
        // Rows of 50 values, the activation written from element 5.
        let (stride, offset) = (50usize, 5usize);
        let yb = f32_buffer(gpu, &vec![7.0; t * k * stride]);
        let mv = Matvec {
            routed: Some(Routed { routes: &rb, slots: &sb, slot_base: 0, k: k as u32, input_per_route: false }),
            y_stride: stride as u32,
            y_offset: offset as u32,
            paired: true,
            ..Matvec::dense(&gm, &xb, &yb)
        };
        let d = matvec(gpu, &env, &mv).unwrap();
        run(gpu, &env, Step { n_tokens: t as u32, ..Default::default() }, &d);
        let mut want = vec![7.0f32; t * k * stride];
        for a in 0..t * k {
            let e = chosen[a].0 as usize;
            let mut full = vec![0f32; 2 * half];
            ops::matvec(&w[e], &x[(a / k) * cols..(a / k + 1) * cols], &mut full);
            for n in 0..half {
                want[a * stride + offset + n] = ops::silu(full[n]) * full[half + n];
            }
        }
        assert_close(&format!("paired, {:?}", gpu.variants.matvec), &read_f32(gpu, &yb), &want, 1e-4);
    }
}

/// gpt-oss's expert projections: each route's expert adds its own bias row (stacked like the
/// gate | up rows for a paired matrix), then the clamped activation; and a dense projection's
/// bias before the residual add.
#[test]
fn biases_follow_the_routes_expert_and_the_clamped_activation_applies() {
    for gpu in &gpus_with_each_matvec_shape() {
        let env = KernelEnv::new(gpu);
        let mut rng = Rng::new(14);
        let (experts, half, cols, k, t) = (4, 21, 96, 3, 2);
        let (m, src, w) = random_matrix(GgmlType::MXFP4, experts, 2 * half, cols, &mut rng);
        let gm = pollster::block_on(GpuMatrix::load(gpu, &src, &m)).unwrap();
        // Inputs and biases large enough that the limit of 7 clamps gate and up.
        let x: Vec<f32> = rng.vec(t * cols).iter().map(|v| v * 3.0).collect();
        let bias: Vec<f32> = rng.vec(experts * 2 * half).iter().map(|v| v * 6.0).collect();
        let chosen: Vec<(u32, f32)> = (0..t * k).map(|i| (((i * 3 + 1) % experts) as u32, 1.0)).collect();
        let slots: Vec<u32> = (0..experts as u32).collect();
        let (xb, rb, sb, bb) = (f32_buffer(gpu, &x), routes_buffer(gpu, &chosen), u32_buffer(gpu, &slots), f32_buffer(gpu, &bias));
        let routed = || Some(Routed { routes: &rb, slots: &sb, slot_base: 0, k: k as u32, input_per_route: false });
        let full = |a: usize| {
            let e = chosen[a].0 as usize;
            let mut y = vec![0f32; 2 * half];
            ops::matvec(&w[e], &x[(a / k) * cols..(a / k + 1) * cols], &mut y);
            y.iter_mut().zip(&bias[e * 2 * half..]).for_each(|(y, b)| *y += b);
            y
        };
        for activation in [Activation::SwiGlu, Activation::SwiGluClamped] {
            let yb = zeros(gpu, t * k * half);
            let bias = Some(Bias { values: &bb, stride: (2 * half) as u32 });
            let mv = Matvec { routed: routed(), y_stride: half as u32, paired: true, bias, activation, ..Matvec::dense(&gm, &xb, &yb) };
            run(gpu, &env, Step { n_tokens: t as u32, ..Default::default() }, &matvec(gpu, &env, &mv).unwrap());
            let want: Vec<f32> = (0..t * k).flat_map(|a| {
                let y = full(a);
                (0..half).map(move |n| activation.apply(y[n], y[half + n])).collect::<Vec<_>>()
            }).collect();
            assert_close(&format!("paired biased {activation:?}, {:?}", gpu.variants.matvec), &read_f32(gpu, &yb), &want, 1e-4);
        }
        // All 2·half rows stored, each with its expert's bias.
        let yb = zeros(gpu, t * k * 2 * half);
        let mv = Matvec { routed: routed(), bias: Some(Bias { values: &bb, stride: (2 * half) as u32 }), ..Matvec::dense(&gm, &xb, &yb) };
        run(gpu, &env, Step { n_tokens: t as u32, ..Default::default() }, &matvec(gpu, &env, &mv).unwrap());
        let want: Vec<f32> = (0..t * k).flat_map(full).collect();
        assert_close(&format!("routed biased, {:?}", gpu.variants.matvec), &read_f32(gpu, &yb), &want, 1e-4);
        // Dense: y += W x + b.
        let (dm, dsrc, dw) = random_matrix(GgmlType::Q8_0, 1, 30, cols, &mut rng);
        let dg = pollster::block_on(GpuMatrix::load(gpu, &dsrc, &dm)).unwrap();
        let b = rng.vec(30);
        let (yb, db) = (f32_buffer(gpu, &vec![1.5; t * 30]), f32_buffer(gpu, &b));
        let mv = Matvec { bias: Some(Bias { values: &db, stride: 0 }), ..Matvec::dense(&dg, &xb, &yb).epilogue(Epilogue::Add, None) };
        run(gpu, &env, Step { n_tokens: t as u32, ..Default::default() }, &matvec(gpu, &env, &mv).unwrap());
        let mut want = vec![0f32; t * 30];
        for r in 0..t {
            ops::matvec(&dw[0], &x[r * cols..(r + 1) * cols], &mut want[r * 30..(r + 1) * 30]);
        }
        want.iter_mut().enumerate().for_each(|(i, v)| *v += 1.5 + b[i % 30]);
        assert_close(&format!("dense biased add, {:?}", gpu.variants.matvec), &read_f32(gpu, &yb), &want, 1e-4);
    }
}
