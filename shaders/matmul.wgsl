// Quantized matrix × matrix for the rows of a prompt:
//
//   y[a, y_offset + n] = epilogue( Σ_k W_s[n, k] · x[xr, k] )
//
// with the matvec's meaning of every term (shaders/matvec.wgsl), over a set of output rows a:
// - dense: a = 0 .. n_tokens, s = 0, xr = a;
// - GROUPED: workgroup z = expert e takes the routes a = order[offsets[e] .. offsets[e + 1]] (as
//   shaders/moe_group.wgsl writes them), s = slots[slot_base + e], xr = a / x_div (the token's row
//   for gate and up, x_div = k; the route's own row for down, x_div = 1). An expert nobody chose
//   has no routes, and its workgroups return at once.
// The epilogue stores, adds into y (residual), or gives the FFN activation glu(aux, ·) with aux
// the gate projection; with BIAS the sum first adds bias[e · bias_stride + n] (e = 0 when dense).
//
// The weight binding `w` is one page of the matrix, as for the matvec: rows [row_begin, row_end)
// of slots [slot_begin, slot_end). A workgroup whose slot the page does not hold returns at once.
// K (cols) is a multiple of 32.
//
// Tiling: a workgroup of 64 invocations computes TILE_N = 64 weight rows × TILE_T = 16 output
// rows. Per K-step of 32 values each invocation decodes one weight row's chunk of 32 (one
// `load32`) into workgroup memory (each decoded value then serves 16 output rows) and the
// invocations stage the 16 input rows' 32 values beside them;
// each invocation accumulates 4 weight rows (16 apart) × 4 output rows (4 apart) in registers, so
// 8 workgroup-memory reads feed 16 four-value dot products. Workgroup memory: 8 KiB of weights,
// 2 KiB of inputs. Both tiles are stored [k / 4][row], so the 16 invocations that share output
// rows read 16 consecutive weight vectors.
//
// Grid: (ceil((row_end − row_begin) / 64), ceil(n_tokens / 16), 1, or E when GROUPED). A
// workgroup takes the tiles wg.y, wg.y + grid.y, … of its rows, so an expert chosen by a token
// more than once still has every route computed.

override GROUPED: bool = false;
override EPILOGUE: u32 = 0u;        // 0: y = acc, 1: y += acc, 2: y = glu(aux, acc)
override BIAS: bool = false;

struct Params {
    cols: u32,            // K: values per row
    row_bytes: u32,
    slot_stride: u32,
    slot_begin: u32,      // the page holds slots [slot_begin, slot_end)
    slot_end: u32,
    row_begin: u32,       // and rows [row_begin, row_end) of each
    row_end: u32,
    x_div: u32,           // input row = a / x_div
    slot_base: u32,       // this layer's first entry in `slots`
    x_stride: u32,        // elements between input rows
    y_stride: u32,        // elements between output rows
    y_offset: u32,        // first element of an output row written
    bias_stride: u32,     // BIAS: elements between experts' bias rows
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> w: array<u32>;           // one page, GGUF blocks
@group(0) @binding(3) var<storage, read> x: array<f32>;           // (input rows, x_stride)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;     // (output rows, y_stride)
@group(0) @binding(5) var<storage, read> aux: array<f32>;         // like y: the gate for the activation
@group(0) @binding(6) var<storage, read> slots: array<u32>;       // (layers · experts) → slot
@group(0) @binding(7) var<storage, read> offsets: array<u32>;     // (E + 1) first route of each expert in `order`
@group(0) @binding(8) var<storage, read> order: array<u32>;       // (n_tokens · k) routes grouped by expert
@group(0) @binding(9) var<storage, read> bias: array<f32>;        // (experts, bias_stride)

const WG: u32 = 64u;
const TILE_N: u32 = 64u;                    // weight rows per workgroup
const TILE_T: u32 = 16u;                    // output rows per workgroup
const STEP_K: u32 = 32u;                    // values per K-step
const K4: u32 = STEP_K / 4u;
const ROW_LANES: u32 = 16u;                 // invocation i owns weight rows i % 16 + 16 j (j < 4)
const ROW_GROUPS: u32 = WG / ROW_LANES;     // and output rows i / 16 + 4 t (t < 4)
const OUT_PER_LANE: u32 = TILE_T / ROW_GROUPS;
const NO_ROW: u32 = 0xFFFFFFFFu;
const_assert WG >= TILE_T && WG == TILE_N && TILE_N == 4u * ROW_LANES && STEP_K == 32u;

var<workgroup> w_tile: array<vec4<f32>, K4 * TILE_N>;   // [k / 4][weight row]
var<workgroup> x_tile: array<vec4<f32>, K4 * TILE_T>;   // [k / 4][output row]
var<workgroup> tile_rows: array<u32, TILE_T>;           // output row a of each tile row, or NO_ROW

// Apply the epilogue to output row a, weight rows n0 + 16 j, whose biases start at bias_row.
fn write_out(a: u32, n0: u32, bias_row: u32, acc: vec4<f32>) {
    for (var j = 0u; j < 4u; j++) {
        let n = n0 + ROW_LANES * j;
        if (n >= p.row_end) {
            return;
        }
        var v = acc[j];
        if (BIAS) {
            v += bias[bias_row + n];
        }
        let yi = a * p.y_stride + p.y_offset + n;
        if (EPILOGUE == 1u) {
            y[yi] += v;
        } else if (EPILOGUE == 2u) {
            y[yi] = glu(aux[yi], v);
        } else {
            y[yi] = v;
        }
    }
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) grid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    var slot = 0u;
    var first = 0u;
    var count = step.n_tokens;
    var expert = 0u;
    if (GROUPED) {
        expert = wg.z;
        slot = slots[p.slot_base + wg.z];
        first = offsets[wg.z];
        count = offsets[wg.z + 1u] - first;
    }
    if (slot < p.slot_begin || slot >= p.slot_end) {
        return;
    }
    let slot_bytes = (slot - p.slot_begin) * p.slot_stride;
    let row0 = p.row_begin + wg.x * TILE_N;
    let lane = lid % ROW_LANES;
    let group = lid / ROW_LANES;

    for (var tile = wg.y; tile * TILE_T < count; tile += grid.y) {
        if (lid < TILE_T) {
            let i = tile * TILE_T + lid;
            var a = NO_ROW;
            if (i < count) {
                a = i;
                if (GROUPED) {
                    a = order[first + i];
                }
            }
            tile_rows[lid] = a;
        }
        workgroupBarrier();

        var acc: array<vec4<f32>, OUT_PER_LANE>;   // [t]: output row group + 4 t, weight rows lane + 16 j
        for (var k0 = 0u; k0 < p.cols; k0 += STEP_K) {
            let n = row0 + lid;
            var wv: array<vec4<f32>, K4>;
            if (n < p.row_end) {
                wv = load32(slot_bytes + (n - p.row_begin) * p.row_bytes, k0 / STEP_K);
            }
            for (var k4 = 0u; k4 < K4; k4++) {
                w_tile[k4 * TILE_N + lid] = wv[k4];
            }
            for (var q = lid; q < K4 * TILE_T; q += WG) {
                let t = q / K4;
                let k = k0 + 4u * (q % K4);
                let a = tile_rows[t];
                var v = vec4<f32>(0.0);
                if (a != NO_ROW) {
                    let xi = (a / p.x_div) * p.x_stride + k;
                    v = vec4<f32>(x[xi], x[xi + 1u], x[xi + 2u], x[xi + 3u]);
                }
                x_tile[(q % K4) * TILE_T + t] = v;
            }
            workgroupBarrier();
            for (var k4 = 0u; k4 < K4; k4++) {
                let wb = k4 * TILE_N + lane;
                let w0 = w_tile[wb];
                let w1 = w_tile[wb + ROW_LANES];
                let w2 = w_tile[wb + 2u * ROW_LANES];
                let w3 = w_tile[wb + 3u * ROW_LANES];
                for (var t = 0u; t < OUT_PER_LANE; t++) {
                    let xv = x_tile[k4 * TILE_T + group + ROW_GROUPS * t];
                    acc[t] += vec4<f32>(dot(w0, xv), dot(w1, xv), dot(w2, xv), dot(w3, xv));
                }
            }
            workgroupBarrier();
        }

        for (var t = 0u; t < OUT_PER_LANE; t++) {
            let a = tile_rows[group + ROW_GROUPS * t];
            if (a != NO_ROW) {
                write_out(a, row0 + lane, expert * p.bias_stride, acc[t]);
            }
        }
        // tile_rows is rewritten for the next tile.
        workgroupBarrier();
    }
}
