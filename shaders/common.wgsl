// Shared by every kernel: the per-submit step values.
//
// `Step` is written once per submit (queue.writeBuffer) and read by every dispatch of it, so the
// bind groups of a forward pass are created once and replayed for every token.
struct Step {
    // Absolute position of the first token of this submit in the sequence.
    pos0: u32,
    // Tokens processed by this submit (1 for decode, the chunk length for a prompt).
    n_tokens: u32,
    // Sampler state: draws since the generation started (selects the random number), and the
    // number of ids the history ring has received so far, prompt included.
    sample_step: u32,
    n_history: u32,
}

fn silu(x: f32) -> f32 {
    return x / (1.0 + exp(-x));
}
