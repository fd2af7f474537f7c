// Structured output on SmolLM2-135M-Instruct (models/, fetched by scripts/fetch-smollm2): through
// the OpenAI surface (`response_format` json_schema and json_object, streamed and not) and the
// package's own `jsonSchema` option, the reply parses with JSON.parse and follows the schema;
// a schema the engine cannot compile rejects with InvalidOptionError before anything runs.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, stopAll } from './harness.mjs';
import { openApiPage } from './api-helpers.mjs';

const MODEL = 'SmolLM2-135M-Instruct.Q4_1.gguf';

/** A person record: a required string, integer, enum and array, nothing else. */
const PERSON = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 20 },
    age: { type: 'integer', minimum: 0, maximum: 150 },
    role: { enum: ['admin', 'editor', 'viewer'] },
    skills: { type: 'array', items: { type: 'string', maxLength: 20 }, minItems: 1, maxItems: 3 },
  },
  required: ['name', 'age', 'role', 'skills'],
  additionalProperties: false,
};

/** Fails unless `text` is JSON of a person record of PERSON. */
function assertPerson(text, what) {
  let value;
  assert.doesNotThrow(() => (value = JSON.parse(text)), `${what}: not JSON: ${text}`);
  assert.deepEqual(Object.keys(value).sort(), ['age', 'name', 'role', 'skills'], `${what}: ${text}`);
  const shortString = (s, min) => typeof s === 'string' && [...s].length >= min && [...s].length <= 20;
  assert.ok(shortString(value.name, 1), `${what}: name in ${text}`);
  assert.ok(Number.isInteger(value.age) && value.age >= 0 && value.age <= 150, `${what}: age in ${text}`);
  assert.ok(PERSON.properties.role.enum.includes(value.role), `${what}: role in ${text}`);
  assert.ok(Array.isArray(value.skills) && value.skills.length >= 1 && value.skills.length <= 3, `${what}: skills in ${text}`);
  assert.ok(value.skills.every((s) => shortString(s, 0)), `${what}: skills in ${text}`);
}

const QUESTION = 'Describe a fictional software engineer as JSON with a name, an age, a role and skills.';

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
  }, `/models/${MODEL}`);
});
after(stopAll);

test('response_format json_schema: the completion is JSON that follows the schema, greedy and streamed with a seed', async () => {
  const out = await page.evaluate(
    async ({ schema, question }) => {
      const params = {
        model: 'gpt-4o',
        messages: [{ role: 'user', content: question }],
        max_completion_tokens: 160,
        response_format: { type: 'json_schema', json_schema: { name: 'person', strict: true, schema } },
      };
      const greedy = await window.engine.chat.completions.create({ ...params, temperature: 0 });
      let streamed = '';
      let finish = null;
      for await (const chunk of await window.engine.chat.completions.create({ ...params, seed: 11, stream: true })) {
        streamed += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      return { greedy: greedy.choices[0], streamed, finish };
    },
    { schema: PERSON, question: QUESTION },
  );
  assert.equal(out.greedy.finish_reason, 'stop', out.greedy.message.content);
  assertPerson(out.greedy.message.content, 'greedy');
  assert.equal(out.finish, 'stop', out.streamed);
  assertPerson(out.streamed, 'streamed, seed 11');
});

test('response_format json_object: the completion is a JSON object', async () => {
  const content = await page.evaluate(async () => {
    const completion = await window.engine.chat.completions.create({
      messages: [{ role: 'user', content: 'Give the capital and the population of France as JSON.' }],
      response_format: { type: 'json_object' },
      max_tokens: 120,
      seed: 3,
    });
    return completion.choices[0].message.content;
  });
  const value = JSON.parse(content);
  assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), content);
});

test("the package's jsonSchema option holds engine.generate to the schema", async (t) => {
  const { text, finishReason, stats } = await page.evaluate(
    async ({ schema, question }) => {
      const prompt = `<|im_start|>user\n${question}<|im_end|>\n<|im_start|>assistant\n`;
      let text = '';
      let finishReason;
      for await (const chunk of window.engine.generate(prompt, { jsonSchema: schema, maxTokens: 160, temperature: 1, seed: 5 })) {
        text += chunk.text;
        finishReason = chunk.finishReason ?? finishReason;
      }
      return { text, finishReason, stats: await window.engine.stats() };
    },
    { schema: PERSON, question: QUESTION },
  );
  assertPerson(text, 'generate');
  assert.equal(finishReason, 'stop');
  const perToken = stats.constraintSeconds / stats.generatedTokens;
  t.diagnostic(`token masks in WebAssembly: ${(perToken * 1e3).toFixed(2)} ms per token over ${stats.generatedTokens} tokens`);
  assert.ok(stats.constraintSeconds > 0 && perToken < 0.05, `${stats.constraintSeconds} s for ${stats.generatedTokens} tokens`);
});

test('a schema that cannot be compiled, or a malformed format, rejects with InvalidOptionError', async () => {
  const errors = await page.evaluate(async () => {
    const messages = [{ role: 'user', content: 'hi' }];
    const create = (response_format) => window.errorOf(() => window.engine.chat.completions.create({ messages, response_format }));
    const schema = (schema) => create({ type: 'json_schema', json_schema: { name: 'x', schema } });
    const generate = (options) =>
      window.errorOf(async () => {
        for await (const chunk of window.engine.generate('hi', options)) void chunk;
      });
    return {
      unknownType: await schema({ type: 'nonsense' }),
      missingRef: await schema({ type: 'object', properties: { a: { $ref: '#/$defs/none' } }, required: ['a'] }),
      impossible: await schema({ type: 'string', minLength: 5, maxLength: 2 }),
      notASchema: await schema([1, 2]),
      noName: await create({ type: 'json_schema', json_schema: { schema: {} } }),
      unknownType2: await create({ type: 'grammar' }),
      generateBad: await generate({ jsonSchema: { type: 'integer', minimum: 3, maximum: 1 } }),
      generateArray: await generate({ jsonSchema: [] }),
      both: await generate({ jsonSchema: {}, jsonObject: true }),
      // The engine still answers after the refusals.
      after: await window.engine.chat.completions.create({ messages, max_tokens: 2, temperature: 0 }).then((c) => c.choices[0].finish_reason),
    };
  });
  const expected = {
    unknownType: ['json_schema', /Invalid type: nonsense/],
    missingRef: ['json_schema', /none/],
    impossible: ['json_schema', /minLength \(5\) is greater than maxLength \(2\)/],
    notASchema: ['response_format.json_schema.schema', /a JSON Schema/],
    noName: ['response_format.json_schema.name', /non-empty string/],
    unknownType2: ['response_format.type', /json_schema/],
    generateBad: ['json_schema', /minimum \(3\) is greater than maximum \(1\)/],
    generateArray: ['jsonSchema', /a JSON Schema/],
    both: ['jsonObject', /one of them/],
  };
  for (const [what, [option, message]] of Object.entries(expected)) {
    assert.equal(errors[what]?.name, 'InvalidOptionError', `${what}: ${JSON.stringify(errors[what])}`);
    assert.equal(errors[what].option, option, `${what}: ${JSON.stringify(errors[what])}`);
    assert.match(errors[what].message, message, what);
  }
  assert.ok(['stop', 'length'].includes(errors.after));
});
