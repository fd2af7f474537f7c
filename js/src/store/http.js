// HTTP for model files: the validation probe, Range requests for shards, and reading bodies.
// Failures are sorted into what a retry can fix (RetryableError), what it cannot (PermanentError),
// a server that ignores Range (RangeIgnoredError) and a file replaced on the server (FileChangedError).
//
// Every request uses `cache: 'no-store'`: the bytes go to IndexedDB, a second copy in the HTTP cache
// would only take space, and the probe must see the server's current validators. Each answer is
// checked against the validators the download started with (ETag, else Last-Modified) and the
// file's size, so bytes of a file replaced mid-download are never stored next to the old ones.
// (If-Range would do the same on the server's side, but it is not a CORS-safelisted header: every
// cross-origin shard request would need a preflight.)

import { validatorsAgree } from './manifest.js';

/** A failed request for a model file; `url` is the file's. */
export class HttpFailure extends Error {
  constructor(message, url) {
    super(message);
    this.url = url;
  }
}

/** A failure a later attempt may not have: network error, 5xx, 408, 429, a body cut short. */
export class RetryableError extends HttpFailure {}

/** A failure a retry will not fix: 404, 403, other 4xx. `status` is the HTTP status. */
export class PermanentError extends HttpFailure {
  constructor(message, url, status) {
    super(message, url);
    this.status = status;
  }
}

/** The server answered a Range request with the whole file (200): read the body as a stream instead. */
export class RangeIgnoredError extends HttpFailure {}

/** The file on the server is not the one the download started with (new ETag, Last-Modified or size). */
export class FileChangedError extends HttpFailure {}

/**
 * What the server says about a model file now: its size, its validators, whether it serves Range
 * requests. One GET with `Range: bytes=0-0` (1 byte) is used instead of HEAD: presigned URLs are
 * often valid for GET only, and some servers answer HEAD without the Range headers a GET has.
 * When the server ignores Range, the 200 response is returned unread in `response`, so the body
 * can be used for the whole-file download; the caller must cancel it if unused.
 * @param {string} url
 * @param {AbortSignal} [signal]
 * @returns {Promise<{size: number, etag: string|null, lastModified: string|null, rangeSupported: boolean,
 *   response: Response|null}>}
 * @throws {RetryableError|PermanentError} when the server cannot be reached or refuses
 * @throws {DOMException} AbortError when the signal aborts
 */
export async function probe(url, signal) {
  const response = await send(url, { Range: 'bytes=0-0' }, signal);
  const validators = readValidators(response);
  if (response.status === 206) {
    const range = parseContentRange(response.headers.get('Content-Range'));
    await discardBody(response);
    if (range && range.total !== null)
      return { size: range.total, ...validators, rangeSupported: true, response: null };
    // Content-Range not exposed to this page (CORS): the size is only known from a whole-body answer.
    const whole = await send(url, {}, signal);
    return wholeBodyProbe(url, whole);
  }
  if (response.status === 416) {
    const range = parseContentRange(response.headers.get('Content-Range'));
    await discardBody(response);
    if (range && range.total === 0) return { size: 0, ...validators, rangeSupported: true, response: null };
    throw new RetryableError(`${url} refused the range bytes=0-0 (416)`, url);
  }
  return wholeBodyProbe(url, response);
}

function wholeBodyProbe(url, response) {
  if (response.status !== 200) {
    discardBody(response);
    throw statusError(url, response.status);
  }
  const length = response.headers.get('Content-Length');
  if (length === null || !/^\d+$/.test(length)) {
    discardBody(response);
    throw new PermanentError(
      `${url} gives neither Content-Range nor Content-Length, so its size is unknown; ` +
        'the server must send one of them (and expose it through CORS)',
      url,
      200,
    );
  }
  return { size: Number(length), ...readValidators(response), rangeSupported: false, response };
}

/**
 * Fetch bytes [start, start + length) of a file with a Range request.
 * @param {string} url
 * @param {number} start
 * @param {number} length
 * @param {{size: number, etag: string|null, lastModified: string|null}} expected the file the download started with
 * @param {(bytes: number) => void} onBytes called with the length of each received chunk
 * @param {AbortSignal} [signal]
 * @returns {Promise<Uint8Array>} exactly `length` bytes
 * @throws {RangeIgnoredError} the server sent the whole file (200)
 * @throws {FileChangedError} the server's file is not the expected one
 * @throws {RetryableError|PermanentError} the request failed
 * @throws {DOMException} AbortError when the signal aborts
 */
export async function fetchRange(url, start, length, expected, onBytes, signal) {
  const response = await send(url, { Range: `bytes=${start}-${start + length - 1}` }, signal);
  if (response.status === 200) {
    await discardBody(response);
    throw new RangeIgnoredError(`${url} ignored the Range header`, url);
  }
  if (response.status === 416) {
    await discardBody(response);
    throw new FileChangedError(`${url} no longer has bytes ${start}-${start + length - 1} (416)`, url);
  }
  if (response.status !== 206) {
    await discardBody(response);
    throw statusError(url, response.status);
  }
  const range = parseContentRange(response.headers.get('Content-Range'));
  const rangeMatches =
    !range ||
    (range.start === start &&
      range.end === start + length - 1 &&
      (range.total === null || range.total === expected.size));
  if (!rangeMatches || !validatorsAgree(expected, readValidators(response))) {
    await discardBody(response);
    throw new FileChangedError(`${url} changed on the server while it was being downloaded`, url);
  }
  return readBody(url, response, length, onBytes);
}

/**
 * Fetch the whole file with a plain GET (for servers without Range support).
 * @param {string} url
 * @param {{size: number, etag: string|null, lastModified: string|null}} expected
 * @param {AbortSignal} [signal]
 * @returns {Promise<Response>} a 200 response with its body unread
 * @throws {FileChangedError|RetryableError|PermanentError}
 * @throws {DOMException} AbortError when the signal aborts
 */
export async function fetchWhole(url, expected, signal) {
  const response = await send(url, {}, signal);
  return checkWhole(url, response, expected);
}

/**
 * The first `length` bytes of a file from a plain GET, whose body is cancelled once they are in
 * (for servers that ignore Range: what follows is not downloaded).
 * @param {string} url
 * @param {number} length
 * @param {{size: number, etag: string|null, lastModified: string|null}} expected
 * @param {AbortSignal} [signal]
 * @returns {Promise<Uint8Array>} exactly `length` bytes
 * @throws {FileChangedError|RetryableError|PermanentError}
 * @throws {DOMException} AbortError when the signal aborts
 */
export async function fetchStart(url, length, expected, signal) {
  const response = await fetchWhole(url, expected, signal);
  const bytes = new Uint8Array(length);
  let filled = 0;
  for await (const chunk of bodyChunks(url, response)) {
    const take = Math.min(chunk.byteLength, length - filled);
    bytes.set(chunk.subarray(0, take), filled);
    filled += take;
    if (filled === length) break;
  }
  if (filled !== length) throw new RetryableError(`the connection closed after ${filled} of ${length} bytes`, url);
  return bytes;
}

/**
 * Check that a 200 response is the expected file.
 * @param {string} url
 * @param {Response} response
 * @param {{size: number, etag: string|null, lastModified: string|null}} expected
 * @returns {Response} the response, body unread
 * @throws {FileChangedError|RetryableError|PermanentError}
 */
export function checkWhole(url, response, expected) {
  if (response.status !== 200) {
    discardBody(response);
    throw statusError(url, response.status);
  }
  const length = response.headers.get('Content-Length');
  if ((length !== null && Number(length) !== expected.size) || !validatorsAgree(expected, readValidators(response))) {
    discardBody(response);
    throw new FileChangedError(`${url} changed on the server while it was being downloaded`, url);
  }
  return response;
}

/**
 * The chunks of a response body, as they arrive.
 * @param {string} url the file's, for error messages
 * @param {Response} response
 * @returns {AsyncGenerator<Uint8Array>}
 * @throws {RetryableError} when the connection breaks
 * @throws {DOMException} AbortError when the request's signal aborts
 */
export async function* bodyChunks(url, response) {
  if (!response.body) throw new RetryableError('the response has no body', url);
  const reader = response.body.getReader();
  try {
    for (;;) {
      let result;
      try {
        result = await reader.read();
      } catch (error) {
        throw networkError(error, url);
      }
      if (result.done) return;
      yield result.value;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

async function readBody(url, response, length, onBytes) {
  const bytes = new Uint8Array(length);
  let filled = 0;
  for await (const chunk of bodyChunks(url, response)) {
    if (filled + chunk.byteLength > length)
      throw new RetryableError(`the server sent more than the ${length} bytes asked for`, url);
    bytes.set(chunk, filled);
    filled += chunk.byteLength;
    onBytes(chunk.byteLength);
  }
  if (filled !== length) throw new RetryableError(`the connection closed after ${filled} of ${length} bytes`, url);
  return bytes;
}

async function send(url, headers, signal) {
  try {
    return await fetch(url, { headers, cache: 'no-store', signal });
  } catch (error) {
    throw networkError(error, url);
  }
}

function networkError(error, url) {
  if (error && error.name === 'AbortError') return error;
  return new RetryableError(`network error: ${error && error.message ? error.message : error}`, url);
}

function statusError(url, status) {
  const message = `${url} answered HTTP ${status}`;
  return status >= 500 || status === 408 || status === 429
    ? new RetryableError(message, url)
    : new PermanentError(message, url, status);
}

function readValidators(response) {
  return { etag: response.headers.get('ETag'), lastModified: response.headers.get('Last-Modified') };
}

function parseContentRange(header) {
  const match = header && /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(header.trim());
  if (!match) return null;
  return {
    start: match[1] === undefined ? null : Number(match[1]),
    end: match[2] === undefined ? null : Number(match[2]),
    total: match[3] === '*' ? null : Number(match[3]),
  };
}

/**
 * Drop a response's unread body, ending its download.
 * @param {Response} response
 * @returns {Promise<void>}
 */
export function discardBody(response) {
  return response.body ? response.body.cancel().catch(() => {}) : Promise.resolve();
}
