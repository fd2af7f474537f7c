// RoPE on the queries and keys of each token, and the append of its keys and values to the cache.
//
// GGUF stores Q/K rows so that RoPE rotates adjacent pairs: for each head and pair i < rope_pairs,
//   (x[2i], x[2i+1]) ← (x[2i]·cos − x[2i+1]·sin, x[2i]·sin + x[2i+1]·cos),  angle = pos · θ^(−2i/rope_dim)
// with cos/sin precomputed on the CPU per (pos, i). Pairs past rope_pairs are left as they are.
// The cache holds (max_ctx, kv_dim) values per layer, f16 pairs packed in a u32 (KV_F16) or f32.
//
// Grid: (1, n_tokens); 256 invocations stride over the pairs.

override KV_F16: bool = true;

struct Params {
    n_head: u32,
    n_head_kv: u32,
    head_dim: u32,
    rope_pairs: u32,   // rope_dim / 2
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> rope: array<vec2<f32>>;     // (max_ctx, rope_pairs): (cos, sin)
@group(0) @binding(3) var<storage, read_write> q: array<f32>;        // (n_tokens, n_head · head_dim)
@group(0) @binding(4) var<storage, read> k: array<f32>;              // (n_tokens, kv_dim)
@group(0) @binding(5) var<storage, read> v: array<f32>;              // (n_tokens, kv_dim)
@group(0) @binding(6) var<storage, read_write> k_cache: array<u32>;  // (max_ctx, kv_dim) f16 pairs or f32
@group(0) @binding(7) var<storage, read_write> v_cache: array<u32>;

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
    for (var j = lid; j < q_pairs; j += 256u) {
        let o = t * q_pairs * 2u + 2u * j;
        let r = rotated(q[o], q[o + 1u], pos, j % half_dim);
        q[o] = r.x;
        q[o + 1u] = r.y;
    }
    for (var j = lid; j < kv_pairs; j += 256u) {
        let o = t * kv_pairs * 2u + 2u * j;
        let cache_pair = pos * kv_pairs + j;
        store_pair(true, cache_pair, rotated(k[o], k[o + 1u], pos, j % half_dim));
        store_pair(false, cache_pair, vec2<f32>(v[o], v[o + 1u]));
    }
}
