// Opening a model: a reader over its stored copy (brought up to date first: find or create its
// manifest, store what is missing, verify what was just written), over a local file in place, or
// over its server without storing it.
//
// For a URL source, each open starts with one small request per part (GET with Range bytes=0-0,
// see http.js `probe`) to learn the file's size and validators. A stored copy whose ETag /
// Last-Modified / size differ is discarded and the model downloaded afresh; an unchanged complete
// one is used as it is, trusted by its manifest (each shard's length and SHA-256 were checked once,
// when it was written): a complete model costs that one request per part, no shard request and no
// hashing. When the server cannot be reached or refuses, a complete stored copy is used as it is.
// `verifyStored` checks every stored shard again, on request.
//
// What is stored, and when:
//   URL, store unset or true   downloaded into IndexedDB; the quota is checked right after the
//                              probe, before the header or any shard is fetched
//   URL, store: false          read with Range requests as the engine needs it; nothing is written
//                              (a complete stored copy is still used, for free)
//   File(s) / Blob             read in place with Blob.slice; with store: true copied in first
//
// With a `checkModel` option, a model not completely stored yet is checked from its header first
// (for a URL one more request, for the start of each part; for a File or Blob a local read), and
// nothing is downloaded or stored when the check refuses it.

import { DownloadError, ModelFormatError, WebmoeError } from '../errors.js';
import { deleteModel, deleteShardsWithRecords, getManifest, putManifest } from './db.js';
import { downloadMissing } from './download.js';
import { PermanentError, RetryableError, discardBody, probe } from './http.js';
import { blobKey, importMissing } from './import.js';
import { blobParts, blobReader } from './local.js';
import { createManifest, forgetShards, isSameFile, missingShards, storedBytes, storedShards } from './manifest.js';
import { progressCounter } from './progress.js';
import { ensureQuota, quotaShortfall, requestPersistence } from './quota.js';
import { storedReader } from './reader.js';
import { remoteParts, remoteReader } from './remote.js';
import { withRetries } from './retry.js';
import { abortError, throwIfAborted } from './signal.js';
import { findDamagedShards } from './verify.js';

/** Download-and-verify rounds before shards that keep failing verification are reported. */
const MAX_ROUNDS = 3;

/**
 * A reader of the model, stored first where that is what the options ask.
 * @param {import('./sources.js').Source} source
 * @param {object} options the checked options of openModel (see options.js)
 * @returns {Promise<import('./reader.js').ModelReader>}
 * @throws {DownloadError|QuotaExceededError|AbortError|ModelFormatError|WebmoeError} see openModel
 */
export async function openSource(source, options) {
  if (source.kind === 'url') return openUrl(source, options);
  // A local read, cheap enough to make every time, and before the hashing a Blob's key takes.
  if (options.checkModel) await options.checkModel(blobParts(source.blobs, source.names));
  if (options.store !== true) return blobReader(source, options.shardSize, options.ramBudget);
  const key = source.key || (await localKey(source, options));
  const manifest = await withModelLock(key, options.signal, () => ensureImported(key, source, options));
  return storedReader(manifest, options.ramBudget);
}

/** The key a Blob (or a list with Blobs) is stored under: from its content. */
async function localKey(source, options) {
  const keys = [];
  for (const blob of source.blobs) keys.push(await blobKey(blob, options.shardSize, options.signal));
  return keys.join('\n');
}

async function openUrl(source, options) {
  return withModelLock(source.key, options.signal, async () => {
    let manifest = await getManifest(source.key);
    const remotes = await probeParts(source.urls, manifest, options);
    try {
      if (remotes === null) return trustedReader(manifest, options);
      if (manifest && !remotes.every((remote, index) => isSameFile(manifest.parts[index], remote))) {
        // A copy of a replaced file is useless; with store: false it is left alone (nothing is written).
        if (options.store !== false) await deleteModel(source.key);
        manifest = undefined;
      }
      for (const remote of remotes) {
        if (remote.size === 0)
          throw new ModelFormatError(`${remote.url} is empty (0 bytes), so it is not a model file; check the URL.`);
      }
      if (manifest && manifest.complete) return trustedReader(manifest, options);
      const fresh = createManifest({ key: source.key, kind: 'url', parts: remotes.map(partOf), shardSize: options.shardSize });
      if (options.store === false) {
        // Refuses a server without Range support before the header is fetched.
        const reader = remoteReader(source.key, remotes, fresh, options);
        if (options.checkModel) await options.checkModel(remoteParts(remotes, fresh, options));
        return reader;
      }
      const stored = Boolean(manifest);
      manifest = manifest || fresh;
      await ensureQuota(bytesOf(missingShards(manifest)), 'url');
      if (options.checkModel) await options.checkModel(remoteParts(remotes, manifest, options));
      await fillAndVerify(
        manifest,
        stored,
        (onBytes) => downloadMissing(manifest, remotes, { ...options, onBytes }),
        options,
        'url',
      );
      return storedReader(manifest, options.ramBudget);
    } finally {
      for (const remote of remotes || []) if (remote.response) discardBody(remote.response);
    }
  });
}

async function ensureImported(key, source, options) {
  let manifest = await getManifest(key);
  const sizes = source.blobs.map((blob) => blob.size);
  if (manifest && (manifest.parts.length !== sizes.length || manifest.parts.some((part, i) => part.size !== sizes[i]))) {
    await deleteModel(key);
    manifest = undefined;
  }
  const stored = Boolean(manifest);
  manifest =
    manifest ||
    createManifest({
      key,
      kind: source.kind,
      parts: source.blobs.map((blob, i) => ({ source: source.names[i], size: blob.size })),
      shardSize: options.shardSize,
    });
  if (manifest.complete) {
    reportStored(manifest, options);
    return manifest;
  }
  await fillAndVerify(
    manifest,
    stored,
    (onBytes) => importMissing(manifest, source.blobs, { onBytes, signal: options.signal }),
    options,
    'file',
  );
  return manifest;
}

/** A reader of a complete stored copy, trusted as it is (no shard is read or hashed now). */
function trustedReader(manifest, options) {
  reportStored(manifest, options);
  return storedReader(manifest, options.ramBudget);
}

/** The download phase of a model stored already: done, at once. */
function reportStored(manifest, options) {
  progressCounter(options.onProgress, 'download', manifest.size, manifest.size).finish();
}

function partOf(remote) {
  return { source: remote.url, size: remote.size, etag: remote.etag, lastModified: remote.lastModified };
}

function bytesOf(shards) {
  return shards.reduce((sum, shard) => sum + shard.length, 0);
}

const shardId = (shard) => `${shard.part}/${shard.index}`;

/**
 * Store what is missing, then verify the shards just written (read back, SHA-256 compared with
 * the record made from the bytes as they arrived); shards that fail are dropped and stored again.
 * Shards stored by earlier loads are trusted. Nothing (not even the manifest) is written before
 * the quota check passes.
 */
async function fillAndVerify(manifest, manifestStored, fill, options, origin) {
  for (let round = 0; round < MAX_ROUNDS; round += 1) {
    const missing = missingShards(manifest);
    const before = new Set(storedShards(manifest).map(shardId));
    const neededBytes = bytesOf(missing);
    await ensureQuota(neededBytes, origin);
    if (!manifestStored && missing.length > 0) {
      // Asks once per origin, and only where the store runs on the page (a worker cannot ask).
      requestPersistence().catch(() => {});
      await putManifest(manifest).catch(async (error) => {
        throw error && error.name === 'QuotaExceededError' ? await quotaShortfall(neededBytes, origin) : error;
      });
      manifestStored = true;
    }
    const progress = progressCounter(options.onProgress, 'download', manifest.size, storedBytes(manifest));
    if (missing.length > 0) await fill(progress.add);
    progress.finish();
    const written = storedShards(manifest).filter((shard) => !before.has(shardId(shard)));
    if (written.length === 0) return manifest;
    const damaged = await verifyShards(manifest, written, options);
    if (damaged.length === 0) return manifest;
  }
  throw new WebmoeError(
    `Shards of ${manifest.key} failed verification ${MAX_ROUNDS} times in a row: the server sends ` +
      "different bytes each time, or the browser's storage is failing. " +
      'Delete the model (deleteCached) and try again later.',
  );
}

/** Verify shards; forget the damaged ones in the store and in `manifest`. Returns the damaged ones. */
async function verifyShards(manifest, shards, options) {
  const progress = progressCounter(options.onProgress, 'verify', bytesOf(shards));
  const damaged = await findDamagedShards(manifest.key, shards, { onVerified: progress.add, signal: options.signal });
  progress.finish();
  if (damaged.length > 0) {
    await deleteShardsWithRecords(manifest.key, damaged, (stored) => forgetShards(stored, damaged));
    forgetShards(manifest, damaged);
  }
  return damaged;
}

/**
 * Check every stored shard of a model against its record again (length and SHA-256), and drop the
 * damaged ones, so that the next load downloads (or imports) them again.
 * @param {string} key the model's key
 * @param {{onProgress?: Function, signal?: AbortSignal}} options
 * @returns {Promise<{key: string, verifiedBytes: number, damagedShards: number, complete: boolean}|null>}
 *   null when nothing is stored under `key`; `complete` is false when shards were dropped (or were
 *   missing already)
 * @throws {AbortError} when the signal aborts
 * @throws {WebmoeError} when the database cannot be read
 */
export async function verifyStored(key, options) {
  return withModelLock(key, options.signal, async () => {
    const manifest = await getManifest(key);
    if (!manifest) return null;
    const shards = storedShards(manifest);
    const damaged = await verifyShards(manifest, shards, options);
    return { key, verifiedBytes: bytesOf(shards), damagedShards: damaged.length, complete: manifest.complete };
  });
}

/**
 * Probe every part. With a complete stored copy, one attempt each and null when the server is
 * unreachable (the stored copy is then used as it is); otherwise retries, and a DownloadError.
 */
async function probeParts(urls, manifest, options) {
  const offlineAllowed = Boolean(manifest && manifest.complete);
  const retries = offlineAllowed ? 0 : options.retries;
  const results = await Promise.allSettled(
    urls.map((url) =>
      withRetries(() => probe(url, options.signal), {
        retries,
        baseDelayMs: options.retryDelayMs,
        signal: options.signal,
      }),
    ),
  );
  const failure = results.find((result) => result.status === 'rejected');
  if (!failure) return results.map((result, index) => ({ url: urls[index], ...result.value }));
  for (const result of results) {
    if (result.status === 'fulfilled' && result.value.response) discardBody(result.value.response);
  }
  throwIfAborted(options.signal);
  const error = failure.reason;
  if (offlineAllowed && (error instanceof RetryableError || error instanceof PermanentError)) return null;
  if (error instanceof PermanentError) {
    throw new DownloadError(
      `${error.message}. Check the URL and that the server allows this site (CORS), then retry.`,
      {
        url: error.url,
        status: error.status,
      },
    );
  }
  if (error instanceof RetryableError) {
    const stored = manifest ? storedBytes(manifest) : 0;
    throw new DownloadError(
      `The model server cannot be reached (${error.message}). Check the connection and retry: ` +
        `${stored} bytes already stored are kept and the download resumes.`,
      { url: error.url, storedBytes: stored, totalBytes: manifest ? manifest.size : null },
    );
  }
  throw error;
}

/**
 * Run `task` holding this model's lock (Web Locks), so two tabs or workers opening the same model
 * do not download it twice; without Web Locks, run it directly.
 */
async function withModelLock(key, signal, task) {
  const locks = globalThis.navigator && navigator.locks;
  if (!locks) return task();
  try {
    return await locks.request(`webmoe-store:${key}`, signal ? { signal } : {}, task);
  } catch (error) {
    if (signal && signal.aborted) throw abortError();
    throw error;
  }
}
