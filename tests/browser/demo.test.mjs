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
// A GGUF opened from disk (the file input, as a user picks it) is read in place: nothing is stored.
// A URL larger than the browser lets the site store is loaded from the server without storing it.
// The Mixtral 8x7B Instruct preset points at the public file. The page is served below a path of
// its own (BASE), as any static host may serve it, so every address it uses must be relative.
//
// Needs pkg/ (scripts/build-npm); the WebGPU tests are skipped without it. Set
// WEBMOE_DEMO_SCREENSHOT=/some/file.png to keep a screenshot of the page after the reply.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, launchBrowser, startServer, stats, stopAll } from './harness.mjs';
import { nativeCli } from './api-helpers.mjs';
import { MIXTRAL_8X7B_URL, PRESETS } from '../../www/js/presets.js';

const FIXTURE = 'mixtral-realvocab-q8_0';
const reference = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tests/fixtures/oracle', FIXTURE, 'reference.json'), 'utf8'));
// Decode on SwiftShader runs at a few tokens per second at best: 8 tokens keep the test short.
const REPLY_TOKENS = 8;
const LAYERS = 2;
const EXPERTS = 8;
const TOP_K = 2;
const packageMissing = fs.existsSync(path.join(REPO_ROOT, 'pkg', 'index.js')) ? false : 'pkg/ is not built; run scripts/build-npm';

/** Where the demo is served: scripts/demo's layout (the page, pkg/, models/, fixtures/) below a path. */
const BASE = '/some/path/demo';
const FIXTURE_FILE = path.join(REPO_ROOT, 'tests/fixtures/oracle', FIXTURE, 'model.gguf');
/** A folder of large models made by the tests, served at BASE/big. */
const big = fs.mkdtempSync(path.join(os.tmpdir(), 'webmoe-demo-'));

let server;

before(async () => {
  server = await startServer({
    mounts: {
      [BASE]: 'www',
      [`${BASE}/pkg`]: 'pkg',
      [`${BASE}/models`]: 'models',
      [`${BASE}/fixtures`]: 'tests/fixtures/oracle',
      [`${BASE}/big`]: big,
    },
  });
});

after(async () => {
  await stopAll();
  fs.rmSync(big, { recursive: true, force: true });
});

/** Open the page and wait until it has started; page errors are collected in `errors`. */
async function openDemo({ webgpu }) {
  const { page } = await launchBrowser({ webgpu });
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.setDefaultTimeout(120_000);
  await page.goto(`${server.url}${BASE}/`);
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

/** Ids of the reply's tokens, and the models the page lists as stored. */
async function replyAndStored(page) {
  const ids = await page.$$eval('#transcript .tok', (spans) => spans.map((span) => Number(span.dataset.tokenId)));
  const stored = await page.evaluate(async () => (await (await import(new URL('pkg/index.js', document.baseURI).href)).Engine.listCached()).length);
  return { ids, stored };
}

test('a GGUF opened from disk is read in place: the reply is the reference, nothing is stored', { skip: packageMissing, timeout: 300_000 }, async () => {
  const { page, errors } = await openDemo({ webgpu: true });
  const usage = await page.evaluate(async () => (await navigator.storage.estimate()).usage);
  await page.setInputFiles('#model-file', FIXTURE_FILE);
  await page.waitForFunction(() => /is loaded/.test(document.getElementById('load-status').textContent));
  assert.match(await page.textContent('#load-status'), /read in place from the file on disk, nothing stored/);
  const upload = await page.textContent('.progress-row[data-phase="upload"] output');
  assert.match(upload, /100%/, `the read-and-upload bar ends at 100%, shows "${upload}"`);
  assert.equal(await page.textContent('.progress-row[data-phase="download"] output'), '—', 'nothing downloaded');
  await send(page, reference.tokens_text, { temperature: 0, 'repeat-penalty': 1, 'max-tokens': 4 });
  assert.equal(await page.evaluate(async () => (await navigator.storage.estimate()).usage), usage, 'storage usage unchanged');
  const { ids, stored } = await replyAndStored(page);
  assert.deepEqual(ids, reference.greedy.slice(0, 4), 'the reply is the reference greedy continuation');
  assert.equal(stored, 0, 'nothing is stored');
  assert.equal(await page.isVisible('#cached-empty'), true, 'the stored list stays empty');
  assert.deepEqual(errors, [], 'the page should raise no errors');
});

test('a URL too large to store loads from the server without storing it; the Mixtral 8x7B preset is the public file', { skip: packageMissing, timeout: 300_000 }, async () => {
  const { page, errors } = await openDemo({ webgpu: true });
  const mixtral = PRESETS.find((preset) => preset.url === MIXTRAL_8X7B_URL);
  assert.ok(mixtral, 'a preset for Mixtral 8x7B Instruct');
  assert.equal(
    MIXTRAL_8X7B_URL,
    'https://huggingface.co/TheBloke/Mixtral-8x7B-Instruct-v0.1-GGUF/resolve/main/mixtral-8x7b-instruct-v0.1.Q4_K_M.gguf',
  );
  assert.equal(await page.getAttribute(`button[data-url="${MIXTRAL_8X7B_URL}"]`, 'data-url'), MIXTRAL_8X7B_URL, 'its button is on the page');
  // The public models are Hugging Face files of the families webmoe runs; the rest are served beside the page.
  for (const preset of PRESETS) {
    if (preset.family) {
      assert.match(preset.url, /^https:\/\/huggingface\.co\/[^/]+\/[^/]+\/resolve\/main\/[^/]+\.gguf$/, `${preset.label}: a Hugging Face file`);
      assert.equal(await page.getAttribute(`button[data-url="${preset.url}"]`, 'data-url'), preset.url, `${preset.label}: its button is on the page`);
    } else {
      assert.ok(!/^\/|^[a-z]+:/.test(preset.url), `${preset.url} is relative`);
    }
  }
  assert.deepEqual(PRESETS.filter((p) => p.family).map((p) => p.family), ['llama', 'gpt-oss', 'qwen3moe', 'olmoe', 'granitemoe', 'qwen2moe'], 'a public model of each family with one');

  // The fixture followed by zeros up to 1 GiB more than the quota (a sparse file): refused for
  // storage, read from the server instead, exactly as the 26 GB preset is with a 10 GiB quota.
  const quota = await page.evaluate(async () => (await navigator.storage.estimate()).quota);
  const huge = path.join(big, 'huge.gguf');
  fs.copyFileSync(FIXTURE_FILE, huge);
  fs.truncateSync(huge, quota + 2 ** 30);
  await page.fill('#model-url', 'big/huge.gguf');
  await page.click('#url-form button[type="submit"]');
  await page.waitForFunction(() => /is loaded/.test(document.getElementById('load-status').textContent));
  const status = await page.textContent('#load-status');
  assert.match(status, /read from the server, nothing stored/, status);
  assert.match(status, /too large to store in this browser/, status);
  await send(page, reference.tokens_text, { temperature: 0, 'repeat-penalty': 1, 'max-tokens': 4 });
  const { ids, stored } = await replyAndStored(page);
  assert.deepEqual(ids, reference.greedy.slice(0, 4), 'the reply is the reference greedy continuation');
  assert.equal(stored, 0, 'nothing is stored');
  const requests = (await stats(server)).filter((request) => request.path === `${BASE}/big/huge.gguf`);
  assert.ok(requests.length > 0 && requests.every((request) => request.status === 206), 'Range requests only');
  assert.equal(await page.isVisible('#error-banner'), false, 'no error shown: the fallback is automatic');
  assert.deepEqual(errors, [], 'the page should raise no errors');
});

test('a second Send while a turn starts or runs is refused, never raced', { skip: packageMissing, timeout: 300_000 }, async () => {
  const { page, errors } = await openDemo({ webgpu: true });
  await loadPreset(page, /Tiny MoE, Mixtral vocabulary/);
  await send(page, reference.tokens_text, { temperature: 0, 'repeat-penalty': 1, 'max-tokens': 2 });
  // Two Enter presses in one task: the second arrives while the first waits for the last reply's
  // routing, before its reply has started.
  // A longer second reply, so that it is still running when the test looks for it.
  await page.fill('#max-tokens', String(REPLY_TOKENS));
  await page.fill('#prompt', reference.tokens_text);
  await page.evaluate(() => {
    const field = document.getElementById('prompt');
    for (let i = 0; i < 2; i++) field.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
  });
  await page.waitForSelector('#stop:not([disabled])');
  await page.click('#send', { force: true });
  await page.waitForSelector('#stop[disabled]');
  await waitForReplyFigures(page, REPLY_TOKENS);
  const replies = await page.$$eval('#transcript .message.assistant', (nodes) => nodes.length);
  assert.equal(replies, 2, 'one reply per turn that was started: the first send and one of the three presses');
  assert.deepEqual(errors, [], 'the page should raise no errors');
});
