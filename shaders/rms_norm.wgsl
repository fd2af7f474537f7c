// RMSNorm of each token's row, after adding the previous MoE layer's expert outputs to it:
//
//   x[t, i] += s · (Σ_{j < k} routes[t·k + j].weight · expert_out[t·k + j, i]  (COMBINE_K = k > 0)
//                   + sigmoid(shared_gate[t]) · shared_out[t, i])                (SHARED: qwen2moe)
//   (s: the branch's multiplier, granite's residual_scale, else 1)
//   out[t, i] = x[t, i] / sqrt(mean_i x[t, i]² + eps) · weight[i]
//
// Folding the weighted sum of the experts into the norm that reads the residual stream next
// saves a dispatch per MoE layer. The sum runs in route order, so the result does not depend on
// where the experts live.
//
// Grid: (1, n_tokens). One workgroup per token; 256 invocations stride over the row.

override COMBINE_K: u32 = 0u;
override SHARED: bool = false;

struct Route {
    expert: u32,
    weight: f32,
}

struct Params {
    n: u32,      // row length
    eps: f32,
    combine_scale: f32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;      // (n_tokens, n) residual stream
@group(0) @binding(3) var<storage, read> weight: array<f32>;       // (n)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;    // (n_tokens, n)
@group(0) @binding(5) var<storage, read> routes: array<Route>;     // (n_tokens, k)
@group(0) @binding(6) var<storage, read> expert_out: array<f32>;   // (n_tokens · k, n)
@group(0) @binding(7) var<storage, read> shared_out: array<f32>;   // (n_tokens, n) the shared expert's output
@group(0) @binding(8) var<storage, read> shared_gate: array<f32>;  // (n_tokens) its gate logit

const WG: u32 = 256u;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = wg.y;
    if (t >= step.n_tokens) {
        return;
    }
    let base = t * p.n;
    var gate = 0.0;
    if (SHARED) {
        gate = 1.0 / (1.0 + exp(-shared_gate[t]));
    }
    var ss = 0.0;
    for (var i = lid; i < p.n; i += WG) {
        var v = x[base + i];
        if (COMBINE_K > 0u) {
            var sum = 0.0;
            for (var j = 0u; j < COMBINE_K; j++) {
                let a = t * COMBINE_K + j;
                sum += routes[a].weight * expert_out[a * p.n + i];
            }
            if (SHARED) {
                sum += gate * shared_out[base + i];
            }
            v += p.combine_scale * sum;
            x[base + i] = v;
        }
        ss += v * v;
    }
    partial[lid] = ss;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            partial[lid] += partial[lid + s];
        }
        workgroupBarrier();
    }
    let scale = inverseSqrt(partial[0] / f32(p.n) + p.eps);
    for (var i = lid; i < p.n; i += WG) {
        out[base + i] = x[base + i] * scale * weight[i];
    }
}
