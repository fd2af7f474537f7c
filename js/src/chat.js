// `engine.chat.completions.create`: OpenAI-shaped responses over a generation.
//
// Streaming: a first chunk with `delta: { role: 'assistant', content: '' }`, one chunk per piece
// of text, and a last chunk with an empty delta, the `finish_reason` and `usage`. Non-streaming:
// one `chat.completion` whose message content is the concatenation of the streamed deltas.

import { ChunkStream } from './stream.js';

function completionId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `chatcmpl-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
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

/**
 * The response of `create`, for the model named `model`.
 * @param {{ stream: boolean }} params checked parameters (see options.js `chatParams`)
 * @param {string} model
 * @param {() => ChunkStream} generate starts the generation: chunks { text, tokenId }
 * @returns {Promise<object> | Promise<AsyncIterable<object>>}
 */
export async function createCompletion(params, model, generate) {
  const head = { id: completionId(), created: Math.floor(Date.now() / 1000), model };
  if (params.stream) return streamCompletion(head, generate);
  const tokens = generate();
  let content = '';
  for await (const chunk of tokens) content += chunk.text;
  const result = await tokens.result;
  return {
    ...head,
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: result.finishReason }],
    usage: usageOf(result),
  };
}

function streamCompletion(head, generate) {
  const chunk = (delta, finishReason, extra = {}) => ({
    ...head,
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...extra,
  });
  return new ChunkStream((emit) => {
    const tokens = generate();
    let cancelled = false;
    const done = (async () => {
      emit(chunk({ role: 'assistant', content: '' }, null));
      for await (const { text } of tokens) {
        if (cancelled) break;
        if (text) emit(chunk({ content: text }, null));
      }
      const result = await tokens.result;
      emit(chunk({}, result.finishReason, { usage: usageOf(result) }));
      return result;
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
