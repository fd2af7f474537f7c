// SHA-256 of shards (WebCrypto) and the check of stored shards against their manifest records.

import { WebmoeError } from '../errors.js';
import { getShard } from './db.js';
import { throwIfAborted } from './signal.js';

/** Digests computed by this module in this thread (a test hook: a stored model loads without any). */
let digests = 0;

/**
 * How many SHA-256 digests `sha256Hex` has computed in this thread (for tests: loading a stored
 * model must not hash its shards again).
 * @returns {number}
 */
export function digestCount() {
  return digests;
}

/**
 * The SHA-256 of some bytes, as 64 lowercase hex digits.
 * @param {Uint8Array} bytes
 * @returns {Promise<string>}
 * @throws {WebmoeError} where WebCrypto is missing (pages not served over https or from localhost)
 */
export async function sha256Hex(bytes) {
  const subtle = globalThis.crypto && crypto.subtle;
  if (!subtle) {
    throw new WebmoeError(
      'This page cannot check downloads: WebCrypto needs a secure context. ' +
        'Serve the page over https or from localhost.',
    );
  }
  digests += 1;
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes));
  let hex = '';
  for (const byte of digest) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

/**
 * Read each listed shard back from IndexedDB and compare its length and SHA-256 with its record.
 * One shard is in memory at a time.
 * @param {string} modelKey
 * @param {{part: number, index: number, length: number, sha256: string}[]} shards what to check
 * @param {object} options
 * @param {(bytes: number) => void} [options.onVerified] called with each checked shard's length
 * @param {AbortSignal} [options.signal]
 * @returns {Promise<{part: number, index: number}[]>} the shards that are missing or damaged
 * @throws {AbortError} when the signal aborts
 * @throws {WebmoeError} when the database cannot be read
 */
export async function findDamagedShards(modelKey, shards, { onVerified = () => {}, signal } = {}) {
  const damaged = [];
  for (const shard of shards) {
    throwIfAborted(signal);
    const bytes = await getShard(modelKey, shard.part, shard.index);
    const intact =
      bytes !== undefined && bytes.byteLength === shard.length && (await sha256Hex(bytes)) === shard.sha256;
    if (!intact) damaged.push({ part: shard.part, index: shard.index });
    onVerified(shard.length);
  }
  return damaged;
}
