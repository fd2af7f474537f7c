// The benchmark page: load the model named in the URL (or the file chosen in its file input, with
// ?source=file), run engine.bench(), show the report as JSON and post it to the server's /__result
// (scripts/bench-browser.mjs collects it from there). The report adds what loading took, seconds
// per decoded token and the WebAssembly memory's peak to engine.bench()'s figures.

import { loadPackage } from './api.js';

const status = document.getElementById('status');
const report = document.getElementById('report');
const fileInput = document.getElementById('model-file');
const params = new URLSearchParams(location.search);

/** A whole-number parameter, or `fallback` when absent. */
function whole(name, fallback) {
  const text = params.get(name);
  if (text === null) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number ≥ 1, not ${text}`);
  return value;
}

async function post(result) {
  try {
    await fetch('/__result', { method: 'POST', body: JSON.stringify(result) });
  } catch {
    // Served by a server without /__result: the page shows the report anyway.
  }
}

/** The files chosen in the file input, once there are some. */
function chosenFiles() {
  if (fileInput.files.length > 0) return Promise.resolve([...fileInput.files]);
  status.textContent = 'choose the model file (every part of a split model)…';
  return new Promise((resolve) => fileInput.addEventListener('change', () => resolve([...fileInput.files]), { once: true }));
}

/** "upload: 1.2 GiB of 25.1 GiB, about 3 min left". */
function describeProgress({ phase, loaded, total, etaSeconds }) {
  const gib = (bytes) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  const left = etaSeconds === null ? '' : `, about ${Math.round(etaSeconds)} s left`;
  return `${phase}: ${gib(loaded)} of ${gib(total)}${left}`;
}

async function main() {
  const fromFile = params.get('source') === 'file';
  const models = params.getAll('model');
  if (!fromFile && models.length === 0) throw new Error('give the model: bench.html?model=/models/file.gguf, or ?source=file');
  const files = fromFile ? await chosenFiles() : null;
  const source = files ? (files.length === 1 ? files[0] : files) : models.length === 1 ? models[0] : models;
  const loadOptions = { onProgress: (progress) => (status.textContent = describeProgress(progress)) };
  const budget = whole('gpuBudget', undefined);
  if (budget !== undefined) loadOptions.gpuBudget = budget;
  const contextLength = whole('contextLength', undefined);
  if (contextLength !== undefined) loadOptions.contextLength = contextLength;
  if (params.get('store') === 'false') loadOptions.store = false;
  const { Engine } = await loadPackage();
  const started = performance.now();
  const engine = await Engine.load(source, loadOptions);
  const loadSeconds = (performance.now() - started) / 1000;
  status.textContent = 'measuring…';
  const result = await engine.bench({ prompt: whole('prompt', 64), gen: whole('gen', 32), reps: whole('reps', 3) });
  const stats = await engine.stats();
  const out = {
    model: files ? files.map((file) => file.name) : source,
    readFrom: engine.model.readFrom,
    loadSeconds,
    ...result,
    secondsPerToken: result.decodeTokensPerSecond > 0 ? 1 / result.decodeTokensPerSecond : null,
    wasmMemoryBytes: stats.wasmMemory,
    userAgent: navigator.userAgent,
  };
  await engine.unload();
  report.textContent = JSON.stringify(out, null, 2);
  status.textContent = 'done';
  await post(out);
}

main().catch(async (error) => {
  status.textContent = `${error.name}: ${error.message}`;
  await post({ error: { name: error.name, message: error.message } });
});
