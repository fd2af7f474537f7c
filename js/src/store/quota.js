// Storage quota: checked before anything is written (for a download, before anything but the
// 1-byte probe that tells the model's size is fetched), so a model that cannot fit fails at once
// with the numbers and the ways out, instead of after minutes of downloading. Persistent storage is
// asked for once per origin, so that the browser does not evict gigabytes of shards under storage
// pressure; the answer is remembered in the store's database.

import { QuotaExceededError } from '../errors.js';
import { getSetting, putSetting } from './db.js';

/** The settings record that remembers the persistence request. */
const PERSISTENCE = 'persistence';

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
 * What the caller can do instead of storing the model, for the messages: a model from a server can
 * be read without storing it, a local file read in place.
 * @typedef {'url'|'file'} Origin
 */

/**
 * Check that `needed` more bytes fit in the origin's storage.
 * Without an estimate (old browsers, opaque origins) nothing can be known and the check passes; a
 * write that then runs out still fails with a QuotaExceededError. Chromium reports usage + 10 GiB
 * whatever the real limit (against fingerprinting), so there the check catches models larger than
 * that, and a smaller shortfall shows when the browser refuses a write (see quotaShortfall).
 * @param {number} needed bytes about to be written
 * @param {Origin} origin where the model comes from (the message names the way out that fits)
 * @returns {Promise<void>}
 * @throws {QuotaExceededError} with `details.needed` and `details.available` (bytes) when they do not fit
 */
export async function ensureQuota(needed, origin) {
  if (needed <= 0) return;
  const estimate = await storageEstimate().catch(() => null);
  if (estimate && needed > estimate.available) throw shortfallError(needed, estimate.available, origin);
}

/**
 * The QuotaExceededError for a write the browser refused. Some browsers report more quota than
 * they grant (Chromium reports usage + 10 GiB whatever the real limit, against fingerprinting), so
 * the refusal can come although the estimate said the model fits; the message then says so.
 * @param {number} needed bytes the model still lacks
 * @param {Origin} origin
 * @returns {Promise<QuotaExceededError>}
 */
export async function quotaShortfall(needed, origin) {
  const estimate = await storageEstimate().catch(() => null);
  const available = estimate ? estimate.available : 0;
  if (available < needed) return shortfallError(needed, available, origin);
  return new QuotaExceededError(
    `The browser refused to store more of this model: it still needs ${needed} bytes (${formatBytes(needed)}), ` +
      `and although the browser reports ${available} bytes (${formatBytes(available)}) available, its real ` +
      `limit is lower. ${waysOut(origin)} What is stored so far is kept.`,
    { needed, available },
  );
}

function shortfallError(needed, available, origin) {
  return new QuotaExceededError(
    `Not enough storage for this model: it needs ${needed} bytes (${formatBytes(needed)}) but only ` +
      `${available} bytes (${formatBytes(available)}) are available to this site. ${waysOut(origin)}`,
    { needed, available },
  );
}

function waysOut(origin) {
  const free = 'or free space on the device, or delete cached models (listCached / deleteCached), then load again.';
  if (origin === 'file') {
    return `Load the file without store: true: it is then read in place from disk and nothing is copied, ${free}`;
  }
  return (
    'Load it without storing it, with store: false (it is read from the server as it is needed), or ' +
    `download the file and open it from disk (a File from an <input type="file">, read in place), ${free}`
  );
}

/** The question in progress, shared by loads started together. */
let asking = null;

/**
 * Ask the browser, once for this origin, to keep its storage under pressure, and remember the
 * answer in the store's database: later loads do not ask again (a browser that prompts the user
 * would prompt on every load). The answer is only a hint (the browser may refuse without asking);
 * a refusal is not an error. Where `persist()` is missing (in a worker) nothing is asked or kept.
 * @returns {Promise<boolean>} whether storage is persistent now, or was granted when asked
 */
export function requestPersistence() {
  asking ??= askForPersistence().finally(() => {
    asking = null;
  });
  return asking;
}

async function askForPersistence() {
  const storage = globalThis.navigator && navigator.storage;
  if (!storage || typeof storage.persist !== 'function') return false;
  try {
    if (typeof storage.persisted === 'function' && (await storage.persisted())) return true;
    const asked = await getSetting(PERSISTENCE).catch(() => undefined);
    if (asked) return Boolean(asked.granted);
    const granted = await storage.persist();
    await putSetting({ key: PERSISTENCE, askedAt: Date.now(), granted: Boolean(granted) }).catch(() => {});
    return Boolean(granted);
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
