// The queries and keys of each token made ready for attention, and the append of its keys and
// values to the cache. For each query head and each kv head of the token:
//
//   x = x + b                                              (BIAS: b laid out like a q | k | v row)
//   x = x / sqrt(mean(x²) + eps) · norm_w                  (q and k only. QK_NORM 1: RMSNorm over the
//                                                            head's head_dim values, norm_w of one head;
//                                                            QK_NORM 2: the mean over the whole q (or k)
//                                                            projection, norm_w of the whole projection)
//   (x[a], x[b]) ← (x[a]·cos − x[b]·sin, x[a]·sin + x[b]·cos)   (q and k, pairs i < rope_pairs)
//
// with angle = pos · θ^(−2i/rope_dim) (cos/sin precomputed on the CPU per (pos, i)) and the pair
// (a, b) = (2i, 2i + 1) (llama.cpp's "normal" RoPE; GGUF stores llama Q/K rows permuted for it) or
// (i, i + rope_pairs) with NEOX (rotate-half: qwen2, qwen3). Dims past 2·rope_pairs keep their value.
// Rotated queries are written back in place times q_factor; keys, and values times v_factor, go to
// the cache, which holds (max_ctx, kv_dim) values per layer, f16 pairs packed in a u32 (KV_F16) or
// f32. The factors are 1 but for granite's multipliers: attention.scale · sqrt(head_dim) on the
// queries, since attention divides the scores by sqrt(head_dim); residual_scale on the values,
// since attention and the output projection are linear in them.
// Queries, keys and values come in one buffer, each token's row holding q at 0, k at k_offset
// and v at v_offset (the fused projection's output).
//
// Grid: (n_head + n_head_kv, n_tokens), one head per workgroup (units = 1): head u < n_head is
// query head u, the others kv head u − n_head (its key, then its value). With QK_NORM 2 the grid is
// (1, n_tokens) and the token's one workgroup takes every head in turn (units = n_head + n_head_kv),
// after summing the squares of the whole q and k projections: queries are rotated in place, so no
// other workgroup may still be reading them. 64 invocations stride over a head's values, held in
// workgroup memory between the steps (head_dim ≤ 256).

override KV_F16: bool = true;
override NEOX: bool = false;
override BIAS: bool = false;
override QK_NORM: u32 = 0u;   // 0: none, 1: per head, 2: over the whole projection

struct Params {
    n_head: u32,
    n_head_kv: u32,
    head_dim: u32,     // even, ≤ 256
    rope_pairs: u32,   // rope_dim / 2
    qkv_stride: u32,   // elements between tokens' rows
    k_offset: u32,
    v_offset: u32,
    eps: f32,          // QK_NORM epsilon
    units: u32,        // heads (query heads, then kv heads) each workgroup treats in turn
    q_factor: f32,
    v_factor: f32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> rope: array<vec2<f32>>;     // (max_ctx, rope_pairs): (cos, sin)
@group(0) @binding(3) var<storage, read_write> qkv: array<f32>;      // (n_tokens, qkv_stride): q | k | v
@group(0) @binding(4) var<storage, read_write> k_cache: array<u32>;  // (max_ctx, kv_dim) f16 pairs or f32
@group(0) @binding(5) var<storage, read_write> v_cache: array<u32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;           // (qkv_stride): q | k | v biases
@group(0) @binding(7) var<storage, read> q_norm: array<f32>;         // (head_dim), QK_NORM 2: (n_head·head_dim)
@group(0) @binding(8) var<storage, read> k_norm: array<f32>;         // (head_dim), QK_NORM 2: (n_head_kv·head_dim)

const WG: u32 = 64u;
const MAX_HEAD_DIM: u32 = 256u;
var<workgroup> head: array<f32, MAX_HEAD_DIM>;
var<workgroup> partial: array<f32, WG>;

fn store_pair(cache_is_k: bool, index: u32, val: vec2<f32>) {
    // index: the pair's position in the cache, counted in pairs
    if (KV_F16) {
        if (cache_is_k) {
            k_cache[index] = pack2x16float(val);
        } else {
            v_cache[index] = pack2x16float(val);
        }
    } else {
        if (cache_is_k) {
            k_cache[2u * index] = bitcast<u32>(val.x);
            k_cache[2u * index + 1u] = bitcast<u32>(val.y);
        } else {
            v_cache[2u * index] = bitcast<u32>(val.x);
            v_cache[2u * index + 1u] = bitcast<u32>(val.y);
        }
    }
}

// Element `e` of this token's row, with its bias.
fn biased(row: u32, e: u32) -> f32 {
    var v = qkv[row + e];
    if (BIAS) {
        v += bias[e];
    }
    return v;
}

// Σ partial[0..WG) into partial[0], read back by every invocation.
fn workgroup_sum(lid: u32, mine: f32) -> f32 {
    workgroupBarrier();
    partial[lid] = mine;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            partial[lid] += partial[lid + s];
        }
        workgroupBarrier();
    }
    return partial[0];
}

// 1 / sqrt(mean(x²) + eps) over the n values of the row from `start`, biases included.
fn rms_scale(row: u32, start: u32, n: u32, lid: u32) -> f32 {
    var ss = 0.0;
    for (var e = lid; e < n; e += WG) {
        let v = biased(row, start + e);
        ss += v * v;
    }
    return inverseSqrt(workgroup_sum(lid, ss) / f32(n) + p.eps);
}

// Head `u` of token `t`: biases, the q/k norm (`whole_scale`: the whole projection's, for
// QK_NORM 2), RoPE, then back in place (queries) or into the caches (keys and values).
fn one_head(t: u32, u: u32, lid: u32, whole_scale: f32) {
    let pos = step.pos0 + t;
    let hd = p.head_dim;
    let row = t * p.qkv_stride;
    let is_q = u < p.n_head;
    let g = u - select(p.n_head, 0u, is_q);   // the kv head, when not a query head
    let offset = select(p.k_offset + g * hd, u * hd, is_q);
    // The kv head's cache pairs start here.
    let cache_pair = pos * p.n_head_kv * (hd / 2u) + g * (hd / 2u);

    if (!is_q) {
        let vo = p.v_offset + g * hd;
        for (var j = lid; j < hd / 2u; j += WG) {
            store_pair(false, cache_pair + j, p.v_factor * vec2<f32>(biased(row, vo + 2u * j), biased(row, vo + 2u * j + 1u)));
        }
    }

    workgroupBarrier();
    for (var d = lid; d < hd; d += WG) {
        head[d] = biased(row, offset + d);
    }
    if (QK_NORM != 0u) {
        var scale = whole_scale;
        // Where this head's values are in the norm weights: they span one head, or the projection.
        var norm_base = 0u;
        if (QK_NORM == 1u) {
            scale = rms_scale(row, offset, hd, lid);
        } else {
            norm_base = offset - select(p.k_offset, 0u, is_q);
        }
        for (var d = lid; d < hd; d += WG) {
            head[d] *= scale * select(k_norm[norm_base + d], q_norm[norm_base + d], is_q);
        }
    }
    workgroupBarrier();

    for (var i = lid; i < p.rope_pairs; i += WG) {
        var a = 2u * i;
        var b = 2u * i + 1u;
        if (NEOX) {
            a = i;
            b = i + p.rope_pairs;
        }
        let cs = rope[pos * p.rope_pairs + i];
        let x = head[a];
        let y = head[b];
        head[a] = x * cs.x - y * cs.y;
        head[b] = x * cs.y + y * cs.x;
    }
    workgroupBarrier();

    if (is_q) {
        for (var d = lid; d < hd; d += WG) {
            qkv[row + offset + d] = head[d] * p.q_factor;
        }
    } else {
        for (var j = lid; j < hd / 2u; j += WG) {
            store_pair(true, cache_pair + j, vec2<f32>(head[2u * j], head[2u * j + 1u]));
        }
    }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = wg.y;
    if (t >= step.n_tokens) {
        return;
    }
    var q_scale = 1.0;
    var k_scale = 1.0;
    if (QK_NORM == 2u) {
        let row = t * p.qkv_stride;
        q_scale = rms_scale(row, 0u, p.n_head * p.head_dim, lid);
        k_scale = rms_scale(row, p.k_offset, p.n_head_kv * p.head_dim, lid);
    }
    for (var i = 0u; i < p.units; i++) {
        let u = wg.x * p.units + i;
        one_head(t, u, lid, select(k_scale, q_scale, u < p.n_head));
    }
}
