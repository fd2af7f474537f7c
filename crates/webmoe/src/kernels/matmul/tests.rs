use super::*;
use crate::gguf::{GgmlType, MemorySource};
use crate::kernels::matvec::tests::gpu_types;
use crate::kernels::moe_group::moe_group;
use crate::kernels::moe_group::tests::{routes_buffer, skewed_routes};
use crate::kernels::testing::*;
use crate::kernels::Step;
use crate::kernels::matvec::Bias;
use crate::model::{Activation, Matrix};
use crate::synthetic::{random_tensor_bytes, Rng};
use crate::quant::{self};
use crate::reference::ops;

/// A random `slot_of.len() × rows × cols` weight of type `ty` on `gpu`, expert e stored in slot
/// `slot_of[e]` (as an expert cache might place it), and each expert's dequantized values.
fn random_experts(
    gpu: &Gpu,
    ty: GgmlType,
    rows: usize,
    cols: usize,
    slot_of: &[u32],
    rng: &mut Rng,
) -> (GpuMatrix, Vec<Vec<f32>>) {
    let experts = slot_of.len();
    let bytes = random_tensor_bytes(ty, experts * rows * cols, 1.0, rng);
    let slab = bytes.len() / experts;
    let values =
        (0..experts).map(|e| quant::dequantize_to_vec(ty, &bytes[e * slab..(e + 1) * slab]).unwrap()).collect();
    let m = Matrix {
        name: format!("w<{ty}>"),
        ty,
        cols,
        rows,
        experts: (0..experts).map(|e| (e * slab) as u64..((e + 1) * slab) as u64).collect(),
    };
    let src = MemorySource::new(bytes);
    let gm = pollster::block_on(GpuMatrix::allocate(gpu, &m, experts)).unwrap();
    for (e, range) in m.experts.iter().enumerate() {
        pollster::block_on(gm.write_slot(gpu, &src, slot_of[e], std::slice::from_ref(range))).unwrap();
    }
    (gm, values)
}

/// `W x` for one input row.
fn cpu_row(w: &[f32], x: &[f32], rows: usize) -> Vec<f32> {
    let mut out = vec![0f32; rows];
    ops::matvec(w, x, &mut out);
    out
}

fn tolerance(cols: usize) -> f32 {
    2e-5 * (cols as f32).sqrt()
}

#[test]
fn dense_matches_cpu_for_every_type_and_odd_shapes() {
    let gpu = gpu();
    let env = KernelEnv::new(gpu);
    let mut rng = Rng::new(31);
    for ty in gpu_types() {
        let block = ty.block_elems() as usize;
        // Rows and token counts that fill no tile evenly; the last shape has 5 blocks per row
        // even for the 256-value K-quants, so a row crosses several super-blocks at unaligned
        // byte offsets and K-steps.
        for (rows, cols, t) in [
            (1, block.max(32), 1),
            (37, 3 * block.max(32), 7),
            (130, 2 * block.max(64), 33),
            (11, 5 * block.max(64), 70),
        ] {
            let (gm, w) = random_experts(gpu, ty, rows, cols, &[0], &mut rng);
            let x = rng.vec(t * cols);
            let (xb, yb) = (f32_buffer(gpu, &x), zeros(gpu, t * rows));
            let d = matmul(gpu, &env, &Matmul::dense(&gm, &xb, &yb)).unwrap();
            run(gpu, &env, Step { n_tokens: t as u32, ..Default::default() }, &d);
            let want: Vec<f32> = (0..t).flat_map(|r| cpu_row(&w[0], &x[r * cols..(r + 1) * cols], rows)).collect();
            assert_close(&format!("{ty} {rows}x{cols} t={t}"), &read_f32(gpu, &yb), &want, tolerance(cols));
        }
    }
}

#[test]
fn epilogues_add_and_gate_with_strided_rows() {
    let gpu = gpu();
    let env = KernelEnv::new(gpu);
    let mut rng = Rng::new(32);
    let (rows, cols, t) = (45, 96, 33);
    // Rows of x and y sit inside wider rows, as in a buffer that holds more than this matrix; the
    // output starts 2 elements into its row.
    let (x_stride, y_stride, y_offset) = (cols + 8, rows + 3, 2);
    let (gm, w) = random_experts(gpu, GgmlType::Q8_0, rows, cols, &[0], &mut rng);
    let x = rng.vec(t * x_stride);
    let y0 = rng.vec(t * y_stride);
    let aux = rng.vec(t * y_stride);
    let wx: Vec<Vec<f32>> = (0..t).map(|r| cpu_row(&w[0], &x[r * x_stride..r * x_stride + cols], rows)).collect();
    let expect = |f: &dyn Fn(usize, usize) -> f32| -> Vec<f32> {
        (0..t * y_stride)
            .map(|i| {
                let c = i % y_stride;
                if (y_offset..y_offset + rows).contains(&c) { f(i / y_stride, c - y_offset) } else { y0[i] }
            })
            .collect()
    };
    let xb = f32_buffer(gpu, &x);
    let ab = f32_buffer(gpu, &aux);
    for (epilogue, want) in [
        (Epilogue::Store, expect(&|r, n| wx[r][n])),
        (Epilogue::Add, expect(&|r, n| y0[r * y_stride + y_offset + n] + wx[r][n])),
        (Epilogue::SiluMul, expect(&|r, n| ops::silu(aux[r * y_stride + y_offset + n]) * wx[r][n])),
    ] {
        let yb = f32_buffer(gpu, &y0);
        let aux = (epilogue == Epilogue::SiluMul).then_some(&ab);
        let mm = Matmul {
            x_stride: x_stride as u32,
            y_stride: y_stride as u32,
            y_offset: y_offset as u32,
            ..Matmul::dense(&gm, &xb, &yb).epilogue(epilogue, aux)
        };
        let d = matmul(gpu, &env, &mm).unwrap();
        run(gpu, &env, Step { n_tokens: t as u32, ..Default::default() }, &d);
        assert_close(&format!("{epilogue:?}"), &read_f32(gpu, &yb), &want, tolerance(cols));
    }
}

/// A grouped-mode case: `n_tokens` tokens choosing `k` experts each of `n_experts`.
struct Routing {
    n_experts: u32,
    k: usize,
    n_tokens: usize,
    /// The experts of each route, `n_tokens · k`.
    experts: Vec<u32>,
}

/// Group the routes on the GPU, then run gate-style (token rows, SwiGLU epilogue) and down-style
/// (route rows) matmuls of `ty` over them; compare every route's output with the CPU.
fn check_grouped(gpu: &Gpu, label: &str, ty: GgmlType, r: &Routing, rng: &mut Rng) {
    check_grouped_with(gpu, label, ty, r, None, rng);
}

/// [`check_grouped`], with `biased` each expert adding its bias row and the SwiGLU epilogue
/// applying that activation (inputs and biases large enough to reach the clamped form's limits).
fn check_grouped_with(gpu: &Gpu, label: &str, ty: GgmlType, r: &Routing, biased: Option<Activation>, rng: &mut Rng) {
    let env = KernelEnv::new(gpu);
    let (rows, cols) = (70, 2 * (ty.block_elems() as usize).max(64));
    let (n_experts, k, n_routes) = (r.n_experts as usize, r.k, r.n_tokens * r.k);
    // Expert e in slot (e + 3) mod E; the layer's entries start at slot_base, after another
    // layer's.
    let slot_of: Vec<u32> = (0..r.n_experts).map(|e| (e + 3) % r.n_experts).collect();
    let (gm, w) = random_experts(gpu, ty, rows, cols, &slot_of, rng);
    let mut slots = vec![99u32; n_experts];
    slots.extend_from_slice(&slot_of);
    let sb = u32_buffer(gpu, &slots);
    let routes = routes_buffer(gpu, &r.experts);
    let groups = pollster::block_on(ExpertGroups::new(gpu, r.n_experts, k as u32, r.n_tokens as u32)).unwrap();
    let grouped = |input_per_route| Grouped { groups: &groups, slots: &sb, slot_base: r.n_experts, input_per_route };
    let scale = if biased.is_some() { 8.0 } else { 1.0 };
    let bias: Vec<f32> = rng.vec(n_experts * rows).iter().map(|v| v * scale).collect();
    let bias_buffer = f32_buffer(gpu, &bias);
    let activation = biased.unwrap_or(Activation::SwiGlu);
    for input_per_route in [false, true] {
        let x_rows = if input_per_route { n_routes } else { r.n_tokens };
        let x = rng.vec(x_rows * cols);
        let aux: Vec<f32> = rng.vec(n_routes * rows).iter().map(|v| v * scale).collect();
        let (xb, ab, yb) = (f32_buffer(gpu, &x), f32_buffer(gpu, &aux), zeros(gpu, n_routes * rows));
        let epilogue = if input_per_route { Epilogue::Store } else { Epilogue::SiluMul };
        let mut d = vec![moe_group(gpu, &env, &routes, &groups).unwrap()];
        let mm = Matmul {
            bias: biased.map(|_| Bias { values: &bias_buffer, stride: rows as u32 }),
            activation,
            ..Matmul::dense(&gm, &xb, &yb).epilogue(epilogue, Some(&ab)).grouped(grouped(input_per_route))
        };
        d.extend(matmul(gpu, &env, &mm).unwrap());
        run(gpu, &env, Step { n_tokens: r.n_tokens as u32, ..Default::default() }, &d);
        let mut want = Vec::with_capacity(n_routes * rows);
        for a in 0..n_routes {
            let xr = if input_per_route { a } else { a / k };
            let e = r.experts[a] as usize;
            let mut wx = cpu_row(&w[e], &x[xr * cols..(xr + 1) * cols], rows);
            if biased.is_some() {
                wx.iter_mut().zip(&bias[e * rows..]).for_each(|(v, b)| *v += b);
            }
            match epilogue {
                Epilogue::SiluMul => want.extend(wx.iter().enumerate().map(|(n, &v)| activation.apply(aux[a * rows + n], v))),
                _ => want.extend(wx),
            }
        }
        let label = format!("{label} {ty} E={n_experts} k={k} t={} input_per_route={input_per_route} biased={biased:?}", r.n_tokens);
        assert_close(&label, &read_f32(gpu, &yb), &want, tolerance(cols));
    }
}

/// Uneven loads: some experts never chosen, one taking most tokens, and one case where a token
/// chooses the same expert twice (more routes for that expert than tokens).
fn routings(rng: &mut Rng) -> Vec<Routing> {
    let mut out = Vec::new();
    for (n_experts, k, n_tokens, used, favourite) in
        [(8u32, 1usize, 70usize, 3u32, 1u32), (8, 2, 33, 5, 4), (12, 8, 7, 10, 9), (6, 2, 1, 6, 0)]
    {
        let experts = skewed_routes(rng, n_tokens, k, used, favourite);
        out.push(Routing { n_experts, k, n_tokens, experts });
    }
    out.push(Routing { n_experts: 4, k: 2, n_tokens: 33, experts: vec![2; 66] });
    out
}

#[test]
fn grouped_routes_use_their_experts_slot() {
    let gpu = gpu();
    let mut rng = Rng::new(33);
    for ty in [GgmlType::Q4_K, GgmlType::Q8_0, GgmlType::F16, GgmlType::Q5_0] {
        for r in routings(&mut rng) {
            check_grouped(gpu, "one page", ty, &r, &mut rng);
        }
    }
}

#[test]
fn grouped_routes_add_their_experts_bias_before_the_clamped_activation() {
    let gpu = gpu();
    let mut rng = Rng::new(35);
    for r in routings(&mut rng) {
        for activation in [Activation::SwiGlu, Activation::SwiGluClamped] {
            check_grouped_with(gpu, "one page", GgmlType::MXFP4, &r, Some(activation), &mut rng);
        }
    }
}

#[test]
fn matrices_split_across_small_bindings_give_the_same_result() {
    let mut rng = Rng::new(34);
    // Bindings of a few rows (an expert split across pages, each page part of one expert), and
    // of two experts (70 rows of 128 Q4_1 values are 5600 bytes).
    let routing = Routing { n_experts: 8, k: 2, n_tokens: 33, experts: skewed_routes(&mut rng, 33, 2, 6, 5) };
    for (limit, ty) in
        [(256, GgmlType::Q4_1), (512, GgmlType::Q8_0), (1024, GgmlType::Q6_K), (12 << 10, GgmlType::Q4_1)]
    {
        check_grouped(&gpu_with_binding_limit(limit), &format!("{limit}-byte pages"), ty, &routing, &mut rng);
    }

    let small = gpu_with_binding_limit(256);
    let env = KernelEnv::new(&small);
    let (rows, cols, t) = (29, 96, 33);
    let (gm, w) = random_experts(&small, GgmlType::Q4_1, rows, cols, &[0], &mut rng);
    assert!(gm.pages.len() > 4, "expected several pages, got {}", gm.pages.len());
    let x = rng.vec(t * cols);
    let (xb, yb) = (f32_buffer(&small, &x), zeros(&small, t * rows));
    let d = matmul(&small, &env, &Matmul::dense(&gm, &xb, &yb)).unwrap();
    run(&small, &env, Step { n_tokens: t as u32, ..Default::default() }, &d);
    let want: Vec<f32> = (0..t).flat_map(|r| cpu_row(&w[0], &x[r * cols..(r + 1) * cols], rows)).collect();
    assert_close("paged dense", &read_f32(&small, &yb), &want, tolerance(cols));
}
