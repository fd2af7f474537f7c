// The npm package as a web app gets it: `npm pack` of pkg/, installed into a fresh project,
// type-checked against its .d.ts with tsc, bundled with esbuild, and imported by a page that
// generates with it.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, launchBrowser, resetStats, startServer, stats, stopAll } from './harness.mjs';
import { PKG_DIR, requirePackage } from './api-helpers.mjs';

const BIN = path.join(REPO_ROOT, 'tests', 'browser', 'node_modules', '.bin');
const EXPECTED_FILES = [
  'package.json',
  'README.md',
  'index.js',
  'index.d.ts',
  'worker.js',
  'errors.js',
  'store/index.js',
  'wasm/webmoe_web.js',
  'wasm/webmoe_web_bg.wasm',
];

// Uses every part of the API; each @ts-expect-error line must be an error for tsc to pass.
const CONSUMER_TS = `
import {
  Engine, WebmoeError, ModelFormatError, QuotaExceededError, InvalidOptionError,
  type ChatCompletion, type ChatCompletionChunk, type EngineStats, type GenerateChunk, type LoadProgress,
  type VerifyReport, type Completion, type CompletionChunk,
} from 'webmoe';

export async function main(url: string, out: { textContent: string | null }): Promise<void> {
  const controller = new AbortController();
  const engine: Engine = await Engine.load(url, {
    onProgress: (p: LoadProgress) => console.log(p.phase, p.loaded / p.total, p.etaSeconds ?? 'unknown', p.bytesPerSecond),
    signal: controller.signal,
    contextLength: 512,
    kvType: 'f16',
    gpuBudget: 2 ** 30,
    ramBudget: 64 * 2 ** 20,
    store: false,
  });
  const where: 'storage' | 'file' | 'network' = engine.model.readFrom;
  const key: string | null = engine.model.key;
  const report: VerifyReport | null = await Engine.verifyCached(url, { onProgress: (p) => console.log(p.loaded), signal: controller.signal });
  console.log(where, key, report?.damagedShards, report?.complete);
  const parts: File[] = [new File([], 'm-00001-of-00002.gguf'), new File([], 'm-00002-of-00002.gguf')];
  await Engine.load(parts, { store: true });
  const experts: number = engine.model.experts * engine.model.layers;
  for await (const chunk of engine.generate('Once upon a time', { maxTokens: 8, temperature: 0.7, topK: 40, stop: ['\\n'] })) {
    const c: GenerateChunk = chunk;
    out.textContent += c.text + String(c.tokenId);
  }
  for await (const chunk of engine.generate([1, 2, 3], { seed: 7, signal: controller.signal })) out.textContent += chunk.text;
  const reply: ChatCompletion = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 16 });
  out.textContent = reply.choices[0].message.content + reply.usage.total_tokens;
  const stream = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], stream: true, top_p: 0.9, seed: 1 });
  for await (const chunk of stream) {
    const c: ChatCompletionChunk = chunk;
    out.textContent += c.choices[0].delta.content ?? '';
  }
  const stats: EngineStats = await engine.stats();
  const counts: number[][] = stats.expertCounts;
  const routing: number[][][] = await engine.routing(0, stats.positions);
  console.log(experts, counts, routing, stats.wasmMemory, stats.gpuMemory.total, stats.decodeTokensPerSecond);
  const cached = await Engine.listCached();
  const deleted: boolean = await Engine.deleteCached(cached[0].key);
  console.log(deleted);
  await engine.unload();
  try {
    await Engine.load(new Blob([]));
  } catch (error) {
    if (error instanceof QuotaExceededError) console.log(error.details.needed, error.details.available);
    if (error instanceof ModelFormatError || error instanceof InvalidOptionError) console.log(error.message);
    if (error instanceof WebmoeError) console.log(error.name);
  }
  const chat: Engine = await Engine.load(url, { maxConversations: 4, workerUrl: new URL('/w/worker.js', url), wasmUrl: '/cdn/m.wasm' });
  const turn: ChatCompletion = await chat.chat.completions.create({
    messages: [{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
    max_completion_tokens: 8, logprobs: true, top_logprobs: 2, frequency_penalty: 0.5, logit_bias: { '42': -100 },
    conversationId: 'a', contextOverflow: 'truncate-middle', n: 1, user: 'u',
  });
  const cachedTokens: number | undefined = turn.usage.prompt_tokens_details.cached_tokens;
  const top: number | undefined = turn.choices[0].logprobs?.content[0]?.top_logprobs[0]?.logprob;
  await chat.resetChat('a');
  await chat.resetChat();
  const ids: number[] = await chat.tokenize('Hello', { addSpecialTokens: false });
  const text: string = await chat.detokenize(ids);
  const counted: number = await chat.countTokens([{ role: 'user', content: text }]);
  const completion: Completion = await chat.completions.create({ prompt: 'Once', max_tokens: 4, logprobs: 1 });
  for await (const chunk of await chat.completions.create({ prompt: [1, 2], stream: true, stream_options: { include_usage: true } })) {
    const c: CompletionChunk = chunk;
    console.log(c.choices[0]?.text, c.usage?.total_tokens);
  }
  const s: EngineStats = await chat.stats();
  console.log(cachedTokens, top, counted, completion.choices[0].text, s.cachedTokens, s.droppedMessages, s.conversations.saved);
  for await (const chunk of chat.generate('x', { logprobs: 2, logitBias: { 5: 1 }, presencePenalty: 1, contextOverflow: 'shift' })) {
    console.log(chunk.logprobs?.topLogprobs[0]?.tokenId, chunk.finishReason);
  }
  // @ts-expect-error contextOverflow is 'error', 'truncate-middle' or 'shift'
  await chat.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], contextOverflow: 'drop' });
  // @ts-expect-error a prompt is a string or token ids
  engine.generate(42);
  // @ts-expect-error kvType is "f16" or "f32"
  await Engine.load(url, { kvType: 'f8' });
  // @ts-expect-error the chat API takes messages
  await engine.chat.completions.create({ prompt: 'Hi' });
  // @ts-expect-error Engine is created with Engine.load
  new Engine();
  // @ts-expect-error store is true or false
  await Engine.load(url, { store: 'yes' });
}
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'es2022',
    module: 'esnext',
    moduleResolution: 'bundler',
    lib: ['es2022', 'dom', 'dom.iterable'],
    strict: true,
    noEmit: true,
    skipLibCheck: false,
  },
  include: ['src'],
};

let consumer;
let tarball;
before(() => {
  requirePackage();
  consumer = fs.mkdtempSync(path.join(os.tmpdir(), 'webmoe-consumer-'));
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', consumer], { cwd: PKG_DIR, encoding: 'utf8' }));
  tarball = { path: path.join(consumer, packed[0].filename), files: packed[0].files.map((f) => f.path) };
  fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
  fs.mkdirSync(path.join(consumer, 'src'));
  fs.writeFileSync(path.join(consumer, 'src', 'main.ts'), CONSUMER_TS);
  fs.writeFileSync(path.join(consumer, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', tarball.path], { cwd: consumer, stdio: 'inherit' });
});
after(async () => {
  await stopAll();
  fs.rmSync(consumer, { recursive: true, force: true });
});

test('the tarball holds the package files', () => {
  for (const file of EXPECTED_FILES) assert.ok(tarball.files.includes(file), `${file} is missing from [${tarball.files}]`);
  const manifest = JSON.parse(fs.readFileSync(path.join(consumer, 'node_modules', 'webmoe', 'package.json'), 'utf8'));
  assert.equal(manifest.name, 'webmoe');
  assert.equal(manifest.type, 'module');
  assert.deepEqual(manifest.exports['.'], { types: './index.d.ts', import: './index.js' });
  assert.equal(manifest.types, './index.d.ts');
});

test('a TypeScript app type-checks against index.d.ts with tsc', () => {
  try {
    execFileSync(path.join(BIN, 'tsc'), ['-p', consumer], { cwd: consumer, encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    assert.fail(`tsc failed:\n${error.stdout}${error.stderr}`);
  }
});

test('esbuild bundles the app with the package', () => {
  const out = path.join(consumer, 'dist', 'main.js');
  execFileSync(path.join(BIN, 'esbuild'), ['src/main.ts', '--bundle', '--format=esm', `--outfile=${out}`, '--log-level=warning'], {
    cwd: consumer,
    stdio: 'inherit',
  });
  const bundle = fs.readFileSync(out, 'utf8');
  assert.match(bundle, /chat\.completion\.chunk/, 'the bundle holds the package code');
  assert.match(bundle, /new URL\("\.\/worker\.js", import\.meta\.url\)/, 'the bundle finds the worker next to it');
});

test('a page imports the installed package and generates', async () => {
  const server = await startServer({ root: consumer, mounts: { '/oracle': 'tests/fixtures/oracle' } });
  const { page } = await launchBrowser();
  await page.goto(`${server.url}/package.json`);
  const reference = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tests/fixtures/oracle/mixtral-q8_0/reference.json'), 'utf8'));
  const tokens = await page.evaluate(async (prompt) => {
    const { Engine } = await import('/node_modules/webmoe/index.js');
    const engine = await Engine.load('/oracle/mixtral-q8_0/model.gguf');
    const ids = [];
    for await (const chunk of engine.generate(prompt, { maxTokens: 3, temperature: 0 })) ids.push(chunk.tokenId);
    await engine.unload();
    return ids;
  }, reference.tokens);
  assert.deepEqual(tokens, reference.greedy.slice(0, 3), 'the reference greedy tokens of mixtral-q8_0');
});

test('workerUrl and wasmUrl load the worker and the module from where a host serves them', async () => {
  // The package's files under /lib, the module alone under /cdn, as a host might split them.
  const installed = path.join(consumer, 'node_modules', 'webmoe');
  const server = await startServer({ root: consumer, mounts: { '/oracle': 'tests/fixtures/oracle', '/lib': installed, '/cdn': path.join(installed, 'wasm') } });
  const { page } = await launchBrowser();
  await page.goto(`${server.url}/package.json`);
  await resetStats(server);
  const out = await page.evaluate(async () => {
    const { Engine } = await import('/node_modules/webmoe/index.js');
    const options = { workerUrl: '/lib/worker.js', wasmUrl: new URL('/cdn/webmoe_web_bg.wasm', location.href) };
    const engine = await Engine.load('/oracle/mixtral-q8_0/model.gguf', options);
    const experts = engine.model.experts;
    await engine.unload();
    return experts;
  });
  assert.equal(out, 8, 'the model loads');
  const paths = (await stats(server)).map((r) => r.path);
  assert.ok(paths.includes('/lib/worker.js'), `the worker came from workerUrl: ${paths}`);
  assert.ok(paths.includes('/cdn/webmoe_web_bg.wasm'), `the module came from wasmUrl: ${paths}`);
  const beside = paths.filter((p) => p === '/node_modules/webmoe/worker.js' || p.startsWith('/node_modules/webmoe/wasm/'));
  assert.deepEqual(beside, [], 'neither the worker nor the module was read beside index.js');
  const failure = await page.evaluate(async () => {
    const { Engine } = await import('/node_modules/webmoe/index.js');
    try {
      await Engine.load('/oracle/mixtral-q8_0/model.gguf', { wasmUrl: '/cdn/missing.wasm' });
      return null;
    } catch (error) {
      return error.name;
    }
  });
  assert.ok(failure, 'a wasmUrl that is not there fails the load');
});
