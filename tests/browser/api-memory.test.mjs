// A 1 GB model loads with a WebAssembly memory peak under 256 MiB: weights stream from the store to
// the GPU through a bounded window and never sit whole in the wasm heap. The model is written by
// make-large-gguf.py (a dense Q8_0 llama, about 1.03 GB) into a temporary directory.
// Slow: the download into IndexedDB, its verification and the upload to SwiftShader take minutes.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, stopAll } from './harness.mjs';
import { openApiPage } from './api-helpers.mjs';

const WASM_LIMIT = 256 * 2 ** 20;
const MODEL_BYTES = 1_000_000_000;

let dir;
let page;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webmoe-large-'));
  execFileSync('python3', [path.join(REPO_ROOT, 'tests/browser/make-large-gguf.py'), path.join(dir, 'large.gguf'), '--bytes', String(MODEL_BYTES)], {
    stdio: 'inherit',
  });
  ({ page } = await openApiPage({ mounts: { '/large': dir } }));
});
after(async () => {
  await stopAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a 1 GB model loads with the wasm memory under 256 MiB', { timeout: 30 * 60_000 }, async () => {
  const size = fs.statSync(path.join(dir, 'large.gguf')).size;
  assert.ok(size >= MODEL_BYTES, `the model is ${size} bytes`);
  const out = await page.evaluate(async () => {
    const { Engine } = window.webmoe;
    const phases = {};
    const started = performance.now();
    const engine = await Engine.load('/large/large.gguf', {
      contextLength: 256,
      onProgress: ({ phase, loaded, total }) => {
        phases[phase] = { loaded, total, seconds: (performance.now() - started) / 1000 };
      },
    });
    const stats = await engine.stats();
    await engine.unload();
    await Engine.deleteCached('/large/large.gguf');
    return { stats, phases, seconds: (performance.now() - started) / 1000 };
  });
  console.log(`1 GB model: loaded in ${out.seconds.toFixed(0)} s; phases ${JSON.stringify(out.phases)}; ` +
    `wasm memory ${(out.stats.wasmMemory / 2 ** 20).toFixed(1)} MiB; GPU ${(out.stats.gpuMemory.total / 2 ** 20).toFixed(1)} MiB`);
  assert.ok(out.stats.wasmMemory < WASM_LIMIT, `wasm memory ${out.stats.wasmMemory} bytes, limit ${WASM_LIMIT}`);
  assert.ok(out.stats.gpuMemory.weights > 0.9 * size, `GPU weights ${out.stats.gpuMemory.weights} bytes for a ${size}-byte file`);
  assert.equal(out.phases.upload?.loaded, out.phases.upload?.total, `upload progress ${JSON.stringify(out.phases.upload)}`);
  assert.equal(out.phases.download?.loaded, size, `download progress ${JSON.stringify(out.phases.download)}`);
});
