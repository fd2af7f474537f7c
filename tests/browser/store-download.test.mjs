// Shard store, download path, in headless Chromium: the first open downloads every shard with Range
// requests, records them and verifies each once; a relaunch of the browser on the same profile
// opens the model from IndexedDB without shard requests and without hashing a shard; verifyCached
// finds a damaged shard, which the next open fetches again alone; a changed file (new ETag) is
// downloaded afresh; a complete model opens while the server is down.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { control, launchBrowser, resetStats, startServer, stopAll } from './harness.mjs';
import {
  MOUNTS,
  SHARD_SIZE,
  boundarySpans,
  call,
  expectedShardRecords,
  fixture,
  openStorePage,
  progressOf,
  progressPhases,
  requestsFor,
  shardCount,
  shardRange,
  shardRangesOf,
} from './store-support.mjs';

const model = fixture('mixtral-q4_0');
const count = shardCount(model.size);
const allRanges = Array.from({ length: count }, (_, index) => shardRange(model.size, index));

describe('shard store: download, reload, repair, replaced file, offline', () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'webmoe-store-profile-'));
  let server;
  let browser;
  let url;
  let key;

  before(async () => {
    server = await startServer({ mounts: MOUNTS });
    url = `${server.url}${model.urlPath}`;
    browser = await launchBrowser({ userDataDir: profile });
    await openStorePage(browser.page, server);
  });

  after(async () => {
    await stopAll();
    fs.rmSync(profile, { recursive: true, force: true });
  });

  it('downloads every shard once with Range requests, a few in flight, and records length and SHA-256', async () => {
    await resetStats(server);
    await call(browser.page, 'planFetches', { holdMs: 30 });
    const result = await call(browser.page, 'open', url, { shardSize: SHARD_SIZE, concurrency: 3 });
    assert.equal(result.ok, true, JSON.stringify(result.error));
    key = result.key;
    assert.equal(key, url);
    assert.equal(result.size, model.size);

    const requests = await requestsFor(server, model.urlPath);
    assert.deepEqual(
      requests[0],
      { method: 'GET', path: model.urlPath, range: 'bytes=0-0', status: 206 },
      'the first request is the 1-byte probe',
    );
    assert.deepEqual(shardRangesOf(requests), allRanges, 'each shard requested exactly once');
    assert.equal(requests.length, count + 1, 'nothing but the probe and the shards');
    assert.ok(
      requests.every((request) => request.status === 206),
      'every answer was 206',
    );
    const counters = await call(browser.page, 'fetchCounters');
    assert.equal(counters.maxInFlight, 3, 'three requests in flight at most, and at least');

    const manifest = await call(browser.page, 'manifest', key);
    const expected = expectedShardRecords(model.bytes);
    assert.equal(manifest.complete, true);
    assert.equal(manifest.shardSize, SHARD_SIZE);
    assert.equal(manifest.parts.length, 1);
    assert.equal(manifest.parts[0].shards.length, count);
    for (const [index, record] of manifest.parts[0].shards.entries()) {
      assert.deepEqual(
        record,
        expected[index],
        `shard ${index}: recorded ${JSON.stringify(record)}, expected ${JSON.stringify(expected[index])}`,
      );
    }
    assert.match(manifest.parts[0].etag, /-0"$/, 'the ETag of generation 0 is recorded');
    assert.equal(await call(browser.page, 'shardCount', key), count);

    assert.deepEqual(progressPhases(result.events), ['download', 'verify']);
    const download = result.events.filter((event) => event.phase === 'download');
    assert.deepEqual(progressOf(download[0]), { phase: 'download', loaded: 0, total: model.size });
    assert.equal(download.at(-1).loaded, model.size);
    assert.equal(result.events.at(-1).total, model.size, 'every stored byte verified');

    const reads = await call(browser.page, 'compareReads', key, [url], boundarySpans(model.size));
    assert.equal(reads.mismatch, null, `read mismatch: ${JSON.stringify(reads.mismatch)}`);
  });

  it('opens the stored model after a browser relaunch with one probe request, no shard request and no hashing', async () => {
    await browser.close();
    browser = await launchBrowser({ userDataDir: profile });
    await openStorePage(browser.page, server);
    await resetStats(server);
    const result = await call(browser.page, 'open', url, { shardSize: SHARD_SIZE });
    assert.equal(result.ok, true, JSON.stringify(result.error));
    assert.equal(result.origin, 'storage');
    const requests = await requestsFor(server, model.urlPath);
    assert.deepEqual(requests, [{ method: 'GET', path: model.urlPath, range: 'bytes=0-0', status: 206 }]);
    assert.deepEqual(progressPhases(result.events), ['download'], 'trusted by its manifest: no verify phase');
    assert.deepEqual(
      progressOf(result.events[0]),
      { phase: 'download', loaded: model.size, total: model.size },
      'download phase: all stored already',
    );
    assert.equal(await call(browser.page, 'digests'), 0, 'no shard hashed');
    const reads = await call(browser.page, 'compareReads', key, [url], boundarySpans(model.size));
    assert.equal(reads.mismatch, null, `read mismatch: ${JSON.stringify(reads.mismatch)}`);
    assert.equal(await call(browser.page, 'digests'), 0, 'reads hash nothing either');
  });

  it('verifyCached finds a shard damaged in IndexedDB and drops it; the next open downloads that shard alone', async () => {
    const damaged = 7;
    await call(browser.page, 'corruptShard', key, 0, damaged);
    await resetStats(server);
    const trusted = await call(browser.page, 'open', url, { shardSize: SHARD_SIZE });
    assert.equal(trusted.ok, true, JSON.stringify(trusted.error));
    assert.deepEqual(progressPhases(trusted.events), ['download'], 'a load trusts the manifest');
    assert.equal((await requestsFor(server, model.urlPath)).length, 1, 'the probe only');

    const checked = await call(browser.page, 'verify', url);
    assert.equal(checked.ok, true, JSON.stringify(checked.error));
    assert.deepEqual(checked.report, { key, verifiedBytes: model.size, damagedShards: 1, complete: false });
    assert.deepEqual(progressPhases(checked.events), ['verify']);
    assert.equal(checked.events.at(-1).total, model.size, 'every stored shard checked');
    assert.equal((await call(browser.page, 'manifest', key)).parts[0].shards[damaged], null, 'the damaged shard is dropped');

    await resetStats(server);
    const result = await call(browser.page, 'open', url, { shardSize: SHARD_SIZE });
    assert.equal(result.ok, true, JSON.stringify(result.error));
    const requests = await requestsFor(server, model.urlPath);
    assert.deepEqual(shardRangesOf(requests), [shardRange(model.size, damaged)]);
    assert.equal(requests.length, 2, 'the probe and the one shard');
    assert.deepEqual(progressPhases(result.events), ['download', 'verify']);
    assert.equal(result.events.at(-1).total, SHARD_SIZE, 'the shard just written is verified, nothing else');
    const manifest = await call(browser.page, 'manifest', key);
    assert.deepEqual(manifest.parts[0].shards[damaged], expectedShardRecords(model.bytes)[damaged]);
    const reads = await call(
      browser.page,
      'compareReads',
      key,
      [url],
      [{ offset: damaged * SHARD_SIZE, length: SHARD_SIZE }],
    );
    assert.equal(reads.mismatch, null, `read mismatch: ${JSON.stringify(reads.mismatch)}`);
  });

  it('discards the stored shards and downloads afresh when the ETag changed', async () => {
    await control(server, { etag_generation: 1 });
    await resetStats(server);
    const result = await call(browser.page, 'open', url, { shardSize: SHARD_SIZE });
    await control(server, { etag_generation: 0 });
    assert.equal(result.ok, true, JSON.stringify(result.error));
    const requests = await requestsFor(server, model.urlPath);
    assert.deepEqual(shardRangesOf(requests), allRanges, 'every shard downloaded again');
    assert.equal(requests.length, count + 1);
    const manifest = await call(browser.page, 'manifest', key);
    assert.match(manifest.parts[0].etag, /-1"$/, 'the new ETag is recorded');
    assert.equal(manifest.complete, true);
    assert.equal(await call(browser.page, 'shardCount', key), count);
    const reads = await call(browser.page, 'compareReads', key, [url], boundarySpans(model.size));
    assert.equal(reads.mismatch, null, `read mismatch: ${JSON.stringify(reads.mismatch)}`);
  });

  it('opens a complete stored model while its server is down, after one unanswered probe', async () => {
    await control(server, { down: true });
    await resetStats(server);
    const result = await call(browser.page, 'open', url, { shardSize: SHARD_SIZE });
    await control(server, { down: false });
    assert.equal(result.ok, true, JSON.stringify(result.error));
    // serve.py records the range of 206 answers only.
    assert.deepEqual(await requestsFor(server, model.urlPath), [
      { method: 'GET', path: model.urlPath, range: null, status: 503 },
    ]);
    assert.deepEqual(progressPhases(result.events), ['download'], 'nothing to download, nothing hashed');
    assert.equal(result.events.at(-1).total, model.size);
  });
});
