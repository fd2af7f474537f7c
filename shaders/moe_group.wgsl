// Groups the routes of a submit by expert, for the expert matmuls of a prompt:
//
//   counts[e]                            = #{a : routes[a].expert == e}
//   offsets[e]                           = Σ_{e' < e} counts[e'],   offsets[E] = Σ_e counts[e]
//   order[offsets[e] .. offsets[e + 1]]  = the routes a of expert e, ascending
//
// over the routes a = t · k + j (t < n_tokens, j < k) that the router wrote. A route whose expert
// is ≥ E is in no group (the router never writes one).
//
// The result does not depend on thread timing: expert e has H = 256 / E helper invocations,
// helper h owning the h-th contiguous segment of the routes. Each helper counts its segment's
// routes of e, then writes them in route order after those of the helpers before it.
//
// Grid: (1, 1, 1). One workgroup of 256 invocations, E ≤ 256 (one helper each from 129 experts up).

struct Route {
    expert: u32,
    weight: f32,
}

struct Params {
    n_expert: u32,    // E, 1 ..= 256
    k: u32,           // routes per token
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> routes: array<Route>;          // (n_tokens · k)
@group(0) @binding(3) var<storage, read_write> counts: array<u32>;      // (E)
@group(0) @binding(4) var<storage, read_write> offsets: array<u32>;     // (E + 1)
@group(0) @binding(5) var<storage, read_write> order: array<u32>;       // (n_tokens · k) route indices

const WG: u32 = 256u;
var<workgroup> segment_count: array<u32, WG>;     // routes of the helper's expert in its segment
var<workgroup> expert_count: array<u32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
    let n_routes = step.n_tokens * p.k;
    let helpers = WG / p.n_expert;
    let e = lid / helpers;
    let h = lid % helpers;
    let has_expert = e < p.n_expert;
    let segment = (n_routes + helpers - 1u) / helpers;
    let begin = min(h * segment, n_routes);
    let end = min(begin + segment, n_routes);

    var mine = 0u;
    if (has_expert) {
        for (var a = begin; a < end; a++) {
            mine += u32(routes[a].expert == e);
        }
    }
    segment_count[lid] = mine;
    workgroupBarrier();

    // This helper's place among its expert's routes, and the expert's total.
    var before = 0u;
    var total = 0u;
    if (has_expert) {
        for (var i = 0u; i < helpers; i++) {
            let c = segment_count[e * helpers + i];
            before += select(0u, c, i < h);
            total += c;
        }
        if (h == 0u) {
            expert_count[e] = total;
        }
    }
    workgroupBarrier();
    if (!has_expert) {
        return;
    }

    var start = 0u;
    for (var i = 0u; i < e; i++) {
        start += expert_count[i];
    }
    if (h == 0u) {
        counts[e] = total;
        offsets[e] = start;
        if (e == p.n_expert - 1u) {
            offsets[p.n_expert] = start + total;
        }
    }
    var at = start + before;
    for (var a = begin; a < end; a++) {
        if (routes[a].expert == e) {
            order[at] = a;
            at++;
        }
    }
}
