// The Engine API's behaviour around generation, on a tiny MoE fixture: named errors, cancellation,
// queueing of concurrent generations, routing, GPU and RAM budgets, and recovery after a panic in
// the WebAssembly code and after a lost GPU device.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, control, startServer, stopAll } from './harness.mjs';
import { firstDifference, openApiPage } from './api-helpers.mjs';

const CASE = 'mixtral-q8_0';
const reference = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tests/fixtures/oracle', CASE, 'reference.json'), 'utf8'));
const MODEL_URL = `/oracle/${CASE}/model.gguf`;
const GREEDY = { temperature: 0, ignoreEos: true };

let page;
before(async () => {
  ({ page } = await openApiPage({ mounts: { '/oracle': 'tests/fixtures/oracle' } }));
  await page.evaluate(async (url) => {
    window.engine = await window.webmoe.Engine.load(url);
    // Runs `fn` and returns the error it throws as { name, message, details, isWebmoe }, or null.
    window.errorOf = async (fn) => {
      try {
        await fn();
        return null;
      } catch (error) {
        return { name: error.name, message: error.message, details: error.details, isWebmoe: error instanceof window.webmoe.WebmoeError };
      }
    };
    window.collect = async (stream) => {
      const tokens = [];
      for await (const chunk of stream) tokens.push(chunk.tokenId);
      return tokens;
    };
  }, MODEL_URL);
});
after(stopAll);

test('an aborted load rejects with AbortError; the next load works', async () => {
  // The model comes from a server of its own, which goes down while the page's server stays up.
  const models = await startServer({ root: 'tests/fixtures/oracle' });
  const url = `${models.url}/moe-4x-top2-q8_0/model.gguf`;
  const early = await page.evaluate(async (url) => {
    const controller = new AbortController();
    controller.abort();
    return window.errorOf(() => window.webmoe.Engine.load(url, { signal: controller.signal }));
  }, url);
  assert.equal(early?.name, 'AbortError', `an already aborted signal: ${JSON.stringify(early)}`);
  // While the server is down the store keeps retrying: the abort lands mid-load.
  await control(models, { down: true });
  const midway = await page.evaluate(async (url) => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    return window.errorOf(() => window.webmoe.Engine.load(url, { signal: controller.signal }));
  }, url);
  await control(models, { down: false });
  assert.equal(midway?.name, 'AbortError', `aborted while retrying: ${JSON.stringify(midway)}`);
  const loaded = await page.evaluate(async (url) => {
    const engine = await window.webmoe.Engine.load(url);
    const experts = engine.model.experts;
    await engine.unload();
    return experts;
  }, url);
  assert.equal(loaded, 4, 'the model loads after the aborted attempts');
});

test('a file that is not GGUF rejects with ModelFormatError', async () => {
  const error = await page.evaluate(() => window.errorOf(() => window.webmoe.Engine.load('/README.md')));
  assert.equal(error?.name, 'ModelFormatError', JSON.stringify(error));
  assert.match(error.message, /not a GGUF file/);
  assert.ok(error.isWebmoe, 'the error is a WebmoeError');
});

test('options out of range or unknown reject with InvalidOptionError naming the option', async () => {
  const errors = await page.evaluate(async (prompt) => {
    const { engine, errorOf, collect } = window;
    return {
      temperature: await errorOf(() => collect(engine.generate(prompt, { temperature: -1 }))),
      topP: await errorOf(() => collect(engine.generate(prompt, { topP: 2 }))),
      topK: await errorOf(() => collect(engine.generate(prompt, { topK: 0 }))),
      unknown: await errorOf(() => collect(engine.generate(prompt, { temprature: 0.5 }))),
      type: await errorOf(() => collect(engine.generate(prompt, { maxTokens: 'ten' }))),
      tokenId: await errorOf(() => collect(engine.generate([1, 99999], { maxTokens: 1 }))),
      emptyPrompt: await errorOf(() => collect(engine.generate([], { maxTokens: 1 }))),
      kvType: await errorOf(() => window.webmoe.Engine.load('/x.gguf', { kvType: 'f8' })),
      messages: await errorOf(() => engine.chat.completions.create({ messages: [] })),
      noTemplate: await errorOf(() => engine.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }] })),
      routing: await errorOf(() => engine.routing(0, 1e6)),
    };
  }, reference.tokens);
  const expectedOption = {
    temperature: 'temperature',
    topP: 'top_p',
    topK: 'top_k',
    unknown: 'temprature',
    type: 'maxTokens',
    tokenId: 'prompt',
    emptyPrompt: 'prompt',
    kvType: 'kvType',
    messages: 'messages',
    noTemplate: 'messages',
    routing: 'routing positions',
  };
  for (const [what, option] of Object.entries(expectedOption)) {
    const error = errors[what];
    assert.equal(error?.name, 'InvalidOptionError', `${what}: ${JSON.stringify(error)}`);
    assert.equal(error.details.option, option, `${what}: details.option of ${JSON.stringify(error)}`);
  }
});

test('a prompt and maxTokens beyond the context reject with ContextLengthError; the engine stays usable', async () => {
  const out = await page.evaluate(async ({ url, prompt }) => {
    const small = await window.webmoe.Engine.load(url, { contextLength: 16 });
    const full = await window.errorOf(() => window.collect(small.generate(prompt, { maxTokens: 10, temperature: 0 })));
    const fits = await window.collect(small.generate(prompt, { maxTokens: 5, temperature: 0, ignoreEos: true }));
    await small.unload();
    return { full, fits };
  }, { url: MODEL_URL, prompt: reference.tokens });
  assert.equal(out.full?.name, 'ContextLengthError', JSON.stringify(out.full));
  assert.deepEqual(out.full.details, { needed: reference.tokens.length + 9, contextLength: 16 });
  assert.deepEqual(out.fits, reference.greedy.slice(0, 5), firstDifference(out.fits, reference.greedy.slice(0, 5)));
});

test('an aborted generation stops within one token with AbortError, and the engine stays usable', async () => {
  const out = await page.evaluate(async ({ prompt, greedy }) => {
    const { engine, errorOf } = window;
    const controller = new AbortController();
    const seen = [];
    const error = await errorOf(async () => {
      for await (const chunk of engine.generate(prompt, { ...greedy, maxTokens: 16, signal: controller.signal })) {
        seen.push(chunk.tokenId);
        if (seen.length === 3) controller.abort();
      }
    });
    const after = await window.collect(engine.generate(prompt, { ...greedy, maxTokens: 16 }));
    return { error, seen, after };
  }, { prompt: reference.tokens, greedy: GREEDY });
  assert.equal(out.error?.name, 'AbortError', JSON.stringify(out.error));
  assert.ok(out.seen.length <= 4, `${out.seen.length} tokens arrived after the abort at 3`);
  assert.deepEqual(out.after, reference.greedy, `after the abort: ${firstDifference(out.after, reference.greedy)}`);
});

test('concurrent generations wait their turn and each runs in full', async () => {
  const out = await page.evaluate(async ({ prompt, greedy }) => {
    const { engine, collect } = window;
    const order = [];
    const run = async (name, maxTokens) => {
      const tokens = [];
      for await (const chunk of engine.generate(prompt, { ...greedy, maxTokens })) {
        order.push(name);
        tokens.push(chunk.tokenId);
      }
      return tokens;
    };
    const [a, b] = await Promise.all([run('a', 8), run('b', 6)]);
    return { a, b, order, c: await collect(engine.generate(prompt, { ...greedy, maxTokens: 2 })) };
  }, { prompt: reference.tokens, greedy: GREEDY });
  assert.deepEqual(out.a, reference.greedy.slice(0, 8), `first: ${firstDifference(out.a, reference.greedy.slice(0, 8))}`);
  assert.deepEqual(out.b, reference.greedy.slice(0, 6), `second: ${firstDifference(out.b, reference.greedy.slice(0, 6))}`);
  assert.deepEqual(out.order, [...'aaaaaaaa', ...'bbbbbb'], `chunks arrived as ${out.order.join('')}`);
  assert.deepEqual(out.c, reference.greedy.slice(0, 2));
});

test('routing(from, to) gives positions × layers × top-k experts that add up to stats().expertCounts', async () => {
  const out = await page.evaluate(async ({ prompt, greedy }) => {
    const { engine, collect } = window;
    await collect(engine.generate(prompt, { ...greedy, maxTokens: 4 }));
    const stats = await engine.stats();
    return { stats, routing: await engine.routing(0, stats.positions), model: engine.model };
  }, { prompt: reference.tokens, greedy: GREEDY });
  const { stats, routing, model } = out;
  assert.equal(stats.positions, reference.tokens.length + 3);
  assert.equal(routing.length, stats.positions);
  const counts = Array.from({ length: model.layers }, () => new Array(model.experts).fill(0));
  routing.forEach((layers, position) => {
    assert.equal(layers.length, model.layers, `position ${position}: layers`);
    layers.forEach((experts, layer) => {
      assert.equal(experts.length, model.expertsUsed, `position ${position} layer ${layer}: ${experts}`);
      assert.equal(new Set(experts).size, experts.length, `position ${position} layer ${layer}: distinct experts ${experts}`);
      experts.forEach((e) => {
        assert.ok(e >= 0 && e < model.experts, `position ${position} layer ${layer}: expert ${e}`);
        counts[layer][e] += 1;
      });
    });
  });
  assert.deepEqual(stats.expertCounts, counts);
  const memory = stats.gpuMemory;
  assert.equal(memory.total, memory.weights + memory.kvCache + memory.scratch + memory.other, JSON.stringify(memory));
  assert.ok(memory.experts > 0 && memory.experts < memory.weights, JSON.stringify(memory));
  assert.equal(stats.expertCache.slots, model.experts * model.layers, 'every expert of every layer is resident without a budget');
  assert.equal(stats.expertCache.misses, 0);
  assert.ok(stats.wasmMemory > 0);
});

test('under a gpuBudget that holds half the experts, they stream from storage and the tokens stay the same', async () => {
  const out = await page.evaluate(async ({ url, prompt, greedy }) => {
    const { engine, errorOf, collect } = window;
    const full = (await engine.stats()).gpuMemory;
    const gpuBudget = full.total - full.experts / 2;
    const streaming = await window.webmoe.Engine.load(url, { gpuBudget });
    const tokens = await collect(streaming.generate(prompt, { ...greedy, maxTokens: 16 }));
    const stats = await streaming.stats();
    await streaming.unload();
    const tooSmall = await errorOf(() => window.webmoe.Engine.load(url, { gpuBudget: 1000 }));
    return { tokens, stats, gpuBudget, tooSmall };
  }, { url: MODEL_URL, prompt: reference.tokens, greedy: GREEDY });
  const cache = out.stats.expertCache;
  // 2 layers of 8 experts share the slots; one token needs its 2 experts of a layer at a time.
  assert.ok(cache.slots >= 2 && cache.slots < 16, `${cache.slots} expert slots`);
  assert.ok(cache.misses > 0, `the cache missed ${cache.misses} times`);
  assert.ok(out.stats.gpuMemory.total <= out.gpuBudget, `GPU memory ${out.stats.gpuMemory.total} within the budget ${out.gpuBudget}`);
  assert.deepEqual(out.tokens, reference.greedy, `streaming experts: ${firstDifference(out.tokens, reference.greedy)}`);
  assert.equal(out.tooSmall?.name, 'InvalidOptionError', JSON.stringify(out.tooSmall));
  assert.match(out.tooSmall.message, /at least \d+ bytes/);
});

test('a small ramBudget gives the same tokens, with experts streamed from IndexedDB too; one not a whole number ≥ 0 rejects', async () => {
  const out = await page.evaluate(async ({ url, prompt, greedy }) => {
    const { engine, errorOf, collect } = window;
    const full = (await engine.stats()).gpuMemory;
    const load = { gpuBudget: full.total - full.experts / 2, ramBudget: 0 };
    const uncached = await window.webmoe.Engine.load(url, load);
    const tokens = await collect(uncached.generate(prompt, { ...greedy, maxTokens: 16 }));
    const cache = (await uncached.stats()).expertCache;
    await uncached.unload();
    const small = await window.webmoe.Engine.load(url, { ramBudget: 4096 });
    const smallTokens = await collect(small.generate(prompt, { ...greedy, maxTokens: 16 }));
    await small.unload();
    return {
      tokens,
      cache,
      smallTokens,
      negative: await errorOf(() => window.webmoe.Engine.load(url, { ramBudget: -1 })),
      fraction: await errorOf(() => window.webmoe.Engine.load(url, { ramBudget: 1.5 })),
      text: await errorOf(() => window.webmoe.Engine.load(url, { ramBudget: '64MiB' })),
    };
  }, { url: MODEL_URL, prompt: reference.tokens, greedy: GREEDY });
  assert.ok(out.cache.misses > 0, `experts streamed in: ${JSON.stringify(out.cache)}`);
  assert.deepEqual(out.tokens, reference.greedy, `ramBudget 0 with streamed experts: ${firstDifference(out.tokens, reference.greedy)}`);
  assert.deepEqual(out.smallTokens, reference.greedy, `ramBudget 4096: ${firstDifference(out.smallTokens, reference.greedy)}`);
  for (const what of ['negative', 'fraction', 'text']) {
    const error = out[what];
    assert.equal(error?.name, 'InvalidOptionError', `${what}: ${JSON.stringify(error)}`);
    assert.equal(error.details.option, 'ramBudget', `${what}: details.option of ${JSON.stringify(error)}`);
  }
});

test('after a panic the engine rejects with EngineUnavailableError, and a new Engine.load works', async () => {
  const out = await page.evaluate(async ({ url, prompt, greedy }) => {
    const { errorOf, collect } = window;
    const broken = await window.webmoe.Engine.load(url);
    const panic = await errorOf(() => broken._panicForTests());
    const later = await errorOf(() => collect(broken.generate(prompt, { maxTokens: 1 })));
    const stats = await errorOf(() => broken.stats());
    const fresh = await window.webmoe.Engine.load(url);
    const tokens = await collect(fresh.generate(prompt, { ...greedy, maxTokens: 4 }));
    await fresh.unload();
    return { panic, later, stats, tokens };
  }, { url: MODEL_URL, prompt: reference.tokens, greedy: GREEDY });
  for (const what of ['panic', 'later', 'stats']) {
    assert.equal(out[what]?.name, 'EngineUnavailableError', `${what}: ${JSON.stringify(out[what])}`);
    assert.match(out[what].message, /load the model again/, `${what}: ${out[what].message}`);
  }
  assert.match(out.panic.message, /panicForTests/, 'the message carries the panic');
  assert.deepEqual(out.tokens, reference.greedy.slice(0, 4), firstDifference(out.tokens, reference.greedy.slice(0, 4)));
});

test('after a lost GPU device the call that meets it rejects with DeviceLostError, later ones with EngineUnavailableError; a new Engine.load works', async () => {
  const out = await page.evaluate(async ({ url, prompt, greedy, n }) => {
    const { errorOf, collect } = window;
    const generating = await window.webmoe.Engine.load(url);
    await generating._loseDeviceForTests();
    const generate = await errorOf(() => collect(generating.generate(prompt, { ...greedy, maxTokens: 2 })));
    const later = await errorOf(() => generating.stats());
    // A sequence on the GPU, whose routing stats() would read back.
    const reading = await window.webmoe.Engine.load(url);
    await collect(reading.generate(prompt, { ...greedy, maxTokens: 2 }));
    await reading._loseDeviceForTests();
    const stats = await errorOf(() => reading.stats());
    const fresh = await window.webmoe.Engine.load(url);
    const tokens = await collect(fresh.generate(prompt, { ...greedy, maxTokens: n }));
    await fresh.unload();
    return { generate, later, stats, tokens };
  }, { url: MODEL_URL, prompt: reference.tokens, greedy: GREEDY, n: reference.greedy.length });
  for (const what of ['generate', 'stats']) {
    assert.equal(out[what]?.name, 'DeviceLostError', `${what}: ${JSON.stringify(out[what])}`);
    assert.match(out[what].message, /device was lost.*load the model again/, `${what}: ${out[what].message}`);
  }
  assert.equal(out.later?.name, 'EngineUnavailableError', `after the loss: ${JSON.stringify(out.later)}`);
  assert.match(out.later.message, /device was lost/, 'the message says why');
  assert.deepEqual(out.tokens, reference.greedy, `a new engine: ${firstDifference(out.tokens, reference.greedy)}`);
});

test('unload releases the engine; later calls reject with EngineUnavailableError', async () => {
  const error = await page.evaluate(async () => {
    await window.engine.unload();
    return window.errorOf(() => window.engine.stats());
  });
  assert.equal(error?.name, 'EngineUnavailableError', JSON.stringify(error));
  assert.match(error.message, /unloaded/);
});
