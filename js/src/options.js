// Checks of the options the public API takes, before anything crosses to the worker. Types and
// option names are checked here (a misspelt option is an error, not silently ignored); ranges
// (temperature ≥ 0, 0 < topP ≤ 1, …) are checked by the engine, which names the allowed range.

import { InvalidOptionError } from './errors.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function refuse(option, value, what) {
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return new InvalidOptionError(`${option} must be ${what}; got ${shown}.`, { option, value: shown });
}

function checkKeys(options, allowed, what) {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) throw refuse(what, options, 'an object');
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key) && options[key] !== undefined) {
      throw new InvalidOptionError(`unknown option ${JSON.stringify(key)} in ${what}; the options are ${allowed.join(', ')}.`, {
        option: key,
      });
    }
  }
  return options;
}

function number(options, key, option = key) {
  const value = options[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw refuse(option, value, 'a finite number');
  return value;
}

function integer(options, key, min, option = key) {
  const value = number(options, key, option);
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < min || value > MAX_SAFE) throw refuse(option, value, `a whole number ≥ ${min}`);
  return value;
}

function signalOf(options) {
  const signal = options.signal;
  if (signal === undefined || signal === null) return undefined;
  if (typeof AbortSignal === 'undefined' || !(signal instanceof AbortSignal)) throw refuse('signal', signal, 'an AbortSignal');
  return signal;
}

function stopOf(stop, option) {
  if (stop === undefined || stop === null) return [];
  const list = typeof stop === 'string' ? [stop] : stop;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) throw refuse(option, stop, 'a string or an array of strings');
  return list;
}

/** An absolute URL (a string, relative to the page, or a URL), or unset. */
function urlOf(value, option) {
  if (value === undefined || value === null) return undefined;
  try {
    if (value instanceof URL) return value;
    if (typeof value === 'string' && value.length > 0) return new URL(value, globalThis.location?.href);
  } catch {
    // Refused below.
  }
  throw refuse(option, String(value), 'a URL (a string or a URL object)');
}

/** A conversation id: a non-empty string, or unset. */
export function conversationIdOf(id, option) {
  if (id === undefined || id === null) return undefined;
  if (typeof id !== 'string' || id.length === 0) throw refuse(option, id, 'a non-empty string');
  return id;
}

/**
 * A model source: an absolute URL, a list of absolute URLs (split GGUF parts, in order), a
 * Blob/File, or a list of Files (split GGUF parts; the store puts them in order by name).
 */
export function normalizeSource(source) {
  const absolute = (url) => {
    try {
      return new URL(url, globalThis.location?.href).href;
    } catch {
      throw refuse('source', url, 'a URL');
    }
  };
  const isBlob = (value) => typeof Blob !== 'undefined' && value instanceof Blob;
  if (isBlob(source)) return source;
  if (Array.isArray(source) && source.length > 0 && source.every(isBlob)) return source.slice();
  if (typeof source === 'string' && source.length > 0) return absolute(source);
  if (Array.isArray(source) && source.length > 0 && source.every((s) => typeof s === 'string' && s.length > 0)) {
    return source.map(absolute);
  }
  throw refuse(
    'source',
    source,
    'a GGUF URL, a non-empty array of URLs of split GGUF parts, a File/Blob, or an array of the Files of split GGUF parts',
  );
}

/**
 * `Engine.load` options → { onProgress, signal, reading: { ramBudget, store }, engine: { contextLength, kvType, gpuBudget } }.
 * `reading` goes to the store that opens and reads the model, `engine` to the WebAssembly engine.
 * @throws {InvalidOptionError}
 */
export function loadOptions(options) {
  const o = checkKeys(
    options,
    ['onProgress', 'signal', 'gpuBudget', 'ramBudget', 'contextLength', 'kvType', 'store', 'maxConversations', 'workerUrl', 'wasmUrl'],
    'Engine.load options',
  );
  if (o.store !== undefined && typeof o.store !== 'boolean') throw refuse('store', o.store, 'true or false');
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw refuse('onProgress', o.onProgress, 'a function');
  if (o.kvType !== undefined && o.kvType !== 'f16' && o.kvType !== 'f32') throw refuse('kvType', o.kvType, '"f16" or "f32"');
  const gpuBudget = number(o, 'gpuBudget');
  if (gpuBudget !== undefined && gpuBudget <= 0) throw refuse('gpuBudget', gpuBudget, 'a positive number of bytes');
  return {
    onProgress: o.onProgress,
    signal: signalOf(o),
    workerUrl: urlOf(o.workerUrl, 'workerUrl'),
    wasmUrl: urlOf(o.wasmUrl, 'wasmUrl')?.href,
    reading: defined({ ramBudget: integer(o, 'ramBudget', 0), store: o.store }),
    engine: defined({
      contextLength: integer(o, 'contextLength', 1),
      kvType: o.kvType,
      gpuBudget,
      maxConversations: integer(o, 'maxConversations', 1),
    }),
  };
}

/**
 * Whether loading `source` with the `store` option given writes it into the browser's storage: a
 * URL unless `store` is false, a File or Blob only when it is true.
 */
export function storesModel(source, store) {
  const local = typeof source !== 'string' && !(Array.isArray(source) && typeof source[0] === 'string');
  return local ? store === true : store !== false;
}

/**
 * `Engine.verifyCached` options → { onProgress, signal }.
 * @throws {InvalidOptionError}
 */
export function verifyOptions(options) {
  const o = checkKeys(options, ['onProgress', 'signal'], 'Engine.verifyCached options');
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw refuse('onProgress', o.onProgress, 'a function');
  return defined({ onProgress: o.onProgress, signal: signalOf(o) });
}

const isTokenId = (id) => Number.isInteger(id) && id >= 0 && id < 2 ** 32;

/** A prompt: a string, or token ids (an array or typed array of whole numbers). */
export function normalizePrompt(prompt, option = 'prompt') {
  if (typeof prompt === 'string' && option === 'prompt') return prompt;
  const ids = ArrayBuffer.isView(prompt) ? Array.from(prompt) : prompt;
  if (Array.isArray(ids) && ids.every(isTokenId)) return ids;
  throw refuse(option, prompt, option === 'prompt' ? 'a string or an array of token ids (whole numbers)' : 'an array of token ids (whole numbers)');
}

/**
 * Chat messages: a non-empty array of { role, content } with string values, as plain objects.
 * @throws {InvalidOptionError}
 */
export function messagesOf(messages) {
  const isMessage = (m) => m && typeof m === 'object' && typeof m.role === 'string' && typeof m.content === 'string';
  if (!Array.isArray(messages) || messages.length === 0 || !messages.every(isMessage)) {
    throw refuse('messages', JSON.stringify(messages), 'a non-empty array of { role, content } with string values');
  }
  return messages.map(({ role, content }) => ({ role, content }));
}

/** `tokenize` options → { addSpecialTokens }. */
export function tokenizeOptions(options) {
  const o = checkKeys(options, ['addSpecialTokens'], 'tokenize options');
  if (o.addSpecialTokens !== undefined && typeof o.addSpecialTokens !== 'boolean') {
    throw refuse('addSpecialTokens', o.addSpecialTokens, 'true or false');
  }
  return defined({ addSpecialTokens: o.addSpecialTokens });
}

/** `logitBias`: [[id, bias], …] or { id: bias } → [[id, bias], …] (ranges checked by the engine). */
function logitBiasOf(bias) {
  if (bias === undefined || bias === null) return undefined;
  const pairs = Array.isArray(bias) ? bias : typeof bias === 'object' ? Object.entries(bias).map(([id, b]) => [Number(id), b]) : null;
  const isPair = (p) => Array.isArray(p) && p.length === 2 && isTokenId(p[0]) && typeof p[1] === 'number';
  if (!pairs || !pairs.every(isPair)) throw refuse('logitBias', JSON.stringify(bias), 'an object or list of [token id, bias] pairs');
  return pairs;
}

/**
 * A JSON Schema the reply must validate against (an object, or a boolean schema) → its JSON text,
 * as the engine reads it (the engine compiles it and names what it cannot use).
 */
export function jsonSchemaOf(schema, option) {
  if (schema === undefined || schema === null) return undefined;
  const isObject = typeof schema === 'object' && !Array.isArray(schema);
  if (!isObject && typeof schema !== 'boolean') throw refuse(option, safeJson(schema), 'a JSON Schema (an object or a boolean)');
  try {
    return JSON.stringify(schema);
  } catch (error) {
    throw refuse(option, String(schema), `a JSON Schema that JSON.stringify accepts (${error.message})`);
  }
}

/** `value` as JSON for a message, or its string form when it has none. */
function safeJson(value) {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** `jsonSchema` and `jsonObject` → the engine's { jsonSchema (JSON text), jsonObject }. */
function formatOf(o) {
  if (o.jsonObject !== undefined && o.jsonObject !== null && typeof o.jsonObject !== 'boolean') {
    throw refuse('jsonObject', o.jsonObject, 'true or false');
  }
  const jsonSchema = jsonSchemaOf(o.jsonSchema, 'jsonSchema');
  if (jsonSchema !== undefined && o.jsonObject) throw refuse('jsonObject', true, 'unset when jsonSchema is given (give one of them)');
  return { jsonSchema, jsonObject: o.jsonObject || undefined };
}

const OVERFLOW = ['error', 'truncate-middle', 'shift'];

/** A `contextOverflow` policy, or unset. */
export function overflowOf(value) {
  if (value === undefined || value === null) return undefined;
  if (!OVERFLOW.includes(value)) throw refuse('contextOverflow', value, `one of ${OVERFLOW.map((v) => JSON.stringify(v)).join(', ')}`);
  return value;
}

/**
 * The ids of `logits`: a non-empty array or typed array of whole numbers, as a plain array.
 * @throws {InvalidOptionError}
 */
export function tokenIds(ids) {
  const list = ArrayBuffer.isView(ids) ? Array.from(ids) : ids;
  if (Array.isArray(list) && list.length === 0) {
    throw new InvalidOptionError('ids must hold at least one token id; got an empty array.', { option: 'ids', value: '[]' });
  }
  if (Array.isArray(list) && list.every(isTokenId)) return list;
  throw refuse('ids', ids, 'a non-empty array of token ids (whole numbers)');
}

/** The engine's options without the unset ones (the engine reads a missing key as its default). */
function defined(values) {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined));
}

/**
 * `engine.generate` options → { signal, engine }.
 * @throws {InvalidOptionError}
 */
export function generateOptions(options) {
  const o = checkKeys(
    options,
    [
      'maxTokens',
      'temperature',
      'topK',
      'topP',
      'minP',
      'repeatPenalty',
      'repeatLastN',
      'frequencyPenalty',
      'presencePenalty',
      'logitBias',
      'logprobs',
      'seed',
      'stop',
      'signal',
      'ignoreEos',
      'conversationId',
      'contextOverflow',
      'jsonSchema',
      'jsonObject',
    ],
    'generate options',
  );
  if (o.ignoreEos !== undefined && typeof o.ignoreEos !== 'boolean') throw refuse('ignoreEos', o.ignoreEos, 'true or false');
  return {
    signal: signalOf(o),
    engine: defined({
      maxTokens: integer(o, 'maxTokens', 0),
      temperature: number(o, 'temperature'),
      topK: integer(o, 'topK', 0),
      topP: number(o, 'topP'),
      minP: number(o, 'minP'),
      repeatPenalty: number(o, 'repeatPenalty'),
      repeatLastN: integer(o, 'repeatLastN', 0),
      frequencyPenalty: number(o, 'frequencyPenalty'),
      presencePenalty: number(o, 'presencePenalty'),
      logitBias: logitBiasOf(o.logitBias),
      logprobs: integer(o, 'logprobs', 0),
      seed: integer(o, 'seed', 0),
      stop: stopOf(o.stop, 'stop'),
      ignoreEos: o.ignoreEos,
      conversationId: conversationIdOf(o.conversationId, 'conversationId'),
      contextOverflow: overflowOf(o.contextOverflow),
      ...formatOf(o),
    }),
  };
}

/** Routing positions: whole numbers with 0 ≤ from ≤ to. */
export function routingRange(from, to) {
  if (!Number.isInteger(from) || from < 0) throw refuse('from', from, 'a whole number ≥ 0');
  if (!Number.isInteger(to) || to < from) throw refuse('to', to, `a whole number ≥ from (${from})`);
  return { from, to };
}

/** `bench` options: whole numbers ≥ 1, with defaults. */
export function benchOptions(options) {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw refuse('bench options', options, 'an object');
  const { prompt = 64, gen = 32, reps = 3, ...unknown } = options;
  const extra = Object.keys(unknown);
  if (extra.length) throw refuse(extra[0], unknown[extra[0]], 'not a bench option (use prompt, gen, reps)');
  for (const [name, value] of Object.entries({ prompt, gen, reps })) {
    if (!Number.isInteger(value) || value < 1) throw refuse(name, value, 'a whole number ≥ 1');
  }
  return { prompt, gen, reps };
}
