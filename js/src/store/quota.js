// Storage quota: checked before anything is written, so a model that cannot fit fails at once with
// the numbers, instead of after minutes of downloading; persistent storage is asked for so that the
// browser does not evict gigabytes of shards under storage pressure.

import { QuotaExceededError } from '../errors.js';

/**
 * The origin's storage estimate in bytes, or null where the browser has no StorageManager.
 * @returns {Promise<{quota: number, usage: number, available: number}|null>}
 * @throws {TypeError} when the browser refuses the estimate (an opaque origin, e.g. a sandboxed frame)
 */
async function storageEstimate() {
  const storage = globalThis.navigator && navigator.storage;
  if (!storage || typeof storage.estimate !== 'function') return null;
  const { quota = 0, usage = 0 } = await storage.estimate();
  return { quota, usage, available: Math.max(0, quota - usage) };
}

/**
 * Check that `needed` more bytes fit in the origin's storage.
 * Without an estimate (old browsers, opaque origins) nothing can be known and the check passes; a
 * write that then runs out still fails with a QuotaExceededError. Chromium reports usage + 10 GiB
 * whatever the real limit (against fingerprinting), so there the check only catches models larger
 * than that, and a shortfall shows when the browser refuses a write (see quotaShortfall).
 * @param {number} needed bytes about to be written
 * @returns {Promise<void>}
 * @throws {QuotaExceededError} with `details.needed` and `details.available` (bytes) when they do not fit
 */
export async function ensureQuota(needed) {
  if (needed <= 0) return;
  const estimate = await storageEstimate().catch(() => null);
  if (estimate && needed > estimate.available) throw shortfallError(needed, estimate.available);
}

/**
 * The QuotaExceededError for a write the browser refused. Some browsers report more quota than
 * they grant (Chromium reports usage + 10 GiB whatever the real limit, against fingerprinting), so
 * the refusal can come although the estimate said the model fits; the message then says so.
 * @param {number} needed bytes the model still lacks
 * @returns {Promise<QuotaExceededError>}
 */
export async function quotaShortfall(needed) {
  const estimate = await storageEstimate().catch(() => null);
  const available = estimate ? estimate.available : 0;
  if (available < needed) return shortfallError(needed, available);
  return new QuotaExceededError(
    `The browser refused to store more of this model: it still needs ${needed} bytes (${formatBytes(needed)}), ` +
      `and although the browser reports ${available} bytes (${formatBytes(available)}) available, its real ` +
      'limit is lower. Free space on the device, or delete cached models (listCached / deleteCached), ' +
      'then load again: what is stored so far is kept.',
    { needed, available },
  );
}

function shortfallError(needed, available) {
  return new QuotaExceededError(
    `Not enough storage for this model: it needs ${needed} bytes (${formatBytes(needed)}) but only ` +
      `${available} bytes (${formatBytes(available)}) are available to this site. Free space on the device, ` +
      'or delete cached models (listCached / deleteCached), then load again.',
    { needed, available },
  );
}

/**
 * Ask the browser to keep this origin's storage under pressure. The answer is only a hint (the
 * browser may refuse without asking the user); a refusal is not an error.
 * @returns {Promise<boolean>} whether storage is persistent now
 */
export async function requestPersistence() {
  const storage = globalThis.navigator && navigator.storage;
  if (!storage || typeof storage.persist !== 'function') return false;
  try {
    if (typeof storage.persisted === 'function' && (await storage.persisted())) return true;
    return await storage.persist();
  } catch {
    return false;
  }
}

function formatBytes(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
