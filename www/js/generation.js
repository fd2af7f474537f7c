// One turn of the conversation as a stream of events, whichever way the model is prompted:
// through its chat template (`engine.chat.completions.create({stream: true})`), or as plain text
// that the reply continues (`engine.generate`).

import { chatRequest, generateOptions } from './sampling.js';

/**
 * @typedef {object} TokenEvent   one generated token
 * @property {'token'} kind
 * @property {string} text        the text it completed (may be empty)
 * @property {number} [tokenId]   its id (plain generation only: chat chunks carry text)
 *
 * @typedef {object} EndEvent     the reply is complete
 * @property {'end'} kind
 * @property {string|null} finishReason    "stop" or "length"
 * @property {number} completionTokens     tokens generated, those without text of their own included
 */

/**
 * Stream the events of one reply: its tokens, then one end event.
 *
 * Chat streams carry text, not tokens: a token whose text is empty (an end-of-turn token, part of a
 * character) sends no chunk. The end event's `completionTokens` counts every generated token.
 * @param {object} engine a loaded webmoe Engine
 * @param {object} turn
 * @param {boolean} turn.chat         use the chat template with `turn.messages`, else `turn.prompt`
 * @param {{role: string, content: string}[]} [turn.messages]
 * @param {string} [turn.prompt]
 * @param {import('./sampling.js').Sampling} turn.sampling
 * @param {AbortSignal} turn.signal
 * @returns {AsyncGenerator<TokenEvent|EndEvent>}
 * @throws what the engine throws (webmoe's named errors; AbortError when `signal` aborts)
 */
export async function* streamReply(engine, { chat, messages, prompt, sampling, signal }) {
  if (chat) {
    const stream = await engine.chat.completions.create(chatRequest(sampling, messages, signal));
    let tokens = 0;
    let finishReason = null;
    for await (const chunk of stream) {
      // The last chunk (stream_options.include_usage) has no choices and the usage.
      if (chunk.usage) {
        yield { kind: 'end', finishReason, completionTokens: chunk.usage.completion_tokens };
        return;
      }
      const choice = chunk.choices && chunk.choices[0];
      if (!choice) continue;
      if (choice.finish_reason) {
        finishReason = choice.finish_reason;
        continue;
      }
      // The first chunk only opens the assistant's message (role, empty content).
      if (choice.delta && !choice.delta.role && typeof choice.delta.content === 'string') {
        tokens += 1;
        yield { kind: 'token', text: choice.delta.content };
      }
    }
    yield { kind: 'end', finishReason, completionTokens: tokens };
    return;
  }
  let tokens = 0;
  for await (const chunk of engine.generate(prompt, generateOptions(sampling, signal))) {
    tokens += 1;
    yield { kind: 'token', text: chunk.text, tokenId: chunk.tokenId };
  }
  // generate's chunks carry no finish reason: fewer tokens than asked means the model stopped.
  yield { kind: 'end', finishReason: tokens < sampling.maxTokens ? 'stop' : 'length', completionTokens: tokens };
}

/**
 * Words for how a reply ended, shown under it.
 * @param {string|null} reason "stop", "length", "cancelled", or null when unknown
 * @param {number} tokens tokens generated
 * @param {import('./sampling.js').Sampling} sampling the settings the reply used
 */
export function describeFinish(reason, tokens, sampling) {
  const parts = [`${tokens} token${tokens === 1 ? '' : 's'}`];
  if (reason === 'length') parts.push('stopped at the max tokens setting');
  else if (reason === 'stop') parts.push('the model ended its reply');
  else if (reason === 'cancelled') parts.push('stopped');
  parts.push(sampling.temperature === 0 ? 'greedy' : `seed ${sampling.seed}`);
  return parts.join(' · ');
}
