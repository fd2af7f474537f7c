// Shard store under failure, in headless Chromium: the server going down or cutting a connection
// mid-download (a DownloadError that says to retry, then a resume that fetches exactly the missing
// shards), a cancelled load, a server without Range support, a file replaced mid-download, a missing
// file, and a quota too small.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { control, launchBrowser, resetStats, startServer, stopAll } from './harness.mjs';
import {
  MOUNTS,
  SHARD_SIZE,
  boundarySpans,
  call,
  expectedShardRecords,
  fixture,
  openStorePage,
  progressPhases,
  requestsFor,
  shardCount,
  shardRange,
  shardRangesOf,
} from './store-support.mjs';

const model = fixture('mixtral-q4_0');
const count = shardCount(model.size);
const expectedRecords = expectedShardRecords(model.bytes);

/** Indices of the shards a manifest records, after checking each record against the file. */
function recordedShards(manifest) {
  const indices = [];
  for (const [index, record] of manifest.parts[0].shards.entries()) {
    if (record === null) continue;
    assert.deepEqual(
      record,
      expectedRecords[index],
      `shard ${index}: recorded ${JSON.stringify(record)}, expected ${JSON.stringify(expectedRecords[index])}`,
    );
    indices.push(index);
  }
  return indices;
}

function missingRanges(stored) {
  const ranges = [];
  for (let index = 0; index < count; index += 1)
    if (!stored.includes(index)) ranges.push(shardRange(model.size, index));
  return ranges;
}

describe('shard store: failures and recovery', () => {
  let server;
  let url;

  before(async () => {
    server = await startServer({ mounts: MOUNTS });
    url = `${server.url}${model.urlPath}`;
  });

  let browser = null;

  afterEach(async () => {
    await control(server, { down: false, fail_after_bytes: 0, no_range: false, etag_generation: 0 });
    if (browser) await browser.close();
    browser = null;
  });

  after(stopAll);

  /** A fresh browser (empty profile) on the store page, closed after the test. */
  async function freshPage(options) {
    browser = await launchBrowser(options);
    return openStorePage(browser.page, server);
  }

  /** Open again after a failure and check the resume: exactly the missing shards, then all intact. */
  async function resumeFetchesOnlyMissing(page, stored) {
    await resetStats(server);
    const result = await call(page, 'open', url, { shardSize: SHARD_SIZE });
    assert.equal(result.ok, true, JSON.stringify(result.error));
    const requests = await requestsFor(server, model.urlPath);
    assert.deepEqual(shardRangesOf(requests), missingRanges(stored), `stored before: ${stored}`);
    assert.equal(requests.length, 1 + count - stored.length, 'the probe and the missing shards, nothing else');
    const manifest = await call(page, 'manifest', url);
    assert.equal(manifest.complete, true);
    assert.equal(recordedShards(manifest).length, count);
    const reads = await call(page, 'compareReads', url, [url], boundarySpans(model.size));
    assert.equal(reads.mismatch, null, `read mismatch: ${JSON.stringify(reads.mismatch)}`);
  }

  it('server down mid-download: DownloadError saying to retry, then the retry fetches only the missing shards', async () => {
    const page = await freshPage();
    await resetStats(server);
    // Shard requests 1–5 reach a working server; before the 6th, the server goes down (503).
    await call(page, 'planFetches', { beforeShardRequest: 6, control: { down: true } });
    // Retries slow enough (≥ 300 ms in all) that shards 3 and 4, answered before the server went
    // down, finish arriving and are stored before the failure stops the download.
    const failed = await call(page, 'open', url, {
      shardSize: SHARD_SIZE,
      concurrency: 3,
      retries: 2,
      retryDelayMs: 200,
    });
    assert.equal(failed.ok, false);
    assert.equal(failed.error.name, 'DownloadError');
    assert.match(failed.error.message, /retry/i);
    assert.match(failed.error.message, /503/);
    const requests = await requestsFor(server, model.urlPath);
    assert.ok(requests.filter((request) => request.status === 503).length >= 3, 'the failing requests were retried');

    const manifest = await call(page, 'manifest', url);
    assert.equal(manifest.complete, false);
    assert.deepEqual(recordedShards(manifest), [0, 1, 2, 3, 4], 'the five shards fetched before the failure are kept');
    assert.equal(await call(page, 'shardCount', url), 5, 'no shard without its record');
    const listed = (await call(page, 'listCached')).find((entry) => entry.key === url);
    assert.deepEqual(
      { complete: listed.complete, storedBytes: listed.storedBytes, size: listed.size },
      { complete: false, storedBytes: 5 * SHARD_SIZE, size: model.size },
    );

    await call(page, 'planFetches', null);
    await control(server, { down: false });
    await resumeFetchesOnlyMissing(page, [0, 1, 2, 3, 4]);
  });

  it('connection cut mid-body: DownloadError, stored shards intact, the retry fetches only the missing shards', async () => {
    const page = await freshPage();
    await control(server, { fail_after_bytes: 7 * SHARD_SIZE + 1000 });
    const failed = await call(page, 'open', url, { shardSize: SHARD_SIZE, concurrency: 3, retries: 0 });
    assert.equal(failed.ok, false);
    assert.equal(failed.error.name, 'DownloadError');
    assert.match(failed.error.message, /retry/i);
    const stored = recordedShards(await call(page, 'manifest', url));
    assert.ok(stored.length > 0 && stored.length < count, `some shards stored, not all: ${stored}`);
    assert.equal(await call(page, 'shardCount', url), stored.length, 'no shard without its record');
    await resumeFetchesOnlyMissing(page, stored);
  });

  it('a cancelled load rejects with AbortError, keeps what it stored, and resumes', async () => {
    const page = await freshPage();
    const aborted = await call(page, 'open', url, {
      shardSize: SHARD_SIZE,
      concurrency: 2,
      abortBeforeShardRequest: 9,
    });
    assert.equal(aborted.ok, false);
    assert.equal(aborted.error.name, 'AbortError');
    await call(page, 'planFetches', null);
    const stored = recordedShards(await call(page, 'manifest', url));
    assert.ok(stored.length >= 6 && stored.length < count, `some shards stored, not all: ${stored}`);
    await resumeFetchesOnlyMissing(page, stored);
  });

  it('a server that ignores Range: the whole body is streamed into shards, all verified', async () => {
    const page = await freshPage();
    await control(server, { no_range: true });
    await resetStats(server);
    const result = await call(page, 'open', url, { shardSize: SHARD_SIZE });
    assert.equal(result.ok, true, JSON.stringify(result.error));
    const requests = await requestsFor(server, model.urlPath);
    assert.deepEqual(
      requests,
      [{ method: 'GET', path: model.urlPath, range: null, status: 200 }],
      'one request: the probe answer is the body',
    );
    assert.deepEqual(progressPhases(result.events), ['download', 'verify']);
    assert.equal(result.events.at(-1).total, model.size, 'every shard verified');
    const manifest = await call(page, 'manifest', url);
    assert.equal(manifest.complete, true);
    assert.equal(recordedShards(manifest).length, count);
    const reads = await call(page, 'compareReads', url, [url], boundarySpans(model.size));
    assert.equal(reads.mismatch, null, `read mismatch: ${JSON.stringify(reads.mismatch)}`);
  });

  it('a server that stops honouring Range mid-download: the resume streams the body and stores only the missing shards', async () => {
    const page = await freshPage();
    await resetStats(server);
    await call(page, 'planFetches', { beforeShardRequest: 5, control: { no_range: true } });
    const result = await call(page, 'open', url, { shardSize: SHARD_SIZE, concurrency: 1 });
    assert.equal(result.ok, true, JSON.stringify(result.error));
    const requests = await requestsFor(server, model.urlPath);
    assert.deepEqual(
      requests.map((request) => request.status),
      [206, 206, 206, 206, 206, 200, 200],
      'probe, 4 shards, the 5th answered whole (cancelled), then one whole-body download',
    );
    const manifest = await call(page, 'manifest', url);
    assert.equal(recordedShards(manifest).length, count);
    const reads = await call(page, 'compareReads', url, [url], boundarySpans(model.size));
    assert.equal(reads.mismatch, null, `read mismatch: ${JSON.stringify(reads.mismatch)}`);
  });

  it('a file replaced during the download: DownloadError, and the retry downloads the new file afresh', async () => {
    const page = await freshPage();
    await call(page, 'planFetches', { beforeShardRequest: 5, control: { etag_generation: 1 } });
    const failed = await call(page, 'open', url, { shardSize: SHARD_SIZE, concurrency: 1 });
    assert.equal(failed.ok, false);
    assert.equal(failed.error.name, 'DownloadError');
    assert.match(failed.error.message, /changed on the server/);
    assert.match(failed.error.message, /retry/i);
    assert.deepEqual(recordedShards(await call(page, 'manifest', url)), [0, 1, 2, 3], 'only shards of the old file');

    await call(page, 'planFetches', null);
    await resetStats(server);
    const retried = await call(page, 'open', url, { shardSize: SHARD_SIZE });
    assert.equal(retried.ok, true, JSON.stringify(retried.error));
    const allRanges = Array.from({ length: count }, (_, index) => shardRange(model.size, index));
    assert.deepEqual(shardRangesOf(await requestsFor(server, model.urlPath)), allRanges, 'every shard of the new file');
    const manifest = await call(page, 'manifest', url);
    assert.match(manifest.parts[0].etag, /-1"$/);
    assert.equal(recordedShards(manifest).length, count);
  });

  it('a missing file: DownloadError naming the status, at once, nothing stored', async () => {
    const page = await freshPage();
    const missing = `${server.url}/models/no-such-model.gguf`;
    await resetStats(server);
    const result = await call(page, 'open', missing, { shardSize: SHARD_SIZE });
    assert.equal(result.ok, false);
    assert.equal(result.error.name, 'DownloadError');
    assert.match(result.error.message, /404/);
    assert.equal(result.error.details.status, 404);
    assert.equal((await requestsFor(server, '/models/no-such-model.gguf')).length, 1, 'a 404 is not retried');
    assert.equal(await call(page, 'manifest', missing), undefined);
  });

  it('a quota too small: QuotaExceededError with needed and available bytes before anything is written', async () => {
    // Chromium reports a static quota (usage + 10 GiB) to pages unless StaticStorageQuota is off;
    // with it off, navigator.storage.estimate gives the real (here overridden) quota.
    const page = await freshPage({ extraArgs: ['--disable-features=StaticStorageQuota'] });
    const cdp = await browser.context.newCDPSession(page);
    const quotaSize = 400_000;
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.url, quotaSize });
    const estimate = await call(page, 'estimate');
    assert.equal(estimate.quota, quotaSize, 'the quota override is in force');
    await resetStats(server);
    const result = await call(page, 'open', url, { shardSize: SHARD_SIZE });
    assert.equal(result.ok, false);
    assert.equal(result.error.name, 'QuotaExceededError');
    assert.equal(result.error.details.needed, model.size);
    const usageAfter = (await call(page, 'estimate')).usage;
    assert.equal(
      result.error.details.available,
      quotaSize - usageAfter,
      `available: the quota less the usage (${usageAfter} bytes)`,
    );
    assert.ok(result.error.message.includes(`${model.size} bytes`), result.error.message);
    assert.ok(result.error.message.includes(`${result.error.details.available} bytes`), result.error.message);
    assert.match(result.error.message, /free space/i);
    assert.match(result.error.message, /delete cached models/i);
    assert.deepEqual(shardRangesOf(await requestsFor(server, model.urlPath)), [], 'no shard downloaded');
    assert.equal(await call(page, 'manifest', url), undefined, 'no manifest written');
    assert.equal(await call(page, 'shardCount', url), 0, 'no shard written');
    assert.deepEqual(await call(page, 'listCached'), []);

    await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.url });
    const retried = await call(page, 'open', url, { shardSize: SHARD_SIZE });
    assert.equal(retried.ok, true, `with the quota back, the load works: ${JSON.stringify(retried.error)}`);
  });

  it('a browser that reports more quota than it grants: the refused write gives QuotaExceededError, stored shards stay consistent', async () => {
    const page = await freshPage();
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.url, quotaSize: 400_000 });
    const result = await call(page, 'open', url, { shardSize: SHARD_SIZE, concurrency: 1 });
    assert.equal(result.ok, false);
    assert.equal(result.error.name, 'QuotaExceededError', JSON.stringify(result.error));
    const stored = recordedShards(await call(page, 'manifest', url));
    assert.ok(stored.length > 0 && stored.length < count, `some shards stored before the refusal: ${stored}`);
    assert.equal(
      result.error.details.needed,
      model.size - stored.length * SHARD_SIZE,
      'needed: what the model still lacks',
    );
    assert.match(result.error.message, /free space/i);
    assert.equal(await call(page, 'shardCount', url), stored.length, 'no shard without its record');

    await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.url });
    await resumeFetchesOnlyMissing(page, stored);
  });
});
