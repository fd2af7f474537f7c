// Entry point of the demo page: check for WebGPU, load the webmoe package, start the app.
// `body[data-ready]` says how the start went: "webgpu", "no-webgpu" or "failed".

import { loadPackage } from './api.js';
import { DemoApp } from './app.js';
import { checkWebGPU } from './webgpu.js';

const status = document.getElementById('gpu-status');

function showWebGPUMissing({ reason, help }) {
  const section = document.getElementById('webgpu-missing');
  document.getElementById('webgpu-missing-reason').textContent = reason;
  document.getElementById('webgpu-missing-help').replaceChildren(
    ...help.map((step) => {
      const item = document.createElement('li');
      item.textContent = step;
      return item;
    }),
  );
  section.hidden = false;
  status.textContent = 'WebGPU unavailable';
  status.className = 'gpu-status missing';
}

function showFatal(message) {
  const section = document.getElementById('webgpu-missing');
  section.querySelector('h2').textContent = 'The demo cannot start';
  document.getElementById('webgpu-missing-reason').textContent = message;
  document.getElementById('webgpu-missing-help').replaceChildren();
  section.hidden = false;
  status.textContent = 'Not started';
  status.className = 'gpu-status missing';
}

async function main() {
  const gpu = await checkWebGPU();
  if (!gpu.ok) showWebGPUMissing(gpu);
  let webmoe;
  try {
    webmoe = await loadPackage();
  } catch (error) {
    if (gpu.ok) showFatal(error.message);
    document.body.dataset.ready = gpu.ok ? 'failed' : 'no-webgpu';
    return;
  }
  const app = new DemoApp(webmoe);
  if (gpu.ok) {
    status.textContent = `WebGPU: ${gpu.adapter}`;
    status.className = 'gpu-status ok';
    app.start();
  } else {
    app.startWithoutGpu();
  }
  document.body.dataset.ready = gpu.ok ? 'webgpu' : 'no-webgpu';
}

main();
