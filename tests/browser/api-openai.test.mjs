// The OpenAI surface on SmolLM2-135M-Instruct (models/, fetched by scripts/fetch-smollm2):
// requests as the `openai` package's examples write them run unchanged; responses and chunks have
// exactly OpenAI's fields; logprobs, logit_bias and the penalties are applied; what webmoe cannot
// honour is refused by name (structured output: api-structured.test.mjs).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, stopAll } from './harness.mjs';
import { openApiPage } from './api-helpers.mjs';

const MODEL = 'SmolLM2-135M-Instruct.Q4_1.gguf';

let page;
before(async () => {
  if (!fs.existsSync(path.join(REPO_ROOT, 'models', MODEL))) throw new Error(`models/${MODEL} is missing: run scripts/fetch-smollm2`);
  ({ page } = await openApiPage({ mounts: { '/models': 'models' } }));
  await page.evaluate(async (url) => {
    window.engine = await window.webmoe.Engine.load(url);
    window.errorOf = async (fn) => {
      try {
        await fn();
        return null;
      } catch (error) {
        return { name: error.name, message: error.message, option: error.details?.option };
      }
    };
    window.all = async (stream) => {
      const chunks = [];
      for await (const chunk of stream) chunks.push(chunk);
      return chunks;
    };
  }, `/models/${MODEL}`);
});
after(stopAll);

const keys = (object) => Object.keys(object).sort();

test("the openai package's chat example runs unchanged; the completion has OpenAI's fields", async () => {
  const completion = await page.evaluate(() =>
    window.engine.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'developer', content: 'You are a helpful assistant.' },
        { role: 'user', content: 'Hello!' },
      ],
      max_completion_tokens: 8,
      temperature: 0,
      n: 1,
      user: 'user-1234',
      metadata: { purpose: 'test' },
      store: false,
      response_format: { type: 'text' },
      stream_options: null,
    }),
  );
  assert.deepEqual(keys(completion), ['choices', 'created', 'id', 'model', 'object', 'usage']);
  assert.match(completion.id, /^chatcmpl-[0-9a-f]{24}$/);
  assert.equal(completion.object, 'chat.completion');
  const [choice] = completion.choices;
  assert.deepEqual(keys(choice), ['finish_reason', 'index', 'logprobs', 'message']);
  assert.deepEqual(keys(choice.message), ['annotations', 'content', 'refusal', 'role']);
  assert.deepEqual([choice.message.role, choice.message.refusal, choice.message.annotations, choice.logprobs], ['assistant', null, [], null]);
  assert.ok(choice.message.content.length > 0);
  assert.deepEqual(keys(completion.usage), ['completion_tokens', 'prompt_tokens', 'prompt_tokens_details', 'total_tokens']);
  assert.ok(completion.usage.completion_tokens <= 8);
});

test('stream_options.include_usage: usage null on every chunk, then a last chunk with no choices and the usage', async () => {
  const chunks = await page.evaluate(async () =>
    window.all(
      await window.engine.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: [{ type: 'text', text: 'Say hello.' }] }],
        max_tokens: 5,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
      }),
    ),
  );
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, [], 'the usage chunk has no choices');
  assert.equal(last.usage.completion_tokens <= 5, true, JSON.stringify(last.usage));
  for (const [i, chunk] of chunks.slice(0, -1).entries()) {
    assert.deepEqual(keys(chunk), ['choices', 'created', 'id', 'model', 'object', 'usage'], `chunk ${i}`);
    assert.equal(chunk.usage, null, `chunk ${i} usage`);
    assert.deepEqual(keys(chunk.choices[0]), ['delta', 'finish_reason', 'index', 'logprobs'], `chunk ${i} choice`);
  }
  assert.ok(chunks.at(-2).choices[0].finish_reason !== null, 'the chunk before the usage ends the choice');
  const plain = await page.evaluate(async () =>
    window.all(await window.engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2, stream: true })),
  );
  assert.ok(plain.every((chunk) => !('usage' in chunk)), 'without include_usage no chunk has a usage field');
});

test('logprobs: the greedy choice is the most likely token; streamed entries add up to the whole', async () => {
  const out = await page.evaluate(async () => {
    const params = {
      messages: [{ role: 'user', content: 'Name a colour.' }],
      max_tokens: 6,
      temperature: 0,
      logprobs: true,
      top_logprobs: 3,
      ignore_eos: true,
    };
    const whole = await window.engine.chat.completions.create(params);
    const chunks = await window.all(await window.engine.chat.completions.create({ ...params, stream: true }));
    return { whole, chunks };
  });
  const entries = out.whole.choices[0].logprobs.content;
  assert.equal(entries.length, 6, 'one entry per generated token');
  for (const [i, e] of entries.entries()) {
    assert.deepEqual(keys(e), ['bytes', 'logprob', 'token', 'top_logprobs'], `entry ${i}`);
    assert.equal(e.top_logprobs.length, 3, `entry ${i} top`);
    assert.equal(e.token, e.top_logprobs[0].token, `entry ${i}: greedy picks the most likely token`);
    assert.ok(Math.abs(e.logprob - e.top_logprobs[0].logprob) < 1e-6, `entry ${i}`);
    assert.ok(e.top_logprobs.every((t, r) => t.logprob <= 0 && (r === 0 || t.logprob <= e.top_logprobs[r - 1].logprob)), `entry ${i} ordered`);
    assert.ok(e.top_logprobs.reduce((sum, t) => sum + Math.exp(t.logprob), 0) <= 1 + 1e-5, `entry ${i}: probabilities`);
    assert.deepEqual(e.bytes, Array.from(new TextEncoder().encode(e.token)), `entry ${i} bytes`);
  }
  assert.equal(entries.map((e) => e.token).join(''), out.whole.choices[0].message.content, 'the tokens spell the content');
  const streamed = out.chunks.flatMap((c) => c.choices[0]?.logprobs?.content ?? []);
  assert.deepEqual(streamed.map((e) => e.token), entries.map((e) => e.token));
  // The streamed run reuses the first one's KV cache: its last prompt token runs alone (the
  // decode kernels) instead of in the prompt's batch, so values agree to rounding, not bit for bit.
  streamed.forEach((e, i) => assert.ok(Math.abs(e.logprob - entries[i].logprob) < 1e-3, `streamed entry ${i}: ${e.logprob} vs ${entries[i].logprob}`));
});

test('logit_bias bans a token; frequency and presence penalties change a greedy reply', async () => {
  const out = await page.evaluate(async () => {
    const messages = [{ role: 'user', content: 'Repeat the word "yes" ten times.' }];
    const base = { messages, max_tokens: 12, temperature: 0, logprobs: true };
    const plain = await window.engine.chat.completions.create(base);
    const first = plain.choices[0].logprobs.content[0].token;
    const [id] = await window.engine.tokenize(first, { addSpecialTokens: false });
    const banned = await window.engine.chat.completions.create({ ...base, logit_bias: { [id]: -100 } });
    const penalised = await window.engine.chat.completions.create({ ...base, frequency_penalty: 2, presence_penalty: 2 });
    return { plain, banned, penalised, id, first };
  });
  const tokens = (c) => c.choices[0].logprobs.content.map((e) => e.token);
  assert.notEqual(tokens(out.banned)[0], out.first, `token ${out.id} (${JSON.stringify(out.first)}) was banned`);
  assert.notDeepEqual(tokens(out.penalised), tokens(out.plain), 'the penalties change the reply');
  const distinct = (list) => new Set(list).size / list.length;
  assert.ok(distinct(tokens(out.penalised)) >= distinct(tokens(out.plain)), 'penalised replies repeat less');
});

test('completions.create: the legacy text completion, whole and streamed', async () => {
  const out = await page.evaluate(async () => {
    const params = { model: 'gpt-3.5-turbo-instruct', prompt: 'The capital of France is', max_tokens: 2, temperature: 0, logprobs: 2 };
    const whole = await window.engine.completions.create(params);
    const chunks = await window.all(await window.engine.completions.create({ ...params, stream: true, stream_options: { include_usage: true } }));
    return { whole, chunks };
  });
  const { whole, chunks } = out;
  assert.deepEqual(keys(whole), ['choices', 'created', 'id', 'model', 'object', 'usage']);
  assert.match(whole.id, /^cmpl-/);
  assert.equal(whole.object, 'text_completion');
  assert.equal(whole.choices[0].text, ' Paris.', 'as llama.cpp continues it');
  const lp = whole.choices[0].logprobs;
  assert.deepEqual(keys(lp), ['text_offset', 'token_logprobs', 'tokens', 'top_logprobs']);
  assert.equal(lp.tokens.join(''), whole.choices[0].text);
  assert.deepEqual(lp.text_offset, [0, lp.tokens[0].length]);
  assert.ok(lp.top_logprobs.every((top) => Object.keys(top).length === 2));
  assert.equal(chunks.map((c) => c.choices[0]?.text ?? '').join(''), whole.choices[0].text);
  assert.deepEqual(chunks.at(-1).choices, []);
  assert.deepEqual(chunks.at(-1).usage.completion_tokens, whole.usage.completion_tokens);
});

test('what webmoe cannot honour is refused by name', async () => {
  const errors = await page.evaluate(async () => {
    const messages = [{ role: 'user', content: 'hi' }];
    const create = (extra) => window.errorOf(() => window.engine.chat.completions.create({ messages, ...extra }));
    return {
      n: await create({ n: 2 }),
      tools: await create({ tools: [{ type: 'function', function: { name: 'f' } }] }),
      format: await create({ response_format: { type: 'json_schema' } }),
      audio: await create({ modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'mp3' } }),
      image: await create({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }),
      toolMessage: await create({ messages: [...messages, { role: 'tool', content: 'x', tool_call_id: '1' }] }),
      unknown: await create({ temprature: 1 }),
      topWithout: await create({ top_logprobs: 2 }),
      bias: await create({ logit_bias: { 5: 200 } }),
      echo: await window.errorOf(() => window.engine.completions.create({ prompt: 'x', echo: true })),
      prompts: await window.errorOf(() => window.engine.completions.create({ prompt: ['a', 'b'] })),
    };
  });
  const expected = {
    n: 'n',
    tools: 'tools',
    format: 'response_format.json_schema',
    audio: 'audio',
    image: 'messages[0].content',
    toolMessage: 'tools',
    unknown: 'temprature',
    topWithout: 'top_logprobs',
    bias: 'logit_bias',
    echo: 'echo',
    prompts: 'prompt',
  };
  for (const [what, option] of Object.entries(expected)) {
    assert.equal(errors[what]?.name, 'InvalidOptionError', `${what}: ${JSON.stringify(errors[what])}`);
    assert.equal(errors[what].option, option, `${what}: ${JSON.stringify(errors[what])}`);
  }
});
