// OpenAI-shaped responses over a generation: `chat.completions.create` and `completions.create`.
//
// Chat, streaming: a first chunk with `delta: { role: 'assistant', content: '' }`, one chunk per
// piece of text (with its tokens' log-probabilities when asked for), and a last chunk with an
// empty delta and the `finish_reason`; with `stream_options.include_usage`, every chunk has
// `usage: null` and one more chunk follows with no choices and the usage, as OpenAI sends them.
// Non-streaming: one `chat.completion` whose content is the concatenation of the deltas. A harmony
// model's (gpt-oss's) chain of thought comes apart from the answer, as `reasoning_content`.
// Completions: `text_completion` objects, streamed the same way, with the legacy logprobs shape.

import { ChunkStream } from './stream.js';

function randomId(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function usageOf(result) {
  const { promptTokens, cachedTokens, completionTokens } = result.usage;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cachedTokens },
  };
}

/** OpenAI's `ChatCompletionTokenLogprob` of one chunk's token. */
function tokenLogprob({ token, bytes, logprob, topLogprobs }) {
  return {
    token,
    logprob,
    bytes,
    top_logprobs: topLogprobs.map((t) => ({ token: t.token, logprob: t.logprob, bytes: t.bytes })),
  };
}

/**
 * The chunks of a generation as (text, log-probability entries) pieces: entries of tokens whose
 * text was held back ride with the next piece of text. The end-of-generation token that ends a
 * reply is not part of it, as in OpenAI's answers: its entry is left out.
 */
async function* pieces(tokens) {
  let pending = [];
  for await (const chunk of tokens) {
    const endToken = chunk.finishReason === 'stop' && chunk.text === '';
    if (chunk.logprobs && !endToken) pending.push(chunk.logprobs);
    if (chunk.text || (chunk.finishReason && pending.length > 0)) {
      yield { text: chunk.text, logprobs: pending, reasoning: chunk.channel === 'analysis' };
      pending = [];
    }
  }
}

/**
 * A piece's delta: a harmony model's chain of thought (its `analysis` channel) is
 * `reasoning_content`, as llama.cpp's server gives it; the rest is `content`.
 */
const deltaOf = (piece) => (piece.reasoning ? { reasoning_content: piece.text } : { content: piece.text });

/**
 * The response of `chat.completions.create`.
 * @param {{ stream: boolean, includeUsage: boolean, logprobs: number | null }} request see openai.js `chatRequest`
 * @param {string} model
 * @param {() => ChunkStream} generate starts the generation: chunks { text, tokenId, logprobs? }
 */
export async function createChatCompletion(request, model, generate) {
  const head = { id: randomId('chatcmpl'), created: Math.floor(Date.now() / 1000), model };
  const wantLogprobs = request.logprobs !== null;
  if (request.stream) {
    const choice = (delta, finishReason, logprobs = null) => ({ index: 0, delta, logprobs, finish_reason: finishReason });
    const chunk = (choices) => ({ ...head, object: 'chat.completion.chunk', choices, ...(request.includeUsage ? { usage: null } : {}) });
    return stream(generate, async function* (tokens) {
      yield chunk([choice({ role: 'assistant', content: '' }, null)]);
      for await (const piece of pieces(tokens)) {
        const logprobs = wantLogprobs ? { content: piece.logprobs.map(tokenLogprob), refusal: null } : null;
        yield chunk([choice(deltaOf(piece), null, logprobs)]);
      }
      const result = await tokens.result;
      yield chunk([choice({}, result.finishReason)]);
      if (request.includeUsage) yield { ...chunk([]), usage: usageOf(result) };
    });
  }
  const tokens = generate();
  let content = '';
  let reasoning = '';
  const entries = [];
  for await (const piece of pieces(tokens)) {
    if (piece.reasoning) reasoning += piece.text;
    else content += piece.text;
    entries.push(...piece.logprobs);
  }
  const result = await tokens.result;
  const message = { role: 'assistant', content, refusal: null, annotations: [], ...(reasoning ? { reasoning_content: reasoning } : {}) };
  const logprobs = wantLogprobs ? { content: entries.map(tokenLogprob), refusal: null } : null;
  return {
    ...head,
    object: 'chat.completion',
    choices: [{ index: 0, message, logprobs, finish_reason: result.finishReason }],
    usage: usageOf(result),
  };
}

/** The legacy logprobs of pieces starting at character `offset` of the reply. */
function legacyLogprobs(entries, offset) {
  const out = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let at = offset;
  for (const e of entries) {
    out.tokens.push(e.token);
    out.token_logprobs.push(e.logprob);
    out.top_logprobs.push(Object.fromEntries(e.topLogprobs.map((t) => [t.token, t.logprob])));
    out.text_offset.push(at);
    at += e.token.length;
  }
  return out;
}

/**
 * The response of `completions.create`.
 * @param {{ stream: boolean, includeUsage: boolean, logprobs: number | null }} request see openai.js `completionRequest`
 */
export async function createCompletion(request, model, generate) {
  const head = { id: randomId('cmpl'), object: 'text_completion', created: Math.floor(Date.now() / 1000), model };
  const wantLogprobs = request.logprobs !== null;
  const choice = (text, logprobs, finishReason) => ({ text, index: 0, logprobs, finish_reason: finishReason });
  if (request.stream) {
    const chunk = (choices) => ({ ...head, choices, ...(request.includeUsage ? { usage: null } : {}) });
    return stream(generate, async function* (tokens) {
      let offset = 0;
      for await (const piece of pieces(tokens)) {
        yield chunk([choice(piece.text, wantLogprobs ? legacyLogprobs(piece.logprobs, offset) : null, null)]);
        offset += piece.text.length;
      }
      const result = await tokens.result;
      yield chunk([choice('', wantLogprobs ? legacyLogprobs([], offset) : null, result.finishReason)]);
      if (request.includeUsage) yield { ...chunk([]), usage: usageOf(result) };
    });
  }
  const tokens = generate();
  let text = '';
  const entries = [];
  for await (const piece of pieces(tokens)) {
    text += piece.text;
    entries.push(...piece.logprobs);
  }
  const result = await tokens.result;
  const logprobs = wantLogprobs ? legacyLogprobs(entries, 0) : null;
  return { ...head, choices: [choice(text, logprobs, result.finishReason)], usage: usageOf(result) };
}

/** An async iterable of the objects `shape(tokens)` yields over a generation started on the first `next()`. */
function stream(generate, shape) {
  return new ChunkStream((emit) => {
    const tokens = generate();
    let cancelled = false;
    const done = (async () => {
      for await (const out of shape(tokens)) {
        if (cancelled) break;
        emit(out);
      }
      return tokens.result;
    })();
    return {
      done,
      cancel() {
        cancelled = true;
        tokens.return();
      },
    };
  });
}
