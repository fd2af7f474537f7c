// Shard store, in headless Chromium: local Files and Blobs read in place (nothing stored) or stored
// on request, split models (several URLs), reads at shard and part boundaries against the original
// bytes with a bounded RAM cache, and listCached / deleteCached.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { control, launchBrowser, resetStats, startServer, stopAll } from './harness.mjs';
import {
  FAST_RETRIES,
  MOUNTS,
  SHARD_SIZE,
  boundarySpans,
  call,
  expectedShardRecords,
  fixture,
  openStorePage,
  progressOf,
  progressPhases,
  randomSpans,
  requestsFor,
  shardCount,
  shardRange,
  shardRangesOf,
} from './store-support.mjs';

const single = fixture('mixtral-q4_0');
const second = fixture('dense-llama-q8_0');
const partial = fixture('moe-4x-top2-q8_0');

function assertRecords(part, bytes, what) {
  const expected = expectedShardRecords(bytes);
  assert.equal(part.shards.length, expected.length, `${what}: shard count`);
  for (const [index, record] of part.shards.entries()) {
    assert.deepEqual(
      record,
      expected[index],
      `${what}, shard ${index}: recorded ${JSON.stringify(record)}, expected ${JSON.stringify(expected[index])}`,
    );
  }
}

async function assertReadsMatch(page, key, urls, spans) {
  const reads = await call(page, 'compareReads', key, urls, spans);
  assert.equal(
    reads.mismatch,
    null,
    `read mismatch after ${reads.checked} good spans: ${JSON.stringify(reads.mismatch)}`,
  );
  return reads;
}

describe('shard store: local files, split models, reads, listing and deleting', () => {
  let server;
  let page;
  let singleUrl;
  const keys = {};

  before(async () => {
    server = await startServer({ mounts: MOUNTS });
    singleUrl = `${server.url}${single.urlPath}`;
    ({ page } = await launchBrowser());
    await openStorePage(page, server);
  });

  after(stopAll);

  it('reads a File from a file input in place: no request, nothing stored, byte for byte', async () => {
    await page.setInputFiles('#file', single.filePath);
    await resetStats(server);
    const usage = (await call(page, 'estimate')).usage;
    const result = await call(page, 'open', { file: 'input' }, { shardSize: SHARD_SIZE, ramBudget: 3 * SHARD_SIZE });
    assert.equal(result.ok, true, JSON.stringify(result.error));
    assert.equal(result.origin, 'file');
    assert.match(result.key, new RegExp(`^file:model\\.gguf:${single.size}:\\d+$`));
    assert.deepEqual(result.events, [], 'nothing to download or verify');
    assert.deepEqual(await requestsFor(server, single.urlPath), [], 'the file is not fetched');
    // compareReads fetches the original from the server, to compare with.
    const reads = await assertReadsMatch(
      page,
      result.key,
      [singleUrl],
      [...boundarySpans(single.size), ...randomSpans(single.size, 100, 3 * SHARD_SIZE, 5)],
    );
    assert.ok(reads.maxCachedBytes > 0 && reads.maxCachedBytes <= 3 * SHARD_SIZE, `RAM cache held ${reads.maxCachedBytes} bytes`);
    // Before listing: listing opens (and so creates) the store's database.
    assert.equal((await call(page, 'estimate')).usage, usage, 'storage usage unchanged');
    assert.equal(await call(page, 'manifest', result.key), undefined, 'no manifest');
    assert.equal(await call(page, 'shardCount', result.key), 0, 'no shard');
    assert.deepEqual(await call(page, 'listCached'), []);
    await call(page, 'closeReader', result.key);
  });

  it('stores a File from a file input with store: true, without any request, and reads it back byte for byte', async () => {
    await page.setInputFiles('#file', single.filePath);
    await resetStats(server);
    const result = await call(page, 'open', { file: 'input' }, { shardSize: SHARD_SIZE, store: true });
    assert.equal(result.ok, true, JSON.stringify(result.error));
    keys.input = result.key;
    assert.match(result.key, new RegExp(`^file:model\\.gguf:${single.size}:\\d+$`));
    assert.equal(result.size, single.size);
    assert.deepEqual(await requestsFor(server, single.urlPath), [], 'the file is not fetched');
    assert.deepEqual(progressPhases(result.events), ['download', 'verify']);
    assert.equal(result.events[0].loaded, 0);

    const manifest = await call(page, 'manifest', result.key);
    assert.equal(manifest.kind, 'file');
    assert.deepEqual(manifest.sources, ['model.gguf']);
    assert.equal(manifest.complete, true);
    assertRecords(manifest.parts[0], single.bytes, 'file');
    await assertReadsMatch(
      page,
      result.key,
      [singleUrl],
      [...boundarySpans(single.size), ...randomSpans(single.size, 100, 3 * SHARD_SIZE)],
    );

    const digests = await call(page, 'digests');
    const again = await call(page, 'open', { file: 'input' }, { shardSize: SHARD_SIZE, store: true });
    assert.equal(again.key, result.key, 'the same file finds its stored copy');
    assert.equal(again.origin, 'storage');
    assert.deepEqual(
      progressOf(again.events[0]),
      { phase: 'download', loaded: single.size, total: single.size },
      'nothing to store the second time',
    );
    assert.deepEqual(progressPhases(again.events), ['download'], 'and nothing to verify');
    assert.equal(await call(page, 'digests'), digests, 'no shard hashed again');
  });

  it('stores a File made in the page and a Blob the same way', async () => {
    const file = await call(
      page,
      'open',
      { file: 'constructed', bytesFrom: singleUrl, name: 'made.gguf', lastModified: 1234 },
      { shardSize: SHARD_SIZE, store: true },
    );
    assert.equal(file.ok, true, JSON.stringify(file.error));
    assert.equal(file.key, `file:made.gguf:${single.size}:1234`);
    keys.constructed = file.key;
    assertRecords((await call(page, 'manifest', file.key)).parts[0], single.bytes, 'constructed file');
    await assertReadsMatch(page, file.key, [singleUrl], boundarySpans(single.size));

    const blob = await call(page, 'open', { blob: singleUrl }, { shardSize: SHARD_SIZE, store: true });
    assert.equal(blob.ok, true, JSON.stringify(blob.error));
    assert.match(blob.key, /^blob:[0-9a-f]{64}$/);
    keys.blob = blob.key;
    const blobManifest = await call(page, 'manifest', blob.key);
    assert.equal(blobManifest.kind, 'blob');
    assertRecords(blobManifest.parts[0], single.bytes, 'blob');
    await assertReadsMatch(page, blob.key, [singleUrl], boundarySpans(single.size));

    const sameBytes = await call(page, 'open', { blob: singleUrl }, { shardSize: SHARD_SIZE, store: true });
    assert.equal(sameBytes.key, blob.key, 'the same bytes find their stored copy');
    assert.deepEqual(progressOf(sameBytes.events[0]), { phase: 'download', loaded: single.size, total: single.size });

    const inPlace = await call(page, 'open', { blob: singleUrl }, { shardSize: SHARD_SIZE });
    assert.equal(inPlace.ok, true, JSON.stringify(inPlace.error));
    assert.deepEqual([inPlace.key, inPlace.origin], [null, 'file'], 'a Blob without store: true is read in place, with no key');
    await assertReadsMatch(page, null, [singleUrl], boundarySpans(single.size));
  });

  it('a split model (two URLs) gives one reader over both parts, and one manifest covering both', async () => {
    const urls = [singleUrl, `${server.url}${second.urlPath}`];
    await resetStats(server);
    const result = await call(page, 'open', urls, { shardSize: SHARD_SIZE });
    assert.equal(result.ok, true, JSON.stringify(result.error));
    keys.split = result.key;
    assert.equal(result.key, urls.join('\n'));
    assert.equal(result.size, single.size + second.size);
    assert.deepEqual(result.partSizes, [single.size, second.size]);
    for (const model of [single, second]) {
      const requests = await requestsFor(server, model.urlPath);
      const ranges = Array.from({ length: shardCount(model.size) }, (_, index) => shardRange(model.size, index));
      assert.deepEqual(shardRangesOf(requests), ranges, `${model.urlPath}: every shard once`);
    }

    const manifest = await call(page, 'manifest', result.key);
    assert.deepEqual(manifest.sources, urls);
    assert.equal(manifest.size, single.size + second.size);
    assert.equal(manifest.parts.length, 2);
    assertRecords(manifest.parts[0], single.bytes, 'part 0');
    assertRecords(manifest.parts[1], second.bytes, 'part 1');

    const boundary = single.size;
    const acrossParts = [
      { offset: boundary - 10, length: 20 },
      { offset: boundary - 1, length: 1 },
      { offset: boundary, length: 1 },
      { offset: boundary - SHARD_SIZE - 7, length: 2 * SHARD_SIZE + 14 },
      { offset: 0, length: single.size + second.size },
    ];
    const partSpans = [
      ...boundarySpans(single.size).map((span) => ({ ...span, part: 0 })),
      ...boundarySpans(second.size).map((span) => ({ ...span, part: 1 })),
    ];
    await assertReadsMatch(page, result.key, urls, [
      ...acrossParts,
      ...partSpans,
      ...randomSpans(single.size + second.size, 200, 2 * SHARD_SIZE, 99),
    ]);
  });

  it('random reads stay byte-exact while the RAM cache stays within its budget; sequential reads read ahead', async () => {
    const ramBudget = 3 * SHARD_SIZE;
    const urls = [singleUrl, `${server.url}${second.urlPath}`];
    const opened = await call(page, 'open', urls, { shardSize: SHARD_SIZE, ramBudget });
    assert.equal(opened.ok, true, JSON.stringify(opened.error));
    const total = single.size + second.size;
    const sequential = Array.from({ length: Math.ceil(total / 50_000) }, (_, index) => ({
      offset: index * 50_000,
      length: Math.min(50_000, total - index * 50_000),
    }));
    const reads = await assertReadsMatch(page, opened.key, urls, [
      ...sequential,
      ...randomSpans(total, 300, 40_000, 7),
    ]);
    assert.ok(reads.maxCachedBytes > 0, 'the cache is used');
    assert.ok(reads.maxCachedBytes <= ramBudget, `the cache held ${reads.maxCachedBytes} bytes, budget ${ramBudget}`);

    const uncached = await call(page, 'open', urls, { shardSize: SHARD_SIZE, ramBudget: 0 });
    const noCache = await assertReadsMatch(page, uncached.key, urls, randomSpans(total, 50, 3 * SHARD_SIZE, 3));
    assert.equal(noCache.maxCachedBytes, 0, 'a zero budget caches nothing');

    const scanning = await call(page, 'open', urls, { shardSize: SHARD_SIZE, ramBudget: 4 * SHARD_SIZE });
    const half = SHARD_SIZE / 2;
    await assertReadsMatch(page, scanning.key, urls, [{ offset: 0, length: half }]);
    assert.equal(await call(page, 'cachedBytes', scanning.key), SHARD_SIZE, 'a first read: its shard only');
    await assertReadsMatch(page, scanning.key, urls, [{ offset: half, length: half }]);
    assert.equal(
      await call(page, 'cachedBytes', scanning.key),
      2 * SHARD_SIZE,
      'a sequential read ending at a shard boundary reads the next shard ahead',
    );
    await assertReadsMatch(page, scanning.key, urls, [{ offset: 5 * SHARD_SIZE + 1, length: half }]);
    assert.equal(await call(page, 'cachedBytes', scanning.key), 3 * SHARD_SIZE, 'a jump reads no shard ahead');

    const outside = await call(page, 'tryRead', opened.key, total - 4, 5);
    assert.deepEqual([outside.ok, outside.error.name], [false, 'InvalidOptionError']);
    const outsidePart = await call(page, 'tryRead', opened.key, second.size, 1, 1);
    assert.deepEqual([outsidePart.ok, outsidePart.error.name], [false, 'InvalidOptionError']);
    await call(page, 'closeReader', opened.key);
    const closed = await call(page, 'tryRead', opened.key, 0, 1);
    assert.deepEqual([closed.ok, closed.error.name], [false, 'EngineUnavailableError']);
  });

  it('listCached lists complete and partial models; deleteCached removes one model and frees its shards', async () => {
    const partialUrl = `${server.url}${partial.urlPath}`;
    await call(page, 'planFetches', { beforeShardRequest: 4, control: { down: true } });
    const failed = await call(page, 'open', partialUrl, { shardSize: SHARD_SIZE, concurrency: 1, ...FAST_RETRIES });
    await call(page, 'planFetches', null);
    await control(server, { down: false });
    assert.equal(failed.ok, false);
    keys.partial = partialUrl;

    const listed = await call(page, 'listCached');
    const byKey = new Map(listed.map((entry) => [entry.key, entry]));
    assert.deepEqual(new Set(byKey.keys()), new Set(Object.values(keys)), 'every stored model listed, nothing else');
    assert.deepEqual(
      { ...byKey.get(partialUrl), storedAt: 0 },
      {
        key: partialUrl,
        sources: [partialUrl],
        size: partial.size,
        storedBytes: 3 * SHARD_SIZE,
        complete: false,
        storedAt: 0,
        shardSize: SHARD_SIZE,
      },
    );
    assert.deepEqual(
      { ...byKey.get(keys.split), storedAt: 0 },
      {
        key: keys.split,
        sources: keys.split.split('\n'),
        size: single.size + second.size,
        storedBytes: single.size + second.size,
        complete: true,
        storedAt: 0,
        shardSize: SHARD_SIZE,
      },
    );
    for (const entry of listed)
      assert.ok(
        entry.storedAt > Date.now() - 600_000 && entry.storedAt <= Date.now(),
        `${entry.key}: storedAt ${entry.storedAt}`,
      );

    const shardsBefore = {};
    for (const [name, key] of Object.entries(keys)) shardsBefore[name] = await call(page, 'shardCount', key);
    assert.equal(shardsBefore.partial, 3);
    assert.equal(shardsBefore.split, shardCount(single.size) + shardCount(second.size));

    const deletions = [
      ['partial', keys.partial],
      ['split', keys.split.split('\n')],
      ['input', { file: 'input' }],
      ['constructed', keys.constructed],
      ['blob', { blob: singleUrl }],
    ];
    for (const [index, [name, argument]] of deletions.entries()) {
      assert.equal(await call(page, 'deleteCached', argument), true, `deleting ${name}`);
      assert.equal(await call(page, 'shardCount', keys[name]), 0, `${name}: shards freed`);
      assert.equal(await call(page, 'manifest', keys[name]), undefined, `${name}: manifest gone`);
      for (const [laterName] of deletions.slice(index + 1)) {
        assert.equal(
          await call(page, 'shardCount', keys[laterName]),
          shardsBefore[laterName],
          `${laterName} untouched by deleting ${name}`,
        );
      }
      assert.equal(await call(page, 'deleteCached', argument), false, `deleting ${name} again`);
    }
    assert.deepEqual(await call(page, 'listCached'), []);
  });
});
