// Causal grouped-query attention of each token's queries over the KV cache:
//
//   out[t, h, :] = Σ_{j ≤ pos} softmax_j(q[t, h] · K[j, g] / sqrt(head_dim)) · V[j, g, :]
//
// with pos = pos0 + t and kv head g = h / (n_head / n_head_kv); on a sliding layer (window > 0)
// j runs over the last `window` positions only, pos − window < j ≤ pos. With HAS_SINKS each head's
// sink logit sinks[h] joins the softmax's denominator and weighs no value: the online softmax
// starts from it (m = sinks[h], l = 1) instead of from nothing. One workgroup per (head, token)
// walks the cache in tiles of 64 positions with an online softmax: each tile's scores are
// computed one position per invocation, then every invocation rescales its running output
// dimensions by exp(m_old − m_new) and adds the tile's weighted values. Every invocation sums
// the tile's probabilities in the same order, so all agree on the normaliser.
//
// Grid: (n_head, n_tokens). 64 invocations; invocation i owns dims i, i+64, i+128, i+192.

override KV_F16: bool = true;
override HAS_SINKS: bool = false;

struct Params {
    n_head: u32,
    n_head_kv: u32,
    head_dim: u32,    // at most 256, even
    scale: f32,       // 1 / sqrt(head_dim)
    q_stride: u32,    // elements between tokens' query rows
    window: u32,      // positions a query attends to, its own included; 0: all
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> q: array<f32>;           // (n_tokens, q_stride): queries first
@group(0) @binding(3) var<storage, read> k_cache: array<u32>;     // (max_ctx, kv_dim) f16 pairs or f32
@group(0) @binding(4) var<storage, read> v_cache: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;   // (n_tokens, n_head · head_dim)
@group(0) @binding(6) var<storage, read> sinks: array<f32>;       // (n_head)

const TILE: u32 = 64u;
const MAX_DIMS_PER_INVOCATION: u32 = 4u;

var<workgroup> q_tile: array<f32, 256>;
var<workgroup> probs: array<f32, TILE>;

// Cache values e and e+1 (e even) as a pair.
fn k_pair(e: u32) -> vec2<f32> {
    if (KV_F16) {
        return unpack2x16float(k_cache[e / 2u]);
    }
    return vec2<f32>(bitcast<f32>(k_cache[e]), bitcast<f32>(k_cache[e + 1u]));
}

fn v_at(e: u32) -> f32 {
    if (KV_F16) {
        let pair = unpack2x16float(v_cache[e / 2u]);
        return select(pair.x, pair.y, (e & 1u) == 1u);
    }
    return bitcast<f32>(v_cache[e]);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let h = wg.x;
    let t = wg.y;
    if (t >= step.n_tokens) {
        return;
    }
    let hd = p.head_dim;
    let kv_dim = p.n_head_kv * hd;
    let g = h / (p.n_head / p.n_head_kv);
    let q_base = t * p.q_stride + h * hd;
    let out_base = (t * p.n_head + h) * hd;
    for (var d = lid; d < hd; d += TILE) {
        q_tile[d] = q[q_base + d] * p.scale;
    }
    workgroupBarrier();

    let n_ctx = step.pos0 + t + 1u;
    var first = 0u;
    if (p.window > 0u && n_ctx > p.window) {
        first = n_ctx - p.window;
    }
    var m = -3.0e38;
    var l = 0.0;
    if (HAS_SINKS) {
        m = sinks[h];
        l = 1.0;
    }
    var acc: array<f32, MAX_DIMS_PER_INVOCATION>;
    for (var tile = first; tile < n_ctx; tile += TILE) {
        let j = tile + lid;
        var s = -3.0e38;
        if (j < n_ctx) {
            let kb = j * kv_dim + g * hd;
            var dot_qk = 0.0;
            for (var d = 0u; d < hd; d += 2u) {
                let kk = k_pair(kb + d);
                dot_qk += q_tile[d] * kk.x + q_tile[d + 1u] * kk.y;
            }
            s = dot_qk;
        }
        probs[lid] = s;
        workgroupBarrier();
        var m_tile = m;
        for (var i = 0u; i < TILE; i++) {
            m_tile = max(m_tile, probs[i]);
        }
        workgroupBarrier();
        probs[lid] = select(0.0, exp(s - m_tile), j < n_ctx);
        workgroupBarrier();
        let correction = exp(m - m_tile);
        var tile_sum = 0.0;
        for (var i = 0u; i < TILE; i++) {
            tile_sum += probs[i];
        }
        l = l * correction + tile_sum;
        let n_in_tile = min(TILE, n_ctx - tile);
        for (var c = 0u; c < MAX_DIMS_PER_INVOCATION; c++) {
            let d = lid + c * TILE;
            if (d < hd) {
                var a = acc[c] * correction;
                for (var i = 0u; i < n_in_tile; i++) {
                    a += probs[i] * v_at((tile + i) * kv_dim + g * hd + d);
                }
                acc[c] = a;
            }
        }
        m = m_tile;
        workgroupBarrier();
    }
    for (var c = 0u; c < MAX_DIMS_PER_INVOCATION; c++) {
        let d = lid + c * TILE;
        if (d < hd) {
            out[out_base + d] = acc[c] / l;
        }
    }
}
