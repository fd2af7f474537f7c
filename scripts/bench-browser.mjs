#!/usr/bin/env node
// Run www/bench.html in headless Chromium (WebGPU on SwiftShader, or a GPU with CHROMIUM_FLAGS)
// on a model and print the report as JSON.
//
// usage: node scripts/bench-browser.mjs MODEL.gguf [--prompt N] [--gen N] [--reps N] [--gpu-budget BYTES] [--context N]
// Needs pkg/ (scripts/build-npm) and tests/browser's npm packages (cd tests/browser && npm ci).

import path from 'node:path';
import { launchBrowser, startServer, stopAll } from '../tests/browser/harness.mjs';

const args = process.argv.slice(2);
const model = args.shift();
if (!model || model.startsWith('-')) {
  console.error('usage: node scripts/bench-browser.mjs MODEL.gguf [--prompt N] [--gen N] [--reps N] [--gpu-budget BYTES] [--context N]');
  process.exit(2);
}
const names = { '--prompt': 'prompt', '--gen': 'gen', '--reps': 'reps', '--gpu-budget': 'gpuBudget', '--context': 'contextLength' };
const query = new URLSearchParams();
while (args.length) {
  const flag = args.shift();
  const value = args.shift();
  if (!(flag in names) || value === undefined) {
    console.error(`error: unknown flag or missing value: ${flag}`);
    process.exit(2);
  }
  query.set(names[flag], value);
}

const file = path.resolve(model);
const server = await startServer({ mounts: { '/bench-model': path.dirname(file), '/app': 'www' } });
query.append('model', `/bench-model/${path.basename(file)}`);
let code = 0;
try {
  const { page } = await launchBrowser();
  await page.goto(`${server.url}/app/bench.html?${query}`);
  const result = await waitForResult(server.url);
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

/** Poll the server's /__result until the page has posted its report. */
async function waitForResult(base) {
  for (;;) {
    const response = await fetch(`${base}/__result`);
    if (response.ok) return response.json();
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
