// Split a GGUF file into parts as llama.cpp's gguf-split does (`name-00001-of-00002.gguf`, …):
// the first part keeps every metadata key, each part gets `split.no`, `split.count` and
// `split.tensors.count`, and the tensors are dealt out in file order, each part with its own
// tensor table and data section. For the tests of split models given as Files.
//
//   const parts = splitGguf(bytes, 2);   // [Uint8Array, Uint8Array]

const VALUE_SIZES = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;
const U16 = 2;
const I32 = 5;

/** A reader of little-endian GGUF fields over `bytes`. */
function cursor(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const take = (n) => {
    const start = at;
    at += n;
    return start;
  };
  return {
    get at() {
      return at;
    },
    u32: () => view.getUint32(take(4), true),
    u64: () => Number(view.getBigUint64(take(8), true)),
    string() {
      const length = this.u64();
      return new TextDecoder().decode(bytes.subarray(take(length), at));
    },
    skipValue(type) {
      if (type === STRING) {
        take(this.u64());
      } else if (type === ARRAY) {
        const element = this.u32();
        const count = this.u64();
        for (let i = 0; i < count; i += 1) this.skipValue(element);
      } else {
        if (!(type in VALUE_SIZES)) throw new Error(`unknown GGUF value type ${type} at byte ${at}`);
        take(VALUE_SIZES[type]);
      }
    },
  };
}

/** The header of a GGUF file: raw metadata entries, the tensor table, alignment and data start. */
function parse(bytes) {
  const c = cursor(bytes);
  if (new TextDecoder().decode(bytes.subarray(0, 4)) !== 'GGUF') throw new Error('not a GGUF file');
  c.u32();
  c.u32();
  const tensorCount = c.u64();
  const metadataCount = c.u64();
  const metadata = [];
  let alignment = 32;
  for (let i = 0; i < metadataCount; i += 1) {
    const start = c.at;
    const key = c.string();
    const typeAt = c.at;
    const type = c.u32();
    if (key === 'general.alignment') alignment = new DataView(bytes.buffer, bytes.byteOffset).getUint32(typeAt + 4, true);
    c.skipValue(type);
    metadata.push({ key, raw: bytes.subarray(start, c.at) });
  }
  const tensors = [];
  for (let i = 0; i < tensorCount; i += 1) {
    const name = c.string();
    const nDims = c.u32();
    const dims = Array.from({ length: nDims }, () => c.u64());
    const type = c.u32();
    const offset = c.u64();
    tensors.push({ name, dims, type, offset });
  }
  const dataStart = Math.ceil(c.at / alignment) * alignment;
  // Each tensor's bytes run to the next tensor's offset (its padding included), the last to the end.
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
  byOffset.forEach((tensor, i) => {
    tensor.length = (i + 1 < byOffset.length ? byOffset[i + 1].offset : bytes.length - dataStart) - tensor.offset;
  });
  return { metadata, tensors, alignment, dataStart };
}

/** A growing little-endian byte buffer. */
function writer() {
  const chunks = [];
  let length = 0;
  const push = (chunk) => {
    chunks.push(chunk);
    length += chunk.length;
  };
  const number = (size, set) => {
    const chunk = new Uint8Array(size);
    set(new DataView(chunk.buffer));
    push(chunk);
  };
  return {
    get length() {
      return length;
    },
    bytes: push,
    u16: (n) => number(2, (v) => v.setUint16(0, n, true)),
    u32: (n) => number(4, (v) => v.setUint32(0, n, true)),
    i32: (n) => number(4, (v) => v.setInt32(0, n, true)),
    u64: (n) => number(8, (v) => v.setBigUint64(0, BigInt(n), true)),
    string(text) {
      const encoded = new TextEncoder().encode(text);
      this.u64(encoded.length);
      push(encoded);
    },
    pad(alignment) {
      push(new Uint8Array((alignment - (length % alignment)) % alignment));
    },
    finish() {
      const out = new Uint8Array(length);
      let at = 0;
      for (const chunk of chunks) {
        out.set(chunk, at);
        at += chunk.length;
      }
      return out;
    },
  };
}

/**
 * The parts of a GGUF file split in `count`.
 * @param {Uint8Array} bytes a GGUF v3 file
 * @param {number} count parts, at most one per tensor
 * @returns {Uint8Array[]}
 */
export function splitGguf(bytes, count) {
  const { metadata, tensors, alignment, dataStart } = parse(bytes);
  const perPart = Math.ceil(tensors.length / count);
  return Array.from({ length: count }, (_, no) => {
    const mine = tensors.slice(no * perPart, (no + 1) * perPart);
    const kept = no === 0 ? metadata : metadata.filter((entry) => entry.key === 'general.alignment');
    const w = writer();
    w.bytes(new TextEncoder().encode('GGUF'));
    w.u32(3);
    w.u64(mine.length);
    w.u64(kept.length + 3);
    for (const entry of kept) w.bytes(entry.raw);
    w.string('split.no');
    w.u32(U16);
    w.u16(no);
    w.string('split.count');
    w.u32(U16);
    w.u16(count);
    w.string('split.tensors.count');
    w.u32(I32);
    w.i32(tensors.length);
    let offset = 0;
    for (const tensor of mine) {
      w.string(tensor.name);
      w.u32(tensor.dims.length);
      for (const dim of tensor.dims) w.u64(dim);
      w.u32(tensor.type);
      w.u64(offset);
      offset += Math.ceil(tensor.length / alignment) * alignment;
    }
    w.pad(alignment);
    for (const tensor of mine) {
      w.bytes(bytes.subarray(dataStart + tensor.offset, dataStart + tensor.offset + tensor.length));
      w.pad(alignment);
    }
    return w.finish();
  });
}
