// The model store: models downloaded (HTTP Range requests, in shards) or imported (File / Blob,
// on request) into IndexedDB, verified with SHA-256 when written, and read back at random offsets;
// or read where they are (a local File in place, a server with Range requests) without storing.
//
//   const reader = await openModel('https://example.org/model.gguf', { onProgress });
//   const header = await reader.read(0, 1 << 20);
//
// Storage layout: db.js; manifest record: manifest.js; what an open does: open.js.

import { deleteModel, getAllManifests, getManifest } from './db.js';
import { blobKey } from './import.js';
import { describeManifest } from './manifest.js';
import { openSource, verifyStored } from './open.js';
import { readOptions } from './options.js';
import { describeSource } from './sources.js';

export { ModelReader } from './reader.js';
export { DEFAULT_RAM_BUDGET, DEFAULT_SHARD_SIZE } from './options.js';
// StorageManager.persist() exists on the main thread only: the page calls this when the store runs
// in a worker (openModel asks too, which works where it runs on the main thread).
export { requestPersistence } from './quota.js';

/**
 * Random access to a model: a URL is downloaded into IndexedDB first as needed (or, with
 * `store: false`, read from its server as it is read); a File is read in place (or, with
 * `store: true`, imported first). A model stored before is checked against the server (one 1-byte
 * request per part) and opened without downloading or hashing; an interrupted download resumes
 * with the missing shards only.
 * @param {string|string[]|File|Blob|(File|Blob)[]} source a GGUF URL, the URLs of a split GGUF's
 *   parts in order, a local File / Blob, or the Files of a split GGUF's parts (any order)
 * @param {object} [options]
 * @param {boolean} [options.store] true: keep the model in IndexedDB (the default for a URL);
 *   false: store nothing (the default for a File or Blob)
 * @param {(event: import('./progress.js').Progress) => void} [options.onProgress]
 *   bytes done and total of the current phase; 'download' also covers reading a File into storage
 * @param {(parts: {size: number, read: (offset: number, length: number) => Promise<Uint8Array>}[]) => Promise<void>} [options.checkModel]
 *   called before anything is downloaded or stored (not for a model stored completely) with a
 *   reader of each part's start, from the server or the File; its rejection is openModel's, so it
 *   refuses a model that cannot run at the cost of its header (the worker passes the engine's check)
 * @param {AbortSignal} [options.signal] cancels the load; what is stored so far is kept
 * @param {number} [options.shardSize] bytes per shard of a model not stored yet (default 32 MiB;
 *   a stored model keeps the shard size it was stored with)
 * @param {number} [options.ramBudget] bytes of shards the reader keeps in memory (default 64 MiB)
 * @param {number} [options.concurrency] Range requests in flight (default 3)
 * @param {number} [options.retries] retries of a failed request (default 4)
 * @param {number} [options.retryDelayMs] base of the exponential backoff between retries (default 500)
 * @returns {Promise<ModelReader>}
 * @throws {QuotaExceededError} before anything is written, when the missing bytes do not fit;
 *   `details.needed` and `details.available` are bytes
 * @throws {DownloadError} when the server cannot be reached, refuses, or keeps failing; the message
 *   says to retry, and a retry resumes with the missing shards
 * @throws {AbortError} when `options.signal` aborts
 * @throws {ModelFormatError} when a part is empty; `checkModel`'s errors as it throws them
 * @throws {InvalidOptionError} for a source or option of the wrong kind or out of range
 * @throws {WebmoeError} when IndexedDB or WebCrypto is unavailable or failing
 */
export async function openModel(source, options = {}) {
  const settings = readOptions(options);
  return openSource(describeSource(source), settings);
}

/**
 * Check every stored shard of a model again (length and SHA-256 against its manifest record) and
 * drop the damaged ones: the next load downloads (or imports) them again. Loads do not do this:
 * a stored model is trusted by its manifest, size and ETag.
 * @param {string|string[]|File|Blob} keyOrSource a key from listCached, or the source it was stored from
 * @param {{onProgress?: (event: import('./progress.js').Progress) => void, signal?: AbortSignal}} [options]
 * @returns {Promise<{key: string, verifiedBytes: number, damagedShards: number, complete: boolean}|null>}
 *   null when the model is not stored
 * @throws {InvalidOptionError} for an argument that is neither a key nor a source
 * @throws {AbortError} when the signal aborts
 * @throws {WebmoeError} when IndexedDB or WebCrypto is unavailable or failing
 */
export async function verifyCached(keyOrSource, options = {}) {
  const settings = readOptions(options);
  if (typeof keyOrSource === 'string' && (await getManifest(keyOrSource))) return verifyStored(keyOrSource, settings);
  const source = describeSource(keyOrSource);
  if (source.key === null) {
    for (const key of await blobKeys(source.blobs)) if (await getManifest(key)) return verifyStored(key, settings);
    return null;
  }
  return verifyStored(source.key, settings);
}

/**
 * The models in the store, oldest first, complete or partly downloaded.
 * @returns {Promise<{key: string, sources: string[], size: number, storedBytes: number, complete: boolean,
 *   storedAt: number, shardSize: number}[]>} `size` and `storedBytes` in bytes, `storedAt` in ms since the epoch
 * @throws {WebmoeError} when IndexedDB is unavailable or failing
 */
export async function listCached() {
  const manifests = await getAllManifests();
  return manifests.map(describeManifest).sort((a, b) => a.storedAt - b.storedAt);
}

/**
 * Delete a stored model and all its shards.
 * @param {string|string[]|File|Blob} keyOrSource a key from listCached, or the source it was opened with
 * @returns {Promise<boolean>} true when something was deleted
 * @throws {InvalidOptionError} for an argument that is neither a key nor a source
 * @throws {WebmoeError} when IndexedDB is unavailable or failing
 */
export async function deleteCached(keyOrSource) {
  if (typeof keyOrSource === 'string' && (await getManifest(keyOrSource))) return deleteModel(keyOrSource);
  const source = describeSource(keyOrSource);
  if (source.key !== null) return deleteModel(source.key);
  let deleted = false;
  for (const key of await blobKeys(source.blobs)) deleted = (await deleteModel(key)) || deleted;
  return deleted;
}

/** The keys a Blob source may be stored under: one per shard size a stored Blob uses. */
async function blobKeys(blobs) {
  const manifests = await getAllManifests();
  const shardSizes = new Set(
    manifests.filter((manifest) => manifest.kind === 'blob').map((manifest) => manifest.shardSize),
  );
  const keys = [];
  for (const shardSize of shardSizes) {
    const parts = [];
    for (const blob of blobs) parts.push(await blobKey(blob, shardSize));
    keys.push(parts.join('\n'));
  }
  return keys;
}
