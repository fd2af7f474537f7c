// The IndexedDB database of the shard store and the few operations the store performs on it.
//
// Database `webmoe-store`, version 2:
//   manifests  keyPath "key"        one manifest record per model (see manifest.js)
//   shards     out-of-line keys     [modelKey, partIndex, shardIndex] → ArrayBuffer (the shard's bytes)
//   settings   keyPath "key"        what the store remembers between visits, e.g.
//                                   { key: 'persistence', askedAt, granted } (see quota.js)
// Version 1 had no settings store; opening it upgrades it in place.
// Array keys sort element by element, so every shard of one model lies in the key range
// [modelKey] … [modelKey, []] (an array sorts after every number), which deletes and counts use.
//
// A shard is written together with its record in the manifest in one readwrite transaction: either
// both are in the database or neither is, so a failure mid-download never leaves a manifest that
// claims a shard it does not have.

import { WebmoeError } from '../errors.js';

/** Name of the IndexedDB database. */
export const DB_NAME = 'webmoe-store';
/** Schema version of the database. */
const DB_VERSION = 2;
/** Object store of manifest records, keyed by the model key. */
export const MANIFESTS = 'manifests';
/** Object store of shard bytes, keyed by [modelKey, partIndex, shardIndex]. */
export const SHARDS = 'shards';
/** Object store of settings records, keyed by their name. */
export const SETTINGS = 'settings';

let connection = null;

/**
 * The shared connection to the store's database, opened (and created) on first use.
 * @returns {Promise<IDBDatabase>}
 * @throws {WebmoeError} when IndexedDB is missing or refuses to open (private browsing in some
 *   browsers, storage disabled by policy)
 */
function openDatabase() {
  if (!connection) {
    connection = openFresh().catch((error) => {
      connection = null;
      throw error;
    });
  }
  return connection;
}

function openFresh() {
  if (typeof indexedDB === 'undefined') {
    return Promise.reject(
      new WebmoeError(
        'IndexedDB is not available in this context, so models cannot be stored; ' +
          'use a browser window that allows site storage.',
      ),
    );
  }
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB_NAME, DB_VERSION);
    open.onupgradeneeded = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains(MANIFESTS)) db.createObjectStore(MANIFESTS, { keyPath: 'key' });
      if (!db.objectStoreNames.contains(SHARDS)) db.createObjectStore(SHARDS);
      if (!db.objectStoreNames.contains(SETTINGS)) db.createObjectStore(SETTINGS, { keyPath: 'key' });
    };
    open.onsuccess = () => {
      const db = open.result;
      // Another page upgrading or deleting the database: let it, and reopen on next use.
      db.onversionchange = () => {
        db.close();
        connection = null;
      };
      resolve(db);
    };
    open.onerror = () => reject(storageError('open the model store', open.error));
    open.onblocked = () =>
      reject(
        new WebmoeError(
          'The model store is being upgraded by another tab of this site; close the other tabs and try again.',
        ),
      );
  });
}

/**
 * A promise of an IDBRequest's result.
 * @template T
 * @param {IDBRequest<T>} request
 * @returns {Promise<T>}
 * @throws {DOMException} the request's error
 */
function requestResult(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * A promise that settles when the transaction commits.
 * @param {IDBTransaction} transaction
 * @returns {Promise<void>}
 * @throws {DOMException} why the transaction aborted (QuotaExceededError included)
 */
function transactionDone(transaction) {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = (event) => reject(transaction.error || event.target.error);
    transaction.onabort = () => reject(transaction.error || new DOMException('transaction aborted', 'AbortError'));
  });
}

function shardRange(modelKey) {
  return IDBKeyRange.bound([modelKey], [modelKey, []]);
}

/**
 * The manifest record of a model, or undefined when none is stored.
 * @param {string} modelKey
 * @returns {Promise<object|undefined>}
 * @throws {WebmoeError} when the database cannot be read
 */
export async function getManifest(modelKey) {
  const db = await openDatabase();
  const tx = db.transaction(MANIFESTS, 'readonly');
  try {
    return await requestResult(tx.objectStore(MANIFESTS).get(modelKey));
  } catch (error) {
    throw storageError('read the model list', error);
  }
}

/**
 * Every manifest record in the store.
 * @returns {Promise<object[]>}
 * @throws {WebmoeError} when the database cannot be read
 */
export async function getAllManifests() {
  const db = await openDatabase();
  const tx = db.transaction(MANIFESTS, 'readonly');
  try {
    return await requestResult(tx.objectStore(MANIFESTS).getAll());
  } catch (error) {
    throw storageError('read the model list', error);
  }
}

/**
 * A settings record, or undefined when none is stored.
 * @param {string} key
 * @returns {Promise<object|undefined>}
 * @throws {WebmoeError} when the database cannot be read
 */
export async function getSetting(key) {
  const db = await openDatabase();
  const tx = db.transaction(SETTINGS, 'readonly');
  try {
    return await requestResult(tx.objectStore(SETTINGS).get(key));
  } catch (error) {
    throw storageError('read the store settings', error);
  }
}

/**
 * Store a settings record (`record.key` names it).
 * @param {object} record
 * @returns {Promise<void>}
 * @throws {WebmoeError|DOMException} when the write is refused
 */
export async function putSetting(record) {
  const db = await openDatabase();
  const tx = db.transaction(SETTINGS, 'readwrite');
  tx.objectStore(SETTINGS).put(record);
  try {
    await transactionDone(tx);
  } catch (error) {
    throw storageError('save the store settings', error);
  }
}

/**
 * Store a manifest record as it is (a new model, or one whose layout changed).
 * @param {object} manifest
 * @returns {Promise<void>}
 * @throws {DOMException} QuotaExceededError when storage ran out (the caller knows how much is needed)
 * @throws {WebmoeError} when the write is refused otherwise
 */
export async function putManifest(manifest) {
  const db = await openDatabase();
  const tx = db.transaction(MANIFESTS, 'readwrite');
  tx.objectStore(MANIFESTS).put(manifest);
  try {
    await transactionDone(tx);
  } catch (error) {
    throw storageError('save the model record', error);
  }
}

/**
 * Write one shard and record it in its model's manifest, atomically.
 * `update(manifest)` changes the freshly read manifest in place (sets the shard's record);
 * it runs inside the transaction, so concurrent writers of the same manifest do not lose updates.
 * @param {string} modelKey
 * @param {number} partIndex
 * @param {number} shardIndex
 * @param {Uint8Array} bytes the shard's bytes (copied into the database)
 * @param {(manifest: object) => void} update
 * @returns {Promise<void>}
 * @throws {DOMException} QuotaExceededError when storage ran out (the caller knows how much is needed)
 * @throws {WebmoeError} when the model was deleted meanwhile, or the write failed otherwise
 */
export async function putShardWithRecord(modelKey, partIndex, shardIndex, bytes, update) {
  const db = await openDatabase();
  const tx = db.transaction([SHARDS, MANIFESTS], 'readwrite');
  const done = transactionDone(tx);
  const buffer =
    bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
  tx.objectStore(SHARDS).put(buffer, [modelKey, partIndex, shardIndex]);
  const manifests = tx.objectStore(MANIFESTS);
  const manifest = await requestResult(manifests.get(modelKey)).catch(() => null);
  if (manifest === null) throw storageError('save a downloaded shard', await failureOf(done));
  if (manifest === undefined) {
    tx.abort();
    await done.catch(() => {});
    throw new WebmoeError(
      `The model ${modelKey} was deleted from the store while it was being downloaded; load it again.`,
    );
  }
  update(manifest);
  manifests.put(manifest);
  try {
    await done;
  } catch (error) {
    throw storageError('save a downloaded shard', error);
  }
}

/** Why a transaction that failed a request aborted. */
function failureOf(done) {
  return done.then(
    () => new Error('the transaction failed'),
    (error) => error,
  );
}

/**
 * Remove shards and their records from a manifest, atomically (shards that failed verification).
 * @param {string} modelKey
 * @param {{part: number, index: number}[]} shards
 * @param {(manifest: object) => void} update clears the shards' records in the freshly read manifest
 * @returns {Promise<void>}
 * @throws {WebmoeError} when the database refuses the change
 */
export async function deleteShardsWithRecords(modelKey, shards, update) {
  const db = await openDatabase();
  const tx = db.transaction([SHARDS, MANIFESTS], 'readwrite');
  const done = transactionDone(tx);
  const shardStore = tx.objectStore(SHARDS);
  for (const { part, index } of shards) shardStore.delete([modelKey, part, index]);
  const manifests = tx.objectStore(MANIFESTS);
  const manifest = await requestResult(manifests.get(modelKey)).catch(() => null);
  if (manifest === null) throw storageError('remove damaged shards', await failureOf(done));
  if (manifest !== undefined) {
    update(manifest);
    manifests.put(manifest);
  }
  try {
    await done;
  } catch (error) {
    throw storageError('remove damaged shards', error);
  }
}

/**
 * The stored bytes of one shard, or undefined when it is not stored.
 * @param {string} modelKey
 * @param {number} partIndex
 * @param {number} shardIndex
 * @returns {Promise<Uint8Array|undefined>}
 * @throws {WebmoeError} when the database cannot be read
 */
export async function getShard(modelKey, partIndex, shardIndex) {
  const db = await openDatabase();
  const tx = db.transaction(SHARDS, 'readonly');
  let value;
  try {
    value = await requestResult(tx.objectStore(SHARDS).get([modelKey, partIndex, shardIndex]));
  } catch (error) {
    throw storageError('read a stored shard', error);
  }
  if (value === undefined) return undefined;
  return value instanceof ArrayBuffer
    ? new Uint8Array(value)
    : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/**
 * Delete a model's manifest and every shard of it, atomically.
 * @param {string} modelKey
 * @returns {Promise<boolean>} whether a manifest or any shard was there
 * @throws {WebmoeError} when the database refuses the change
 */
export async function deleteModel(modelKey) {
  const db = await openDatabase();
  const tx = db.transaction([SHARDS, MANIFESTS], 'readwrite');
  const done = transactionDone(tx);
  const range = shardRange(modelKey);
  const manifestCount = requestResult(tx.objectStore(MANIFESTS).count(modelKey));
  const shardCount = requestResult(tx.objectStore(SHARDS).count(range));
  tx.objectStore(MANIFESTS).delete(modelKey);
  tx.objectStore(SHARDS).delete(range);
  try {
    const [manifests, shards] = await Promise.all([manifestCount, shardCount, done]);
    return manifests + shards > 0;
  } catch (error) {
    throw storageError('delete a stored model', error);
  }
}

/**
 * The store's error for a failed database operation; a QuotaExceededError DOMException is returned
 * as it is, for the caller to turn into the API's QuotaExceededError with the bytes it needs.
 * @param {string} action what was being done, e.g. "read a stored shard"
 * @param {unknown} cause the DOMException or error
 * @returns {Error}
 */
function storageError(action, cause) {
  if (cause && cause.name === 'QuotaExceededError') return cause;
  const message = cause && cause.message ? cause.message : String(cause);
  return new WebmoeError(
    `Could not ${action} in IndexedDB: ${message}. ` +
      "Reload the page and try again; if it persists, clear this site's storage.",
  );
}
