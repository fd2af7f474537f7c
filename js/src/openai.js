// The OpenAI request parameters of `chat.completions.create` and `completions.create`, checked
// and mapped to the engine's options. Every field of OpenAI's requests is accepted: the ones
// webmoe supports are applied, the ones that do not change the output (metadata, store, user,
// service_tier, …) are accepted and ignored, and the ones it cannot honour (n > 1, tools,
// audio, web search, echo, suffix) are refused by name, so that a request is never answered as
// if they had been applied. Unknown names are refused too (a misspelt option is an error).

import { InvalidOptionError } from './errors.js';
import { conversationIdOf, jsonSchemaOf, overflowOf } from './options.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** Most ids the top log-probabilities list (OpenAI's limit). */
const MAX_TOP_LOGPROBS = 20;
/** The penalty window when frequency or presence penalties are asked for: the sampler's whole ring. */
const PENALTY_WINDOW = 256;

function refuse(option, value, what) {
  const shown = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return new InvalidOptionError(`${option} must be ${what}; got ${shown}.`, { option, value: String(shown) });
}

function unsupported(option, why) {
  return new InvalidOptionError(`${option} is not supported by webmoe: ${why}.`, { option });
}

const given = (v) => v !== undefined && v !== null;

function number(o, key, min = -Infinity, max = Infinity) {
  const v = o[key];
  if (!given(v)) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw refuse(key, v, min === -Infinity ? 'a finite number' : `a number in [${min}, ${max}]`);
  }
  return v;
}

function integer(o, key, min = 0, max = MAX_SAFE) {
  const v = number(o, key);
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < min || v > max) throw refuse(key, v, `a whole number in [${min}, ${max}]`);
  return v;
}

function boolean(o, key) {
  const v = o[key];
  if (!given(v)) return undefined;
  if (typeof v !== 'boolean') throw refuse(key, v, 'true or false');
  return v;
}

function checkKeys(params, allowed, what) {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) throw refuse(what, params, 'an object');
  for (const key of Object.keys(params)) {
    if (!allowed.has(key) && params[key] !== undefined) {
      throw new InvalidOptionError(`unknown parameter ${JSON.stringify(key)} in ${what}.`, { option: key });
    }
  }
  return params;
}

function stopOf(stop) {
  if (!given(stop)) return [];
  const list = typeof stop === 'string' ? [stop] : stop;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) throw refuse('stop', stop, 'a string or an array of strings');
  return list;
}

/** `logit_bias` ({ "token id": bias }) → [[id, bias], …]. */
function logitBiasOf(bias) {
  if (!given(bias)) return undefined;
  if (typeof bias !== 'object' || Array.isArray(bias)) throw refuse('logit_bias', bias, 'an object mapping token ids to biases');
  return Object.entries(bias).map(([id, value]) => {
    const n = Number(id);
    if (!/^\d+$/.test(id) || !Number.isSafeInteger(n) || n >= 2 ** 32) throw refuse('logit_bias', id, 'keyed by token ids (whole numbers)');
    if (typeof value !== 'number' || !(value >= -100 && value <= 100)) throw refuse('logit_bias', value, 'biases in [-100, 100]');
    return [n, value];
  });
}

function streamOptionsOf(o) {
  const s = o.stream_options;
  if (!given(s)) return { includeUsage: false };
  if (typeof s !== 'object' || Array.isArray(s)) throw refuse('stream_options', s, 'an object');
  if (o.stream !== true) throw refuse('stream_options', s, 'given only with stream: true');
  checkKeys(s, new Set(['include_usage', 'include_obfuscation']), 'stream_options');
  return { includeUsage: boolean(s, 'include_usage') ?? false };
}

/** Fields that change nothing webmoe computes: accepted and ignored. */
const IGNORED = ['model', 'metadata', 'store', 'user', 'service_tier', 'prompt_cache_key', 'prompt_cache_retention', 'safety_identifier'];
/** webmoe's own fields, beside OpenAI's. */
const EXTENSIONS = ['top_k', 'min_p', 'repeat_penalty', 'repeat_last_n', 'ignore_eos', 'signal', 'conversationId', 'contextOverflow'];

/** Sampling and stopping fields common to both endpoints → the engine's options. */
function samplingOf(o, maxTokens) {
  const frequency = number(o, 'frequency_penalty', -2, 2);
  const presence = number(o, 'presence_penalty', -2, 2);
  const penalised = (frequency ?? 0) !== 0 || (presence ?? 0) !== 0;
  const n = integer(o, 'n', 1);
  if (n !== undefined && n > 1) throw unsupported('n', 'it generates one choice per request; send n requests (n: 1)');
  return {
    maxTokens,
    temperature: number(o, 'temperature', 0, Infinity),
    topP: number(o, 'top_p'),
    topK: integer(o, 'top_k', 0),
    minP: number(o, 'min_p'),
    repeatPenalty: number(o, 'repeat_penalty'),
    repeatLastN: integer(o, 'repeat_last_n', 0) ?? (penalised ? PENALTY_WINDOW : undefined),
    frequencyPenalty: frequency,
    presencePenalty: presence,
    logitBias: logitBiasOf(o.logit_bias),
    seed: integer(o, 'seed', 0),
    stop: stopOf(o.stop),
    ignoreEos: boolean(o, 'ignore_eos'),
    conversationId: conversationIdOf(o.conversationId, 'conversationId'),
    contextOverflow: overflowOf(o.contextOverflow),
  };
}

function signalOf(o) {
  const signal = o.signal;
  if (!given(signal)) return undefined;
  if (typeof AbortSignal === 'undefined' || !(signal instanceof AbortSignal)) throw refuse('signal', String(signal), 'an AbortSignal');
  return signal;
}

/** The engine's options without the unset ones. */
function defined(values) {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
}

const CHAT_FIELDS = new Set([
  'messages', 'audio', 'frequency_penalty', 'function_call', 'functions', 'logit_bias', 'logprobs',
  'max_completion_tokens', 'max_tokens', 'modalities', 'n', 'parallel_tool_calls', 'prediction',
  'presence_penalty', 'reasoning_effort', 'response_format', 'seed', 'stop', 'stream', 'stream_options',
  'temperature', 'tool_choice', 'tools', 'top_logprobs', 'top_p', 'verbosity', 'web_search_options',
  ...IGNORED, ...EXTENSIONS,
]);

/** A message's content: a string, text parts joined, or null (an assistant turn with tool calls). */
function contentOf(content, i) {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (!Array.isArray(content)) throw refuse(`messages[${i}].content`, content, 'a string or an array of content parts');
  return content
    .map((part) => {
      if (part?.type === 'text' && typeof part.text === 'string') return part.text;
      if (part?.type === 'refusal' && typeof part.refusal === 'string') return part.refusal;
      throw unsupported(`messages[${i}].content`, `content parts of type ${JSON.stringify(part?.type)} (text only)`);
    })
    .join('');
}

/** OpenAI messages → [{ role, content }] for the chat template ('developer' speaks as 'system'). */
function chatMessagesOf(messages) {
  if (!Array.isArray(messages) || messages.length === 0) throw refuse('messages', messages, 'a non-empty array of messages');
  return messages.map((m, i) => {
    if (typeof m !== 'object' || m === null || typeof m.role !== 'string') throw refuse(`messages[${i}]`, m, 'an object with a role');
    if (m.role === 'tool' || m.role === 'function') throw unsupported('tools', `messages[${i}] has role ${JSON.stringify(m.role)}; webmoe runs no tools`);
    if (Array.isArray(m.tool_calls) && m.tool_calls.length > 0) throw unsupported('tools', `messages[${i}] carries tool_calls`);
    if (given(m.audio)) throw unsupported('audio', `messages[${i}] carries audio`);
    const content = contentOf(m.content, i);
    if (m.role !== 'assistant' && typeof m.content !== 'string' && !Array.isArray(m.content)) {
      throw refuse(`messages[${i}].content`, m.content, 'a string or an array of text parts');
    }
    return { role: m.role === 'developer' ? 'system' : m.role, content };
  });
}

/** Refuse what asks for output webmoe does not make: tools, audio, web search. */
function refuseUnsupportedOutputs(o) {
  if (Array.isArray(o.tools) ? o.tools.length > 0 : given(o.tools)) throw unsupported('tools', 'webmoe runs no tools; send the request without tools');
  if (Array.isArray(o.functions) ? o.functions.length > 0 : given(o.functions)) throw unsupported('functions', 'webmoe runs no functions');
  if (given(o.tool_choice) && o.tool_choice !== 'none' && o.tool_choice !== 'auto') throw unsupported('tool_choice', 'webmoe runs no tools');
  if (given(o.function_call) && o.function_call !== 'none' && o.function_call !== 'auto') throw unsupported('function_call', 'webmoe runs no functions');
  if (given(o.audio)) throw unsupported('audio', 'webmoe generates text only');
  if (given(o.modalities) && !(Array.isArray(o.modalities) && o.modalities.every((m) => m === 'text'))) {
    throw unsupported('modalities', 'webmoe generates text only (modalities: ["text"])');
  }
  if (given(o.web_search_options)) throw unsupported('web_search_options', 'webmoe does not search the web');
}

/**
 * `response_format` → the engine's { jsonSchema (JSON text) } or { jsonObject: true }, or nothing
 * for text. `json_schema.strict` is accepted either way: the schema is always enforced whole.
 */
function responseFormatOf(format) {
  if (!given(format)) return {};
  if (typeof format !== 'object' || Array.isArray(format) || typeof format.type !== 'string') {
    throw refuse('response_format', format, 'an object with a type ("text", "json_object" or "json_schema")');
  }
  if (format.type === 'text') return {};
  if (format.type === 'json_object') return { jsonObject: true };
  if (format.type !== 'json_schema') throw refuse('response_format.type', format.type, '"text", "json_object" or "json_schema"');
  const spec = format.json_schema;
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw refuse('response_format.json_schema', spec, 'an object { name, schema, strict? }');
  }
  checkKeys(spec, new Set(['name', 'description', 'schema', 'strict']), 'response_format.json_schema');
  if (typeof spec.name !== 'string' || spec.name.length === 0) throw refuse('response_format.json_schema.name', spec.name, 'a non-empty string');
  boolean(spec, 'strict');
  // No schema: any JSON value, as the empty schema says.
  return { jsonSchema: jsonSchemaOf(spec.schema ?? {}, 'response_format.json_schema.schema') };
}

/**
 * `chat.completions.create` parameters → { messages, stream, includeUsage, logprobs, signal, engine }.
 * `logprobs`: null, or the number of top log-probabilities per token (0 for the chosen token only).
 * @throws {InvalidOptionError}
 */
export function chatRequest(params) {
  const o = checkKeys(params, CHAT_FIELDS, 'chat.completions.create parameters');
  const messages = chatMessagesOf(o.messages);
  refuseUnsupportedOutputs(o);
  const stream = boolean(o, 'stream') ?? false;
  const wantsLogprobs = boolean(o, 'logprobs') ?? false;
  const top = integer(o, 'top_logprobs', 0, MAX_TOP_LOGPROBS);
  if (top !== undefined && !wantsLogprobs) throw refuse('top_logprobs', top, 'given only with logprobs: true');
  const logprobs = wantsLogprobs ? (top ?? 0) : null;
  // max_completion_tokens replaces the deprecated max_tokens; either is the limit.
  const maxTokens = integer(o, 'max_completion_tokens', 0) ?? integer(o, 'max_tokens', 0);
  return {
    messages,
    stream,
    includeUsage: streamOptionsOf(o).includeUsage,
    logprobs,
    signal: signalOf(o),
    engine: defined({ ...samplingOf(o, maxTokens), logprobs: logprobs ?? undefined, ...responseFormatOf(o.response_format) }),
  };
}

const COMPLETION_FIELDS = new Set([
  'prompt', 'best_of', 'echo', 'frequency_penalty', 'logit_bias', 'logprobs', 'max_tokens', 'n',
  'presence_penalty', 'seed', 'stop', 'stream', 'stream_options', 'suffix', 'temperature', 'top_p',
  ...IGNORED, ...EXTENSIONS,
]);

/** The legacy completions endpoint's default reply length. */
const COMPLETION_MAX_TOKENS = 16;

const isTokenId = (id) => Number.isInteger(id) && id >= 0 && id < 2 ** 32;

/** One prompt: a string or token ids (a list holding one of them is the same prompt). */
function completionPromptOf(prompt) {
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt) && prompt.length > 0 && prompt.every(isTokenId)) return prompt;
  if (Array.isArray(prompt) && prompt.length === 1) return completionPromptOf(prompt[0]);
  if (Array.isArray(prompt) && prompt.length > 1) throw unsupported('prompt', 'several prompts in one request; send one request per prompt');
  throw refuse('prompt', prompt, 'a string or an array of token ids');
}

/**
 * `completions.create` parameters → { prompt, stream, includeUsage, logprobs, signal, engine }.
 * @throws {InvalidOptionError}
 */
export function completionRequest(params) {
  const o = checkKeys(params, COMPLETION_FIELDS, 'completions.create parameters');
  const prompt = completionPromptOf(o.prompt);
  const bestOf = integer(o, 'best_of', 1);
  if (bestOf !== undefined && bestOf > 1) throw unsupported('best_of', 'it generates one candidate per request (best_of: 1)');
  if (boolean(o, 'echo')) throw unsupported('echo', 'the reply does not repeat the prompt (echo: false)');
  if (given(o.suffix)) throw unsupported('suffix', 'webmoe does not insert text before a suffix');
  const logprobs = integer(o, 'logprobs', 0, MAX_TOP_LOGPROBS) ?? null;
  const maxTokens = integer(o, 'max_tokens', 0) ?? COMPLETION_MAX_TOKENS;
  return {
    prompt,
    stream: boolean(o, 'stream') ?? false,
    includeUsage: streamOptionsOf(o).includeUsage,
    logprobs,
    signal: signalOf(o),
    engine: defined({ ...samplingOf(o, maxTokens), logprobs: logprobs ?? undefined }),
  };
}
