// Matvec pieces of the formats whose 32-value chunks already lie together (the 32-value block
// formats: one block; the float types: 32 consecutive values): piece g is chunk g.

fn piece_run(g: u32, r: u32) -> u32 {
    return 32u * g + 4u * r;
}

fn load_piece(row: u32, g: u32) -> array<vec4<f32>, 8> {
    return load32(row, g);
}
