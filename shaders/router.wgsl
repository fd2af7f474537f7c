// The MoE router, fused with the FFN's RMSNorm: h = rms_norm(x) · norm_weight (written for the
// expert kernels), logits = W_router · h, then the top-k experts (ties to the lower index)
// and their weights = softmax over the k chosen logits (the renormalised top-k of the full
// softmax). Writes `routes[t · k + j] = {expert, weight}` for j = 0..k, best first. The expert
// kernels read the choice from there, so routing never leaves the GPU. The chosen experts are
// also logged per position and layer, for statistics read back on request, not per token.
//
// Grid: (1, n_tokens). 256 invocations: the norm, then each expert's logit as a dot product
// strided by chunks of 32 values (the hidden size is a multiple of 32) and a tree reduction; one
// invocation then selects the top k (k ≤ 8, experts ≤ 64).

struct Route {
    expert: u32,
    weight: f32,
}

struct Params {
    cols: u32,        // hidden size
    n_expert: u32,    // ≤ 64
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

const WG: u32 = 256u;
var<workgroup> partial: array<f32, WG>;
var<workgroup> logits: array<f32, 64>;

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
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            partial[lid] += partial[lid + s];
        }
        workgroupBarrier();
    }
    let scale = inverseSqrt(partial[0] / f32(p.cols) + p.eps);
    workgroupBarrier();
    for (var i = lid; i < p.cols; i += WG) {
        h[xb + i] = x[xb + i] * scale * norm_weight[i];
    }
    storageBarrier();
    for (var e = 0u; e < p.n_expert; e++) {
        var acc = 0.0;
        for (var c = lid; c < p.cols / 32u; c += WG) {
            let wv = load32(e * p.row_bytes, c);
            for (var j = 0u; j < 8u; j++) {
                let i = xb + 32u * c + 4u * j;
                acc += dot(wv[j], vec4<f32>(h[i], h[i + 1u], h[i + 2u], h[i + 3u]));
            }
        }
        partial[lid] = acc;
        workgroupBarrier();
        for (var s = WG / 2u; s > 0u; s >>= 1u) {
            if (lid < s) {
                partial[lid] += partial[lid + s];
            }
            workgroupBarrier();
        }
        if (lid == 0u) {
            logits[e] = partial[0];
        }
        workgroupBarrier();
    }
    if (lid != 0u) {
        return;
    }
    // Selection by repeated maximum: the earliest index wins ties.
    var chosen: array<u32, 8>;
    var taken = array<bool, 64>();
    for (var j = 0u; j < p.k; j++) {
        var best = 0u;
        var best_v = -3.4e38;
        var found = false;
        for (var e = 0u; e < p.n_expert; e++) {
            if (!taken[e] && (!found || logits[e] > best_v)) {
                best = e;
                best_v = logits[e];
                found = true;
            }
        }
        taken[best] = true;
        chosen[j] = best;
    }
    let top = logits[chosen[0]];
    var sum = 0.0;
    for (var j = 0u; j < p.k; j++) {
        sum += exp(logits[chosen[j]] - top);
    }
    let log_base = (((step.pos0 + t) % p.log_positions) * p.n_layer + p.layer) * p.k;
    for (var j = 0u; j < p.k; j++) {
        routes[t * p.k + j] = Route(chosen[j], exp(logits[chosen[j]] - top) / sum);
        route_log[log_base + j] = chosen[j];
    }
}
