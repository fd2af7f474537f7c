// Random access to a stored model: reads at any offset and length, across shard and part
// boundaries, served from a cache of recently read shards whose total size stays within a RAM budget.

import { DownloadError, EngineUnavailableError, InvalidOptionError } from '../errors.js';
import { getShard } from './db.js';

/**
 * Recently read shards, least recently used first out. Holds at most `budget` bytes; a shard larger
 * than the whole budget is returned without being kept. Concurrent requests for the same shard share
 * one IndexedDB read.
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
 * A stored model, read at random offsets. Offsets of `read` run over all parts in order; each of
 * `parts` reads its own part with part-relative offsets.
 */
export class ModelReader {
  /**
   * @param {object} manifest a complete manifest record (see manifest.js)
   * @param {number} ramBudget bytes of shards kept in memory between reads
   */
  constructor(manifest, ramBudget) {
    /** The model's key in the store (see listCached / deleteCached). */
    this.key = manifest.key;
    /** Bytes of all parts together. */
    this.size = manifest.size;
    this.manifest = manifest;
    this.closed = false;
    this.nextOffsets = new Map();
    this.cache = new ShardCache(ramBudget, (part, index) => this.loadShard(part, index));
    let start = 0;
    this.partStarts = manifest.parts.map((part) => {
      const partStart = start;
      start += part.size;
      return partStart;
    });
    /**
     * One reader per part (split GGUF files), in order. `read(offset, length)` takes offsets within
     * the part and throws as `ModelReader.read` does (InvalidOptionError outside the part,
     * EngineUnavailableError after close, DownloadError for a damaged stored shard).
     * @type {{size: number, read: (offset: number, length: number) => Promise<Uint8Array>}[]}
     */
    this.parts = manifest.parts.map((part, partIndex) => ({
      size: part.size,
      read: async (offset, length) => {
        checkSpan(offset, length, part.size, `part ${partIndex}`);
        const out = new Uint8Array(length);
        await this.readInto(partIndex, offset, out, 0, length);
        return out;
      },
    }));
  }

  /**
   * Bytes of shards held in the RAM cache now (never more than the budget given to openModel).
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
   * @throws {DownloadError} when a stored shard has disappeared or is damaged (load the model again)
   */
  async read(offset, length) {
    checkSpan(offset, length, this.size, 'the model');
    const out = new Uint8Array(length);
    let done = 0;
    let part = this.partAt(offset);
    while (done < length) {
      const inPart = offset + done - this.partStarts[part];
      const count = Math.min(length - done, this.manifest.parts[part].size - inPart);
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
    const shardSize = this.manifest.shardSize;
    let done = 0;
    while (done < length) {
      if (this.closed)
        throw new EngineUnavailableError('This model reader was closed; open the model again to read it.');
      const position = offset + done;
      const index = Math.floor(position / shardSize);
      const shard = await this.cache.get(part, index);
      const inShard = position - index * shardSize;
      const count = Math.min(length - done, shard.byteLength - inShard);
      out.set(shard.subarray(inShard, inShard + count), outOffset + done);
      done += count;
    }
    this.readAhead(part, offset, length);
  }

  /**
   * A read that starts where the previous read of the part ended is taken as a sequential scan
   * (weights streamed to the GPU): the shard holding the next byte, when not in memory yet, is read
   * from IndexedDB now, while the caller is busy with these bytes. Only when the budget holds two
   * shards, so that it never pushes out the shard being read.
   */
  readAhead(part, offset, length) {
    const end = offset + length;
    const sequential = this.nextOffsets.get(part) === offset;
    this.nextOffsets.set(part, end);
    const shardSize = this.manifest.shardSize;
    const index = Math.floor(end / shardSize);
    if (
      !sequential ||
      this.cache.budget < 2 * shardSize ||
      index >= this.manifest.parts[part].shards.length ||
      this.cache.has(part, index)
    )
      return;
    this.cache.get(part, index).catch(() => {});
  }

  async loadShard(part, index) {
    const record = this.manifest.parts[part].shards[index];
    const bytes = await getShard(this.key, part, index);
    if (!record || bytes === undefined || bytes.byteLength !== record.length) {
      throw new DownloadError(
        `The stored copy of ${this.key} is damaged (shard ${index} of part ${part} is missing or has ` +
          'the wrong length). Load the model again: the damaged shard is downloaded again.',
        { key: this.key, part, shard: index },
      );
    }
    return bytes;
  }
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
