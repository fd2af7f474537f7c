// The start of a model file on its server, read before anything is downloaded: the caller's
// `checkModel` (the engine's header check, in the worker) reads each part's header through these
// readers and refuses a model webmoe cannot run while nothing but that header has been fetched.

import { RangeIgnoredError, fetchRange, fetchStart } from './http.js';
import { asDownloadError } from './download.js';
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
