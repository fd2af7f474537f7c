// Conversations on SmolLM2-135M-Instruct (models/, fetched by scripts/fetch-smollm2): a second
// turn runs only its new tokens (the engine's own counters) and answers as a fresh run does, with
// the same log-probabilities (the top 5 of the logits at every generated position);
// conversations kept apart by `conversationId` come back from their snapshots; `resetChat`.

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
    window.engine = await window.webmoe.Engine.load(url, { maxConversations: 2 });
    // One greedy turn: the reply, its usage, and the engine's counters right after it.
    window.turn = async (messages, extra = {}) => {
      const reply = await window.engine.chat.completions.create({ messages, max_tokens: 6, temperature: 0, ...extra });
      const stats = await window.engine.stats();
      return { content: reply.choices[0].message.content, usage: reply.usage, logprobs: reply.choices[0].logprobs, stats };
    };
  }, `/models/${MODEL}`);
});
after(stopAll);

const SYSTEM = { role: 'system', content: 'You are a helpful assistant. Answer in one short sentence.' };

test('a second turn runs only its new tokens and answers as a fresh run does', async () => {
  const out = await page.evaluate(async (system) => {
    await window.engine.resetChat();
    const first = [system, { role: 'user', content: 'What is the capital of France?' }];
    const one = await window.turn(first);
    const second = [...first, { role: 'assistant', content: one.content }, { role: 'user', content: 'And of Italy?' }];
    const two = await window.turn(second, { logprobs: true, top_logprobs: 5 });
    await window.engine.resetChat();
    const fresh = await window.turn(second, { logprobs: true, top_logprobs: 5 });
    return { one, two, fresh };
  }, SYSTEM);
  const { one, two, fresh } = out;
  assert.equal(one.usage.prompt_tokens_details.cached_tokens, 0, 'the first turn starts from an empty cache');
  const cached = two.usage.prompt_tokens_details.cached_tokens;
  // The whole first turn is in the cache: its prompt, and its reply but the last id (never fed).
  assert.ok(cached >= one.usage.prompt_tokens, `cached ${cached} of ${two.usage.prompt_tokens}; the first prompt had ${one.usage.prompt_tokens}`);
  assert.ok(cached < two.usage.prompt_tokens, `cached ${cached} < ${two.usage.prompt_tokens}: the new turn runs`);
  assert.equal(two.stats.cachedTokens, cached, 'stats().cachedTokens is the usage figure');
  assert.equal(two.stats.promptTokens, two.usage.prompt_tokens);
  assert.equal(fresh.usage.prompt_tokens_details.cached_tokens, 0, 'after resetChat nothing is reused');
  assert.equal(fresh.usage.prompt_tokens, two.usage.prompt_tokens);
  assert.equal(two.content, fresh.content, 'the reply with the cache reused and from scratch');
  const reused = two.logprobs.content;
  const scratch = fresh.logprobs.content;
  assert.equal(reused.length, scratch.length);
  reused.forEach((entry, p) =>
    entry.top_logprobs.forEach((top, r) => {
      const want = scratch[p].top_logprobs[r];
      assert.equal(top.token, want.token, `position ${p}, rank ${r}`);
      // Equal to rounding: the prompt ran in batches of other shapes, through an f16 KV cache.
      assert.ok(Math.abs(top.logprob - want.logprob) < 5e-3, `position ${p}, rank ${r}: ${top.logprob} reused, ${want.logprob} fresh`);
    }),
  );
});

test('conversationId: a conversation comes back from its snapshot; resetChat(id) forgets it', async () => {
  const out = await page.evaluate(async (system) => {
    await window.engine.resetChat();
    const a1 = [system, { role: 'user', content: 'Name a colour.' }];
    const b1 = [{ role: 'user', content: 'Count to three.' }];
    const a = await window.turn(a1, { conversationId: 'a' });
    const b = await window.turn(b1, { conversationId: 'b' });
    const a2 = [...a1, { role: 'assistant', content: a.content }, { role: 'user', content: 'Another one.' }];
    const back = await window.turn(a2, { conversationId: 'a' });
    await window.engine.resetChat('a');
    const afterReset = await window.engine.stats();
    const again = await window.turn(a2, { conversationId: 'a' });
    await window.engine.resetChat();
    const fresh = await window.turn(a2);
    return { a, b, back, afterReset, again, fresh };
  }, SYSTEM);
  const { a, back, afterReset, again, fresh } = out;
  assert.deepEqual(back.stats.conversations, { current: 'a', saved: ['b'] }, 'b waits in a snapshot while a runs');
  assert.ok(back.stats.gpuMemory.snapshots > 0, `snapshot bytes ${back.stats.gpuMemory.snapshots}`);
  const cached = back.usage.prompt_tokens_details.cached_tokens;
  assert.ok(cached >= a.usage.prompt_tokens, `a's turn came back with ${cached} tokens cached (its first prompt: ${a.usage.prompt_tokens})`);
  assert.equal(back.content, fresh.content, 'the restored conversation answers as a fresh run');
  assert.equal(afterReset.positions, 0, 'forgetting the conversation in the cache empties it');
  assert.deepEqual(afterReset.conversations, { current: null, saved: ['b'] });
  assert.equal(again.usage.prompt_tokens_details.cached_tokens, 0, 'a forgotten conversation runs in full');
  assert.equal(again.content, fresh.content);
});

test('resetChat refuses an id that is not a non-empty string', async () => {
  const error = await page.evaluate(async () => {
    try {
      await window.engine.resetChat(42);
      return null;
    } catch (e) {
      return { name: e.name, option: e.details.option };
    }
  });
  assert.deepEqual(error, { name: 'InvalidOptionError', option: 'conversationId' });
});
