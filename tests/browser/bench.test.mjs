// The browser benchmark: www/bench.html through scripts/bench-browser.mjs prints the same figures as
// `webmoe bench`, and a resident MoE model decodes with one submit and one read-back per token.
// With --file the model is given as a local file (read in place) and a budget can take units.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './harness.mjs';

const run = promisify(execFile);

test('bench.html reports speed, per-token GPU work and bandwidth for a MoE model', { timeout: 600_000 }, async () => {
  const model = path.join(REPO_ROOT, 'tests/fixtures/oracle/mixtral-q4_k_m/model.gguf');
  const script = path.join(REPO_ROOT, 'scripts/bench-browser.mjs');
  const { stdout } = await run('node', [script, model, '--prompt', '6', '--gen', '4', '--reps', '1'], { cwd: REPO_ROOT, maxBuffer: 1 << 20 });
  const r = JSON.parse(stdout);
  assert.equal(r.promptTokens, 6);
  assert.equal(r.genTokens, 4);
  assert.ok(r.prefillTokensPerSecond > 0 && r.decodeTokensPerSecond > 0, JSON.stringify(r));
  assert.equal(r.submitsPerToken, 1);
  assert.equal(r.readbacksPerToken, 1);
  assert.ok(r.dispatchesPerLayer <= 10, `dispatches per layer: ${r.dispatchesPerLayer}`);
  assert.equal(r.expertSlots, 16, 'every expert of the 2 layers resident');
  assert.ok(r.weightBytesPerToken > 0 && r.copyBandwidthBytesPerSecond > 0 && r.rooflineRatio > 0, JSON.stringify(r));
  assert.ok(r.loadSeconds > 0);
  assert.equal(r.readFrom, 'storage');
  assert.ok(Math.abs(r.secondsPerToken * r.decodeTokensPerSecond - 1) < 1e-9, JSON.stringify(r));
  assert.ok(r.wasmMemoryBytes > 0, JSON.stringify(r));
});

test('bench-browser --file reads the model in place, under a budget given in units', { timeout: 600_000 }, async () => {
  const model = path.join(REPO_ROOT, 'tests/fixtures/oracle/mixtral-q8_0/model.gguf');
  const script = path.join(REPO_ROOT, 'scripts/bench-browser.mjs');
  // 2 MiB: the resident weights and a few of the 2.4 MB model's experts.
  const args = [script, model, '--file', '--gpu-budget', '2MiB', '--context', '64', '--prompt', '4', '--gen', '3', '--reps', '1'];
  const { stdout } = await run('node', args, { cwd: REPO_ROOT, maxBuffer: 1 << 20 });
  const r = JSON.parse(stdout);
  assert.equal(r.readFrom, 'file');
  assert.deepEqual(r.model, ['model.gguf']);
  assert.ok(r.expertSlots < 16, `experts stream under the budget: ${r.expertSlots} slots`);
  assert.ok(r.expertHitRate >= 0 && r.expertHitRate <= 1, JSON.stringify(r));
  assert.ok(r.secondsPerToken > 0 && r.wasmMemoryBytes > 0, JSON.stringify(r));
});
