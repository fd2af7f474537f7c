// Storing a local File or Blob: read in shard-sized slices (one in memory at a time), each stored
// like a downloaded shard.

import { WebmoeError } from '../errors.js';
import { missingShards, shardCount, shardSpan } from './manifest.js';
import { throwIfAborted } from './signal.js';
import { sha256Hex } from './verify.js';
import { storeShard } from './write.js';

/**
 * Store every shard the manifest lacks from the blob. `manifest` is updated in place.
 * @param {object} manifest a manifest of one part, the blob
 * @param {Blob} blob
 * @param {object} options
 * @param {(bytes: number) => void} options.onBytes progress, in stored bytes
 * @param {AbortSignal} [options.signal]
 * @returns {Promise<void>}
 * @throws {WebmoeError} when the file cannot be read (moved, deleted or changed since it was chosen)
 * @throws {QuotaExceededError} when storage ran out while writing
 * @throws {AbortError} when the signal aborts
 */
export async function importMissing(manifest, blob, { onBytes, signal }) {
  for (const task of missingShards(manifest)) {
    throwIfAborted(signal);
    const bytes = await readSlice(blob, task.start, task.length, manifest.sources[0]);
    await storeShard(manifest, task.part, task.index, bytes);
    onBytes(task.length);
  }
}

/**
 * A reader of a local File or Blob as one part, for `checkModel` before anything is stored.
 * @param {Blob} blob
 * @param {string} name the file's name, for error messages
 * @returns {{size: number, read: (offset: number, length: number) => Promise<Uint8Array>}[]}
 * @throws {WebmoeError} (from `read`) when the file cannot be read
 */
export function blobParts(blob, name) {
  return [{ size: blob.size, read: (offset, length) => readSlice(blob, offset, length, name) }];
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

async function readSlice(blob, start, length, name) {
  try {
    return new Uint8Array(await blob.slice(start, start + length).arrayBuffer());
  } catch (error) {
    throw new WebmoeError(
      `Could not read ${name}: ${error && error.message ? error.message : error}. ` +
        'The file may have been moved or changed since it was chosen; choose it again.',
    );
  }
}
