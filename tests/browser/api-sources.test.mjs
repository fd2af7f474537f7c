// Where Engine.load reads a model from, in headless Chromium: a File (and the Files of a split
// model) read in place with Blob.slice, nothing written to IndexedDB; a URL stored once and trusted
// afterwards; a URL larger than the origin's quota refused right after the 1-byte probe, and read
// with Range requests without storing anything when `store: false`; persistent storage asked for
// once. Every way gives the logits the URL load gives, also with experts streamed in under a GPU
// budget from the File or the server.
//
// The model larger than the quota is the MoE fixture with zeros after it to quota + 1 GiB, as a
// sparse file: the server's Content-Range claims gigabytes that are never read.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, resetStats, startServer, stats, stopAll } from './harness.mjs';
import { openApiPage } from './api-helpers.mjs';
import { splitGguf } from './gguf-split.mjs';

const CASE = 'mixtral-q8_0';
const MODEL_FILE = path.join(REPO_ROOT, 'tests/fixtures/oracle', CASE, 'model.gguf');
const MODEL_URL = `/oracle/${CASE}/model.gguf`;
const IDS = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tests/fixtures/oracle', CASE, 'reference.json'), 'utf8')).tokens;
const LOAD = { contextLength: 64 };

const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'webmoe-sources-'));
const SPLIT_FILES = splitGguf(new Uint8Array(fs.readFileSync(MODEL_FILE)), 2).map((bytes, i) => {
  const file = path.join(folder, `moe-0000${i + 1}-of-00002.gguf`);
  fs.writeFileSync(file, bytes);
  return file;
});
const HUGE = path.join(folder, 'huge.gguf');

let page;
let server;
before(async () => {
  ({ page, server } = await openApiPage({
    mounts: { '/oracle': 'tests/fixtures/oracle', '/files': folder },
    pageName: 'sources.html',
  }));
});
after(async () => {
  await stopAll();
  fs.rmSync(folder, { recursive: true, force: true });
});

const run = (args) => page.evaluate((a) => window.run(a), { ids: IDS, load: LOAD, ...args });

test('a URL model is stored once, trusted on later loads (no hashing), and persistence is asked for once', async () => {
  const first = await run({ source: MODEL_URL, keep: true });
  assert.equal(first.error, undefined, JSON.stringify(first.error));
  assert.equal(first.model.readFrom, 'storage');
  assert.deepEqual(first.phases, ['download', 'verify', 'upload'], 'downloaded, verified once as written, uploaded');
  const second = await run({ source: MODEL_URL });
  assert.equal(second.error, undefined, JSON.stringify(second.error));
  assert.deepEqual(second.phases, ['download', 'upload'], 'a stored model is not verified again');
  assert.equal(second.maxDiff, 0);
  assert.equal(await page.evaluate(() => window.persistCalls), 1, 'persist() asked once for two loads');

  // A new page of the same profile remembers the answer.
  await page.reload();
  await page.waitForFunction(() => window.webmoe !== undefined);
  const again = await run({ source: MODEL_URL, keep: true });
  assert.equal(again.error, undefined, JSON.stringify(again.error));
  assert.equal(await page.evaluate(() => window.persistCalls), 0, 'not asked again after a reload');
});

test('a File loads in place: IndexedDB untouched, logits equal to the URL load, also with experts streamed from the File', async () => {
  await page.setInputFiles('#file', MODEL_FILE);
  const before = await page.evaluate(() => window.usage());
  const keysBefore = await page.evaluate(() => window.storedKeys());
  const file = await run({ source: 'input' });
  assert.equal(file.error, undefined, JSON.stringify(file.error));
  assert.equal(file.model.readFrom, 'file');
  assert.match(file.model.key, /^file:model\.gguf:\d+:\d+$/);
  assert.equal(file.maxDiff, 0, 'the same logits as the URL load');
  assert.deepEqual(file.phases, ['upload'], 'nothing downloaded or verified');
  // The device was asked for the adapter's maxima, not WebGPU's defaults (256 MiB buffers, 128 MiB bindings).
  const adapter = await page.evaluate(async () => {
    const { limits } = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    return { maxBufferSize: limits.maxBufferSize, maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize };
  });
  const { bindingLimit, ...requested } = file.model.gpuLimits;
  assert.deepEqual(requested, adapter, 'the limits the engine requested are the adapter\'s');
  assert.equal(bindingLimit, Math.floor(Math.min(adapter.maxBufferSize, adapter.maxStorageBufferBindingSize, 2 ** 32 - 256) / 256) * 256);
  const last = file.events.at(-1);
  assert.equal(last.loaded, last.total, JSON.stringify(last));
  assert.equal(last.etaSeconds, 0, `the last upload event: ${JSON.stringify(last)}`);
  for (const event of file.events) {
    assert.ok(event.bytesPerSecond === null || event.bytesPerSecond > 0, JSON.stringify(event));
    assert.ok(event.etaSeconds === null || event.etaSeconds >= 0, JSON.stringify(event));
  }

  const full = file.stats.gpuMemory;
  const streamed = await run({ source: 'input', load: { ...LOAD, gpuBudget: full.total - full.experts / 2, ramBudget: 0 } });
  assert.equal(streamed.error, undefined, JSON.stringify(streamed.error));
  assert.ok(streamed.stats.expertCache.misses > 0, `experts streamed from the File: ${JSON.stringify(streamed.stats.expertCache)}`);
  assert.equal(streamed.maxDiff, 0, 'the same logits with experts streamed from the File');

  assert.equal(await page.evaluate(() => window.usage()), before, 'storage usage unchanged by File loads');
  assert.deepEqual(await page.evaluate(() => window.storedKeys()), keysBefore, 'nothing new in the store');
});

test('the Files of a split model load in place in any order; a missing part is refused by name', async () => {
  await page.setInputFiles('#file', [SPLIT_FILES[1], SPLIT_FILES[0]]);
  const split = await run({ source: 'input' });
  assert.equal(split.error, undefined, JSON.stringify(split.error));
  assert.equal(split.model.readFrom, 'file');
  assert.equal(split.model.key.split('\n').length, 2, `one key line per part: ${split.model.key}`);
  assert.equal(split.maxDiff, 0, 'the same logits as the single file');

  await page.setInputFiles('#file', SPLIT_FILES[1]);
  const missing = await run({ source: 'input' });
  assert.equal(missing.error?.name, 'InvalidOptionError', JSON.stringify(missing));
  assert.match(missing.error.message, /part 1 of 2 is missing/);
  assert.deepEqual(await page.evaluate(() => window.storedKeys()), [`${server.url}${MODEL_URL}`], 'nothing stored');
});

test('store: true copies a File into storage; the next load of it reads storage', async () => {
  await page.setInputFiles('#file', MODEL_FILE);
  const stored = await run({ source: 'input', load: { ...LOAD, store: true } });
  assert.equal(stored.error, undefined, JSON.stringify(stored.error));
  assert.deepEqual(stored.phases, ['download', 'verify', 'upload']);
  assert.equal(stored.maxDiff, 0);
  const again = await run({ source: 'input', load: { ...LOAD, store: true } });
  assert.deepEqual([again.model.readFrom, again.phases], ['storage', ['download', 'upload']]);
  const keys = await page.evaluate(() => window.storedKeys());
  assert.ok(keys.includes(again.model.key), `${again.model.key} in ${keys}`);
  assert.equal(await page.evaluate((key) => window.webmoe.Engine.deleteCached(key), again.model.key), true);
});

test('a model larger than the quota is refused after the probe alone, naming the bytes and the ways out; store: false reads it with Range requests and stores nothing', async () => {
  // Sized from the quota this profile reports, so that it never fits.
  const quota = await page.evaluate(async () => (await navigator.storage.estimate()).quota);
  const size = quota + 2 ** 30;
  fs.copyFileSync(MODEL_FILE, HUGE);
  fs.truncateSync(HUGE, size);
  const keysBefore = await page.evaluate(() => window.storedKeys());
  const usage = await page.evaluate(() => window.usage());

  await resetStats(server);
  const refused = await run({ source: '/files/huge.gguf' });
  assert.equal(refused.error?.name, 'QuotaExceededError', JSON.stringify(refused));
  const { needed, available } = refused.error.details;
  assert.equal(needed, size);
  assert.ok(available > 0 && available < size, `available ${available}`);
  for (const part of [`${size} bytes`, `${available} bytes`, 'store: false', 'open it from disk']) {
    assert.ok(refused.error.message.includes(part), `the message names ${part}: ${refused.error.message}`);
  }
  const requests = (await stats(server)).filter((request) => request.path === '/files/huge.gguf');
  assert.deepEqual(requests.map((request) => request.range), ['bytes=0-0'], 'nothing but the 1-byte probe was fetched');

  await resetStats(server);
  const remote = await run({ source: '/files/huge.gguf', load: { ...LOAD, store: false } });
  assert.equal(remote.error, undefined, JSON.stringify(remote.error));
  assert.equal(remote.model.readFrom, 'network');
  assert.equal(remote.maxDiff, 0, 'the same logits, read from the server');
  const full = remote.stats.gpuMemory;
  const streamed = await run({
    source: '/files/huge.gguf',
    load: { ...LOAD, store: false, gpuBudget: full.total - full.experts / 2, ramBudget: 0 },
  });
  assert.equal(streamed.error, undefined, JSON.stringify(streamed.error));
  assert.ok(streamed.stats.expertCache.misses > 0, JSON.stringify(streamed.stats.expertCache));
  assert.equal(streamed.maxDiff, 0, 'the same logits with experts streamed from the server');
  const fetched = (await stats(server)).filter((request) => request.path === '/files/huge.gguf');
  assert.ok(fetched.every((request) => request.status === 206), 'Range requests only');
  const bytes = fetched.reduce((sum, { range }) => {
    const [from, to] = /bytes=(\d+)-(\d+)/.exec(range).slice(1).map(Number);
    return sum + to - from + 1;
  }, 0);
  // The header read, the blocks the weights are in and the block read ahead after them (32 MiB
  // each), and the streamed experts' own bytes (a RAM budget of 0 keeps no block, so reads fetch
  // just their spans).
  assert.ok(bytes < 128 * 2 ** 20, `${bytes} bytes fetched of a ${size}-byte file`);

  assert.equal(await page.evaluate(() => window.usage()), usage, 'storage usage unchanged');
  assert.deepEqual(await page.evaluate(() => window.storedKeys()), keysBefore, 'nothing stored');
});

test('store: false from a server that ignores Range is refused with DownloadError saying what to do', async () => {
  const plain = await startServer({ root: 'tests/fixtures/oracle', noRange: true });
  const out = await run({ source: `${plain.url}/${CASE}/model.gguf`, load: { ...LOAD, store: false } });
  assert.equal(out.error?.name, 'DownloadError', JSON.stringify(out));
  assert.match(out.error.message, /does not serve HTTP Range requests/);
  assert.match(out.error.message, /store: true/);
  assert.match(out.error.message, /open it from disk/);
  const requests = (await stats(plain)).filter((request) => request.path === `/${CASE}/model.gguf`);
  assert.equal(requests.length, 1, 'the probe only: its body is cancelled');
});
