// Every architecture runs in the browser as the reference computes it. For each newer-architecture
// oracle case (qwen2, qwen3, qwen3moe at 16 and 128 experts, qwen2moe with its shared expert,
// olmoe, granitemoe, gpt-oss, and a llama with Llama 3.1's RoPE frequency factors) loaded from
// the server:
// - with an f32 KV cache, the logits of the prompt are within the case's tolerance of the exact
//   reference and 16 greedy tokens are the reference's (up to the first step whose reference
//   margin is below twice the tolerance, where rounding may choose either);
// - with the f16 cache (the default), the greedy tokens are the reference's by the same rule;
// - MoE cases at the smallest GPU budget that runs (`webmoe inspect --json` for the browser's
//   context and binding limit, with the default f16 cache), experts streaming in, give the
//   logits of the f16 run without a budget within 1e-6 and the same greedy tokens.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, stopAll } from './harness.mjs';
import { firstDifference, nativeCli, openApiPage } from './api-helpers.mjs';

const ORACLE = path.join(REPO_ROOT, 'tests', 'fixtures', 'oracle');
const CASES = [
  'qwen2-q8_0',
  'qwen3-q8_0',
  'qwen3moe-16x-top4-q8_0',
  'qwen3moe-128x-top8-q4_k_m',
  'qwen2moe-8x-top4-shexp-q8_0',
  'olmoe-64x-top8-q8_0',
  'granitemoe-32x-top8-q8_0',
  'gpt-oss-8x-top4-mxfp4',
  'llama3-rope-freqs-f32',
];
const CONTEXT = 48;
const TOKENS = 16;
const BUDGET_TOLERANCE = 1e-6;

let cli;
let page;
let bindingLimit;
before(async () => {
  cli = nativeCli();
  ({ page } = await openApiPage({ mounts: { '/oracle': ORACLE } }));
  bindingLimit = await page.evaluate(async () => {
    const { limits } = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  });
  await page.evaluate(() => {
    // Load `url` with `load`, read the logits of `ids` and `tokens` greedy tokens, unload.
    window.runCase = async ({ url, load, ids, tokens }) => {
      try {
        const engine = await window.webmoe.Engine.load(url, load);
        const rows = await engine.logits(ids);
        const generated = [];
        for await (const chunk of engine.generate(ids, { maxTokens: tokens, temperature: 0, ignoreEos: true })) {
          generated.push(chunk.tokenId);
        }
        const stats = await engine.stats();
        await engine.unload();
        return { rows, tokens: generated, stats };
      } catch (error) {
        return { error: { name: error.name, message: error.message, details: error.details } };
      }
    };
  });
});
after(stopAll);

/** The reference's greedy ids as far as they are decided: up to the first step whose margin is below 2 · tolerance. */
function decidedGreedy(reference) {
  const limit = 2 * reference.tolerance.max_abs;
  const undecided = reference.greedy_margins.findIndex((m) => m < limit);
  return reference.greedy.slice(0, undecided === -1 ? reference.greedy.length : undecided);
}

function maxDifference(rows, expected) {
  let worst = 0;
  rows.forEach((row, p) => row.forEach((v, i) => {
    worst = Math.max(worst, Number.isFinite(v) ? Math.abs(v - expected[p][i]) : Infinity);
  }));
  return worst;
}

for (const name of CASES) {
  test(`${name}: the reference's logits and greedy tokens, at f32 and f16 KV and under the smallest GPU budget`, { timeout: 600_000 }, async (t) => {
    const reference = JSON.parse(fs.readFileSync(path.join(ORACLE, name, 'reference.json'), 'utf8'));
    const url = `/oracle/${name}/model.gguf`;
    const run = (load) => page.evaluate((args) => window.runCase(args), { url, load: { contextLength: CONTEXT, ...load }, ids: reference.tokens, tokens: TOKENS });
    const decided = decidedGreedy(reference);

    const f32 = await run({ kvType: 'f32' });
    assert.equal(f32.error, undefined, `loading or running failed: ${JSON.stringify(f32.error)}`);
    const diff = maxDifference(f32.rows, reference.logits);
    assert.ok(diff <= reference.tolerance.max_abs, `f32 KV: logits up to ${diff} from the reference (tolerance ${reference.tolerance.max_abs})`);
    assert.deepEqual(f32.tokens.slice(0, decided.length), decided, `f32 KV greedy: ${firstDifference(f32.tokens.slice(0, decided.length), decided)}`);

    const f16 = await run({ kvType: 'f16' });
    await t.test('f16 KV cache', () => {
      assert.equal(f16.error, undefined, JSON.stringify(f16.error));
      assert.deepEqual(f16.tokens.slice(0, decided.length), decided, `f16 KV greedy: ${firstDifference(f16.tokens.slice(0, decided.length), decided)}`);
    });

    if (name.startsWith('gpt-oss')) {
      await t.test('harmony: chunks name their channel; a prompt without markers keeps every word as text', async () => {
        const out = await page.evaluate(async ({ url }) => {
          const engine = await window.webmoe.Engine.load(url, { contextLength: 48 });
          const chunks = [];
          for await (const chunk of engine.generate('Hello there, friend', { maxTokens: 8, temperature: 0, ignoreEos: true })) chunks.push(chunk);
          const text = await engine.detokenize(chunks.map((c) => c.tokenId));
          await engine.unload();
          return { chunks, text };
        }, { url });
        assert.equal(out.chunks.length, 8);
        assert.ok(out.chunks.every((c) => c.channel === 'final'), JSON.stringify(out.chunks));
        assert.equal(out.chunks.map((c) => c.text).join(''), out.text, 'no word is taken for a header');
      });
    }

    const file = path.join(ORACLE, name, 'model.gguf');
    const figures = JSON.parse(execFileSync(cli, ['inspect', file, '--json', '-c', String(CONTEXT), '--binding-limit', String(bindingLimit)], { cwd: REPO_ROOT, encoding: 'utf8' })).gpu_budget;
    if (figures.all_experts === 0) return;
    await t.test(`gpuBudget ${figures.minimum} (the minimum)`, async () => {
      const out = await run({ kvType: 'f16', gpuBudget: figures.minimum });
      assert.equal(out.error, undefined, JSON.stringify(out.error));
      const budgetDiff = maxDifference(out.rows, f16.rows);
      assert.ok(budgetDiff <= BUDGET_TOLERANCE, `logits differ from those without a budget by up to ${budgetDiff}`);
      assert.deepEqual(out.tokens, f16.tokens, `greedy tokens: ${firstDifference(out.tokens, f16.tokens)}`);
      assert.ok(out.stats.expertCache.misses > 0, `experts were streamed in: ${JSON.stringify(out.stats.expertCache)}`);
      assert.ok(out.stats.gpuMemory.total <= figures.minimum, `GPU memory ${out.stats.gpuMemory.total} within the budget ${figures.minimum}`);
    });
  });
}
