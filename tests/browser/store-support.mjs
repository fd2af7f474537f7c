// Helpers of the shard store's browser tests (store*.test.mjs): the fixture files, the Range
// requests a download should make, the expected shard records, and the store test page.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, stats } from './harness.mjs';

/** Small shards, so that the fixtures of about 1.3–2.4 MB make 20–37 shards each. */
export const SHARD_SIZE = 64 * 1024;

/** Fast retries: the failure tests exhaust them on purpose. */
export const FAST_RETRIES = { retries: 2, retryDelayMs: 10 };

/** The fixtures directory, mounted at /models by every store test server. */
export const MOUNTS = { '/models': 'tests/fixtures/oracle' };

/**
 * A fixture model file: its URL path on the test server and its bytes.
 * @param {string} name directory under tests/fixtures/oracle, e.g. 'mixtral-q4_0'
 */
export function fixture(name) {
  const urlPath = `/models/${name}/model.gguf`;
  const bytes = fs.readFileSync(path.join(REPO_ROOT, 'tests/fixtures/oracle', name, 'model.gguf'));
  return {
    urlPath,
    bytes,
    size: bytes.byteLength,
    filePath: path.join(REPO_ROOT, 'tests/fixtures/oracle', name, 'model.gguf'),
  };
}

/** Number of shards of `size` bytes at SHARD_SIZE. */
export function shardCount(size) {
  return Math.ceil(size / SHARD_SIZE);
}

/** The Range header value of shard `index` of a file of `size` bytes. */
export function shardRange(size, index) {
  const start = index * SHARD_SIZE;
  return `bytes=${start}-${Math.min(start + SHARD_SIZE, size) - 1}`;
}

/** The expected manifest records ({length, sha256}) of every shard of `bytes`. */
export function expectedShardRecords(bytes) {
  const records = [];
  for (let start = 0; start < bytes.byteLength; start += SHARD_SIZE) {
    const shard = bytes.subarray(start, Math.min(start + SHARD_SIZE, bytes.byteLength));
    records.push({ length: shard.byteLength, sha256: createHash('sha256').update(shard).digest('hex') });
  }
  return records;
}

/** The requests the server recorded for one URL path: [{method, range, status}]. */
export async function requestsFor(server, urlPath) {
  return (await stats(server)).filter((request) => request.path === urlPath);
}

/** The ranges of the shard requests (not the 1-byte probe) among `requests`, sorted by start. */
export function shardRangesOf(requests) {
  return requests
    .filter((request) => request.range && request.range !== 'bytes=0-0')
    .map((request) => request.range)
    .sort((a, b) => Number(/\d+/.exec(a)[0]) - Number(/\d+/.exec(b)[0]));
}

/** Open the store test page on `server` and wait until `window.storeTest` is there. */
export async function openStorePage(page, server) {
  await page.goto(`${server.url}/tests/browser/pages/store.html`);
  await page.waitForFunction(() => window.storeTestReady === true);
  return page;
}

/** Call a `window.storeTest` method in the page. */
export function call(page, method, ...args) {
  return page.evaluate(([name, values]) => window.storeTest[name](...values), [method, args]);
}

/** A progress event's phase and bytes (without its speed and time left). */
export function progressOf({ phase, loaded, total }) {
  return { phase, loaded, total };
}

/**
 * Check that progress events came in phase order (download, then verify), each phase's `loaded`
 * never decreasing and ending at its `total`. Returns the phases seen, e.g. ['download', 'verify'].
 */
export function progressPhases(events) {
  const phases = [];
  for (const [index, event] of events.entries()) {
    if (phases[phases.length - 1] !== event.phase) {
      phases.push(event.phase);
    } else if (event.loaded < events[index - 1].loaded) {
      throw new Error(
        `progress event ${index} went back: ${events[index - 1].loaded} → ${event.loaded} in phase ${event.phase}`,
      );
    }
    const next = events[index + 1];
    if ((!next || next.phase !== event.phase) && event.loaded !== event.total) {
      throw new Error(`phase ${event.phase} ended at ${event.loaded} of ${event.total} bytes (event ${index})`);
    }
    const { bytesPerSecond, etaSeconds } = event;
    const finished = event.loaded >= event.total;
    if (!(bytesPerSecond === null || bytesPerSecond > 0) || !(finished ? etaSeconds === 0 : etaSeconds === null || etaSeconds >= 0)) {
      throw new Error(`event ${index}: speed ${bytesPerSecond} B/s and ${etaSeconds} s left at ${event.loaded} of ${event.total}`);
    }
  }
  return phases;
}

/** Spans that start and end on both sides of every shard boundary of a file, plus its ends. */
export function boundarySpans(size) {
  const spans = [
    { offset: 0, length: Math.min(64, size) },
    { offset: size - 1, length: 1 },
    { offset: 0, length: size },
    { offset: 17, length: 0 },
  ];
  for (let boundary = SHARD_SIZE; boundary < size; boundary += SHARD_SIZE) {
    spans.push(
      { offset: boundary - 5, length: 10 },
      { offset: boundary, length: 1 },
      { offset: boundary - 1, length: 1 },
    );
    spans.push({
      offset: boundary - SHARD_SIZE + 3,
      length: Math.min(SHARD_SIZE * 2, size - (boundary - SHARD_SIZE + 3)),
    });
  }
  return spans;
}

/** `count` spans drawn from a seeded generator (xorshift32), lengths up to `maxLength`. */
export function randomSpans(size, count, maxLength, seed = 12345) {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
  return Array.from({ length: count }, () => {
    const offset = Math.floor(next() * size);
    return { offset, length: Math.min(size - offset, 1 + Math.floor(next() * maxLength)) };
  });
}
