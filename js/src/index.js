// The webmoe JavaScript API. `Engine` lives on the page's thread and forwards every call to a
// module worker (worker.js) that hosts the WebAssembly engine, so the page never blocks.
// Types and documentation of every member: index.d.ts.
//
// Messages, page → worker: { id, op, ...arguments } with op 'load', 'generate', 'chat', 'stats',
// 'resetChat', 'tokenize', 'detokenize', 'countTokens', 'routing', 'bench', 'logits', 'unload' (and the test hooks 'panic', 'loseDevice'), or
// { op: 'abort', target } to cancel request `target`.
// Worker → page: { id, type: 'progress' | 'chunk' | 'result' | 'error', … }, and
// { type: 'fatal', error } when the engine can no longer be used.

import { AbortError, EngineUnavailableError, InvalidOptionError, WebmoeError, reviveError } from './errors.js';
import {
  benchOptions,
  conversationIdOf,
  generateOptions,
  messagesOf,
  tokenizeOptions,
  loadOptions,
  normalizePrompt,
  normalizeSource,
  routingRange,
  storesModel,
  tokenIds,
  verifyOptions,
} from './options.js';
import { ChunkStream } from './stream.js';
import { createChatCompletion, createCompletion } from './chat.js';
import { chatRequest, completionRequest } from './openai.js';
import {
  deleteCached as deleteStored,
  listCached as listStored,
  requestPersistence,
  verifyCached as verifyStored,
} from './store/index.js';

export {
  WebmoeError,
  WebGPUUnavailableError,
  DeviceLostError,
  OutOfMemoryError,
  QuotaExceededError,
  DownloadError,
  ModelFormatError,
  InvalidOptionError,
  ContextLengthError,
  ContextFullError,
  AbortError,
  EngineUnavailableError,
} from './errors.js';

const CONSTRUCT = Symbol('Engine construction');

function abortErrorOf(signal) {
  const reason = signal.reason;
  return reason instanceof WebmoeError ? reason : new AbortError('the operation was cancelled through its AbortSignal');
}

/** A loaded model, ready to generate text. Create one with `Engine.load`. */
export class Engine {
  #worker;
  #requests = new Map();
  #nextId = 1;
  #unavailable = null;

  /** @private */
  constructor(token, worker) {
    if (token !== CONSTRUCT) throw new TypeError('use Engine.load(source, options) to create an Engine');
    this.#worker = worker;
    this.model = null;
    worker.addEventListener('message', (event) => this.#receive(event.data));
    worker.addEventListener('error', (event) => {
      event.preventDefault();
      const message = event.message || 'the worker could not start (is the package served with its worker.js and wasm/ files?)';
      this.#retire(new EngineUnavailableError(`the webmoe worker failed: ${message}; load the model again`));
    });
    /** OpenAI-style chat completions. */
    this.chat = { completions: { create: (params) => this.#createChatCompletion(params) } };
    /** OpenAI-style (legacy) text completions. */
    this.completions = { create: (params) => this.#createCompletion(params) };
  }

  /**
   * Open a model (download it into the browser's storage, read a File in place, or read it from
   * its server without storing), and upload it. See index.d.ts.
   */
  static async load(source, options = {}) {
    const checked = loadOptions(options);
    const normalized = normalizeSource(source);
    if (checked.signal?.aborted) throw abortErrorOf(checked.signal);
    // Storage persistence can only be asked for from the page (the store in the worker cannot),
    // and only once per origin: the store remembers the answer.
    if (storesModel(normalized, checked.reading.store)) requestPersistence().catch(() => {});
    // Written out as `new Worker(new URL('./worker.js', import.meta.url), …)`: the form Vite and
    // webpack recognise, so that a bundled app gets the worker bundled with its imports.
    const worker = checked.workerUrl
      ? new Worker(checked.workerUrl, { type: 'module', name: 'webmoe' })
      : new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'webmoe' });
    const engine = new Engine(CONSTRUCT, worker);
    try {
      const payload = { source: normalized, options: checked.engine, reading: checked.reading, wasmUrl: checked.wasmUrl };
      const loaded = await engine.#request('load', payload, checked);
      engine.model = { ...loaded.model, key: loaded.key };
      return engine;
    } catch (error) {
      engine.#retire(new EngineUnavailableError('the engine failed to load'));
      throw error;
    }
  }

  /** Models in the browser's storage. */
  static listCached() {
    return listStored();
  }

  /** Delete a stored model by its key or source; true if something was deleted. */
  static deleteCached(source) {
    return deleteStored(source);
  }

  /** Check every stored shard of a model again; damaged ones are dropped. See index.d.ts. */
  static async verifyCached(source, options = {}) {
    const checked = verifyOptions(options);
    return verifyStored(source, checked);
  }

  /** Generate from a prompt: an async iterable of { text, tokenId }. See index.d.ts. */
  generate(prompt, options = {}) {
    const checked = generateOptions(options);
    const normalized = normalizePrompt(prompt);
    return this.#stream('generate', { prompt: normalized, options: checked.engine }, checked.signal);
  }

  /**
   * Forget a conversation (`conversationId`), or every conversation and the KV cache's content
   * when none is named. See index.d.ts.
   */
  resetChat(conversationId) {
    let id;
    try {
      id = conversationIdOf(conversationId, 'conversationId');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#request('resetChat', { conversationId: id });
  }

  /** The token ids of `text`, as a generation's text prompt runs them. See index.d.ts. */
  tokenize(text, options = {}) {
    return this.#checked(() => {
      if (typeof text !== 'string') throw new InvalidOptionError(`text must be a string; got ${typeof text}.`, { option: 'text' });
      return this.#request('tokenize', { text, options: tokenizeOptions(options) });
    });
  }

  /** The text of token ids (special tokens left out). See index.d.ts. */
  detokenize(ids) {
    return this.#checked(() => this.#request('detokenize', { ids: normalizePrompt(ids, 'ids') }));
  }

  /** The prompt tokens of a conversation with the chat template applied. See index.d.ts. */
  countTokens(messages) {
    return this.#checked(() => this.#request('countTokens', { messages: messagesOf(messages) }));
  }

  /** `start()`'s promise, or a rejection with what it threw. */
  #checked(start) {
    try {
      return start();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Figures about speed, expert choices and memory. */
  stats() {
    return this.#request('stats', {});
  }

  /** The experts chosen at positions from..to of the current sequence: [position][layer][j]. */
  routing(from, to) {
    return this.#request('routing', routingRange(from, to));
  }

  /** Measure prompt and decode speed against the device's copy bandwidth. See index.d.ts. */
  bench(options = {}) {
    return this.#request('bench', benchOptions(options));
  }

  /** The vocabulary logits of every position of `ids`, run from position 0. See index.d.ts. */
  async logits(ids) {
    const checked = tokenIds(ids);
    const values = await this.#request('logits', { ids: checked });
    // One buffer from the worker; each row is a view of its part.
    const vocab = this.model.vocabSize;
    return Array.from({ length: checked.length }, (_, p) => values.subarray(p * vocab, (p + 1) * vocab));
  }

  /** Free the GPU memory and stop the worker. Later calls reject with EngineUnavailableError. */
  async unload() {
    if (this.#unavailable) return;
    try {
      await this.#request('unload', {});
    } finally {
      this.#retire(new EngineUnavailableError('the engine was unloaded; load a model again with Engine.load'));
    }
  }

  #createChatCompletion(params) {
    let checked;
    try {
      checked = chatRequest(params);
    } catch (error) {
      return Promise.reject(error);
    }
    const generate = () => this.#stream('chat', { messages: checked.messages, options: checked.engine }, checked.signal);
    return createChatCompletion(checked, this.#modelName(), generate);
  }

  #createCompletion(params) {
    let checked;
    try {
      checked = completionRequest(params);
    } catch (error) {
      return Promise.reject(error);
    }
    const generate = () => this.#stream('generate', { prompt: checked.prompt, options: checked.engine }, checked.signal);
    return createCompletion(checked, this.#modelName(), generate);
  }

  /** The `model` of OpenAI-style responses: the GGUF's name, else its storage key. */
  #modelName() {
    return this.model?.name || this.model?.key || 'webmoe';
  }

  #stream(op, payload, signal) {
    return new ChunkStream((onChunk) => {
      // The caller's signal or the iteration's end cancels. AbortSignal.any would say it in one
      // call, but Chrome has it from 116 only, and the package supports 113.
      const cancel = new AbortController();
      const forward = () => cancel.abort(signal.reason);
      if (signal?.aborted) forward();
      else signal?.addEventListener('abort', forward, { once: true });
      const done = this.#request(op, payload, { signal: cancel.signal, onChunk });
      done.then(
        () => signal?.removeEventListener('abort', forward),
        () => signal?.removeEventListener('abort', forward),
      );
      return { done, cancel: () => cancel.abort() };
    });
  }

  /** Send a request to the worker; resolves with its result. */
  #request(op, payload, { signal, onProgress, onChunk } = {}) {
    if (this.#unavailable) return Promise.reject(this.#unavailable);
    if (signal?.aborted) return Promise.reject(abortErrorOf(signal));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const abort = () => this.#worker.postMessage({ op: 'abort', target: id });
      signal?.addEventListener('abort', abort, { once: true });
      const settle = () => signal?.removeEventListener('abort', abort);
      this.#requests.set(id, {
        resolve: (value) => (settle(), resolve(value)),
        reject: (error) => (settle(), reject(error)),
        onProgress,
        onChunk,
      });
      this.#worker.postMessage({ id, op, ...payload });
    });
  }

  #receive(message) {
    if (message.type === 'fatal') {
      this.#retire(reviveError(message.error));
      return;
    }
    const request = this.#requests.get(message.id);
    if (!request) return;
    switch (message.type) {
      case 'progress':
        if (request.onProgress) {
          try {
            request.onProgress(message.progress);
          } catch (error) {
            console.error('webmoe: the onProgress callback threw', error);
          }
        }
        break;
      case 'chunk':
        request.onChunk?.(message.chunk);
        break;
      case 'result':
        this.#requests.delete(message.id);
        request.resolve(message.value);
        break;
      case 'error': {
        this.#requests.delete(message.id);
        const error = reviveError(message.error);
        request.reject(error);
        if (message.fatal) this.#retire(error);
        break;
      }
    }
  }

  /** Make the engine unusable: pending and later calls reject with `error`. */
  #retire(error) {
    if (this.#unavailable) return;
    this.#unavailable = error instanceof EngineUnavailableError ? error : new EngineUnavailableError(error.message, error.details);
    for (const request of this.#requests.values()) request.reject(this.#unavailable);
    this.#requests.clear();
    this.#worker.terminate();
  }

  /** Test hook (not part of the API): make the engine's WebAssembly panic inside a future. */
  _panicForTests() {
    return this.#request('panic', {});
  }

  /**
   * Test hook (not part of the API): destroy the engine's GPU device, as a driver reset would;
   * resolves once the engine has seen the loss, so the next call meets it (DeviceLostError).
   */
  _loseDeviceForTests() {
    return this.#request('loseDevice', {});
  }
}
