// The weighted sum of each token's expert outputs, added to the residual stream:
//
//   x[t, i] += Σ_{j < k} routes[t · k + j].weight · y[t · k + j, i]
//
// summed in route order, so the result does not depend on where experts live.
//
// Grid: (ceil(n / 256), n_tokens).

struct Route {
    expert: u32,
    weight: f32,
}

struct Params {
    n: u32,    // hidden size
    k: u32,    // experts used per token
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> routes: array<Route>;    // (n_tokens, k)
@group(0) @binding(3) var<storage, read> y: array<f32>;           // (n_tokens · k, n) expert outputs
@group(0) @binding(4) var<storage, read_write> x: array<f32>;     // (n_tokens, n) residual stream

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = wg.y;
    let i = wg.x * 256u + lid;
    if (t >= step.n_tokens || i >= p.n) {
        return;
    }
    var sum = 0.0;
    for (var j = 0u; j < p.k; j++) {
        let a = t * p.k + j;
        sum += routes[a].weight * y[a * p.n + i];
    }
    x[t * p.n + i] += sum;
}
