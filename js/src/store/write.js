// Storing a shard: hash it, then write it and its manifest record in one transaction.

import { WebmoeError } from '../errors.js';
import { putShardWithRecord } from './db.js';
import { missingShards, recordShard } from './manifest.js';
import { quotaShortfall } from './quota.js';
import { sha256Hex } from './verify.js';

/**
 * Store one shard of a model and record its length and SHA-256, in IndexedDB and in `manifest`
 * (the caller's in-memory copy). The bytes are copied by IndexedDB: the caller may reuse them.
 * @param {object} manifest
 * @param {number} part
 * @param {number} index
 * @param {Uint8Array} bytes
 * @returns {Promise<void>}
 * @throws {QuotaExceededError} when storage ran out; `details.needed` is what the model still lacks
 * @throws {WebmoeError} when the write failed or the model was deleted meanwhile
 */
export async function storeShard(manifest, part, index, bytes) {
  const record = { length: bytes.byteLength, sha256: await sha256Hex(bytes) };
  try {
    await putShardWithRecord(manifest.key, part, index, bytes, (stored) => recordShard(stored, part, index, record));
  } catch (error) {
    if (error && error.name === 'QuotaExceededError' && !(error instanceof WebmoeError)) {
      const needed = missingShards(manifest).reduce((sum, shard) => sum + shard.length, 0);
      throw await quotaShortfall(needed, manifest.kind === 'url' ? 'url' : 'file');
    }
    throw error;
  }
  recordShard(manifest, part, index, record);
}
