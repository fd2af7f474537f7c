// Storing local Files or a Blob (only when asked, with `store: true`; otherwise they are read in
// place, see local.js): read in shard-sized slices (one in memory at a time), each stored like a
// downloaded shard.

import { missingShards, shardCount, shardSpan } from './manifest.js';
import { readSlice } from './local.js';
import { throwIfAborted } from './signal.js';
import { sha256Hex } from './verify.js';
import { storeShard } from './write.js';

/**
 * Store every shard the manifest lacks from the blobs (one per part). `manifest` is updated in place.
 * @param {object} manifest a manifest whose parts are the blobs, in order
 * @param {Blob[]} blobs
 * @param {object} options
 * @param {(bytes: number) => void} options.onBytes progress, in stored bytes
 * @param {(part: number, index: number) => void} [options.onStored] called for each shard stored
 * @param {AbortSignal} [options.signal]
 * @returns {Promise<void>}
 * @throws {WebmoeError} when a file cannot be read (moved, deleted or changed since it was chosen)
 * @throws {QuotaExceededError} when storage ran out while writing
 * @throws {AbortError} when the signal aborts
 */
export async function importMissing(manifest, blobs, { onBytes, onStored = () => {}, signal }) {
  for (const task of missingShards(manifest)) {
    throwIfAborted(signal);
    const bytes = await readSlice(blobs[task.part], task.start, task.length, manifest.sources[task.part]);
    await storeShard(manifest, task.part, task.index, bytes);
    onStored(task.part, task.index);
    onBytes(task.length);
  }
}

/**
 * The key of a Blob, which has no name or date to tell it apart: the SHA-256 of its shards' hashes
 * (so the same bytes find their stored copy). Reads the whole blob once, a shard at a time.
 * @param {Blob} blob
 * @param {number} shardSize
 * @param {AbortSignal} [signal]
 * @returns {Promise<string>} "blob:<hex>"
 * @throws {WebmoeError} when the blob cannot be read
 * @throws {AbortError} when the signal aborts
 */
export async function blobKey(blob, shardSize, signal) {
  const hashes = [];
  for (let index = 0; index < shardCount(blob.size, shardSize); index += 1) {
    throwIfAborted(signal);
    const { start, length } = shardSpan(blob.size, shardSize, index);
    hashes.push(await sha256Hex(await readSlice(blob, start, length, 'blob')));
  }
  const text = `${blob.size}:${shardSize}:${hashes.join(',')}`;
  return `blob:${await sha256Hex(new TextEncoder().encode(text))}`;
}
