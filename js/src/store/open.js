// Bringing a model's stored copy up to date: find or create its manifest, store what is missing
// (download or import), verify, and repeat for shards that failed verification.
//
// For a URL source, each open starts with one small request per part (GET with Range bytes=0-0,
// see http.js `probe`) to learn the file's size and validators. A stored copy whose ETag /
// Last-Modified / size differ is discarded and the model downloaded afresh; an unchanged one
// is used as it is, so a complete model costs that one request per part and no shard request.
// When the server cannot be reached or refuses, a complete stored copy is used without validation.
//
// With a `checkModel` option, a model not completely stored yet is checked from its header first
// (for a URL one more request, for the start of each part; for a File or Blob a local read), and
// nothing is downloaded or stored when the check refuses it.

import { DownloadError, ModelFormatError, WebmoeError } from '../errors.js';
import { deleteModel, deleteShardsWithRecords, getManifest, putManifest } from './db.js';
import { downloadMissing } from './download.js';
import { PermanentError, RetryableError, discardBody, probe } from './http.js';
import { remoteParts } from './header.js';
import { blobKey, blobParts, importMissing } from './import.js';
import { createManifest, forgetShards, isSameFile, missingShards, storedBytes, storedShards } from './manifest.js';
import { progressCounter } from './progress.js';
import { ensureQuota, quotaShortfall, requestPersistence } from './quota.js';
import { withRetries } from './retry.js';
import { abortError, throwIfAborted } from './signal.js';
import { findDamagedShards } from './verify.js';

/** Download-and-verify rounds before shards that keep failing verification are reported. */
const MAX_ROUNDS = 3;

/**
 * Make sure the whole model is stored and verified.
 * @param {import('./sources.js').Source} source
 * @param {object} options the checked options of openModel (see options.js)
 * @returns {Promise<object>} the complete manifest
 * @throws {DownloadError|QuotaExceededError|AbortError|ModelFormatError|WebmoeError} see openModel
 */
export async function ensureStored(source, options) {
  if (source.kind === 'url') return ensureDownloaded(source, options);
  // A local read, cheap enough to make every time, and before the hashing a Blob's key takes.
  if (options.checkModel) await options.checkModel(blobParts(source.blob, source.name));
  const key = source.key || (await blobKey(source.blob, options.shardSize, options.signal));
  return withModelLock(key, options.signal, () => ensureImported(key, source, options));
}

async function ensureDownloaded(source, options) {
  return withModelLock(source.key, options.signal, async () => {
    let manifest = await getManifest(source.key);
    const remotes = await probeParts(source.urls, manifest, options);
    try {
      if (remotes === null) return verifyOffline(manifest, options);
      if (manifest && !remotes.every((remote, index) => isSameFile(manifest.parts[index], remote))) {
        await deleteModel(source.key);
        manifest = undefined;
      }
      for (const remote of remotes) {
        if (remote.size === 0)
          throw new ModelFormatError(`${remote.url} is empty (0 bytes), so it is not a model file; check the URL.`);
      }
      const stored = Boolean(manifest);
      manifest =
        manifest ||
        createManifest({ key: source.key, kind: 'url', parts: remotes.map(partOf), shardSize: options.shardSize });
      if (options.checkModel && !manifest.complete) await options.checkModel(remoteParts(remotes, manifest, options));
      return await fillAndVerify(
        manifest,
        stored,
        (onBytes) => downloadMissing(manifest, remotes, { ...options, onBytes }),
        options,
      );
    } finally {
      for (const remote of remotes || []) if (remote.response) discardBody(remote.response);
    }
  });
}

async function ensureImported(key, source, options) {
  let manifest = await getManifest(key);
  if (manifest && manifest.size !== source.blob.size) {
    await deleteModel(key);
    manifest = undefined;
  }
  const stored = Boolean(manifest);
  manifest =
    manifest ||
    createManifest({
      key,
      kind: source.kind,
      parts: [{ source: source.name, size: source.blob.size }],
      shardSize: options.shardSize,
    });
  return fillAndVerify(
    manifest,
    stored,
    (onBytes) => importMissing(manifest, source.blob, { onBytes, signal: options.signal }),
    options,
  );
}

function partOf(remote) {
  return { source: remote.url, size: remote.size, etag: remote.etag, lastModified: remote.lastModified };
}

/**
 * Store what is missing, then verify; shards that fail verification are dropped and stored again.
 * The first verification covers every stored shard, later ones only the shards just stored.
 * Nothing (not even the manifest) is written before the quota check passes.
 */
async function fillAndVerify(manifest, manifestStored, fill, options) {
  let toVerify = null;
  for (let round = 0; round < MAX_ROUNDS; round += 1) {
    const missing = missingShards(manifest);
    if (round === 0 || missing.length > 0) {
      const neededBytes = missing.reduce((sum, shard) => sum + shard.length, 0);
      await ensureQuota(neededBytes);
      if (!manifestStored && missing.length > 0) {
        await requestPersistence();
        await putManifest(manifest).catch(async (error) => {
          throw error && error.name === 'QuotaExceededError' ? await quotaShortfall(neededBytes) : error;
        });
        manifestStored = true;
      }
      const progress = progressCounter(options.onProgress, 'download', manifest.size, storedBytes(manifest));
      if (missing.length > 0) await fill(progress.add);
      progress.finish();
    }
    const verifying =
      toVerify === null
        ? storedShards(manifest)
        : storedShards(manifest).filter((shard) => toVerify.has(`${shard.part}/${shard.index}`));
    const damaged = await verifyShards(manifest, verifying, options);
    if (damaged.length === 0) return manifest;
    toVerify = new Set(damaged.map((shard) => `${shard.part}/${shard.index}`));
  }
  throw new WebmoeError(
    `Shards of ${manifest.key} failed verification ${MAX_ROUNDS} times in a row: the server sends ` +
      "different bytes each time, or the browser's storage is failing. " +
      'Delete the model (deleteCached) and try again later.',
  );
}

/** Verify shards; forget the damaged ones in the store and in `manifest`. Returns the damaged ones. */
async function verifyShards(manifest, shards, options) {
  const total = shards.reduce((sum, shard) => sum + shard.length, 0);
  const progress = progressCounter(options.onProgress, 'verify', total);
  const damaged = await findDamagedShards(manifest.key, shards, { onVerified: progress.add, signal: options.signal });
  progress.finish();
  if (damaged.length > 0) {
    await deleteShardsWithRecords(manifest.key, damaged, (stored) => forgetShards(stored, damaged));
    forgetShards(manifest, damaged);
  }
  return damaged;
}

/** A complete stored copy whose server is unreachable: verify it, and use it if intact. */
async function verifyOffline(manifest, options) {
  const damaged = await verifyShards(manifest, storedShards(manifest), options);
  if (damaged.length > 0) {
    throw new DownloadError(
      `${damaged.length} stored shards of ${manifest.key} are damaged and the server cannot be reached ` +
        'to download them again. Check the connection and retry.',
      { key: manifest.key, storedBytes: storedBytes(manifest), totalBytes: manifest.size },
    );
  }
  return manifest;
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
