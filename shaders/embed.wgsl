// Embedding lookup from a (possibly quantized) table:  out[t, :] = row tokens[t] of the table · scale
// (granite's embedding multiplier; 1 elsewhere).
//
// The table is split into pages of rows like any weight; each page's dispatch writes the tokens
// whose row it holds. Token ids were checked against the vocabulary on the CPU.
//
// Grid: (ceil(cols / 2048), n_tokens); each invocation decodes one chunk of 32 values (rows are a
// multiple of 32 values long).

struct Params {
    cols: u32,
    row_begin: u32,    // the page holds rows [row_begin, row_end)
    row_end: u32,
    row_bytes: u32,
    scale: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> w: array<u32>;          // (row_end − row_begin, row_bytes)
@group(0) @binding(3) var<storage, read> tokens: array<u32>;     // (n_tokens)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;  // (n_tokens, cols)

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = wg.y;
    let c = wg.x * 64u + lid;
    if (t >= step.n_tokens || c >= p.cols / 32u) {
        return;
    }
    let tok = tokens[t];
    if (tok < p.row_begin || tok >= p.row_end) {
        return;
    }
    let v = load32((tok - p.row_begin) * p.row_bytes, c);
    let o = t * p.cols + 32u * c;
    for (var j = 0u; j < 8u; j++) {
        for (var l = 0u; l < 4u; l++) {
            out[o + 4u * j + l] = v[j][l] * p.scale;
        }
    }
}
