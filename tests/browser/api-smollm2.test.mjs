// SmolLM2-135M-Instruct (models/, fetched by scripts/fetch-smollm2) in the browser: a text prompt
// completes as llama.cpp does (tests/fixtures/oracle/smollm2/reference.json), and the chat API's
// streamed chunks are OpenAI-shaped and add up to the non-streaming answer.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, stopAll } from './harness.mjs';
import { firstDifference, openApiPage } from './api-helpers.mjs';

const MODEL = 'SmolLM2-135M-Instruct.Q4_1.gguf';
const reference = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tests/fixtures/oracle/smollm2/reference.json'), 'utf8'));

let page;
before(async () => {
  if (!fs.existsSync(path.join(REPO_ROOT, 'models', MODEL))) throw new Error(`models/${MODEL} is missing: run scripts/fetch-smollm2`);
  ({ page } = await openApiPage({ mounts: { '/models': 'models' } }));
  await page.evaluate(async (url) => {
    window.engine = await window.webmoe.Engine.load(url);
  }, `/models/${MODEL}`);
});
after(stopAll);

test('"The capital of France is" completes with " Paris." (greedy), as llama.cpp', async () => {
  const run = reference.runs.find((r) => r.prompt === 'The capital of France is');
  const expected = run.gen_ids.slice(0, 2);
  const result = await page.evaluate(async (prompt) => {
    const tokens = [];
    let text = '';
    for await (const chunk of window.engine.generate(prompt, { maxTokens: 2, temperature: 0 })) {
      tokens.push(chunk.tokenId);
      text += chunk.text;
    }
    return { tokens, text, stats: await window.engine.stats() };
  }, run.prompt);
  assert.equal(result.stats.promptTokens, run.prompt_ids.length, 'prompt tokens (no BOS for this model)');
  assert.deepEqual(result.tokens, expected, `tokens: ${firstDifference(result.tokens, expected)}`);
  assert.equal(result.text, ' Paris.');
  assert.ok(result.stats.decodeTokensPerSecond > 0, `decode tok/s ${result.stats.decodeTokensPerSecond}`);
});

test('chat.completions: streamed chunks are OpenAI-shaped and add up to the non-streaming answer', async () => {
  const out = await page.evaluate(async () => {
    const { engine } = window;
    const messages = [
      { role: 'system', content: 'Answer briefly.' },
      { role: 'user', content: 'Capital of France?' },
    ];
    const params = { messages, max_tokens: 3, temperature: 0 };
    const whole = await engine.chat.completions.create(params);
    const chunks = [];
    const streamed = await engine.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
    for await (const chunk of streamed) chunks.push(chunk);
    return { whole, chunks };
  });
  const { whole, chunks } = out;

  assert.match(whole.id, /^chatcmpl-[0-9a-f]+$/, `id ${whole.id}`);
  assert.equal(whole.object, 'chat.completion');
  assert.ok(Number.isInteger(whole.created) && Math.abs(whole.created - Date.now() / 1000) < 600, `created ${whole.created}`);
  assert.equal(typeof whole.model, 'string');
  assert.equal(whole.choices.length, 1);
  assert.equal(whole.choices[0].index, 0);
  assert.equal(whole.choices[0].message.role, 'assistant');
  assert.ok(['stop', 'length'].includes(whole.choices[0].finish_reason), `finish_reason ${whole.choices[0].finish_reason}`);
  const usage = whole.usage;
  assert.ok(usage.prompt_tokens > 0 && usage.completion_tokens > 0 && usage.completion_tokens <= 3, JSON.stringify(usage));
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  assert.ok(whole.choices[0].message.content.length > 0, 'the answer is not empty');

  const usageChunk = chunks.pop();
  assert.deepEqual(usageChunk.choices, [], 'include_usage adds a last chunk without choices');
  assert.ok(chunks.length >= 3, `${chunks.length} chunks: the opening, at least one piece of text, the end`);
  const id = chunks[0].id;
  chunks.forEach((chunk, i) => {
    assert.equal(chunk.object, 'chat.completion.chunk', `chunk ${i} object`);
    assert.equal(chunk.id, id, `chunk ${i} id`);
    assert.equal(chunk.model, whole.model, `chunk ${i} model`);
    assert.equal(chunk.choices.length, 1, `chunk ${i} choices`);
    assert.equal(chunk.choices[0].index, 0, `chunk ${i} index`);
    const last = i === chunks.length - 1;
    assert.equal(chunk.choices[0].finish_reason, last ? whole.choices[0].finish_reason : null, `chunk ${i} finish_reason`);
  });
  assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '' }, 'the first delta opens the assistant turn');
  assert.ok(chunks.every((chunk) => chunk.usage === null), 'the other chunks carry usage: null');
  const { prompt_tokens_details: streamedDetails, ...streamedCounts } = usageChunk.usage;
  const { prompt_tokens_details: wholeDetails, ...wholeCounts } = whole.usage;
  assert.deepEqual(streamedCounts, wholeCounts, 'the usage chunk carries the usage of the same generation');
  assert.equal(typeof wholeDetails.cached_tokens, 'number');
  assert.equal(streamedDetails.cached_tokens, whole.usage.prompt_tokens - 1, 'the same conversation again runs only its last prompt token');
  const streamed = chunks.map((chunk) => chunk.choices[0].delta.content ?? '').join('');
  assert.equal(streamed, whole.choices[0].message.content, 'streamed deltas concatenate to the non-streaming content');
});
