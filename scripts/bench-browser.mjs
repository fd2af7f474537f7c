#!/usr/bin/env node
// Run www/bench.html in headless Chromium (WebGPU on SwiftShader, or a GPU with CHROMIUM_FLAGS)
// on a model and print the report as JSON: engine.bench()'s figures (speed, per-token GPU work,
// bandwidth, expert hit rate), the load time, seconds per decoded token and the WebAssembly
// memory's peak.
//
// usage: node scripts/bench-browser.mjs MODEL.gguf [--file] [--prompt N] [--gen N] [--reps N]
//                                       [--gpu-budget BYTES|6GiB|1500MiB] [--context N]
//   --file   give the model to the page as a local file (an <input type=file> set by playwright,
//            read in place: nothing is copied into the browser), as a user opening it from disk;
//            without it the page loads it from the local server's URL into IndexedDB.
//            A split model: give its first part; the others beside it are given too.
// Needs pkg/ (scripts/build-npm) and tests/browser's npm packages (cd tests/browser && npm ci).
// While it runs, the page's status line (the load's phase, bytes and time left) goes to stderr.

import fs from 'node:fs';
import path from 'node:path';
import { launchBrowser, startServer, stopAll } from '../tests/browser/harness.mjs';

const USAGE =
  'usage: node scripts/bench-browser.mjs MODEL.gguf [--file] [--prompt N] [--gen N] [--reps N] [--gpu-budget BYTES|6GiB] [--context N]';
const args = process.argv.slice(2);
const model = args.shift();
if (!model || model.startsWith('-')) {
  console.error(USAGE);
  process.exit(2);
}
const names = { '--prompt': 'prompt', '--gen': 'gen', '--reps': 'reps', '--gpu-budget': 'gpuBudget', '--context': 'contextLength' };
const query = new URLSearchParams();
let fromFile = false;
while (args.length) {
  const flag = args.shift();
  if (flag === '--file') {
    fromFile = true;
    continue;
  }
  const value = args.shift();
  if (!(flag in names) || value === undefined) {
    console.error(`error: unknown flag or missing value: ${flag}\n${USAGE}`);
    process.exit(2);
  }
  query.set(names[flag], flag === '--gpu-budget' ? String(bytesOf(value)) : value);
}

const file = path.resolve(model);
if (!fs.existsSync(file)) {
  console.error(`error: ${file} does not exist`);
  process.exit(2);
}
const parts = splitParts(file);
const server = await startServer({ mounts: { '/bench-model': path.dirname(file), '/app': 'www', '/app/pkg': 'pkg' } });
if (fromFile) query.set('source', 'file');
else for (const part of parts) query.append('model', `/bench-model/${path.basename(part)}`);
let code = 0;
try {
  const { page } = await launchBrowser();
  await page.goto(`${server.url}/app/bench.html?${query}`);
  if (fromFile) await page.setInputFiles('#model-file', parts);
  const watch = setInterval(async () => {
    const text = await page.textContent('#status').catch(() => null);
    if (text) console.error(`[${new Date().toISOString().slice(11, 19)}] ${text}`);
  }, 30_000);
  const result = await waitForResult(server.url);
  clearInterval(watch);
  if (result.error) {
    console.error(`error: ${result.error.name}: ${result.error.message}`);
    code = 1;
  } else {
    console.log(JSON.stringify(result));
  }
} finally {
  await stopAll();
}
process.exit(code);

/** "6GiB" → 6442450944; plain digits are bytes. */
function bytesOf(text) {
  const match = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?$/i.exec(text.trim());
  if (!match) {
    console.error(`error: --gpu-budget takes bytes or a size such as 6GiB or 1500MB, not ${text}`);
    process.exit(2);
  }
  const units = { b: 1, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, kb: 1e3, mb: 1e6, gb: 1e9 };
  return Math.round(Number(match[1]) * units[(match[2] || 'b').toLowerCase()]);
}

/** Every part of a split model (`…-00001-of-00003.gguf`) beside `file`, or just `file`. */
function splitParts(file) {
  const match = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i.exec(path.basename(file));
  if (!match) return [file];
  const count = Number(match[3]);
  return Array.from({ length: count }, (_, i) => path.join(path.dirname(file), `${match[1]}-${String(i + 1).padStart(5, '0')}-of-${match[3]}.gguf`));
}

/** Poll the server's /__result until the page has posted its report. */
async function waitForResult(base) {
  for (;;) {
    const response = await fetch(`${base}/__result`);
    if (response.ok) return response.json();
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
