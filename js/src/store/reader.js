// Random access to a model: reads at any offset and length, across block and part boundaries,
// served from a cache of recently read blocks whose total size stays within a RAM budget. The
// blocks come from IndexedDB (a stored copy, block = shard), a local File (Blob.slice) or the
// model's server (Range requests); see storedReader here, blobReader (local.js), remoteReader
// (remote.js).

import { DownloadError, EngineUnavailableError, InvalidOptionError } from '../errors.js';
import { getShard } from './db.js';

/**
 * Recently read blocks, least recently used first out. Holds at most `budget` bytes; a block larger
 * than the whole budget is returned without being kept. Concurrent requests for the same block share
 * one read.
 */
class ShardCache {
  constructor(budget, load) {
    this.budget = budget;
    this.load = load;
    this.entries = new Map();
    this.pending = new Map();
    this.bytes = 0;
  }

  has(part, index) {
    const key = `${part}/${index}`;
    return this.entries.has(key) || this.pending.has(key);
  }

  async get(part, index) {
    const key = `${part}/${index}`;
    const cached = this.entries.get(key);
    if (cached) {
      this.entries.delete(key);
      this.entries.set(key, cached);
      return cached;
    }
    if (!this.pending.has(key)) {
      const loading = this.load(part, index).then((bytes) => {
        this.keep(key, bytes);
        return bytes;
      });
      this.pending.set(key, loading);
      loading.finally(() => this.pending.delete(key)).catch(() => {});
    }
    return this.pending.get(key);
  }

  keep(key, bytes) {
    if (bytes.byteLength > this.budget) return;
    this.entries.set(key, bytes);
    this.bytes += bytes.byteLength;
    for (const [oldest, value] of this.entries) {
      if (this.bytes <= this.budget) break;
      this.entries.delete(oldest);
      this.bytes -= value.byteLength;
    }
  }

  clear() {
    this.entries.clear();
    this.bytes = 0;
  }
}

/**
 * A model read at random offsets, in blocks: the shards of a stored copy (IndexedDB), slices of a
 * local File, or Range requests to its server. Offsets of `read` run over all parts in order; each
 * of `parts` reads its own part with part-relative offsets. Blocks read lately are kept in memory
 * within a RAM budget, so reads that share a block (the 16 MiB windows of an upload, an expert's
 * matrices) fetch it once.
 */
export class ModelReader {
  /**
   * @param {object} layout
   * @param {string|null} layout.key the model's key in the store (null for a Blob read in place)
   * @param {'storage'|'file'|'network'} layout.origin where the bytes come from
   * @param {number[]} layout.partSizes bytes of each part, in order
   * @param {number} layout.blockSize bytes per block; a part's last block may be shorter
   * @param {number} layout.ramBudget bytes of blocks kept in memory between reads
   * @param {(part: number, index: number, start: number, length: number) => Promise<Uint8Array>} layout.loadBlock
   *   the bytes of block `index` of `part` ([start, start + length) of the part); it throws the
   *   reader's errors (DownloadError, WebmoeError)
   * @param {(part: number, start: number, length: number) => Promise<Uint8Array>} [layout.loadRange]
   *   any bytes of a part, for sources that can read any span (a File, a server): used instead of
   *   blocks when the budget cannot keep a block, so that a small read costs its own bytes only
   */
  constructor({ key, origin, partSizes, blockSize, ramBudget, loadBlock, loadRange }) {
    /** The model's key in the store (see listCached / deleteCached); null for a Blob read in place. */
    this.key = key;
    /** Where reads go: 'storage' (IndexedDB), 'file' (a local File, in place) or 'network'. */
    this.origin = origin;
    /** Bytes of all parts together. */
    this.size = partSizes.reduce((sum, size) => sum + size, 0);
    this.partSizes = partSizes;
    this.blockSize = blockSize;
    this.closed = false;
    this.nextOffsets = new Map();
    this.loadRange = ramBudget < blockSize ? loadRange : undefined;
    this.cache = new ShardCache(ramBudget, (part, index) => {
      const start = index * blockSize;
      return loadBlock(part, index, start, Math.min(blockSize, partSizes[part] - start));
    });
    let start = 0;
    this.partStarts = partSizes.map((size) => {
      const partStart = start;
      start += size;
      return partStart;
    });
    /**
     * One reader per part (split GGUF files), in order. `read(offset, length)` takes offsets within
     * the part and throws as `ModelReader.read` does (InvalidOptionError outside the part,
     * EngineUnavailableError after close, the block loader's errors).
     * @type {{size: number, read: (offset: number, length: number) => Promise<Uint8Array>}[]}
     */
    this.parts = partSizes.map((size, partIndex) => ({
      size,
      read: async (offset, length) => {
        checkSpan(offset, length, size, `part ${partIndex}`);
        const out = new Uint8Array(length);
        await this.readInto(partIndex, offset, out, 0, length);
        return out;
      },
    }));
  }

  /**
   * Bytes of blocks held in the RAM cache now (never more than the budget given to openModel).
   * @type {number}
   */
  get cachedBytes() {
    return this.cache.bytes;
  }

  /**
   * Read `length` bytes at `offset`, counted over all parts in order.
   * @param {number} offset
   * @param {number} length
   * @returns {Promise<Uint8Array>} a new array of exactly `length` bytes
   * @throws {InvalidOptionError} when the span is not inside the model
   * @throws {EngineUnavailableError} after `close()`
   * @throws {DownloadError} when a stored shard has disappeared or is damaged (load the model again),
   *   or the server fails or changed its file
   * @throws {WebmoeError} when a local file cannot be read any more
   */
  async read(offset, length) {
    checkSpan(offset, length, this.size, 'the model');
    const out = new Uint8Array(length);
    let done = 0;
    let part = this.partAt(offset);
    while (done < length) {
      const inPart = offset + done - this.partStarts[part];
      const count = Math.min(length - done, this.partSizes[part] - inPart);
      await this.readInto(part, inPart, out, done, count);
      done += count;
      part += 1;
    }
    return out;
  }

  /**
   * Drop the RAM cache; later reads throw.
   * @returns {void}
   */
  close() {
    this.closed = true;
    this.cache.clear();
  }

  partAt(offset) {
    let part = 0;
    while (part + 1 < this.partStarts.length && offset >= this.partStarts[part + 1]) part += 1;
    return part;
  }

  async readInto(part, offset, out, outOffset, length) {
    if (this.loadRange) {
      if (this.closed)
        throw new EngineUnavailableError('This model reader was closed; open the model again to read it.');
      if (length > 0) out.set(await this.loadRange(part, offset, length), outOffset);
      return;
    }
    const blockSize = this.blockSize;
    let done = 0;
    while (done < length) {
      if (this.closed)
        throw new EngineUnavailableError('This model reader was closed; open the model again to read it.');
      const position = offset + done;
      const index = Math.floor(position / blockSize);
      const block = await this.cache.get(part, index);
      const inBlock = position - index * blockSize;
      const count = Math.min(length - done, block.byteLength - inBlock);
      out.set(block.subarray(inBlock, inBlock + count), outOffset + done);
      done += count;
    }
    this.readAhead(part, offset, length);
  }

  /**
   * A read that starts where the previous read of the part ended is taken as a sequential scan
   * (weights streamed to the GPU): the block holding the next byte, when not in memory yet, is read
   * now, while the caller is busy with these bytes. Only when the budget holds two blocks, so that
   * it never pushes out the block being read.
   */
  readAhead(part, offset, length) {
    const end = offset + length;
    const sequential = this.nextOffsets.get(part) === offset;
    this.nextOffsets.set(part, end);
    const blockSize = this.blockSize;
    const index = Math.floor(end / blockSize);
    if (
      !sequential ||
      this.cache.budget < 2 * blockSize ||
      index * blockSize >= this.partSizes[part] ||
      this.cache.has(part, index)
    )
      return;
    this.cache.get(part, index).catch(() => {});
  }
}

/**
 * A reader of a complete stored model: its shards from IndexedDB, each checked for its recorded
 * length (the content was verified when it was written; `verifyStored` checks it again).
 * @param {object} manifest a complete manifest record (see manifest.js)
 * @param {number} ramBudget bytes of shards kept in memory between reads
 * @returns {ModelReader}
 */
export function storedReader(manifest, ramBudget) {
  const key = manifest.key;
  return new ModelReader({
    key,
    origin: 'storage',
    partSizes: manifest.parts.map((part) => part.size),
    blockSize: manifest.shardSize,
    ramBudget,
    async loadBlock(part, index) {
      const record = manifest.parts[part].shards[index];
      const bytes = await getShard(key, part, index);
      if (!record || bytes === undefined || bytes.byteLength !== record.length) {
        throw new DownloadError(
          `The stored copy of ${key} is damaged (shard ${index} of part ${part} is missing or has ` +
            'the wrong length). Load the model again: the damaged shard is downloaded again.',
          { key, part, shard: index },
        );
      }
      return bytes;
    },
  });
}

function checkSpan(offset, length, size, what) {
  const valid =
    Number.isSafeInteger(offset) &&
    Number.isSafeInteger(length) &&
    offset >= 0 &&
    length >= 0 &&
    offset + length <= size;
  if (!valid) {
    throw new InvalidOptionError(
      `read(${offset}, ${length}) is outside ${what}, which has ${size} bytes; read within [0, ${size}).`,
      {
        option: 'offset',
      },
    );
  }
}
