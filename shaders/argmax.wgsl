// Greedy sampling: the index of the largest logit (the lowest index among equals), written to
// tokens[0], where the next decode step's embedding lookup reads it.
//
// Grid: (1, 1, 1). 256 invocations each scan a strided slice, then a tree reduction.

struct Params {
    n_vocab: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;          // (n_vocab)
@group(0) @binding(2) var<storage, read_write> tokens: array<u32>;    // tokens[0] ← the choice

const WG: u32 = 256u;
var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_i: array<u32, WG>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
    var bv = -3.4e38;
    var bi = 0xFFFFFFFFu;
    for (var i = lid; i < p.n_vocab; i += WG) {
        let v = logits[i];
        if (v > bv || bi == 0xFFFFFFFFu) {
            bv = v;
            bi = i;
        }
    }
    best_v[lid] = bv;
    best_i[lid] = bi;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            let ov = best_v[lid + s];
            let oi = best_i[lid + s];
            if (oi != 0xFFFFFFFFu && (best_i[lid] == 0xFFFFFFFFu || ov > best_v[lid] || (ov == best_v[lid] && oi < best_i[lid]))) {
                best_v[lid] = ov;
                best_i[lid] = oi;
            }
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        tokens[0] = best_i[0];
    }
}
