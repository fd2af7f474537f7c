// Token counting and context management on SmolLM2-135M-Instruct (models/, fetched by
// scripts/fetch-smollm2): tokenize/detokenize as llama.cpp tokenizes
// (tests/fixtures/oracle/smollm2/reference.json), countTokens as a chat request counts, and a
// conversation larger than the context refused before any work or fitted by contextOverflow.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, stopAll } from './harness.mjs';
import { openApiPage } from './api-helpers.mjs';

const MODEL = 'SmolLM2-135M-Instruct.Q4_1.gguf';
const reference = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tests/fixtures/oracle/smollm2/reference.json'), 'utf8'));
const CONTEXT = 128;

let page;
before(async () => {
  if (!fs.existsSync(path.join(REPO_ROOT, 'models', MODEL))) throw new Error(`models/${MODEL} is missing: run scripts/fetch-smollm2`);
  ({ page } = await openApiPage({ mounts: { '/models': 'models' } }));
  await page.evaluate(
    async ({ url, contextLength }) => {
      window.engine = await window.webmoe.Engine.load(url, { contextLength });
      window.errorOf = async (fn) => {
        try {
          await fn();
          return null;
        } catch (error) {
          return {
            name: error.name,
            message: error.message,
            details: error.details,
            isLegacyName: error instanceof window.webmoe.ContextFullError,
          };
        }
      };
      // Six turns of about 20 tokens each after a system prompt: larger than the context.
      window.longConversation = () => {
        const messages = [{ role: 'system', content: 'You are a terse assistant.' }];
        for (let i = 0; i < 6; i++) {
          messages.push({ role: 'user', content: `Question ${i}: tell me one fact about the number ${i * 7 + 3}, please.` });
          messages.push({ role: 'assistant', content: `Fact ${i}: the number ${i * 7 + 3} is a whole number.` });
        }
        messages.push({ role: 'user', content: 'Thanks. One more fact?' });
        return messages;
      };
    },
    { url: `/models/${MODEL}`, contextLength: CONTEXT },
  );
});
after(stopAll);

test('tokenize and detokenize as llama.cpp; countTokens as a chat request counts', async () => {
  const run = reference.runs.find((r) => r.prompt === 'The capital of France is');
  const out = await page.evaluate(async (prompt) => {
    const { engine } = window;
    const ids = await engine.tokenize(prompt);
    const text = await engine.detokenize(ids);
    const messages = [{ role: 'user', content: 'Capital of France?' }];
    const counted = await engine.countTokens(messages);
    const reply = await engine.chat.completions.create({ messages, max_tokens: 1, temperature: 0 });
    const special = await engine.tokenize('<|im_start|>user', { addSpecialTokens: false });
    return { ids, text, counted, usage: reply.usage, special };
  }, run.prompt);
  assert.deepEqual(out.ids, run.prompt_ids, 'the ids of the text prompt');
  assert.equal(out.text, run.prompt, 'detokenize gives the text back');
  assert.equal(out.counted, out.usage.prompt_tokens, 'countTokens is the prompt_tokens of the request');
  assert.equal(out.special[0], 1, 'special-token text becomes the token (<|im_start|> is id 1)');
});

test('a request larger than the context is refused with ContextLengthError before any work', async () => {
  const out = await page.evaluate(async () => {
    const { engine, errorOf, longConversation } = window;
    const before = await engine.stats();
    const started = performance.now();
    const error = await errorOf(() => engine.chat.completions.create({ messages: longConversation(), max_tokens: 8 }));
    const seconds = (performance.now() - started) / 1000;
    const afterwards = await engine.stats();
    const counted = await engine.countTokens(longConversation());
    return { before, error, seconds, afterwards, counted };
  });
  assert.equal(out.error?.name, 'ContextLengthError', JSON.stringify(out.error));
  assert.ok(out.error.isLegacyName, 'ContextFullError names the same class');
  assert.deepEqual(out.error.details, { needed: out.counted + 7, contextLength: CONTEXT });
  assert.match(out.error.message, /contextOverflow/, 'the message names the way out');
  assert.equal(out.afterwards.positions, out.before.positions, 'nothing ran');
  assert.ok(out.seconds < 2, `refused in ${out.seconds.toFixed(2)} s`);
});

test("contextOverflow 'truncate-middle' keeps the system prompt and drops the fewest oldest turns; 'shift' frees half", async () => {
  const out = await page.evaluate(async () => {
    const { engine, longConversation } = window;
    const results = {};
    for (const contextOverflow of ['truncate-middle', 'shift']) {
      const messages = longConversation();
      const reply = await engine.chat.completions.create({ messages, max_tokens: 8, temperature: 0, contextOverflow });
      const stats = await engine.stats();
      const kept = [messages[0], ...messages.slice(1 + stats.droppedMessages)];
      results[contextOverflow] = {
        usage: reply.usage,
        dropped: stats.droppedMessages,
        keptCount: await engine.countTokens(kept),
        keptFirstRole: kept[1].role,
        fewerDropped: stats.droppedMessages >= 2 ? await engine.countTokens([messages[0], ...messages.slice(stats.droppedMessages - 1)]) : null,
      };
    }
    return results;
  });
  const room = CONTEXT + 1 - 8;
  for (const [policy, r] of Object.entries(out)) {
    assert.ok(r.dropped > 0, `${policy}: dropped ${r.dropped} messages`);
    assert.equal(r.usage.prompt_tokens, r.keptCount, `${policy}: the prompt is the system message and the turns after the dropped ones`);
    assert.equal(r.keptFirstRole, 'user', `${policy}: the kept turns start at a user message`);
    assert.ok(r.usage.prompt_tokens <= room, `${policy}: ${r.usage.prompt_tokens} prompt tokens fit the room of ${room}`);
  }
  const tm = out['truncate-middle'];
  assert.ok(tm.fewerDropped > room, `truncate-middle: one turn fewer dropped (${tm.fewerDropped} tokens) would not fit ${room}`);
  assert.ok(out.shift.usage.prompt_tokens <= Math.floor(room / 2), `shift: ${out.shift.usage.prompt_tokens} tokens, at most half of ${room}`);
  assert.ok(out.shift.dropped >= tm.dropped, 'shift drops at least as many turns');
});
