// A model on its server, read without storing it:
//   - remoteParts: the start of each part, read before anything is downloaded: the caller's
//     `checkModel` (the engine's header check, in the worker) reads each part's header through
//     these readers and refuses a model webmoe cannot run while nothing but that header has been
//     fetched;
//   - remoteReader: the whole model at random offsets, in blocks fetched with Range requests and
//     kept in a RAM cache (`store: false`): the weights go straight to the GPU, and experts that
//     stream in under a GPU budget are fetched again when they are not in the cache.

import { DownloadError } from '../errors.js';
import { RangeIgnoredError, fetchRange, fetchStart } from './http.js';
import { asDownloadError } from './download.js';
import { ModelReader } from './reader.js';
import { withRetries } from './retry.js';
import { abortError } from './signal.js';

/**
 * Readers of the parts of a model on its server, one request per read: a Range request, or a GET
 * cut short where the server ignores Range. Each is retried as a shard request is, and checked
 * against the file the probe saw.
 * @param {import('./download.js').Remote[]} remotes one per part, from the probe; `rangeSupported`
 *   turns false when a server is found to ignore Range
 * @param {object} manifest the model's manifest (for the numbers of a DownloadError)
 * @param {object} options the checked options of openModel (see options.js)
 * @returns {{size: number, read: (offset: number, length: number) => Promise<Uint8Array>}[]}
 */
export function remoteParts(remotes, manifest, options) {
  return remotes.map((remote) => ({
    size: remote.size,
    read: (offset, length) => readRemote(remote, offset, length, manifest, options),
  }));
}

async function readRemote(remote, offset, length, manifest, options) {
  if (length === 0) return new Uint8Array(0);
  // The header's bytes are not part of the download phase's progress.
  const noProgress = () => {};
  try {
    return await withRetries(
      async () => {
        if (remote.rangeSupported) {
          try {
            return await fetchRange(remote.url, offset, length, remote, noProgress, options.signal);
          } catch (error) {
            if (!(error instanceof RangeIgnoredError)) throw error;
            remote.rangeSupported = false;
          }
        }
        return (await fetchStart(remote.url, offset + length, remote, options.signal)).subarray(offset);
      },
      { retries: options.retries, baseDelayMs: options.retryDelayMs, signal: options.signal },
    );
  } catch (error) {
    if (options.signal && options.signal.aborted) throw abortError();
    throw asDownloadError(error, manifest, options.retries);
  }
}

/**
 * A reader of a model on its server, in blocks of `blockSize` bytes: one Range request per block
 * (retried as a shard request is, and checked against the file the probe saw: a replaced file is a
 * DownloadError, never mixed bytes), the most recently read blocks kept within `ramBudget`.
 * @param {string} key the model's key (its URL, or its parts' URLs)
 * @param {import('./download.js').Remote[]} remotes one per part, from the probe
 * @param {object} manifest a manifest of the model (for the numbers of a DownloadError; not stored)
 * @param {object} options the checked options of openModel (see options.js)
 * @returns {ModelReader}
 * @throws {DownloadError} when a server does not serve Range requests (the model cannot be read in
 *   pieces from it; the message says what to do instead)
 */
export function remoteReader(key, remotes, manifest, options) {
  const ignoring = remotes.find((remote) => !remote.rangeSupported);
  if (ignoring) throw rangeRequired(ignoring.url, manifest.size);
  const fetchSpan = async (part, start, length) => {
    const remote = remotes[part];
    try {
      return await withRetries(() => fetchRange(remote.url, start, length, remote, () => {}, options.signal), {
        retries: options.retries,
        baseDelayMs: options.retryDelayMs,
        signal: options.signal,
      });
    } catch (error) {
      if (options.signal && options.signal.aborted) throw abortError();
      if (error instanceof RangeIgnoredError) throw rangeRequired(remote.url, manifest.size);
      throw asDownloadError(error, manifest, options.retries, { stored: false });
    }
  };
  return new ModelReader({
    key,
    origin: 'network',
    partSizes: remotes.map((remote) => remote.size),
    blockSize: options.shardSize,
    ramBudget: options.ramBudget,
    loadBlock: (part, index, start, length) => fetchSpan(part, start, length),
    loadRange: fetchSpan,
  });
}

function rangeRequired(url, size) {
  return new DownloadError(
    `${url} does not serve HTTP Range requests, so the model cannot be read from it without storing ` +
      `it. Load it with store: true (it needs ${size} bytes of this site's storage), or download the ` +
      'file and open it from disk.',
    { url, totalBytes: size },
  );
}
