// Compile-time check of the package's OpenAI surface against the `openai` package's own types
// (run by openai-types.test.mjs with tsc): requests typed by `openai` are accepted unchanged,
// and webmoe's responses and chunks are assignable to `openai`'s.

import type OpenAI from 'openai';
import type { Engine } from '../../../js/index.js';

declare const engine: Engine;

export async function chat(messages: OpenAI.Chat.ChatCompletionMessageParam[]): Promise<OpenAI.Chat.ChatCompletion> {
  const params: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming = {
    model: 'gpt-4o',
    messages,
    max_completion_tokens: 16,
    temperature: 0.7,
    top_p: 0.9,
    seed: 1,
    stop: ['\n\n'],
    frequency_penalty: 0.5,
    presence_penalty: 0.2,
    logit_bias: { '50256': -100 },
    logprobs: true,
    top_logprobs: 3,
    n: 1,
    user: 'user-1234',
    metadata: { purpose: 'test' },
    store: false,
    response_format: { type: 'text' },
  };
  const completion: OpenAI.Chat.ChatCompletion = await engine.chat.completions.create(params);
  const logprobs: OpenAI.Chat.ChatCompletionTokenLogprob[] | null | undefined = completion.choices[0].logprobs?.content;
  void logprobs;
  return completion;
}

export async function stream(): Promise<OpenAI.CompletionUsage | null | undefined> {
  const params: OpenAI.Chat.ChatCompletionCreateParamsStreaming = {
    model: 'gpt-4o',
    messages: [
      { role: 'developer', content: 'You are a helpful assistant.' },
      { role: 'user', content: [{ type: 'text', text: 'Hello!' }] },
    ],
    stream: true,
    stream_options: { include_usage: true },
  };
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const chunk of await engine.chat.completions.create(params)) {
    const typed: OpenAI.Chat.ChatCompletionChunk = chunk;
    usage = typed.usage ?? usage;
  }
  return usage;
}

export async function complete(): Promise<OpenAI.Completion> {
  const params: OpenAI.CompletionCreateParamsNonStreaming = {
    model: 'gpt-3.5-turbo-instruct',
    prompt: 'Say this is a test',
    max_tokens: 7,
    temperature: 0,
    logprobs: 2,
  };
  return engine.completions.create(params);
}

export async function structured(): Promise<OpenAI.Chat.ChatCompletion> {
  const params: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming = {
    model: 'gpt-4o',
    messages: [{ role: 'user', content: 'A person as JSON.' }],
    response_format: {
      type: 'json_schema',
      json_schema: {
        name: 'person',
        strict: true,
        schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'], additionalProperties: false },
      },
    },
  };
  const object: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming = { ...params, response_format: { type: 'json_object' } };
  await engine.chat.completions.create(object);
  return engine.chat.completions.create(params);
}
