// The benchmark page: load the model named in the URL, run engine.bench(), show the report as
// JSON and post it to the server's /__result (scripts/bench-browser collects it from there).

import { loadPackage } from './api.js';

const status = document.getElementById('status');
const report = document.getElementById('report');
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

async function main() {
  const models = params.getAll('model');
  if (models.length === 0) throw new Error('give the model: bench.html?model=/models/file.gguf');
  const source = models.length === 1 ? models[0] : models;
  const loadOptions = { onProgress: ({ phase, loaded, total }) => (status.textContent = `${phase}: ${loaded} of ${total} bytes`) };
  const budget = whole('gpuBudget', undefined);
  if (budget !== undefined) loadOptions.gpuBudget = budget;
  const contextLength = whole('contextLength', undefined);
  if (contextLength !== undefined) loadOptions.contextLength = contextLength;
  const { Engine } = await loadPackage();
  const started = performance.now();
  const engine = await Engine.load(source, loadOptions);
  const loadSeconds = (performance.now() - started) / 1000;
  status.textContent = 'measuring…';
  const result = await engine.bench({ prompt: whole('prompt', 64), gen: whole('gen', 32), reps: whole('reps', 3) });
  const out = { model: source, loadSeconds, ...result, userAgent: navigator.userAgent };
  await engine.unload();
  report.textContent = JSON.stringify(out, null, 2);
  status.textContent = 'done';
  await post(out);
}

main().catch(async (error) => {
  status.textContent = `${error.name}: ${error.message}`;
  await post({ error: { name: error.name, message: error.message } });
});
