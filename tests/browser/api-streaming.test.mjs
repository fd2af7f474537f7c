// Experts streamed under a GPU memory budget change nothing but speed. For the MoE reference
// fixtures and a deeper generated model (8 layers, 8 experts, top-2), each loaded at 100%, 50% and
// 25% of its expert bytes and at the smallest budget that runs: the logits of a fixed id sequence
// equal those of the same model without a budget (within 1e-6) and 16 greedy tokens are the same.
// A budget below 100% keeps fewer slots than experts (in pools the layers share) and reports which
// expert of each layer each slot of its pool holds; one byte below the minimum is refused with
// InvalidOptionError naming the minimum.
//
// The budgets come from the native `webmoe inspect --json` (`gpu_budget`), asked for the browser's
// context length and binding limit, so the figures a page would be told are the ones checked here.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, stopAll } from './harness.mjs';
import { firstDifference, nativeCli, openApiPage } from './api-helpers.mjs';

const ORACLE = path.join(REPO_ROOT, 'tests', 'fixtures', 'oracle');
const CONTEXT = 48;
const TOKENS = 16;
const LOGIT_TOLERANCE = 1e-6;
const SHARES = [1, 0.5, 0.25];
const GENERATED_SHAPE = ['--layers', '8', '--hidden', '256', '--ffn', '256', '--heads', '4', '--kv-heads', '2', '--experts', '8',
  '--experts-used', '2', '--vocab', '512', '--ctx', '128', '--type', 'Q4_K_M'];

/** The generated model is written here by `before`, served at /generated. */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webmoe-streaming-'));
const GENERATED_FILE = path.join(dir, 'moe-8l.gguf');

/** What each case loads, and the ids its logits and greedy tokens start from. */
const CASES = [
  ...['mixtral-q8_0', 'moe-4x-top2-q8_0', 'mixtral-q4_k_m'].map((name) => ({
    name,
    url: `/oracle/${name}/model.gguf`,
    file: path.join(ORACLE, name, 'model.gguf'),
    ids: JSON.parse(fs.readFileSync(path.join(ORACLE, name, 'reference.json'), 'utf8')).tokens,
  })),
  {
    name: 'generated, 8 layers × 8 experts, Q4_K_M',
    url: '/generated/moe-8l.gguf',
    file: GENERATED_FILE,
    ids: [1, 300, 301, 260, 45, 470, 333, 290, 12, 511],
  },
];

let cli;
let page;
let bindingLimit;
before(async () => {
  cli = nativeCli();
  // The dev profile, which `cargo test` has built already (scripts/gen-model builds a release one).
  execFileSync('cargo', ['run', '--quiet', '-p', 'webmoe', '--example', 'gen_model', '--', GENERATED_FILE, ...GENERATED_SHAPE], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
  });
  ({ page } = await openApiPage({ mounts: { '/oracle': ORACLE, '/generated': dir } }));
  // The engine binds at most the smaller of these two limits of the adapter it opens.
  bindingLimit = await page.evaluate(async () => {
    const { limits } = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  });
  await page.evaluate(() => {
    // Load `url` with `load`, read the logits of `ids` and `tokens` greedy tokens, unload. The
    // logits stay in the page: a run without `compare` keeps them as the baseline, a run with it
    // sends back only their largest difference from the baseline.
    window.baseline = null;
    window.runUnder = async ({ url, load, ids, tokens, compare }) => {
      try {
        const engine = await window.webmoe.Engine.load(url, load);
        const { experts, layers } = engine.model;
        const rows = await engine.logits(ids);
        const generated = [];
        for await (const chunk of engine.generate(ids, { maxTokens: tokens, temperature: 0, ignoreEos: true })) {
          generated.push(chunk.tokenId);
        }
        const stats = await engine.stats();
        await engine.unload();
        if (!compare) {
          window.baseline = rows;
          return { tokens: generated, stats, experts, layers };
        }
        let maxDiff = 0;
        rows.forEach((row, p) => row.forEach((value, i) => {
          maxDiff = Math.max(maxDiff, Number.isNaN(value) ? Infinity : Math.abs(value - window.baseline[p][i]));
        }));
        return { tokens: generated, stats, maxDiff, experts, layers };
      } catch (error) {
        return { error: { name: error.name, message: error.message, details: error.details } };
      }
    };
  });
});
after(async () => {
  await stopAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** `gpu_budget` of `webmoe inspect` for the browser's context and binding limit. */
function budgetFigures(file) {
  const out = execFileSync(cli, ['inspect', file, '--json', '-c', String(CONTEXT), '--binding-limit', String(bindingLimit)], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  return JSON.parse(out).gpu_budget;
}

/**
 * The budgets to run: each share of the expert bytes on top of the resident bytes, and the minimum.
 * A share below the minimum (a quarter of 4 experts when each token uses 2) is left out, and the
 * minimum runs once when a share is exactly it (a quarter of 8 experts when each token uses 2).
 */
function budgetsOf({ resident, all_experts: allExperts, minimum }) {
  const budgets = SHARES.map((share) => ({ share, bytes: resident + Math.floor(share * allExperts) }))
    .filter(({ bytes }) => bytes >= minimum)
    .map(({ share, bytes }) => ({ share, bytes, label: `${share * 100}% of the experts${bytes === minimum ? ', the minimum' : ''}` }));
  if (!budgets.some(({ bytes }) => bytes === minimum)) budgets.push({ share: null, bytes: minimum, label: 'the minimum' });
  return budgets;
}

for (const model of CASES) {
  test(`${model.name}: every GPU budget gives the same logits and greedy tokens`, { timeout: 600_000 }, async (t) => {
    const figures = budgetFigures(model.file);
    const run = (load, compare) => page.evaluate((args) => window.runUnder(args), { url: model.url, ids: model.ids, tokens: TOKENS, load, compare });

    const unbounded = await run({ contextLength: CONTEXT }, false);
    assert.equal(unbounded.error, undefined, `without a budget: ${JSON.stringify(unbounded.error)}`);
    assert.equal(unbounded.tokens.length, TOKENS);
    assert.equal(unbounded.stats.expertCache.slots, unbounded.experts * unbounded.layers, 'without a budget every expert is resident');
    assert.equal(unbounded.stats.expertCache.residency, null);

    for (const budget of budgetsOf(figures)) {
      await t.test(`gpuBudget ${budget.bytes} (${budget.label})`, async () => {
        const out = await run({ contextLength: CONTEXT, gpuBudget: budget.bytes }, true);
        assert.equal(out.error, undefined, `loading or running failed: ${JSON.stringify(out.error)}`);
        assert.ok(out.maxDiff <= LOGIT_TOLERANCE, `logits differ from those without a budget by up to ${out.maxDiff}`);
        assert.deepEqual(out.tokens, unbounded.tokens, `greedy tokens: ${firstDifference(out.tokens, unbounded.tokens)}`);
        const { gpuMemory, expertCache: cache } = out.stats;
        assert.ok(gpuMemory.total <= budget.bytes, `GPU memory ${gpuMemory.total} bytes within the budget ${budget.bytes}`);
        const all = out.experts * out.layers;
        if (budget.share === 1) {
          assert.equal(cache.slots, all, 'a budget for every expert keeps every expert');
          assert.equal(cache.residency, null);
          return;
        }
        assert.ok(cache.slots < all, `${cache.slots} expert slots for ${all} experts`);
        assert.ok(cache.misses > 0, `experts were streamed in: ${JSON.stringify(cache)}`);
        assert.ok(Array.isArray(cache.residency) && cache.residency.length === out.layers, `residency per layer: ${JSON.stringify(cache.residency)}`);
        cache.residency.forEach((slots, layer) => {
          // The slots of the layer's pool: all of them when every layer shares one pool.
          assert.ok(Array.isArray(slots) && slots.length >= 1 && slots.length <= cache.slots, `layer ${layer}: ${JSON.stringify(slots)} of ${cache.slots} slots`);
          const held = slots.filter((expert) => expert !== null);
          assert.ok(held.every((expert) => Number.isInteger(expert) && expert >= 0 && expert < out.experts), `layer ${layer}: ${slots}`);
          assert.equal(new Set(held).size, held.length, `layer ${layer}: an expert in two slots: ${slots}`);
        });
      });
    }

    await t.test(`gpuBudget ${figures.minimum - 1} (one byte below the minimum) is refused`, async () => {
      const out = await run({ contextLength: CONTEXT, gpuBudget: figures.minimum - 1 }, true);
      assert.equal(out.error?.name, 'InvalidOptionError', JSON.stringify(out));
      assert.ok(out.error.message.includes(`at least ${figures.minimum} bytes`), `the message names the minimum ${figures.minimum}: ${out.error.message}`);
    });
  });
}
