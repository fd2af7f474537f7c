// Engine.load checks a model from its header before downloading it: a model webmoe cannot run (here
// an IQ2_XS tensor) is refused after the probe and one request for the file's first 4 MiB, with or
// without Range support on the server, and nothing is stored. A valid model costs that one header
// request more on its first load, and none once it is stored.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, resetStats, startServer, stats, stopAll } from './harness.mjs';
import { openApiPage } from './api-helpers.mjs';
import { IQ2_XS, patched, tensorEntry, u32le } from './gguf-patch.mjs';

const VALID = 'mixtral-q8_0';
const HEADER_READ = 4 << 20;

// The valid model with one tensor of a type webmoe does not run, padded past the first header read
// (bytes after the data section are allowed), so that the header request is distinguishable from
// the download of the whole file, one 32 MiB shard.
const valid = new Uint8Array(fs.readFileSync(path.join(REPO_ROOT, 'tests/fixtures/oracle', VALID, 'model.gguf')));
const unsupported = new Uint8Array(6 << 20);
unsupported.set(patched(valid, tensorEntry(valid, 'blk.0.attn_q.weight').type, u32le(IQ2_XS)));
const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'webmoe-header-check-'));
fs.writeFileSync(path.join(folder, 'iq2_xs.gguf'), unsupported);

let page;
let server;
before(async () => {
  ({ page, server } = await openApiPage({ mounts: { '/files': folder, '/oracle': 'tests/fixtures/oracle' } }));
  await page.evaluate(() => {
    // Loads `url`; the error as { name, message }, or the model's key; and what the store holds after.
    window.loadOf = async (url) => {
      let outcome;
      try {
        const engine = await window.webmoe.Engine.load(url);
        outcome = { key: engine.model.key };
        await engine.unload();
      } catch (error) {
        outcome = { name: error.name, message: error.message };
      }
      return { ...outcome, cached: (await window.webmoe.Engine.listCached()).map((model) => model.key) };
    };
  });
});
after(async () => {
  await stopAll();
  fs.rmSync(folder, { recursive: true, force: true });
});

function assertRefused(out) {
  assert.equal(out.name, 'ModelFormatError', JSON.stringify(out));
  assert.match(out.message, /"blk\.0\.attn_q\.weight"/, 'the message names the tensor');
  assert.match(out.message, /IQ2_XS/, 'the message names the type');
  assert.deepEqual(out.cached, [], 'nothing was stored');
}

test('an IQ2_XS model is refused after the probe and a request for its header only', async () => {
  await resetStats(server);
  const out = await page.evaluate((url) => window.loadOf(url), '/files/iq2_xs.gguf');
  assertRefused(out);
  const ranges = (await stats(server)).filter((request) => request.path === '/files/iq2_xs.gguf').map((request) => request.range);
  assert.deepEqual(ranges, ['bytes=0-0', `bytes=0-${HEADER_READ - 1}`]);
});

test('from a server that ignores Range, the header comes from a GET cut short, and the model is refused', async () => {
  const plain = await startServer({ root: folder, noRange: true });
  const out = await page.evaluate((url) => window.loadOf(url), `${plain.url}/iq2_xs.gguf`);
  assertRefused(out);
  const requests = (await stats(plain)).filter((request) => request.path === '/iq2_xs.gguf');
  assert.deepEqual(
    requests.map((request) => request.status),
    [200, 200],
    'the probe, then the GET the header is read from',
  );
});

test('a valid model: the header request precedes the download, and the stored model loads with the probe alone', async () => {
  const urlPath = `/oracle/${VALID}/model.gguf`;
  const whole = `bytes=0-${valid.length - 1}`;
  await resetStats(server);
  const first = await page.evaluate((url) => window.loadOf(url), urlPath);
  assert.ok(first.key, JSON.stringify(first));
  const ranges = async () => (await stats(server)).filter((request) => request.path === urlPath).map((request) => request.range);
  // The file is shorter than the first header read: the header request is the whole file, then
  // its one shard.
  assert.deepEqual(await ranges(), ['bytes=0-0', whole, whole]);
  await resetStats(server);
  const again = await page.evaluate((url) => window.loadOf(url), urlPath);
  assert.equal(again.key, first.key);
  assert.deepEqual(await ranges(), ['bytes=0-0'], 'a stored model: the probe and no other request');
});
