// Shared helpers of the browser tests: a local HTTP server (scripts/serve.py) and headless Chromium
// with WebGPU on SwiftShader, driven through playwright-core.
//
//   import { startServer, launchBrowser, stats, resetStats, control, stopAll, REPO_ROOT } from './harness.mjs';
//   const server = await startServer({ mounts: { '/models': 'tests/fixtures/oracle' } });
//   const { page } = await launchBrowser();
//   await page.goto(`${server.url}/tests/browser/pages/some.html`);
//   const requests = await stats(server);        // [{ method, path, range, status }, …]
//   after(stopAll);                              // closes every browser and server started here
//
// Everything started here is tracked and closed by `stopAll`, so a failing test does not leave a
// server or a browser behind. Set WEBMOE_TEST_VERBOSE=1 to echo the pages' console to stderr.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

/** Absolute path of the repository root. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Chromium used by every test (Debian's `chromium` package); CHROMIUM overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM || '/usr/bin/chromium';

/** Flags of every launch: WebGPU on SwiftShader, no network activity of Chromium's own. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

const verbose = Boolean(process.env.WEBMOE_TEST_VERBOSE);
const servers = new Set();
const browsers = new Set();

/**
 * Start scripts/serve.py on a free port of 127.0.0.1.
 * @param {object} [options]
 * @param {string} [options.root] directory served at / (default: the repository root, so
 *   /js/src/…, /pkg/… and /tests/browser/pages/… are reachable)
 * @param {Record<string,string>} [options.mounts] URL prefix → directory (relative to the repository
 *   root or absolute), e.g. { '/models': 'models' }
 * @param {boolean} [options.noRange] start with Range requests ignored (whole bodies, 200)
 * @returns {Promise<{url: string, port: number, stop: () => Promise<void>}>} `url` has no trailing slash
 */
export async function startServer({ root = REPO_ROOT, mounts = {}, noRange = false } = {}) {
  const args = [path.join(REPO_ROOT, 'scripts', 'serve.py'), '--port', '0'];
  for (const [prefix, dir] of Object.entries(mounts)) {
    args.push('--mount', `${prefix}=${path.resolve(REPO_ROOT, dir)}`);
  }
  if (noRange) args.push('--no-range');
  args.push(path.resolve(REPO_ROOT, root));
  const child = spawn('python3', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    lines.once('line', (line) => resolve(Number(line.trim())));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`serve.py exited with code ${code} before printing its port`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const server = {
    url: `http://127.0.0.1:${port}`,
    port,
    async stop() {
      servers.delete(server);
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  servers.add(server);
  return server;
}

/**
 * Launch headless Chromium with a persistent profile.
 * @param {object} [options]
 * @param {string} [options.userDataDir] profile directory to reuse (tests of persistence pass the
 *   same one twice); by default a fresh temporary one, deleted when the browser closes
 * @param {string[]} [options.extraArgs] flags added to CHROMIUM_ARGS, e.g.
 *   '--disable-features=StaticStorageQuota' (navigator.storage.estimate then reports the real quota)
 * @param {boolean} [options.webgpu] false launches without --enable-unsafe-webgpu, as a browser
 *   without WebGPU (navigator.gpu then gives no adapter)
 * @returns {Promise<{context: import('playwright-core').BrowserContext, page: import('playwright-core').Page,
 *   userDataDir: string, close: () => Promise<void>}>}
 */
export async function launchBrowser({ userDataDir, extraArgs = [], webgpu = true } = {}) {
  const temporary = !userDataDir;
  const dir = userDataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'webmoe-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS.filter((arg) => webgpu || arg !== '--enable-unsafe-webgpu'), ...extraArgs],
  });
  const page = context.pages()[0] || (await context.newPage());
  if (verbose) {
    context.on('console', (message) => console.error(`[browser ${message.type()}] ${message.text()}`));
    context.on('weberror', (error) => console.error(`[browser error] ${error.error().message}`));
  }
  const browser = {
    context,
    page,
    userDataDir: dir,
    async close() {
      browsers.delete(browser);
      await context.close().catch(() => {});
      if (temporary) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  browsers.add(browser);
  return browser;
}

/** Every request the server has recorded since the last reset: [{ method, path, range, status }]. */
export async function stats(server) {
  const response = await fetch(`${server.url}/__stats`);
  return (await response.json()).requests;
}

/** Forget the server's recorded requests. */
export async function resetStats(server) {
  await post(server, '/__reset', {});
}

/**
 * Change the server's behaviour: any of { down, fail_after_bytes, etag_generation, no_range }
 * (see scripts/serve.py).
 */
export async function control(server, settings) {
  await post(server, '/__control', settings);
}

/** Close every browser and stop every server started through this module. */
export async function stopAll() {
  await Promise.all([...browsers].map((browser) => browser.close()));
  await Promise.all([...servers].map((server) => server.stop()));
}

async function post(server, endpoint, body) {
  const response = await fetch(`${server.url}${endpoint}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${endpoint} answered ${response.status}`);
}
