// Whether this browser can run webmoe: WebGPU present and an adapter given. When not, what to do.

/**
 * Probe WebGPU the way the engine will use it.
 * @returns {Promise<{ok: true, adapter: string} | {ok: false, reason: string, help: string[]}>}
 *   `adapter` names the GPU when the browser tells; `reason` says what is missing and `help`
 *   lists the steps that fix it.
 */
export async function checkWebGPU() {
  if (!window.isSecureContext) {
    return {
      ok: false,
      reason: 'This page was not opened from a secure origin, and browsers offer WebGPU only to secure pages.',
      help: ['Open it as http://127.0.0.1:8080/ or http://localhost:8080/, or serve it over https.'],
    };
  }
  if (!('gpu' in navigator) || !navigator.gpu) {
    return { ok: false, reason: 'This browser has no WebGPU (navigator.gpu is missing).', help: browserHelp() };
  }
  let adapter = null;
  try {
    adapter = await navigator.gpu.requestAdapter();
  } catch (error) {
    return { ok: false, reason: `The browser could not look for a GPU: ${error.message}`, help: adapterHelp() };
  }
  if (!adapter) {
    return {
      ok: false,
      reason: 'This browser has WebGPU, but it gave no GPU adapter: WebGPU is switched off or the GPU is blocklisted.',
      help: adapterHelp(),
    };
  }
  return { ok: true, adapter: describeAdapter(adapter) };
}

function describeAdapter(adapter) {
  const info = adapter.info || {};
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
  const fallback = adapter.isFallbackAdapter || info.isFallbackAdapter ? ' (software fallback, slow)' : '';
  return (name || 'a WebGPU adapter') + fallback;
}

function browserHelp() {
  return [
    'Use Chrome or Edge 113 or newer on Windows, macOS or ChromeOS, or Chrome 121 or newer on Android.',
    'On Linux, start Chrome or Chromium with --enable-unsafe-webgpu (or turn on chrome://flags/#enable-unsafe-webgpu), and add --enable-features=Vulkan when it still finds no GPU.',
    'Safari 26 and Firefox 141 (on Windows) and newer have WebGPU too; older versions need it switched on in their developer settings.',
  ];
}

function adapterHelp() {
  return [
    'Turn on chrome://flags/#enable-unsafe-webgpu (or start the browser with --enable-unsafe-webgpu) and reload.',
    'Check chrome://gpu: "WebGPU" should read "Hardware accelerated". Update the graphics driver if it is blocklisted.',
    'On Linux, add --enable-features=Vulkan; without a GPU, --enable-unsafe-webgpu gives a software adapter (slow, but it works).',
  ];
}
