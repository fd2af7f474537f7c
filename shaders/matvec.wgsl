// Quantized matrix × vector for each output row a of the submit:
//
//   y[a, y_offset + n] = epilogue( Σ_k W_s[n, k] · x[xr, k] )
//
// where W_s is expert slot s of the weight (s = 0 for a dense matrix; with ROUTED, s is the slot
// of the expert chosen by route a, looked up in `slots`), xr = a / x_div (or the submit's last
// token with X_LAST_TOKEN), and the epilogue stores, adds into y (residual), or multiplies by
// silu(aux) (the SwiGLU gate). With PAIRED the matrix holds two stacked halves (the FFN's gate
// rows, then its up rows, pair_rows apart) and the output is the SwiGLU activation:
//
//   y[a, n] = silu(Σ_k W_s[n, k] · x[xr, k]) · Σ_k W_s[n + pair_rows, k] · x[xr, k]
//
// The weight binding `w` is one page of the matrix: rows [row_begin, row_end) of slots
// [slot_begin, slot_end), row n of slot s at byte (s − slot_begin)·slot_stride + (n − row_begin)·row_bytes,
// as GGUF blocks. A matrix larger than one binding is several pages, each its own dispatch; a
// workgroup whose slot the page does not hold returns at once. With PAIRED the page holds whole
// slots and [row_begin, row_end) are the output rows (the first half).
//
// Grid: (ceil((row_end − row_begin) / (64 / LANES)), n_tokens · a_per_token), the first
// dimension folded into the third where it passes the adapter's limit. LANES
// invocations share a row, each summing every LANES-th chunk of 32 values (one `load32`: a
// block's scales are decoded once per chunk), then a tree reduction. Rows are a multiple of 32
// values long; x rows start at a multiple of 4 elements.

override ROUTED: bool = false;
override EPILOGUE: u32 = 0u;        // 0: y = acc, 1: y += acc, 2: y = silu(aux) · acc
override X_LAST_TOKEN: bool = false;
override PAIRED: bool = false;

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
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> w: array<u32>;           // one page, GGUF blocks
@group(0) @binding(3) var<storage, read> x: array<vec4<f32>>;     // (input rows, x_stride / 4)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;     // (n_tokens · a_per_token, y_stride)
@group(0) @binding(5) var<storage, read> routes: array<Route>;    // (n_tokens · experts used)
@group(0) @binding(6) var<storage, read> slots: array<u32>;       // (layers · experts) → slot
@group(0) @binding(7) var<storage, read> aux: array<f32>;         // like y: the gate for SiLU

// Invocations sharing one row (a power of two ≤ 64). GPUs want many (neighbouring invocations
// read neighbouring bytes); CPU-emulated adapters want one (no barriers, and the input loads are
// the same for every invocation).
override LANES: u32 = 32u;
const WG: u32 = 64u;
var<workgroup> partial: array<vec2<f32>, WG>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let a = wg.y;
    if (a >= step.n_tokens * p.a_per_token) {
        return;
    }
    var slot = 0u;
    if (ROUTED) {
        slot = slots[p.slot_base + routes[a].expert];
    }
    if (slot < p.slot_begin || slot >= p.slot_end) {
        return;
    }
    let r = lid / LANES;
    let lane = lid % LANES;
    // Grids wider than the adapter's per-dimension limit fold their columns into z.
    let column = wg.x + wg.z * nwg.x;
    let n = p.row_begin + column * (WG / LANES) + r;
    let valid = n < p.row_end;
    var xr = a / p.x_div;
    if (X_LAST_TOKEN) {
        xr = step.n_tokens - 1u;
    }
    // acc.x: the row's dot product; acc.y: its pair's (PAIRED only).
    var acc = vec2<f32>(0.0);
    if (valid) {
        let row = (slot - p.slot_begin) * p.slot_stride + (n - p.row_begin) * p.row_bytes;
        let pair = row + p.pair_rows * p.row_bytes;
        let xb = (xr * p.x_stride) / 4u;
        var acc_w = vec4<f32>(0.0);
        var acc_p = vec4<f32>(0.0);
        for (var c = lane; c < p.cols / 32u; c += LANES) {
            var xv: array<vec4<f32>, 8>;
            for (var j = 0u; j < 8u; j++) {
                xv[j] = x[xb + 8u * c + j];
            }
            let wv = load32(row, c);
            for (var j = 0u; j < 8u; j++) {
                acc_w += wv[j] * xv[j];
            }
            if (PAIRED) {
                let wp = load32(pair, c);
                for (var j = 0u; j < 8u; j++) {
                    acc_p += wp[j] * xv[j];
                }
            }
        }
        acc = vec2<f32>(dot(acc_w, vec4<f32>(1.0)), dot(acc_p, vec4<f32>(1.0)));
    }
    if (LANES > 1u) {
        partial[lid] = acc;
        workgroupBarrier();
        for (var s = LANES / 2u; s > 0u; s >>= 1u) {
            if (lane < s) {
                partial[lid] += partial[lid + s];
            }
            workgroupBarrier();
        }
        acc = partial[lid];
    }
    if (valid && lane == 0u) {
        let yi = a * p.y_stride + p.y_offset + n;
        if (PAIRED) {
            y[yi] = silu(acc.x) * acc.y;
        } else if (EPILOGUE == 1u) {
            y[yi] += acc.x;
        } else if (EPILOGUE == 2u) {
            y[yi] = silu(aux[yi]) * acc.x;
        } else {
            y[yi] = acc.x;
        }
    }
}
