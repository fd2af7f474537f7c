// The options of openModel: defaults and checks.

import { InvalidOptionError } from '../errors.js';

const MiB = 1024 * 1024;

/** Default bytes per shard: large enough that request overhead is small, small enough to retry cheaply. */
export const DEFAULT_SHARD_SIZE = 32 * MiB;
/** Default bytes of shards kept in RAM by a ModelReader: two default shards. */
export const DEFAULT_RAM_BUDGET = 64 * MiB;

const LIMITS = {
  shardSize: { min: 4096, max: 256 * MiB, fallback: DEFAULT_SHARD_SIZE },
  ramBudget: { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: DEFAULT_RAM_BUDGET },
  concurrency: { min: 1, max: 16, fallback: 3 },
  retries: { min: 0, max: 20, fallback: 4 },
  retryDelayMs: { min: 0, max: 60_000, fallback: 500 },
};

/**
 * openModel's options with defaults filled in.
 * @param {object} options
 * @returns {{onProgress?: Function, checkModel?: Function, signal?: AbortSignal, store?: boolean,
 *   shardSize: number, ramBudget: number, concurrency: number, retries: number, retryDelayMs: number}}
 * @throws {InvalidOptionError} naming the option that is not an integer in its range, or a
 *   callback / signal of the wrong type
 */
export function readOptions(options) {
  const { onProgress, checkModel, signal, store } = options;
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new InvalidOptionError('onProgress must be a function ({phase, loaded, total}) => void.', {
      option: 'onProgress',
    });
  }
  if (checkModel !== undefined && typeof checkModel !== 'function') {
    throw new InvalidOptionError('checkModel must be a function (parts) => Promise<void>.', { option: 'checkModel' });
  }
  if (signal !== undefined && !(typeof AbortSignal !== 'undefined' && signal instanceof AbortSignal)) {
    throw new InvalidOptionError('signal must be an AbortSignal (from an AbortController).', { option: 'signal' });
  }
  if (store !== undefined && typeof store !== 'boolean') {
    throw new InvalidOptionError(
      'store must be true (keep the model in this browser), false (read it where it is) or left out.',
      { option: 'store' },
    );
  }
  const checked = { onProgress, checkModel, signal, store };
  for (const [name, { min, max, fallback }] of Object.entries(LIMITS)) {
    const value = options[name] === undefined ? fallback : options[name];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidOptionError(`${name} must be an integer from ${min} to ${max}; it is ${value}.`, {
        option: name,
      });
    }
    checked[name] = value;
  }
  return checked;
}
