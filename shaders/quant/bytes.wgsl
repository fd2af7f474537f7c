// Byte access into a weight page `w` (declared by the kernel as array<u32>) holding GGUF blocks
// exactly as the file stores them, and the unpacking shared by the decoders.
//
// Every decoder defines `load32(row, c) -> array<vec4<f32>, 8>`: values 32c .. 32c + 31 of the
// row starting at byte `row`, element i holding values 32c + 4i .. + 3. A chunk of 32 values is
// one block of the 32-value formats and one sub-block of 32 of the 256-value K-quants (c / 8 is
// the super-block, c % 8 the sub-block), so each call decodes its block's scales once. Rows are a
// multiple of 32 values long.
//
// Every decoder also defines the matvec's unit of work, the piece: 32 values of a row whose
// bytes lie together, so that invocations taking pieces g, g + 1, … read neighbouring words.
// `load_piece(row, g) -> array<vec4<f32>, 8>` decodes piece g; element r holds the 4 values
// from `piece_run(g, r)` on (a multiple of 4). The 32-value formats and the float types take
// their chunks as pieces (quant/chunk_pieces.wgsl); the K-quants, whose chunks of 32 values are
// spread over the super-block, define their own.
//
// Blocks are not always 4-byte aligned (Q4_0 is 18 bytes, Q3_K 110), so reads at such offsets
// combine neighbouring words. Pages are padded to 4 bytes, so the last word of a read that ends
// inside the page exists. Formats whose block size is a multiple of 4 (Q4_1, Q5_1, Q2_K, Q4_K,
// Q5_K, and the float types, whose rows are 32 values) read whole words directly.

// Words k .. k + 3.
fn w_x4(k: u32) -> vec4<u32> {
    return vec4<u32>(w[k], w[k + 1u], w[k + 2u], w[k + 3u]);
}

// The 16 bytes b .. b + 15 as four little-endian u32, for any b.
fn w_x4_at(b: u32) -> vec4<u32> {
    let k = b >> 2u;
    let lo = w_x4(k);
    let shift = (b & 3u) * 8u;
    if (shift == 0u) {
        return lo;
    }
    let hi = vec4<u32>(lo.yzw, w[k + 4u]);
    return (lo >> vec4<u32>(shift)) | (hi << vec4<u32>(32u - shift));
}

// The u32 formed by bytes b .. b + 3 (little-endian), for any b.
fn w_u32_at(b: u32) -> u32 {
    let shift = (b & 3u) * 8u;
    let lo = w[b >> 2u];
    if (shift == 0u) {
        return lo;
    }
    return (lo >> shift) | (w[(b >> 2u) + 1u] << (32u - shift));
}

// The 8 bytes b .. b + 7 as two little-endian u32, for any b.
fn w_x2_at(b: u32) -> vec2<u32> {
    let k = b >> 2u;
    let lo = vec2<u32>(w[k], w[k + 1u]);
    let shift = (b & 3u) * 8u;
    if (shift == 0u) {
        return lo;
    }
    let hi = vec2<u32>(lo.y, w[k + 2u]);
    return (lo >> vec2<u32>(shift)) | (hi << vec2<u32>(32u - shift));
}

// The byte at offset b.
fn w_u8(b: u32) -> u32 {
    return (w[b >> 2u] >> ((b & 3u) * 8u)) & 0xFFu;
}

// The u16 at an even byte offset b.
fn w_u16(b: u32) -> u32 {
    return (w[b >> 2u] >> ((b & 2u) * 8u)) & 0xFFFFu;
}

// The f16 at an even byte offset b, widened.
fn w_f16(b: u32) -> f32 {
    return unpack2x16float(w_u16(b)).x;
}

// Four signed bytes packed in a u32, widened (byte 0 in .x).
fn i8x4(v: u32) -> vec4<f32> {
    return vec4<f32>(vec4<i32>(bitcast<i32>(v << 24u), bitcast<i32>(v << 16u), bitcast<i32>(v << 8u), bitcast<i32>(v)) >> vec4<u32>(24u));
}

// Four unsigned bytes packed in a u32, widened (byte 0 in .x).
fn u8x4(v: u32) -> vec4<f32> {
    return vec4<f32>(vec4<u32>(v, v >> 8u, v >> 16u, v >> 24u) & vec4<u32>(0xFFu));
}

// The low four bits of v spread to bit 0 of each byte (bit 0 to byte 0): one bit per value, as in
// the 5th-bit masks of Q5_0/Q5_1. The four shifted copies of the bits do not overlap, so the
// product has no carries.
fn bits_to_bytes(v: u32) -> u32 {
    return ((v & 0xFu) * 0x00204081u) & 0x01010101u;
}

// The 6-bit (scale, min) of Q4_K/Q5_K sub-block s (0..8) from the 12 bytes k at the 4-byte
// aligned offset `at`:
// s < 4: scale = k[s] & 63, min = k[s + 4] & 63;
// s ≥ 4: scale = (k[s + 4] & 0xF) | (k[s - 4] >> 6) << 4, min = (k[s + 4] >> 4) | (k[s] >> 6) << 4.
fn scale_min_k4(at: u32, s: u32) -> vec2<u32> {
    let k = at >> 2u;
    let shift = 8u * (s % 4u);
    // Bytes s % 4 of the three words: k[s % 4], k[s % 4 + 4], k[s % 4 + 8].
    let b = (vec3<u32>(w[k], w[k + 1u], w[k + 2u]) >> vec3<u32>(shift)) & vec3<u32>(0xFFu);
    if (s < 4u) {
        return b.xy & vec2<u32>(63u);
    }
    return vec2<u32>(b.z & 0x0Fu, b.z >> 4u) | ((b.xy >> vec2<u32>(6u)) << vec2<u32>(4u));
}
