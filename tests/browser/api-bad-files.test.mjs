// Malformed model files through Engine.load, as crates/webmoe-cli/tests/bad_input.rs feeds them to
// the `webmoe` command: the files of tests/fixtures/bad/ as they are, a real model cut short at
// several offsets, and one-field patches of it (the format, then the model's consistency and its
// tokenizer). Each is served over HTTP (a few as Blobs too) and must reject with ModelFormatError
// naming the problem, quickly, after no request but the probe and the header's; nothing is stored,
// and the page's next load of a valid model works.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, resetStats, stats, stopAll } from './harness.mjs';
import { firstDifference, openApiPage } from './api-helpers.mjs';
import { IQ2_XS, int32ValueAt, keyNameAt, patched, stringValueAt, tensorEntry, u32le } from './gguf-patch.mjs';

const VALID = 'mixtral-q8_0';
const reference = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tests/fixtures/oracle', VALID, 'reference.json'), 'utf8'));

/** The longest a refusal may take: the probe, the header, and the check. */
const TIME_LIMIT_MS = 10_000;

/** The message of every truncation names where the file ends. */
const TRUNCATED = /the file ends inside|bytes left in the file|reaches past the end of the file's data section/;

/**
 * Every case: a file name, its bytes, and what the message must contain (strings, or a pattern).
 * @returns {{name: string, bytes: Uint8Array, needles: (string|RegExp)[]}[]}
 */
function malformedFiles() {
  const real = new Uint8Array(fs.readFileSync(path.join(REPO_ROOT, 'tests/fixtures/oracle', VALID, 'model.gguf')));
  const q = tensorEntry(real, 'blk.0.attn_q.weight');
  const embedding = tensorEntry(real, 'token_embd.weight');
  const setInt = (key, value) => patched(real, int32ValueAt(real, key), u32le(value));
  const cases = [];
  const add = (name, bytes, needles) => cases.push({ name: `${name}.gguf`, bytes, needles });

  // The fuzz findings, served as the short files they are (see tests/fixtures/bad/README.md).
  const fixtures = {
    'footprint-kv-cache-bytes-overflow': ['tensor "token_embd.weight"', 'reaches past the end'],
    'metadata-count-in-a-32-gib-file': ['the metadata count claims 2147483648 entries'],
    'metadata-count-reserved-beyond-header': ['the tensor count claims 13 entries'],
    'string-longer-than-any-header': ['the value of metadata key "k" claims 1099511627776'],
    'tensor-count-in-a-32-gib-file': ['the tensor count claims 1073741824 entries'],
    'tensor-count-reserved-beyond-prefix': ['the file ends inside the tensor count'],
  };
  const onDisk = fs.readdirSync(path.join(REPO_ROOT, 'tests/fixtures/bad')).filter((name) => name.endsWith('.gguf')).sort();
  assert.deepEqual(onDisk, Object.keys(fixtures).map((name) => `${name}.gguf`), 'every file of tests/fixtures/bad/ has a case');
  for (const [name, needles] of Object.entries(fixtures)) {
    add(`fixture-${name}`, fs.readFileSync(path.join(REPO_ROOT, 'tests/fixtures/bad', `${name}.gguf`)), needles);
  }

  for (const cut of [10, 100, 1000, Math.floor(real.length / 2), real.length - 1]) {
    add(`cut-at-${cut}`, real.subarray(0, cut), [TRUNCATED]);
  }

  add('wrong-magic', patched(real, 0, 'GGML'), ['not a GGUF file']);
  add('version-1', patched(real, 4, u32le(1)), ['GGUF version 1 ']);
  add('version-4', patched(real, 4, u32le(4)), ['GGUF version 4 ']);
  add('unknown-tensor-type', patched(real, q.type, u32le(77)), ['"blk.0.attn_q.weight"', 'type id 77']);
  add('iq2_xs-tensor', patched(real, q.type, u32le(IQ2_XS)), ['"blk.0.attn_q.weight"', 'IQ2_XS']);

  add('unknown-architecture', patched(real, stringValueAt(real, 'general.architecture'), 'mamba'), ['"mamba"', 'not supported']);
  // 6 heads: the 2 KV heads divide them, the width of 256 does not.
  add('heads-not-dividing-the-width', setInt('llama.attention.head_count', 6), [
    'llama.attention.head_count is 6',
    'embedding length 256',
  ]);
  add('more-experts-used-than-exist', setInt('llama.expert_used_count', 9), [
    'llama.expert_used_count is 9',
    'expert count 8',
  ]);
  // Both expert keys renamed in place, so that the expert tensors come without them.
  const noExpertKeys = patched(
    patched(real, keyNameAt(real, 'llama.expert_count'), 'llama.xxpert_count'),
    keyNameAt(real, 'llama.expert_used_count'),
    'llama.xxpert_used_count',
  );
  add('expert-tensors-without-expert-keys', noExpertKeys, ['"blk.0.ffn_down_exps.weight"', 'no llama.expert_count']);
  add('embedding-rows-disagree-with-the-vocabulary', patched(real, embedding.dims + 8, u32le(511)), [
    '512 tokens',
    '511 rows',
  ]);
  add('bos-id-outside-the-vocabulary', setInt('tokenizer.ggml.bos_token_id', 512), ['tokenizer.ggml.bos_token_id', '512']);
  return cases;
}

const cases = malformedFiles();
const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'webmoe-bad-files-'));
for (const { name, bytes } of cases) fs.writeFileSync(path.join(folder, name), bytes);

let page;
let server;
before(async () => {
  ({ page, server } = await openApiPage({ mounts: { '/bad': folder, '/oracle': 'tests/fixtures/oracle' } }));
  await page.evaluate(() => {
    // Loads `source` (a URL, or { blobOf: url }: that file's bytes as a Blob); the error as
    // { name, message, ms }, or { loaded: true } when the load succeeded (and was unloaded).
    window.refusalOf = async (source) => {
      const started = performance.now();
      try {
        const model = source.blobOf ? new Blob([await (await fetch(source.blobOf)).arrayBuffer()]) : source;
        const engine = await window.webmoe.Engine.load(model);
        await engine.unload();
        return { loaded: true };
      } catch (error) {
        return { name: error.name, message: error.message, ms: performance.now() - started };
      }
    };
  });
});
after(async () => {
  await stopAll();
  fs.rmSync(folder, { recursive: true, force: true });
});

/** Why `refusal` is not a quick ModelFormatError naming every needle, if it is not. */
function problemOf(refusal, needles) {
  if (refusal.loaded) return 'it loaded';
  if (refusal.name !== 'ModelFormatError') return `${refusal.name}: ${refusal.message}`;
  const missing = needles.find((needle) => !(needle instanceof RegExp ? needle.test(refusal.message) : refusal.message.includes(needle)));
  if (missing !== undefined) return `the message does not name ${missing}: ${refusal.message}`;
  if (refusal.ms > TIME_LIMIT_MS) return `refused after ${Math.round(refusal.ms)} ms`;
  return null;
}

test('every malformed file served over HTTP is refused by name, after the probe and its header only', async () => {
  await resetStats(server);
  const failures = [];
  for (const { name, bytes, needles } of cases) {
    const refusal = await page.evaluate((url) => window.refusalOf(url), `/bad/${name}`);
    const problem = problemOf(refusal, needles);
    if (problem) failures.push(`  ${name}: ${problem}`);
    const requests = (await stats(server)).filter((request) => request.path === `/bad/${name}`);
    // The header request asks for the first 4 MiB, or the whole file when it is shorter.
    const header = `bytes=0-${Math.min(bytes.length, 4 << 20) - 1}`;
    const ranges = requests.map((request) => request.range);
    if (JSON.stringify(ranges) !== JSON.stringify(['bytes=0-0', header])) {
      failures.push(`  ${name}: requests ${JSON.stringify(ranges)}, expected the probe and ${header}`);
    }
  }
  assert.equal(failures.length, 0, `${failures.length} of ${cases.length} files:\n${failures.join('\n')}`);
});

test('malformed files given as Blobs are refused by name too', async () => {
  const asBlobs = cases.filter(({ name }) => ['cut-at-100.gguf', 'wrong-magic.gguf', 'iq2_xs-tensor.gguf', 'bos-id-outside-the-vocabulary.gguf'].includes(name));
  const failures = [];
  for (const { name, needles } of asBlobs) {
    const refusal = await page.evaluate((url) => window.refusalOf({ blobOf: url }), `/bad/${name}`);
    const problem = problemOf(refusal, needles);
    if (problem) failures.push(`  ${name}: ${problem}`);
  }
  assert.equal(failures.length, 0, failures.join('\n'));
});

test('nothing of the refused files was stored, and the next load of a valid model generates its reference tokens', async () => {
  const out = await page.evaluate(async ({ url, prompt, greedy }) => {
    const before = await window.webmoe.Engine.listCached();
    const engine = await window.webmoe.Engine.load(url);
    const tokens = [];
    const options = { temperature: 0, ignoreEos: true, maxTokens: greedy.length };
    for await (const chunk of engine.generate(prompt, options)) tokens.push(chunk.tokenId);
    await engine.unload();
    return { before, tokens };
  }, { url: `/oracle/${VALID}/model.gguf`, prompt: reference.tokens, greedy: reference.greedy });
  assert.deepEqual(out.before, [], 'the store holds nothing');
  assert.deepEqual(out.tokens, reference.greedy, firstDifference(out.tokens, reference.greedy));
});
