// Downloading the missing shards of a model from its server.
//
// Where the server serves Range requests, each missing shard is one request for exactly its bytes,
// `concurrency` of them in flight, in file order, each retried with backoff. Where it does not (the
// probe or a shard request got 200 instead of 206), the whole body is read as a stream and cut into
// shards, skipping shards already stored; a broken stream restarts from the beginning and again only
// stores what is missing. A shard is stored only once all its bytes are in, so a failure at any point
// loses at most the shards in flight.

import { DownloadError, WebmoeError } from '../errors.js';
import {
  FileChangedError,
  HttpFailure,
  PermanentError,
  RangeIgnoredError,
  RetryableError,
  bodyChunks,
  checkWhole,
  fetchRange,
  fetchWhole,
} from './http.js';
import { missingShards, shardSpan, storedBytes } from './manifest.js';
import { withRetries } from './retry.js';
import { abortError, childController } from './signal.js';
import { storeShard } from './write.js';

/**
 * The server's view of one part, from the probe (see http.js `probe`).
 * @typedef {{url: string, size: number, etag: string|null, lastModified: string|null,
 *   rangeSupported: boolean, response: Response|null}} Remote
 */

/**
 * Download every shard the manifest lacks. `manifest` is updated in place as shards are stored.
 * @param {object} manifest
 * @param {Remote[]} remotes one per part; `rangeSupported` turns false when a server is found to
 *   ignore Range, and `response` is taken (set to null) when used
 * @param {object} options
 * @param {number} options.concurrency Range requests in flight
 * @param {number} options.retries retries per request after the first attempt
 * @param {number} options.retryDelayMs base of the exponential backoff
 * @param {(bytes: number) => void} options.onBytes progress, in received bytes (negative: undone)
 * @param {AbortSignal} [options.signal]
 * @returns {Promise<void>}
 * @throws {DownloadError} when a request keeps failing, the server refuses, or the file changed;
 *   the message says to load again, which resumes
 * @throws {QuotaExceededError} when storage ran out while writing
 * @throws {AbortError} when the signal aborts
 */
export async function downloadMissing(manifest, remotes, options) {
  try {
    for (;;) {
      const tasks = missingShards(manifest).filter((task) => remotes[task.part].rangeSupported);
      if (tasks.length === 0) break;
      try {
        await downloadRanged(manifest, remotes, tasks, options);
      } catch (error) {
        if (!(error instanceof RangeIgnoredError)) throw error;
        for (const remote of remotes) if (remote.url === error.url) remote.rangeSupported = false;
      }
    }
    for (let part = 0; part < remotes.length; part += 1) {
      if (!remotes[part].rangeSupported) await downloadStreamed(manifest, part, remotes[part], options);
    }
  } catch (error) {
    if (options.signal && options.signal.aborted) throw abortError();
    throw asDownloadError(error, manifest, options.retries);
  }
}

async function downloadRanged(manifest, remotes, tasks, options) {
  const { controller, release } = childController(options.signal);
  const queue = tasks.slice();
  let failure = null;
  const worker = async () => {
    while (failure === null && queue.length > 0) {
      const task = queue.shift();
      try {
        await downloadShard(manifest, remotes[task.part], task, options, controller.signal);
      } catch (error) {
        if (failure === null) failure = error;
        controller.abort();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency, tasks.length) }, worker));
  } finally {
    release();
  }
  if (failure !== null) throw failure;
}

async function downloadShard(manifest, remote, task, options, signal) {
  const bytes = await withRetries(
    async () => {
      let received = 0;
      try {
        return await fetchRange(
          remote.url,
          task.start,
          task.length,
          remote,
          (count) => {
            received += count;
            options.onBytes(count);
          },
          signal,
        );
      } catch (error) {
        options.onBytes(-received);
        throw error;
      }
    },
    { retries: options.retries, baseDelayMs: options.retryDelayMs, signal },
  );
  await storeShard(manifest, task.part, task.index, bytes);
}

async function downloadStreamed(manifest, part, remote, options) {
  const hasMissing = () => manifest.parts[part].shards.some((record) => record === null);
  await withRetries(
    async () => {
      if (!hasMissing()) return;
      const probed = remote.response;
      remote.response = null;
      const response = probed
        ? checkWhole(remote.url, probed, remote)
        : await fetchWhole(remote.url, remote, options.signal);
      await streamIntoShards(manifest, part, remote.url, response, options.onBytes);
    },
    { retries: options.retries, baseDelayMs: options.retryDelayMs, signal: options.signal },
  );
}

/**
 * Cut a whole-file body into shards, storing the missing ones; stops reading once the last missing
 * shard is stored. One shard's bytes are in memory at a time.
 */
async function streamIntoShards(manifest, part, url, response, onBytes) {
  const { size, shards } = manifest.parts[part];
  const shardSize = manifest.shardSize;
  const lastMissing = shards.lastIndexOf(null);
  let index = 0;
  let buffer = new Uint8Array(shardSpan(size, shardSize, 0).length);
  let filled = 0;
  let counted = 0;
  try {
    for await (const chunk of bodyChunks(url, response)) {
      for (let offset = 0; offset < chunk.byteLength;) {
        const take = Math.min(buffer.byteLength - filled, chunk.byteLength - offset);
        const wanted = shards[index] === null;
        if (wanted) {
          buffer.set(chunk.subarray(offset, offset + take), filled);
          counted += take;
          onBytes(take);
        }
        filled += take;
        offset += take;
        if (filled < buffer.byteLength) continue;
        if (wanted) await storeShard(manifest, part, index, buffer);
        counted = 0;
        index += 1;
        if (index > lastMissing) return;
        const length = shardSpan(size, shardSize, index).length;
        if (length !== buffer.byteLength) buffer = new Uint8Array(length);
        filled = 0;
      }
    }
  } catch (error) {
    onBytes(-counted);
    throw error;
  }
  onBytes(-counted);
  throw new RetryableError(`the connection closed after ${index * shardSize + filled} of ${size} bytes`, url);
}

/**
 * The API error for a failed download, saying what happened and what to do: for a download into
 * storage, that loading again resumes; for a model read without storing it (`stored: false`), that
 * loading again reads it again.
 * @param {unknown} error
 * @param {object} manifest
 * @param {number} retries
 * @param {{stored?: boolean}} [how]
 * @returns {Error}
 */
export function asDownloadError(error, manifest, retries, { stored = true } = {}) {
  if (error instanceof WebmoeError) return error;
  const url = error instanceof HttpFailure ? error.url : manifest.sources[0];
  const storedNow = storedBytes(manifest);
  const details = stored ? { url, storedBytes: storedNow, totalBytes: manifest.size } : { url, totalBytes: manifest.size };
  const resume = stored
    ? `${storedNow} of ${manifest.size} bytes are stored; ` +
      'load the model again to retry: the download resumes with the missing shards.'
    : 'Nothing of it is stored: load the model again to retry.';
  if (error instanceof FileChangedError) {
    return new DownloadError(
      `${url} changed on the server during the download. Load the model again to retry: it is downloaded afresh.`,
      details,
    );
  }
  if (error instanceof PermanentError) {
    return new DownloadError(
      `Downloading ${url} failed: ${error.message}. ` +
        `Check the URL and that the server allows this site (CORS), then retry. ${resume}`,
      { ...details, status: error.status },
    );
  }
  if (error instanceof RetryableError) {
    return new DownloadError(
      `Downloading ${url} failed after ${retries + 1} attempts: ${error.message}. Check the connection. ${resume}`,
      details,
    );
  }
  return new DownloadError(
    `Downloading ${url} failed: ${error && error.message ? error.message : error}. ${resume}`,
    details,
  );
}
