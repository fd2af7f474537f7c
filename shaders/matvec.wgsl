// Quantized matrix × vector for each output row a of the submit:
//
//   y[a, y_offset + n] = epilogue( Σ_k W_s[n, k] · x[xr, k] )
//
// where W_s is expert slot s of the weight (s = 0 for a dense matrix; with ROUTED, s is the slot
// of the expert chosen by route a, looked up in `slots`), xr = a / x_div (or the submit's last
// token with X_LAST_TOKEN), and the epilogue stores, adds into y (residual), or gives the FFN
// activation glu(aux, ·) with aux the gate projection (shaders/glu.wgsl). With BIAS the sum first
// adds bias[e · bias_stride + n], e the route's expert (0 when not ROUTED): biases are per expert,
// not per slot, and always resident. With PAIRED the matrix holds two stacked halves (the FFN's
// gate rows, then its up rows, pair_rows apart; the bias stacked the same way) and the output is
// the activation:
//
//   y[a, n] = glu(Σ_k W_s[n, k] · x[xr, k], Σ_k W_s[n + pair_rows, k] · x[xr, k])
//
// The weight binding `w` is one page of the matrix: rows [row_begin, row_end) of slots
// [slot_begin, slot_end), row n of slot s at byte (s − slot_begin)·slot_stride + (n − row_begin)·row_bytes,
// as GGUF blocks. A matrix larger than one binding is several pages, each its own dispatch; a
// workgroup whose slot the page does not hold returns at once. With PAIRED the page holds whole
// slots and [row_begin, row_end) are the output rows (the first half).
//
// Work: a workgroup of WG invocations is WG / LANES groups of LANES invocations; each group
// computes ROWS consecutive rows. The LANES invocations of a group take the row's pieces (32
// values whose bytes lie together, see quant/bytes.wgsl) in turn, so neighbouring invocations
// read neighbouring words of the same block, and each invocation loads the x values of its piece
// once (vec4 loads) for all ROWS rows, decoding each block's scales once per piece. The group's
// partial sums are then added up by `reduce_rows`, which the file placed after this one defines
// with the entry point:
// - matvec_tree.wgsl: a tree in workgroup memory, log2(LANES) barriers; with LANES = 1 nothing to
//   add (adapters that run shaders on the CPU, where one row per invocation loads each x value
//   once for the whole SIMD batch, while lanes of one row would each load their own);
// - matvec_subgroups.wgsl: subgroupAdd, and where a workgroup may hold several subgroups, one
//   barrier to add theirs (LANES = WG; adapters with subgroups).
//
// Grid: (ceil((row_end − row_begin) / (ROWS · WG / LANES)), n_tokens · a_per_token), the first
// dimension folded into the third where it passes the adapter's limit. Rows are a multiple of 32
// values long; x rows start at a multiple of 4 elements.

override ROUTED: bool = false;
override EPILOGUE: u32 = 0u;        // 0: y = acc, 1: y += acc, 2: y = glu(aux, acc)
override BIAS: bool = false;
override X_LAST_TOKEN: bool = false;
override PAIRED: bool = false;
override WG: u32 = 64u;             // ≤ MAX_WG
override LANES: u32 = 64u;          // a power of two dividing WG
override ROWS: u32 = 4u;            // ≤ MAX_ROWS

const MAX_WG: u32 = 64u;
const MAX_ROWS: u32 = 8u;

struct Route {
    expert: u32,
    weight: f32,
}

struct Params {
    cols: u32,            // K: values per row
    row_bytes: u32,
    slot_stride: u32,
    slot_begin: u32,      // the page holds slots [slot_begin, slot_end)
    slot_end: u32,
    row_begin: u32,       // and rows [row_begin, row_end) of each
    row_end: u32,
    a_per_token: u32,     // output rows per token: 1, or the experts used per token
    x_div: u32,           // input row = a / x_div
    slot_base: u32,       // this layer's first entry in `slots`
    x_stride: u32,        // elements between input rows
    y_stride: u32,        // elements between output rows
    y_offset: u32,        // first element of an output row written
    pair_rows: u32,       // PAIRED: rows between a gate row and its up row
    bias_stride: u32,     // BIAS: elements between experts' bias rows
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> w: array<u32>;           // one page, GGUF blocks
@group(0) @binding(3) var<storage, read> x: array<vec4<f32>>;     // (input rows, x_stride / 4)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;     // (n_tokens · a_per_token, y_stride)
@group(0) @binding(5) var<storage, read> routes: array<Route>;    // (n_tokens · experts used)
@group(0) @binding(6) var<storage, read> slots: array<u32>;       // (layers · experts) → slot
@group(0) @binding(7) var<storage, read> aux: array<f32>;         // like y: the gate for the activation
@group(0) @binding(8) var<storage, read> bias: array<f32>;        // (experts, bias_stride)

// Entry point and reduction: matvec_tree.wgsl or matvec_subgroups.wgsl, placed after this file.
fn matvec(wg: vec3<u32>, nwg: vec3<u32>, lid: u32) {
    let a = wg.y;
    var slot = 0u;
    var expert = 0u;
    if (ROUTED && a < step.n_tokens * p.a_per_token) {
        expert = routes[a].expert;
        slot = slots[p.slot_base + expert];
    }
    // Workgroups without work return together, before any barrier.
    if (a >= step.n_tokens * p.a_per_token || slot < p.slot_begin || slot >= p.slot_end) {
        return;
    }
    let lane = lid % LANES;
    // Grids wider than the adapter's per-dimension limit fold their columns into z.
    let column = wg.x + wg.z * nwg.x;
    let n0 = p.row_begin + (column * (WG / LANES) + lid / LANES) * ROWS;
    var xr = a / p.x_div;
    if (X_LAST_TOKEN) {
        xr = step.n_tokens - 1u;
    }
    let xb = (xr * p.x_stride) / 4u;
    let slot_bytes = (slot - p.slot_begin) * p.slot_stride;
    // Rows past the page's end repeat its last row; their sums are not stored.
    var rows: array<u32, MAX_ROWS>;
    for (var i = 0u; i < ROWS; i++) {
        rows[i] = slot_bytes + (min(n0 + i, p.row_end - 1u) - p.row_begin) * p.row_bytes;
    }
    let pair = p.pair_rows * p.row_bytes;
    var acc_w: array<vec4<f32>, MAX_ROWS>;
    var acc_p: array<vec4<f32>, MAX_ROWS>;
    for (var g = lane; g < p.cols / 32u; g += LANES) {
        var xv: array<vec4<f32>, 8>;
        for (var r = 0u; r < 8u; r++) {
            xv[r] = x[xb + piece_run(g, r) / 4u];
        }
        for (var i = 0u; i < ROWS; i++) {
            let wv = load_piece(rows[i], g);
            for (var r = 0u; r < 8u; r++) {
                acc_w[i] += wv[r] * xv[r];
            }
            if (PAIRED) {
                let wp = load_piece(rows[i] + pair, g);
                for (var r = 0u; r < 8u; r++) {
                    acc_p[i] += wp[r] * xv[r];
                }
            }
        }
    }
    // .x: the row's dot product; .y: its pair's (PAIRED only).
    var sums: array<vec2<f32>, MAX_ROWS>;
    let ones = vec4<f32>(1.0);
    for (var i = 0u; i < ROWS; i++) {
        sums[i] = vec2<f32>(dot(acc_w[i], ones), dot(acc_p[i], ones));
    }
    reduce_rows(&sums, lid);
    if (lane != 0u) {
        return;
    }
    let bias_row = expert * p.bias_stride;
    for (var i = 0u; i < ROWS; i++) {
        let n = n0 + i;
        if (n >= p.row_end) {
            break;
        }
        var v = sums[i];
        if (BIAS) {
            v += vec2<f32>(bias[bias_row + n], select(0.0, bias[bias_row + n + p.pair_rows], PAIRED));
        }
        let yi = a * p.y_stride + p.y_offset + n;
        if (PAIRED) {
            y[yi] = glu(v.x, v.y);
        } else if (EPILOGUE == 1u) {
            y[yi] += v.x;
        } else if (EPILOGUE == 2u) {
            y[yi] = glu(aux[yi], v.x);
        } else {
            y[yi] = v.x;
        }
    }
}
