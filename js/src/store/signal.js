// AbortSignal helpers: cancellation surfaces as the API's AbortError, whatever raised it.

import { AbortError } from '../errors.js';

/**
 * Throw the API's AbortError when the signal has aborted.
 * @param {AbortSignal} [signal]
 * @returns {void}
 * @throws {AbortError}
 */
export function throwIfAborted(signal) {
  if (signal && signal.aborted) throw abortError();
}

/**
 * The API's AbortError for a cancelled model load.
 * @returns {AbortError}
 */
export function abortError() {
  return new AbortError('Loading the model was cancelled. What was stored so far is kept; load again to resume.');
}

/**
 * Wait `ms` milliseconds, or until the signal aborts.
 * @param {number} ms
 * @param {AbortSignal} [signal]
 * @returns {Promise<void>}
 * @throws {AbortError} when the signal aborts first
 */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) return reject(abortError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    const timer = setTimeout(() => {
      if (signal) signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A controller that aborts when `parent` aborts, or when its own `abort()` is called (to stop
 * sibling downloads after one failed, without aborting the caller's signal).
 * @param {AbortSignal} [parent]
 * @returns {{controller: AbortController, release: () => void}} call `release` when done, to drop
 *   the listener on `parent`
 */
export function childController(parent) {
  const controller = new AbortController();
  if (!parent) return { controller, release: () => {} };
  const onAbort = () => controller.abort();
  if (parent.aborted) controller.abort();
  else parent.addEventListener('abort', onAbort, { once: true });
  return { controller, release: () => parent.removeEventListener('abort', onAbort) };
}
