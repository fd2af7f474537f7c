// The tiny MoE fixtures generate, greedy, the same 16 tokens in the browser as the native CLI for
// the same ids, and as the reference's `greedy` field (tests/fixtures/oracle/*/reference.json).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, stopAll } from './harness.mjs';
import { firstDifference, generateInPage, nativeCli, nativeGreedy, openApiPage } from './api-helpers.mjs';

const CASES = ['mixtral-q8_0', 'moe-4x-top2-q8_0', 'mixtral-q4_k_m'];
const ORACLE = path.join(REPO_ROOT, 'tests', 'fixtures', 'oracle');

let page;
let cli;
before(async () => {
  cli = nativeCli();
  ({ page } = await openApiPage({ mounts: { '/oracle': ORACLE } }));
});
after(stopAll);

for (const name of CASES) {
  test(`${name}: 16 greedy tokens match the native CLI and the reference`, async () => {
    const reference = JSON.parse(fs.readFileSync(path.join(ORACLE, name, 'reference.json'), 'utf8'));
    const native = nativeGreedy(cli, path.join(ORACLE, name, 'model.gguf'), reference.tokens, 16);
    const result = await generateInPage(page, {
      url: `/oracle/${name}/model.gguf`,
      prompt: reference.tokens,
      options: { maxTokens: 16, temperature: 0, ignoreEos: true },
    });
    assert.equal(result.error, undefined, `loading or generating failed: ${JSON.stringify(result.error)}`);
    assert.deepEqual(result.tokens, native, `browser vs native CLI: ${firstDifference(result.tokens, native)}`);
    assert.deepEqual(result.tokens, reference.greedy, `browser vs reference greedy: ${firstDifference(result.tokens, reference.greedy)}`);
    // The routing log covers the prompt and every fed generated token (the last one is not fed).
    assert.equal(result.stats.positions, reference.tokens.length + 15, 'positions after 16 tokens');
    const perLayer = result.stats.expertCounts.map((layer) => layer.reduce((a, b) => a + b, 0));
    const expected = result.stats.positions * (name.startsWith('moe-8x-top1') ? 1 : 2);
    perLayer.forEach((sum, layer) => assert.equal(sum, expected, `layer ${layer}: ${sum} expert choices, expected ${expected}`));
  });
}
