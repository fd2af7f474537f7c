// Malformed GGUF files for the browser tests, made from a valid file by patching bytes in place,
// as crates/webmoe-cli/tests/bad_input.rs makes its own (layout: crates/webmoe/src/gguf/parse.rs).
// In-place patches keep every other byte where it was, so each file has exactly one thing wrong.

/** GGUF metadata value type ids of 32-bit integers (UINT32, INT32). */
const INT32_TYPES = [4, 5];

/** ggml type id of IQ2_XS, a quantization webmoe does not run. */
export const IQ2_XS = 17;

/** Four little-endian bytes of `n`. */
export function u32le(n) {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, n, true);
  return bytes;
}

/** Eight little-endian bytes of `n`. */
export function u64le(n) {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(n), true);
  return bytes;
}

/** A copy of `bytes` with `replacement` (bytes, or ASCII text) written at `at`. */
export function patched(bytes, at, replacement) {
  const copy = Uint8Array.from(bytes);
  copy.set(typeof replacement === 'string' ? new TextEncoder().encode(replacement) : replacement, at);
  return copy;
}

/**
 * Where the GGUF string (u64 length, then the bytes) holding `text` ends: its first occurrence, or
 * its last (the tensor table comes after the metadata, whose strings could repeat a name).
 */
export function afterString(bytes, text, { last = false } = {}) {
  const needle = new Uint8Array([...u64le(text.length), ...new TextEncoder().encode(text)]);
  let found = -1;
  for (let at = 0; at + needle.length <= bytes.length; at += 1) {
    let match = true;
    for (let i = 0; i < needle.length && match; i += 1) match = bytes[at + i] === needle[i];
    if (match) {
      found = at;
      if (!last) break;
    }
  }
  if (found < 0) throw new Error(`${JSON.stringify(text)} is not in the file`);
  return found + needle.length;
}

/** Offset of the bytes of a metadata key's name (to rename it in place). */
export function keyNameAt(bytes, key) {
  return afterString(bytes, key) - key.length;
}

/** Offset of the value of a 32-bit integer metadata key. */
export function int32ValueAt(bytes, key) {
  const typeAt = afterString(bytes, key);
  const type = new DataView(bytes.buffer, bytes.byteOffset).getUint32(typeAt, true);
  if (!INT32_TYPES.includes(type)) throw new Error(`${key} has value type ${type}, not a 32-bit integer`);
  return typeAt + 4;
}

/** Offset of the characters of a string metadata key's value. */
export function stringValueAt(bytes, key) {
  return afterString(bytes, key) + 4 + 8;
}

/** Offsets of a tensor table entry's fields: dimension d at `dims + 8 d`, then its type id. */
export function tensorEntry(bytes, name) {
  const nDimsAt = afterString(bytes, name, { last: true });
  const nDims = new DataView(bytes.buffer, bytes.byteOffset).getUint32(nDimsAt, true);
  const dims = nDimsAt + 4;
  return { dims, type: dims + 8 * nDims };
}
