// The MoE router, fused with the FFN's RMSNorm: h = rms_norm(x) · norm_weight (written for the
// expert kernels), logits = W_router · h (+ b_router with BIAS: gpt-oss), then the top-k experts
// (ties to the lower index) and their weights:
//
//   RENORMALISE:  w_j = exp(l_j − l_max) / Σ_{i chosen} exp(l_i − l_max)
//                 (softmax over the k chosen logits = the renormalised top-k of the full softmax)
//   otherwise:    w_j = exp(l_j − l_max) / Σ_{e < n_expert} exp(l_e − l_max)   (the full softmax's p_j)
//
// Softmax is monotonic, so the top-k of the probabilities is the top-k of the logits: both router
// orders select on the logits. Writes `routes[t · k + j] = {expert, weight}` for j = 0..k, best
// first. The expert kernels read the choice from there, so routing never leaves the GPU. The
// chosen experts are also logged per position and layer, for statistics read back on request.
//
// Grid: (1, n_tokens). 256 invocations: the norm; then the logits, LANES invocations per expert
// row (each summing every LANES-th chunk of 32 values; the hidden size is a multiple of 32) and
// 256 / LANES rows at a time; then k rounds of a parallel arg-max over the experts not yet taken
// (k ≤ 8, experts ≤ 256).

override RENORMALISE: bool = true;
override LANES: u32 = 32u;     // a power of two ≤ 256
override BIAS: bool = false;

struct Route {
    expert: u32,
    weight: f32,
}

struct Params {
    cols: u32,        // hidden size
    n_expert: u32,    // ≤ 256
    k: u32,           // experts used per token, ≤ 8
    row_bytes: u32,
    layer: u32,
    n_layer: u32,
    log_positions: u32,   // positions the log holds; position p is kept at p % log_positions
    eps: f32,             // RMSNorm epsilon
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> w: array<u32>;              // (n_expert rows, cols) router weights
@group(0) @binding(3) var<storage, read> x: array<f32>;              // (n_tokens, cols) residual stream
@group(0) @binding(4) var<storage, read> norm_weight: array<f32>;    // (cols)
@group(0) @binding(5) var<storage, read_write> h: array<f32>;        // (n_tokens, cols) normed state, written
@group(0) @binding(6) var<storage, read_write> routes: array<Route>; // (n_tokens, k)
@group(0) @binding(7) var<storage, read_write> route_log: array<u32>; // (log_positions, n_layer, k) experts
@group(0) @binding(8) var<storage, read> bias: array<f32>;           // (n_expert) router bias

const WG: u32 = 256u;
const MAX_EXPERTS: u32 = 256u;
const NONE: u32 = 0xFFFFFFFFu;
var<workgroup> partial: array<f32, WG>;
var<workgroup> best: array<u32, WG>;                // arg-max reduction: an expert, or NONE
var<workgroup> logits: array<f32, MAX_EXPERTS>;
var<workgroup> taken: array<u32, MAX_EXPERTS>;
var<workgroup> chosen: array<u32, 8>;

// Whether expert a beats expert b (NONE loses to everything; the lower index wins ties).
fn beats(a: u32, b: u32) -> bool {
    if (a == NONE) {
        return false;
    }
    if (b == NONE) {
        return true;
    }
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
}

fn sum_partial(lid: u32) -> f32 {
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            partial[lid] += partial[lid + s];
        }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = wg.y;
    if (t >= step.n_tokens) {
        return;
    }
    let xb = t * p.cols;
    var ss = 0.0;
    for (var i = lid; i < p.cols; i += WG) {
        ss += x[xb + i] * x[xb + i];
    }
    partial[lid] = ss;
    let scale = inverseSqrt(sum_partial(lid) / f32(p.cols) + p.eps);
    for (var i = lid; i < p.cols; i += WG) {
        h[xb + i] = x[xb + i] * scale * norm_weight[i];
    }
    storageBarrier();

    // Logits: invocation lid works on row (base + lid / LANES), chunks lane, lane + LANES, …
    let lane = lid % LANES;
    for (var base = 0u; base < p.n_expert; base += WG / LANES) {
        let e = base + lid / LANES;
        var acc = 0.0;
        if (e < p.n_expert) {
            for (var c = lane; c < p.cols / 32u; c += LANES) {
                let wv = load32(e * p.row_bytes, c);
                for (var j = 0u; j < 8u; j++) {
                    let i = xb + 32u * c + 4u * j;
                    acc += dot(wv[j], vec4<f32>(h[i], h[i + 1u], h[i + 2u], h[i + 3u]));
                }
            }
        }
        partial[lid] = acc;
        workgroupBarrier();
        for (var s = LANES / 2u; s > 0u; s >>= 1u) {
            if (lane < s) {
                partial[lid] += partial[lid + s];
            }
            workgroupBarrier();
        }
        if (lane == 0u && e < p.n_expert) {
            var l = partial[lid];
            if (BIAS) {
                l += bias[e];
            }
            logits[e] = l;
        }
        workgroupBarrier();
    }
    for (var e = lid; e < MAX_EXPERTS; e += WG) {
        taken[e] = 0u;
    }
    workgroupBarrier();

    // Selection: k rounds of an arg-max over the experts not yet taken.
    for (var j = 0u; j < p.k; j++) {
        var mine = NONE;
        for (var e = lid; e < p.n_expert; e += WG) {
            if (taken[e] == 0u && beats(e, mine)) {
                mine = e;
            }
        }
        best[lid] = mine;
        workgroupBarrier();
        for (var s = WG / 2u; s > 0u; s >>= 1u) {
            if (lid < s && beats(best[lid + s], best[lid])) {
                best[lid] = best[lid + s];
            }
            workgroupBarrier();
        }
        if (lid == 0u) {
            chosen[j] = best[0];
            taken[best[0]] = 1u;
        }
        workgroupBarrier();
    }

    let top = logits[chosen[0]];
    var denom = 0.0;
    if (RENORMALISE) {
        for (var j = 0u; j < p.k; j++) {
            denom += exp(logits[chosen[j]] - top);
        }
    } else {
        var mine = 0.0;
        for (var e = lid; e < p.n_expert; e += WG) {
            mine += exp(logits[e] - top);
        }
        partial[lid] = mine;
        denom = sum_partial(lid);
    }
    if (lid != 0u) {
        return;
    }
    let log_base = (((step.pos0 + t) % p.log_positions) * p.n_layer + p.layer) * p.k;
    for (var j = 0u; j < p.k; j++) {
        routes[t * p.k + j] = Route(chosen[j], exp(logits[chosen[j]] - top) / denom);
        route_log[log_base + j] = chosen[j];
    }
}
