// RMSNorm of each token's row:  out[t, i] = x[t, i] / sqrt(mean_i x[t, i]² + eps) · weight[i]
//
// Grid: (1, n_tokens). One workgroup per token; 256 invocations stride over the row.

struct Params {
    n: u32,      // row length
    eps: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> x: array<f32>;          // (n_tokens, n)
@group(0) @binding(3) var<storage, read> weight: array<f32>;     // (n)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;  // (n_tokens, n)

const WG: u32 = 256u;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = wg.y;
    if (t >= step.n_tokens) {
        return;
    }
    let base = t * p.n;
    var ss = 0.0;
    for (var i = lid; i < p.n; i += WG) {
        let v = x[base + i];
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
