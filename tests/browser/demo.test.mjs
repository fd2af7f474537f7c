// The demo page (www/) in headless Chromium, served as scripts/demo serves it.
//
// With WebGPU: one click loads the tiny MoE fixture with the real Mixtral vocabulary; a greedy
// reply to its reference prompt streams token by token, its token ids are the reference's greedy
// continuation (tests/fixtures/oracle/mixtral-realvocab-q8_0/reference.json), and the routing
// heatmap's layers × experts counts add up to the choices shown for each token, and the expert
// cache says every expert is on the GPU. Loaded with a GPU budget below its experts' bytes, the
// same reply streams while the cache figures update, and the heatmap marks the experts on the GPU
// (the slots are shared by the layers: each layer's marks count the slots holding its experts).
// A dense model shows a note instead of a heatmap. Without WebGPU the page says what is needed.
//
// Needs pkg/ (scripts/build-npm); the WebGPU tests are skipped without it. Set
// WEBMOE_DEMO_SCREENSHOT=/some/file.png to keep a screenshot of the page after the reply.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, launchBrowser, startServer, stopAll } from './harness.mjs';
import { nativeCli } from './api-helpers.mjs';

const FIXTURE = 'mixtral-realvocab-q8_0';
const reference = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tests/fixtures/oracle', FIXTURE, 'reference.json'), 'utf8'));
// Decode on SwiftShader runs at a few tokens per second at best: 8 tokens keep the test short.
const REPLY_TOKENS = 8;
const LAYERS = 2;
const EXPERTS = 8;
const TOP_K = 2;
const packageMissing = fs.existsSync(path.join(REPO_ROOT, 'pkg', 'index.js')) ? false : 'pkg/ is not built; run scripts/build-npm';

let server;

before(async () => {
  server = await startServer({
    root: 'www',
    mounts: { '/pkg': 'pkg', '/models': 'models', '/fixtures': 'tests/fixtures/oracle' },
  });
});

after(stopAll);

/** Open the page and wait until it has started; page errors are collected in `errors`. */
async function openDemo({ webgpu }) {
  const { page } = await launchBrowser({ webgpu });
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.setDefaultTimeout(120_000);
  await page.goto(`${server.url}/`);
  await page.waitForSelector('body[data-ready]');
  return { page, errors };
}

/** Click a one-click model and wait until it is loaded. */
async function loadPreset(page, name) {
  await page.getByRole('button', { name }).click();
  await page.waitForFunction(() => /is loaded/.test(document.getElementById('load-status').textContent));
}

/** Send `prompt` with the sampling settings given (form field id → value); wait for the reply to end. */
async function send(page, prompt, settings) {
  for (const [id, value] of Object.entries(settings)) await page.fill(`#${id}`, String(value));
  await page.fill('#prompt', prompt);
  await page.click('#send');
  await page.waitForSelector('#stop:not([disabled])');
  await page.waitForSelector('#stop[disabled]');
}

/**
 * The heatmap's counts, [layer][expert], the outlined (chosen) experts per layer, and the experts
 * marked as on the GPU or streamed.
 */
async function readHeatmap(page) {
  return page.evaluate(() => {
    const rows = [...document.querySelectorAll('#heatmap tbody tr')];
    const marked = (cells, residency) => cells.filter((cell) => cell.dataset.residency === residency).map((cell) => Number(cell.dataset.expert));
    return rows.map((row) => {
      const cells = [...row.querySelectorAll('td.cell')];
      return {
        counts: cells.map((cell) => Number(cell.dataset.count)),
        chosen: cells.filter((cell) => cell.classList.contains('chosen')).map((cell) => Number(cell.dataset.expert)),
        resident: marked(cells, 'resident'),
        streamed: marked(cells, 'streamed'),
      };
    });
  });
}

/**
 * Wait until the figures read after a reply of `tokens` tokens are shown (engine figures, expert
 * cache) and the heatmap has drawn them (it draws at the next animation frame).
 */
async function waitForReplyFigures(page, tokens) {
  await page.waitForFunction((generated) => {
    const term = [...document.querySelectorAll('#stats dt')].find((dt) => dt.textContent === 'Generated');
    return term && term.nextElementSibling.textContent === generated;
  }, `${tokens} tokens`);
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
}

/** A definition list as { term: value }. */
function readFigures(page, selector) {
  return page.$$eval(`${selector} dt`, (terms) => Object.fromEntries(terms.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
}

test('with WebGPU, a tiny MoE fixture streams a greedy reply and fills the routing heatmap', { skip: packageMissing, timeout: 300_000 }, async () => {
  const { page, errors } = await openDemo({ webgpu: true });
  assert.equal(await page.getAttribute('body', 'data-ready'), 'webgpu', 'the page should find WebGPU');
  assert.equal(await page.isVisible('#webgpu-missing'), false, 'no WebGPU message with WebGPU');

  await loadPreset(page, /Tiny MoE, Mixtral vocabulary/);
  const download = await page.textContent('.progress-row[data-phase="download"] output');
  assert.match(download, /100%/, `the download bar should end at 100%, shows "${download}"`);
  const upload = await page.textContent('.progress-row[data-phase="upload"] output');
  assert.match(upload, /100%/, `the GPU upload bar should end at 100%, shows "${upload}"`);
  assert.equal(await page.textContent('#chat-mode'), 'plain completion', 'the fixture has no chat template');

  // Count the moments tokens appear, to see that the reply streams rather than arriving whole.
  await page.evaluate(() => {
    window.tokenArrivals = [];
    new MutationObserver(() => window.tokenArrivals.push(document.querySelectorAll('#transcript .tok').length)).observe(
      document.getElementById('transcript'),
      { childList: true, subtree: true },
    );
  });
  await send(page, reference.tokens_text, { temperature: 0, 'repeat-penalty': 1, 'max-tokens': REPLY_TOKENS });

  const ids = await page.$$eval('#transcript .tok', (spans) => spans.map((span) => Number(span.dataset.tokenId)));
  const expected = reference.greedy.slice(0, REPLY_TOKENS);
  assert.equal(ids.length, expected.length, `reply has ${ids.length} tokens, expected ${expected.length}`);
  ids.forEach((id, i) => assert.equal(id, expected[i], `token ${i}: page shows id ${id}, reference greedy id ${expected[i]}`));
  const text = await page.textContent('#transcript .message.assistant .body');
  assert.ok(text.startsWith(reference.tokens_text) && text.length > reference.tokens_text.length, `reply text: ${JSON.stringify(text)}`);
  const arrivals = await page.evaluate(() => [...new Set(window.tokenArrivals)].filter((n) => n > 0));
  assert.ok(arrivals.length >= 4, `tokens should appear a few at a time while streaming; seen counts ${JSON.stringify(arrivals)}`);

  const heatmap = await readHeatmap(page);
  assert.equal(heatmap.length, LAYERS, `heatmap rows: ${heatmap.length}, expected ${LAYERS} layers`);
  heatmap.forEach(({ counts, chosen }, layer) => {
    assert.equal(counts.length, EXPERTS, `layer ${layer}: ${counts.length} expert columns, expected ${EXPERTS}`);
    const total = counts.reduce((a, b) => a + b, 0);
    assert.equal(total, REPLY_TOKENS * TOP_K, `layer ${layer}: counts add up to ${total}, expected ${REPLY_TOKENS} tokens × top-${TOP_K}`);
    assert.equal(chosen.length, TOP_K, `layer ${layer}: the newest token should outline ${TOP_K} experts, outlines ${chosen}`);
  });

  // Step through the reply with the keyboard: each token's outlined experts, summed, are the counts.
  const summed = Array.from({ length: LAYERS }, () => new Array(EXPERTS).fill(0));
  await page.focus('#transcript .tok[data-index="0"]');
  for (let i = 0; i < REPLY_TOKENS; i += 1) {
    if (i > 0) await page.keyboard.press('ArrowRight');
    await page.waitForFunction((index) => document.activeElement.dataset.index === String(index) &&
      document.getElementById('legend-current-label').textContent.startsWith(`choices for token ${index + 1} `), i);
    const shown = await readHeatmap(page);
    shown.forEach(({ chosen }, layer) => {
      assert.equal(new Set(chosen).size, TOP_K, `token ${i}, layer ${layer}: outlined experts ${chosen}, expected ${TOP_K} distinct`);
      for (const expert of chosen) summed[layer][expert] += 1;
    });
  }
  heatmap.forEach(({ counts }, layer) =>
    counts.forEach((count, expert) =>
      assert.equal(summed[layer][expert], count, `layer ${layer}, expert ${expert}: cell shows ${count}, tokens' choices sum to ${summed[layer][expert]}`),
    ),
  );

  await waitForReplyFigures(page, REPLY_TOKENS);
  const cacheSummary = await page.textContent('#cache-summary');
  assert.match(cacheSummary, new RegExp(`All ${EXPERTS} experts of each layer are on the GPU`), `without a budget: "${cacheSummary}"`);
  assert.equal(await page.isVisible('#cache-figures'), false, 'no streaming figures without a budget');
  assert.ok(heatmap.every(({ resident, streamed }) => resident.length === 0 && streamed.length === 0), 'no residency marks without a budget');

  const figures = await readFigures(page, '#stats');
  assert.match(figures.Decode, /tok\/s$/, `decode speed shown as "${figures.Decode}"`);
  assert.match(figures['GPU memory'], /iB$/, `GPU memory shown as "${figures['GPU memory']}"`);
  assert.match(figures['Wasm memory'], /iB$/, `wasm memory shown as "${figures['Wasm memory']}"`);

  if (process.env.WEBMOE_DEMO_SCREENSHOT) await page.screenshot({ path: process.env.WEBMOE_DEMO_SCREENSHOT, fullPage: true });
  assert.deepEqual(errors, [], 'the page should raise no errors');
});

test('with WebGPU and a GPU budget below its experts, the reply is the same and the expert cache shows', { skip: packageMissing, timeout: 300_000 }, async () => {
  const { page, errors } = await openDemo({ webgpu: true });
  // The budget holds the resident weights and half the experts, as `webmoe inspect` counts them for
  // the browser's binding limit and the default context (the one the demo loads with).
  const bindingLimit = await page.evaluate(async () => {
    const { limits } = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  });
  const model = path.join(REPO_ROOT, 'tests/fixtures/oracle', FIXTURE, 'model.gguf');
  const inspected = JSON.parse(execFileSync(nativeCli(), ['inspect', model, '--json', '--binding-limit', String(bindingLimit)], { encoding: 'utf8' }));
  const { resident, all_experts: allExperts } = inspected.gpu_budget;
  const budget = resident + allExperts / 2;
  await page.selectOption('#gpu-budget-unit', { label: 'MiB' });
  await page.fill('#gpu-budget', String(budget / 2 ** 20));

  await loadPreset(page, /Tiny MoE, Mixtral vocabulary/);
  await page.waitForSelector('#cache-figures dt');
  const loaded = await readFigures(page, '#cache-figures');
  const slots = Number(new RegExp(`^(\\d+) of ${LAYERS * EXPERTS} experts$`).exec(loaded['Expert slots'])?.[1]);
  assert.ok(slots >= TOP_K && slots < LAYERS * EXPERTS, `expert slots after the load: "${loaded['Expert slots']}"`);
  assert.match(
    await page.textContent('#cache-summary'),
    new RegExp(`${slots} of the ${LAYERS * EXPERTS} experts fit on the GPU, in slots the ${LAYERS} layers share`),
  );

  // Count the cache panel's updates while the reply streams.
  await page.evaluate(() => {
    window.cacheUpdatesWhileGenerating = 0;
    new MutationObserver(() => {
      if (!document.getElementById('stop').disabled) window.cacheUpdatesWhileGenerating += 1;
    }).observe(document.getElementById('cache-figures'), { childList: true });
  });
  await send(page, reference.tokens_text, { temperature: 0, 'repeat-penalty': 1, 'max-tokens': REPLY_TOKENS });
  await waitForReplyFigures(page, REPLY_TOKENS);

  const ids = await page.$$eval('#transcript .tok', (spans) => spans.map((span) => Number(span.dataset.tokenId)));
  assert.deepEqual(ids, reference.greedy.slice(0, REPLY_TOKENS), 'the reply under a budget is the reference greedy continuation');
  assert.ok(await page.evaluate(() => window.cacheUpdatesWhileGenerating) >= 1, 'the cache figures update while the reply streams');

  const cache = await readFigures(page, '#cache-figures');
  const hits = Number(cache.Hits);
  const misses = Number(cache.Misses);
  assert.ok(Number.isInteger(hits) && Number.isInteger(misses) && misses > 0, `hits "${cache.Hits}", misses "${cache.Misses}"`);
  assert.match(cache['Hit rate'], new RegExp(`^\\d+% of ${hits + misses} choices$`), `hit rate "${cache['Hit rate']}"`);
  assert.match(cache['Uploaded in total'], /^\d+(\.\d)? (B|KiB|MiB)$/, `bytes uploaded "${cache['Uploaded in total']}"`);
  assert.notEqual(cache['Uploaded in total'], '0 B', 'misses upload their experts');
  assert.match(cache['Uploaded per token'], /B$/, `per token "${cache['Uploaded per token']}"`);
  for (const term of ['Prefetches', '· then chosen', '· wasted']) assert.match(cache[term], /^\d+$/, `${term}: "${cache[term]}"`);
  assert.ok(Number(cache['· then chosen']) + Number(cache['· wasted']) <= Number(cache.Prefetches), JSON.stringify(cache));
  assert.match(cache['Stall time'], /^\d+(\.\d+)? (ms|s)$/, `stall time "${cache['Stall time']}"`);

  const heatmap = await readHeatmap(page);
  assert.equal(heatmap.length, LAYERS);
  heatmap.forEach(({ resident, streamed }, layer) => {
    assert.equal(resident.length + streamed.length, EXPERTS, `layer ${layer}: every expert is marked`);
  });
  const marked = heatmap.map(({ resident }) => resident.length);
  assert.ok(marked.reduce((a, b) => a + b, 0) <= slots, `experts marked on the GPU per layer ${marked}, ${slots} slots in all`);
  assert.ok(marked.at(-1) >= TOP_K, `the last layer to run holds its ${TOP_K} chosen experts: ${marked}`);
  const legend = await page.$$eval('[data-residency-legend]', (items) => items.map((item) => !item.hidden));
  assert.deepEqual(legend, [true, true], 'the legend explains the marks');
  assert.deepEqual(errors, [], 'the page should raise no errors');
});

test('with WebGPU, a dense model says it has no routing instead of an empty heatmap', { skip: packageMissing, timeout: 300_000 }, async () => {
  const { page, errors } = await openDemo({ webgpu: true });
  await loadPreset(page, /Tiny dense Llama/);
  await send(page, 'Hello', { temperature: 0, 'repeat-penalty': 1, 'max-tokens': 4 });
  const tokens = await page.$$eval('#transcript .tok', (spans) => spans.length);
  assert.ok(tokens >= 1 && tokens <= 4, `the dense model's reply has ${tokens} tokens, expected 1 to 4`);
  assert.equal(await page.$$eval('#heatmap table', (tables) => tables.length), 0, 'no heatmap table for a dense model');
  assert.match(await page.textContent('#heatmap'), /dense.*no routing/, 'the routing panel should say the model is dense');
  assert.deepEqual(errors, [], 'the page should raise no errors');
});

test('without WebGPU, the page says what is needed and offers no model to load', { timeout: 120_000 }, async () => {
  const { page, errors } = await openDemo({ webgpu: false });
  assert.equal(await page.getAttribute('body', 'data-ready'), 'no-webgpu');
  assert.equal(await page.isVisible('#webgpu-missing'), true, 'the WebGPU message should be shown');
  const message = await page.textContent('#webgpu-missing');
  assert.match(message, /WebGPU is not available/, `message: ${message}`);
  assert.match(message, /--enable-unsafe-webgpu/, `the message should name the flag that turns WebGPU on: ${message}`);
  if (!packageMissing) {
    assert.equal(await page.getByRole('button', { name: /Tiny MoE, Mixtral vocabulary/ }).isDisabled(), true, 'model choices are disabled without WebGPU');
  }
  assert.deepEqual(errors, [], 'the page should raise no errors');
});
