// Retries with exponential backoff and jitter, for failures a later attempt may not have.

import { RetryableError } from './http.js';
import { sleep } from './signal.js';

/**
 * Run `attempt` until it succeeds, retrying RetryableErrors up to `retries` times. The wait before
 * retry n (0-based) is drawn uniformly from [d/2, d] with d = min(maxDelayMs, baseDelayMs · 2ⁿ):
 * growing waits give a struggling server room, and the jitter keeps parallel downloads from
 * retrying in lockstep.
 * @template T
 * @param {(attemptIndex: number) => Promise<T>} attempt
 * @param {object} options
 * @param {number} options.retries how many retries after the first attempt
 * @param {number} options.baseDelayMs
 * @param {number} [options.maxDelayMs]
 * @param {AbortSignal} [options.signal] stops the waiting
 * @returns {Promise<T>}
 * @throws the last attempt's error, or any error that is not a RetryableError at once
 * @throws {AbortError} when the signal aborts while waiting
 */
export async function withRetries(attempt, { retries, baseDelayMs, maxDelayMs = 10_000, signal }) {
  for (let index = 0; ; index += 1) {
    try {
      return await attempt(index);
    } catch (error) {
      if (!(error instanceof RetryableError) || index >= retries) throw error;
    }
    await sleep(backoffDelay(index, baseDelayMs, maxDelayMs), signal);
  }
}

/**
 * The wait before retry `index` (0-based), in milliseconds.
 * @param {number} index
 * @param {number} baseDelayMs
 * @param {number} maxDelayMs
 * @returns {number}
 */
function backoffDelay(index, baseDelayMs, maxDelayMs) {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** index);
  return ceiling / 2 + (Math.random() * ceiling) / 2;
}
