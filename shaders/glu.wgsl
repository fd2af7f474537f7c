// The gated activation of an FFN, act = glu(gate, up), for the kernels that produce it (the
// matvec's and matmul's SwiGLU epilogues, the stacked gate | up activation):
// - GLU = 0: SwiGLU, silu(gate) · up;
// - GLU = 1: gpt-oss's clamped SwiGLU (ggml_swiglu_oai): g = min(gate, GLU_LIMIT),
//   u = clamp(up, −GLU_LIMIT, GLU_LIMIT), g · sigmoid(GLU_ALPHA · g) · (u + 1).

override GLU: u32 = 0u;
override GLU_ALPHA: f32 = 1.702;
override GLU_LIMIT: f32 = 7.0;

fn glu(gate: f32, up: f32) -> f32 {
    if (GLU == 1u) {
        let g = min(gate, GLU_LIMIT);
        let u = clamp(up, -GLU_LIMIT, GLU_LIMIT);
        return g / (1.0 + exp(-GLU_ALPHA * g)) * (u + 1.0);
    }
    return silu(gate) * up;
}
