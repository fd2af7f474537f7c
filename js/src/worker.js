// The module worker that hosts the WebAssembly engine (see index.js for the message protocol).
//
// One engine per worker. Generations run one at a time: a second `generate` waits until the first
// has ended (or was cancelled). Each call into the engine (a prompt, a token, a stats or routing
// read) holds the engine alone, so `stats()` and `routing()` answer between two tokens of a
// running generation. A cancelled generation stops before its next token.
//
// A panic in the WebAssembly code traps ("unreachable"): the instance can no longer be trusted,
// so every pending and later request fails with EngineUnavailableError and the page retires this
// worker; a new Engine.load starts a fresh one. A lost GPU device ends the engine too: the request
// that meets the loss fails with DeviceLostError, and the page retires the worker the same way.
//
// Before the store downloads a model, the engine checks its header (`checkModel`), so that a file
// webmoe cannot run is refused before any of its weights are fetched or stored.
//
// The model's bytes come from the reader the store opens: its stored copy in IndexedDB, a File
// read in place, or its server (`store: false`). Experts streamed in under a GPU budget keep coming
// from that reader after the load.

import init, { WasmEngine, checkModel, lastPanicMessage, panicForTests } from './wasm/webmoe_web.js';
import { AbortError, DeviceLostError, EngineUnavailableError, WebGPUUnavailableError, reviveError, serializeError } from './errors.js';
import { openModel } from './store/index.js';
import { progressCounter } from './store/progress.js';

let wasmReady = null;
let engine = null;
let reader = null;
let unavailable = null;
/** Requests in progress: id → AbortController. */
const running = new Map();

/** A chain that runs its tasks one after the other. */
function serial() {
  let tail = Promise.resolve();
  return (task) => {
    const result = tail.then(task);
    tail = result.catch(() => {});
    return result;
  };
}
/** One generation at a time. */
const generationTurn = serial();
/** One call into the engine at a time. */
const engineCall = serial();

const post = (message, transfer = []) => self.postMessage(message, transfer);

function isTrap(error) {
  return error instanceof WebAssembly.RuntimeError;
}

/** The error as it crosses to the page: errors named after a webmoe class keep their class. */
function plain(error) {
  if (error && typeof error.name === 'string' && typeof error.message === 'string') {
    const revived = reviveError({ name: error.name, message: error.message, details: error.details });
    if (revived.name === error.name) return serializeError(revived);
  }
  return serializeError(error);
}

/**
 * The GPU device is gone, and with it every buffer of the engine: request `id` gets the
 * DeviceLostError, marked fatal so that the page retires this worker (a new Engine.load gets a
 * new device); whatever else is pending, and anything later, gets EngineUnavailableError.
 */
function deviceLost(id, error) {
  unavailable = new EngineUnavailableError(error.message, error.details);
  engine = null;
  running.delete(id);
  post({ id, type: 'error', error: plain(error), fatal: true });
  const later = serializeError(unavailable);
  for (const other of running.keys()) post({ id: other, type: 'error', error: later, fatal: true });
  running.clear();
}

/** The engine trapped: answer everything pending, refuse everything later. */
function retire(cause) {
  if (unavailable) return;
  let panic = null;
  try {
    panic = lastPanicMessage();
  } catch {
    // The instance may be too broken to answer; the cause's message is enough.
  }
  const why = panic || (cause && cause.message) || String(cause);
  unavailable = new EngineUnavailableError(
    `the engine stopped after an internal error (${why}); load the model again with Engine.load`,
  );
  engine = null;
  const error = serializeError(unavailable);
  for (const id of running.keys()) post({ id, type: 'error', error, fatal: true });
  running.clear();
  post({ type: 'fatal', error });
}

// A trap inside a future happens in a microtask: its promise never settles, the error surfaces here.
self.addEventListener('error', (event) => {
  if (isTrap(event.error)) {
    event.preventDefault();
    retire(event.error);
  }
});
self.addEventListener('unhandledrejection', (event) => {
  if (isTrap(event.reason)) {
    event.preventDefault();
    retire(event.reason);
  }
});

function currentEngine() {
  if (!engine) throw new EngineUnavailableError('no model is loaded in this engine; load a model with Engine.load');
  return engine;
}

function cancelled() {
  return new AbortError('the generation was cancelled through its AbortSignal');
}

/** Run the prompt that `start` submits, then send chunks until the generation ends. */
function generation(start, { id, signal }) {
  return generationTurn(async () => {
    if (signal.aborted) throw cancelled();
    const current = currentEngine();
    const { promptTokens, cachedTokens } = await engineCall(() => start(current));
    let completionTokens = 0;
    let finishReason = null;
    while (finishReason === null) {
      if (signal.aborted) throw cancelled();
      const chunk = await engineCall(() => current.nextChunk());
      if (chunk === null) break;
      completionTokens += 1;
      finishReason = chunk.finishReason ?? null;
      const out = { text: chunk.text, tokenId: chunk.tokenId };
      if (chunk.channel) out.channel = chunk.channel;
      if (chunk.logprobs) out.logprobs = { ...chunk.logprobs.chosen, topLogprobs: chunk.logprobs.topLogprobs };
      if (finishReason) out.finishReason = finishReason;
      post({ id, type: 'chunk', chunk: out });
    }
    const usage = { promptTokens, cachedTokens, completionTokens };
    return { finishReason: finishReason ?? current.finishReason() ?? 'stop', usage };
  });
}

const operations = {
  async load({ source, options, reading, wasmUrl }, { id, signal }) {
    if (engine) throw new EngineUnavailableError('this engine already holds a model; create another with Engine.load');
    if (!globalThis.navigator?.gpu) {
      throw new WebGPUUnavailableError(
        'this browser does not offer WebGPU; use a current Chrome or Edge, or enable WebGPU in the browser settings',
      );
    }
    // The module comes from beside this file unless the page named another place.
    wasmReady ??= init(wasmUrl ? { module_or_path: wasmUrl } : undefined);
    await wasmReady;
    reader = await openModel(source, {
      ...reading,
      signal,
      onProgress: (progress) => post({ id, type: 'progress', progress }),
      checkModel: (parts) => checkModel({ parts }),
    });
    try {
      if (signal.aborted) throw cancelled();
      // Reads stop as soon as the load is cancelled; the engine then fails with this AbortError.
      const parts = reader.parts.map((part) => ({
        size: part.size,
        read(offset, length) {
          if (signal.aborted) throw new AbortError('loading the model was cancelled through its AbortSignal');
          return part.read(offset, length);
        },
      }));
      // The engine reports after each matrix: the phase starts now, before the first one.
      const uploadStarted = Date.now();
      let upload = null;
      const onUpload = (loaded, total) => {
        upload ??= progressCounter((progress) => post({ id, type: 'progress', progress }), 'upload', total, 0, uploadStarted);
        upload.set(loaded);
      };
      engine = await WasmEngine.load({ parts }, options, onUpload);
      upload?.finish();
      return { model: { ...engine.info(), readFrom: reader.origin }, key: reader.key };
    } catch (error) {
      reader.close();
      reader = null;
      throw error;
    }
  },

  generate({ prompt, options }, context) {
    return generation((e) => e.start(prompt, options), context);
  },

  chat({ messages, options }, context) {
    return generation((e) => e.startChat(messages, options), context);
  },

  stats() {
    return engineCall(() => currentEngine().stats());
  },

  // The tokenizer answers at once, also between two tokens of a running generation.
  tokenize({ text, options }) {
    return Array.from(currentEngine().tokenize(text, options));
  },

  detokenize({ ids }) {
    return currentEngine().detokenize(ids);
  },

  countTokens({ messages }) {
    return currentEngine().countTokens(messages);
  },

  resetChat({ conversationId }) {
    // Waits for a running generation to end, as a new one would.
    return generationTurn(() => engineCall(() => currentEngine().resetChat(conversationId ?? null)));
  },

  routing({ from, to }) {
    return engineCall(() => currentEngine().routing(from, to));
  },

  bench({ prompt, gen, reps }) {
    // A benchmark runs many tokens: it waits for any generation to finish, as a generation would.
    return generationTurn(() => engineCall(() => currentEngine().bench(prompt, gen, reps)));
  },

  logits({ ids }) {
    // Logits restart the sequence: they wait for a running generation to finish, as bench does.
    // The result is one Float32Array of ids.length × vocabSize values, outside the wasm memory.
    return generationTurn(() => engineCall(() => currentEngine().logits(ids)));
  },

  async unload(_, { id }) {
    for (const [other, controller] of running) if (other !== id) controller.abort();
    await generationTurn(() => engineCall(() => {
      engine?.free();
      engine = null;
      reader?.close();
      reader = null;
    }));
    return true;
  },

  async panic() {
    wasmReady ??= init();
    await wasmReady;
    return panicForTests();
  },

  loseDevice() {
    return engineCall(() => currentEngine().loseDeviceForTests());
  },
};

async function handle({ id, op, ...args }) {
  if (unavailable) {
    post({ id, type: 'error', error: serializeError(unavailable), fatal: true });
    return;
  }
  const operation = operations[op];
  if (!operation) {
    post({ id, type: 'error', error: { name: 'WebmoeError', message: `unknown request ${op}`, details: {} } });
    return;
  }
  const controller = new AbortController();
  running.set(id, controller);
  try {
    const value = await operation(args, { id, signal: controller.signal });
    // A typed array (logits) moves to the page instead of being copied.
    if (running.delete(id)) post({ id, type: 'result', value }, ArrayBuffer.isView(value) ? [value.buffer] : []);
  } catch (error) {
    if (isTrap(error)) retire(error);
    else if (error?.name === DeviceLostError.name && running.has(id)) deviceLost(id, error);
    else if (running.delete(id)) post({ id, type: 'error', error: plain(error) });
  }
}

self.addEventListener('message', (event) => {
  const message = event.data;
  if (message.op === 'abort') running.get(message.target)?.abort();
  else handle(message);
});
