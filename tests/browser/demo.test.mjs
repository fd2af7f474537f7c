// The demo page (www/) in headless Chromium, served as scripts/demo serves it.
//
// With WebGPU: one click loads the tiny MoE fixture with the real Mixtral vocabulary; a greedy
// reply to its reference prompt streams token by token, its token ids are the reference's greedy
// continuation (tests/fixtures/oracle/mixtral-realvocab-q8_0/reference.json), and the routing
// heatmap's layers × experts counts add up to the choices shown for each token. A dense model
// shows a note instead of a heatmap. Without WebGPU the page says what is needed.
//
// Needs pkg/ (scripts/build-npm); the WebGPU tests are skipped without it. Set
// WEBMOE_DEMO_SCREENSHOT=/some/file.png to keep a screenshot of the page after the reply.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, launchBrowser, startServer, stopAll } from './harness.mjs';

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

/** The heatmap's counts, [layer][expert], and the outlined (chosen) experts per layer. */
async function readHeatmap(page) {
  return page.evaluate(() => {
    const rows = [...document.querySelectorAll('#heatmap tbody tr')];
    return rows.map((row) => {
      const cells = [...row.querySelectorAll('td.cell')];
      return {
        counts: cells.map((cell) => Number(cell.dataset.count)),
        chosen: cells.filter((cell) => cell.classList.contains('chosen')).map((cell) => Number(cell.dataset.expert)),
      };
    });
  });
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

  const figures = await page.$$eval('#stats dt', (terms) => Object.fromEntries(terms.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
  assert.match(figures.Decode, /tok\/s$/, `decode speed shown as "${figures.Decode}"`);
  assert.match(figures['GPU memory'], /iB$/, `GPU memory shown as "${figures['GPU memory']}"`);
  assert.match(figures['Wasm memory'], /iB$/, `wasm memory shown as "${figures['Wasm memory']}"`);

  if (process.env.WEBMOE_DEMO_SCREENSHOT) await page.screenshot({ path: process.env.WEBMOE_DEMO_SCREENSHOT, fullPage: true });
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
