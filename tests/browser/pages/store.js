// Test page of the shard store (js/src/store/): exposes `window.storeTest` for the browser tests in
// tests/browser/store*.test.mjs, which drive it with page.evaluate. Results are plain objects
// (errors as {name, message, details}) so they cross into Node unchanged.

import * as store from '../../../js/src/store/index.js';
import { DB_NAME, MANIFESTS, SETTINGS, SHARDS } from '../../../js/src/store/db.js';
import { digestCount } from '../../../js/src/store/verify.js';

const readers = new Map();
const nativeFetch = window.fetch.bind(window);
let fetchPlan = null;
let inFlight = 0;
let maxInFlight = 0;
let shardRequests = 0;
let gate = null;

// Every fetch of the store goes through here: counts requests in flight (from the call until the
// answer's headers, each held `holdMs` longer so overlapping requests are seen), and can act before
// the n-th shard request, once the requests already sent have their answers: post a /__control
// body to the server, or abort a controller.
window.fetch = async (input, init = {}) => {
  const range = init.headers && init.headers.Range;
  const isShard = Boolean(range) && range !== 'bytes=0-0';
  if (isShard && fetchPlan) {
    shardRequests += 1;
    if (shardRequests === fetchPlan.beforeShardRequest) gate = actOnServer(fetchPlan);
    if (shardRequests >= fetchPlan.beforeShardRequest) await gate;
  }
  inFlight += 1;
  maxInFlight = Math.max(maxInFlight, inFlight);
  try {
    const response = await nativeFetch(input, init);
    if (fetchPlan && fetchPlan.holdMs) await new Promise((resolve) => setTimeout(resolve, fetchPlan.holdMs));
    return response;
  } finally {
    inFlight -= 1;
  }
};

// Let the requests already sent get their answers first, so that the change meets this request and
// the later ones (held at the gate meanwhile) and no earlier one.
async function actOnServer(plan) {
  while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 2));
  if (plan.control) await postControl(plan.control);
  if (plan.abort) plan.abort.abort();
}

async function postControl(body) {
  await nativeFetch('/__control', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

function plainError(error) {
  return { name: error && error.name, message: error && error.message, details: (error && error.details) || {} };
}

// Sources that cannot cross from Node: {file: 'input'} is the file chosen in the page's file input;
// {file: 'constructed', bytesFrom, name, lastModified} a File made in the page from a fetched URL;
// {blob: url} a Blob of a fetched URL.
async function resolveSource(source) {
  if (source && source.file === 'input') return document.getElementById('file').files[0];
  if (source && source.file === 'constructed')
    return new File([await fetchBytes(source.bytesFrom)], source.name, { lastModified: source.lastModified });
  if (source && source.blob) return new Blob([await fetchBytes(source.blob)]);
  return source;
}

async function fetchBytes(url) {
  return (await nativeFetch(url, { cache: 'no-store' })).arrayBuffer();
}

/** The store's database as it is, or null when there is none yet (this does not create it). */
function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME);
    request.onupgradeneeded = () => request.transaction.abort();
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => (request.error && request.error.name === 'AbortError' ? resolve(null) : reject(request.error));
  });
}

/**
 * Run `action` on one object store and give its request's result; `missing` when the database
 * or the object store does not exist (nothing was ever stored).
 */
async function idb(storeName, mode, action, missing = undefined) {
  const db = await openDb();
  if (!db) return missing;
  try {
    if (!db.objectStoreNames.contains(storeName)) return missing;
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(storeName, mode);
      const request = action(tx.objectStore(storeName));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

async function originalBytes(urls) {
  const buffers = await Promise.all(urls.map(fetchBytes));
  const total = buffers.reduce((sum, buffer) => sum + buffer.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const buffer of buffers) {
    out.set(new Uint8Array(buffer), offset);
    offset += buffer.byteLength;
  }
  return out;
}

function firstMismatch(actual, expected, offset) {
  if (actual.byteLength !== expected.byteLength)
    return { offset, index: -1, expected: expected.byteLength, actual: actual.byteLength };
  for (let i = 0; i < actual.byteLength; i += 1) {
    if (actual[i] !== expected[i]) return { offset, index: i, expected: expected[i], actual: actual[i] };
  }
  return null;
}

window.storeTest = {
  /** openModel with progress recorded; the reader is kept under its key. */
  async open(source, options = {}) {
    const events = [];
    const { abortBeforeShardRequest, ...rest } = options;
    let signal;
    if (abortBeforeShardRequest) {
      const controller = new AbortController();
      fetchPlan = { ...(fetchPlan || {}), beforeShardRequest: abortBeforeShardRequest, abort: controller };
      signal = controller.signal;
    }
    try {
      const reader = await store.openModel(await resolveSource(source), {
        ...rest,
        signal,
        onProgress: (event) => events.push(event),
      });
      readers.set(reader.key, reader);
      return {
        ok: true,
        key: reader.key,
        origin: reader.origin,
        size: reader.size,
        partSizes: reader.parts.map((part) => part.size),
        events,
      };
    } catch (error) {
      return { ok: false, error: plainError(error), events };
    }
  },

  /** Plan the fetch wrapper: {beforeShardRequest, control, holdMs}; resets the counters. */
  planFetches(plan) {
    fetchPlan = plan;
    gate = null;
    inFlight = 0;
    maxInFlight = 0;
    shardRequests = 0;
  },

  fetchCounters() {
    return { maxInFlight, shardRequests };
  },

  /**
   * Read spans through the kept reader (whole-model offsets, or part-relative with `part`) and
   * compare them with the original files fetched whole. Returns the first mismatch, if any, and
   * the most bytes the reader's RAM cache held after any read.
   */
  async compareReads(key, urls, spans) {
    const reader = readers.get(key);
    const original = await originalBytes(urls);
    const partStarts = [];
    let start = 0;
    for (const part of reader.parts) {
      partStarts.push(start);
      start += part.size;
    }
    let maxCachedBytes = 0;
    for (const [index, span] of spans.entries()) {
      const base = span.part === undefined ? 0 : partStarts[span.part];
      const actual =
        span.part === undefined
          ? await reader.read(span.offset, span.length)
          : await reader.parts[span.part].read(span.offset, span.length);
      maxCachedBytes = Math.max(maxCachedBytes, reader.cachedBytes);
      const mismatch = firstMismatch(
        actual,
        original.subarray(base + span.offset, base + span.offset + span.length),
        span.offset,
      );
      if (mismatch) return { checked: index, mismatch: { ...mismatch, part: span.part } };
    }
    return { checked: spans.length, mismatch: null, originalSize: original.byteLength, maxCachedBytes };
  },

  /** reader.read, with errors as plain objects. */
  async tryRead(key, offset, length, part) {
    const reader = readers.get(key);
    try {
      const bytes =
        part === undefined ? await reader.read(offset, length) : await reader.parts[part].read(offset, length);
      return { ok: true, length: bytes.byteLength };
    } catch (error) {
      return { ok: false, error: plainError(error) };
    }
  },

  closeReader(key) {
    readers.get(key).close();
  },

  /** Bytes in the reader's RAM cache, once reads started in the background have landed. */
  async cachedBytes(key) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    return readers.get(key).cachedBytes;
  },

  listCached: () => store.listCached(),

  /** store.verifyCached, with progress recorded. */
  async verify(keyOrSource) {
    const events = [];
    try {
      const report = await store.verifyCached(await resolveSource(keyOrSource), { onProgress: (event) => events.push(event) });
      return { ok: true, report, events };
    } catch (error) {
      return { ok: false, error: plainError(error), events };
    }
  },

  /** SHA-256 digests the store has computed in this page so far. */
  digests: () => digestCount(),

  /** Every settings record of the store. */
  settings: () => idb(SETTINGS, 'readonly', (s) => s.getAll(), []),

  async deleteCached(keyOrSource) {
    return store.deleteCached(await resolveSource(keyOrSource));
  },

  /** The manifest record as stored, read with plain IndexedDB. */
  manifest: (key) => idb(MANIFESTS, 'readonly', (s) => s.get(key)),

  /** How many shard records the database holds for a model. */
  shardCount: (key) => idb(SHARDS, 'readonly', (s) => s.count(IDBKeyRange.bound([key], [key, []])), 0),

  /** Flip one byte of a stored shard, behind the store's back. */
  async corruptShard(key, part, index, at = 100) {
    const buffer = await idb(SHARDS, 'readonly', (s) => s.get([key, part, index]));
    const bytes = new Uint8Array(buffer.slice(0));
    bytes[at] ^= 0xff;
    await idb(SHARDS, 'readwrite', (s) => s.put(bytes.buffer, [key, part, index]));
  },

  estimate: () => navigator.storage.estimate(),
};
window.storeTestReady = true;
