// The package's TypeScript types (js/index.d.ts) against the `openai` package's: tsc compiles
// types/openai-shapes.ts, which passes requests typed by `openai` to webmoe and assigns webmoe's
// responses and chunks to `openai`'s types. No browser needed.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

test("webmoe's OpenAI surface type-checks against the openai package's types", () => {
  const tsc = path.join(here, 'node_modules', 'typescript', 'bin', 'tsc');
  let output = '';
  try {
    execFileSync(process.execPath, [tsc, '-p', path.join(here, 'types', 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    output = `${error.stdout}${error.stderr}`;
  }
  assert.equal(output, '', `tsc found type errors:\n${output}`);
});
