// The npm package inside apps built by Vite and by webpack, as a web developer builds one: `npm
// pack` of pkg/, installed into a fresh project, a tiny app importing it built by each bundler
// with no webmoe-specific settings, then the built app served and loaded in headless Chromium,
// where it generates the reference greedy tokens. The bundlers must find the worker (`new
// Worker(new URL('./worker.js', import.meta.url))`) and the .wasm the worker loads.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, launchBrowser, startServer, stopAll } from './harness.mjs';
import { PKG_DIR, requirePackage } from './api-helpers.mjs';

const CASE = 'mixtral-q8_0';
const reference = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tests/fixtures/oracle', CASE, 'reference.json'), 'utf8'));

const MAIN_JS = `
import { Engine } from 'webmoe';

window.generate = async (url, prompt) => {
  const engine = await Engine.load(url);
  const ids = [];
  for await (const chunk of engine.generate(prompt, { maxTokens: 3, temperature: 0 })) ids.push(chunk.tokenId);
  await engine.unload();
  return ids;
};
window.appReady = true;
`;

const INDEX_HTML = (script) => `<!doctype html>
<meta charset="utf-8">
<title>webmoe in a bundled app</title>
<script type="module" src="${script}"></script>
`;

let app;
before(() => {
  requirePackage();
  app = fs.mkdtempSync(path.join(os.tmpdir(), 'webmoe-bundled-'));
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', app], { cwd: PKG_DIR, encoding: 'utf8' }));
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'bundled-app', private: true, type: 'module' }, null, 2));
  fs.mkdirSync(path.join(app, 'src'));
  fs.writeFileSync(path.join(app, 'src', 'main.js'), MAIN_JS);
  fs.writeFileSync(path.join(app, 'index.html'), INDEX_HTML('/src/main.js'));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', path.join(app, packed[0].filename)], { cwd: app, stdio: 'inherit' });
});
after(async () => {
  await stopAll();
  fs.rmSync(app, { recursive: true, force: true });
});

/** Serve `dist`, open its index.html and generate there; the reference's greedy tokens come back. */
async function generatesIn(dist) {
  const server = await startServer({ root: dist, mounts: { '/oracle': 'tests/fixtures/oracle' } });
  const { page } = await launchBrowser();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${server.url}/index.html`);
  await page.waitForFunction(() => window.appReady === true, null, { timeout: 30_000 });
  const ids = await page.evaluate(({ url, prompt }) => window.generate(url, prompt), { url: `/oracle/${CASE}/model.gguf`, prompt: reference.tokens });
  assert.deepEqual(ids, reference.greedy.slice(0, 3), `the reference greedy tokens of ${CASE}`);
  assert.deepEqual(errors, [], 'the page raises no errors');
}

test('a Vite build of an app importing the package generates', { timeout: 300_000 }, async () => {
  const { build } = await import('vite');
  const outDir = path.join(app, 'dist-vite');
  await build({ root: app, logLevel: 'warn', configFile: false, build: { outDir, emptyOutDir: true } });
  const files = fs.readdirSync(path.join(outDir, 'assets'));
  assert.ok(files.some((f) => f.endsWith('.wasm')), `Vite emitted the module: ${files}`);
  await generatesIn(outDir);
});

test('a webpack build of an app importing the package generates', { timeout: 300_000 }, async () => {
  const { default: webpack } = await import('webpack');
  const outDir = path.join(app, 'dist-webpack');
  const stats = await new Promise((resolve, reject) =>
    webpack(
      { mode: 'production', context: app, entry: './src/main.js', output: { path: outDir, filename: 'main.js', clean: true } },
      (error, result) => (error ? reject(error) : resolve(result)),
    ),
  );
  assert.ok(!stats.hasErrors(), stats.toString({ all: false, errors: true }));
  fs.writeFileSync(path.join(outDir, 'index.html'), INDEX_HTML('./main.js'));
  const files = fs.readdirSync(outDir);
  assert.ok(files.some((f) => f.endsWith('.wasm')), `webpack emitted the module: ${files}`);
  await generatesIn(outDir);
});
