// Helpers of the API tests (api-*.test.mjs): a page that has imported the built package (pkg/,
// from scripts/build-npm), and the native CLI's greedy tokens to compare with.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, launchBrowser, startServer } from './harness.mjs';

/** The built npm package. */
export const PKG_DIR = path.join(REPO_ROOT, 'pkg');

/** Fail early, with what to do, when the package has not been built. */
export function requirePackage() {
  if (!fs.existsSync(path.join(PKG_DIR, 'wasm', 'webmoe_web_bg.wasm'))) {
    throw new Error('pkg/ is missing or incomplete: run scripts/build-npm first');
  }
}

/**
 * A server (repository root at /, `mounts` added) and a browser page that has imported the
 * package as `window.webmoe`: tests/browser/pages/api.html, or another page of that folder.
 * @returns {Promise<{server: object, browser: object, page: import('playwright-core').Page}>}
 */
export async function openApiPage({ mounts = {}, userDataDir, pageName = 'api.html' } = {}) {
  requirePackage();
  const server = await startServer({ mounts });
  const browser = await launchBrowser({ userDataDir });
  const { page } = browser;
  await page.goto(`${server.url}/tests/browser/pages/${pageName}`);
  await page.waitForFunction(() => window.webmoe !== undefined, null, { timeout: 30_000 });
  return { server, browser, page };
}

/**
 * In the page: load `url`, generate from `prompt` with `options`, unload; returns
 * { tokens, text, stats } or { error: { name, message, details } }.
 */
export function generateInPage(page, { url, prompt, load = {}, options = {} }) {
  return page.evaluate(
    async ({ url, prompt, load, options }) => {
      const { Engine } = window.webmoe;
      try {
        const engine = await Engine.load(url, load);
        const tokens = [];
        let text = '';
        for await (const chunk of engine.generate(prompt, options)) {
          tokens.push(chunk.tokenId);
          text += chunk.text;
        }
        const stats = await engine.stats();
        await engine.unload();
        return { tokens, text, stats };
      } catch (error) {
        return { error: { name: error.name, message: error.message, details: error.details } };
      }
    },
    { url, prompt, load, options },
  );
}

/**
 * Path of the native CLI: WEBMOE_CLI when set (a `webmoe` binary built already), else built
 * (debug profile) when missing or out of date.
 */
export function nativeCli() {
  if (process.env.WEBMOE_CLI) return process.env.WEBMOE_CLI;
  execFileSync('cargo', ['build', '--quiet', '-p', 'webmoe-cli'], { cwd: REPO_ROOT, stdio: 'inherit' });
  return path.join(process.env.CARGO_TARGET_DIR || path.join(REPO_ROOT, 'target'), 'debug', 'webmoe');
}

/** The native CLI's greedy continuation of `ids` (`webmoe run --json`): n token ids. */
export function nativeGreedy(cli, model, ids, n) {
  // wgpu's native backends want a runtime directory; scripts/test uses the same one.
  const runtimeDir = process.env.XDG_RUNTIME_DIR || path.join(os.tmpdir(), `webmoe-xdg-${process.getuid()}`);
  fs.mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
  const out = execFileSync(
    cli,
    ['run', '-m', model, '--tokens', ids.join(','), '-n', String(n), '--temp', '0', '--ignore-eos', '--json'],
    { cwd: REPO_ROOT, env: { ...process.env, XDG_RUNTIME_DIR: runtimeDir }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  return JSON.parse(out.trim().split('\n').pop()).tokens;
}

/** A message naming the first index where `got` and `expected` differ, and both lists. */
export function firstDifference(got, expected) {
  const n = Math.max(got.length, expected.length);
  for (let i = 0; i < n; i++) {
    if (got[i] !== expected[i]) return `index ${i}: got ${got[i]}, expected ${expected[i]} (got [${got}], expected [${expected}])`;
  }
  return 'no difference';
}

/**
 * How far rows `a` are from rows `b`: the largest absolute difference (and where), the normalised
 * mean squared error Σ(a − b)² / Σb² (as llama.cpp's test-backend-ops compares backends), and
 * whether every row has its largest logit at the same index (the same greedy token).
 */
export function compareLogits(a, b) {
  let worst = { diff: 0, position: -1, index: -1 };
  let squaredError = 0;
  let squared = 0;
  let sameArgmax = true;
  a.forEach((row, p) => {
    let best = [0, 0];
    row.forEach((value, i) => {
      const expected = b[p][i];
      const diff = Number.isFinite(value) && Number.isFinite(expected) ? Math.abs(value - expected) : Infinity;
      if (diff > worst.diff) worst = { diff, position: p, index: i, got: value, expected };
      squaredError += diff * diff;
      squared += expected * expected;
      if (value > row[best[0]]) best[0] = i;
      if (expected > b[p][best[1]]) best[1] = i;
    });
    sameArgmax &&= best[0] === best[1];
  });
  return { ...worst, nmse: squaredError / squared, sameArgmax };
}
