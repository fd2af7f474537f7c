// RoPE on the queries and keys of each token, and the append of its keys and values to the cache.
//
// GGUF stores Q/K rows so that RoPE rotates adjacent pairs: for each head and pair i < rope_pairs,
//   (x[2i], x[2i+1]) ← (x[2i]·cos − x[2i+1]·sin, x[2i]·sin + x[2i+1]·cos),  angle = pos · θ^(−2i/rope_dim)
// with cos/sin precomputed on the CPU per (pos, i). Pairs past rope_pairs are left as they are.
// The cache holds (max_ctx, kv_dim) values per layer, f16 pairs packed in a u32 (KV_F16) or f32.
// Queries, keys and values come in one buffer, each token's row holding q at 0, k at k_offset
// and v at v_offset (the fused projection's output).
//
// Grid: (1, n_tokens); 256 invocations stride over the pairs.

override KV_F16: bool = true;

struct Params {
    n_head: u32,
    n_head_kv: u32,
    head_dim: u32,
    rope_pairs: u32,   // rope_dim / 2
    qkv_stride: u32,   // elements between tokens' rows
    k_offset: u32,
    v_offset: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> rope: array<vec2<f32>>;     // (max_ctx, rope_pairs): (cos, sin)
@group(0) @binding(3) var<storage, read_write> qkv: array<f32>;      // (n_tokens, qkv_stride): q | k | v
@group(0) @binding(4) var<storage, read_write> k_cache: array<u32>;  // (max_ctx, kv_dim) f16 pairs or f32
@group(0) @binding(5) var<storage, read_write> v_cache: array<u32>;

fn rotated(a: f32, b: f32, pos: u32, i: u32) -> vec2<f32> {
    if (i >= p.rope_pairs) {
        return vec2<f32>(a, b);
    }
    let cs = rope[pos * p.rope_pairs + i];
    return vec2<f32>(a * cs.x - b * cs.y, a * cs.y + b * cs.x);
}

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

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = wg.y;
    if (t >= step.n_tokens) {
        return;
    }
    let pos = step.pos0 + t;
    let half_dim = p.head_dim / 2u;
    let q_pairs = p.n_head * half_dim;
    let kv_pairs = p.n_head_kv * half_dim;
    let row = t * p.qkv_stride;
    for (var j = lid; j < q_pairs; j += 256u) {
        let o = row + 2u * j;
        let r = rotated(qkv[o], qkv[o + 1u], pos, j % half_dim);
        qkv[o] = r.x;
        qkv[o + 1u] = r.y;
    }
    for (var j = lid; j < kv_pairs; j += 256u) {
        let ko = row + p.k_offset + 2u * j;
        let vo = row + p.v_offset + 2u * j;
        let cache_pair = pos * kv_pairs + j;
        store_pair(true, cache_pair, rotated(qkv[ko], qkv[ko + 1u], pos, j % half_dim));
        store_pair(false, cache_pair, vec2<f32>(qkv[vo], qkv[vo + 1u]));
    }
}
