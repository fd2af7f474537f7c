// The FFN activation from a stacked gate | up projection (the prompt path, where the tiled
// matmul writes both halves):
//
//   act[a, n] = glu(gate_up[a, n], gate_up[a, f + n])      (shaders/glu.wgsl)
//
// Grid: (ceil(f / 256), n_tokens · per_token).

struct Params {
    f: u32,           // FFN width: half a gate_up row
    per_token: u32,   // rows per token: 1, or the experts used per token
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> gate_up: array<f32>;   // (rows, 2f)
@group(0) @binding(3) var<storage, read_write> act: array<f32>; // (rows, f)

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let a = wg.y;
    let n = wg.x * 256u + lid;
    if (a >= step.n_tokens * p.per_token || n >= p.f) {
        return;
    }
    let g = a * 2u * p.f;
    act[a * p.f + n] = glu(gate_up[g + n], gate_up[g + p.f + n]);
}
