// The bytes this package runs are the committed artifact, and gen/ is exactly what
// jco makes of them: neither can drift from the source.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';

import { GENERATED_FILES, transpile } from '../scripts/transpile.js';

const here = (path) => new URL(`../${path}`, import.meta.url);
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

it('wasm/backstop.wasm hashes to the value in host/wasm/SHA256SUMS', () => {
  const sums = new Map(
    readFileSync(here('../host/wasm/SHA256SUMS'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [hash, name] = line.trim().split(/\s+/);
        return [name, hash];
      }),
  );
  assert.ok(sums.has('backstop.wasm'), 'SHA256SUMS lists backstop.wasm');
  assert.equal(sha256(readFileSync(here('wasm/backstop.wasm'))), sums.get('backstop.wasm'));
});

it('the component imports nothing (so no WASI shim is needed)', () => {
  const glue = readFileSync(here('gen/backstop.js'), 'utf8');
  assert.doesNotMatch(glue, /^\s*import\s/m, 'the generated glue has no imports');
  const core = new WebAssembly.Module(readFileSync(here('gen/backstop.core.wasm')));
  assert.deepEqual(WebAssembly.Module.imports(core), []);
});

const scratch = mkdtempSync(join(tmpdir(), 'backstop-jco-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

it('gen/ is exactly what scripts/transpile.js makes of wasm/backstop.wasm (run `npm run gen`)', () => {
  transpile(scratch);
  assert.deepEqual(readdirSync(scratch).sort(), [...GENERATED_FILES].sort());
  assert.deepEqual(readdirSync(here('gen')).sort(), [...GENERATED_FILES].sort());
  for (const file of GENERATED_FILES) {
    const fresh = readFileSync(join(scratch, file));
    const committed = readFileSync(here(`gen/${file}`));
    assert.ok(fresh.equals(committed), `gen/${file} differs from a fresh transpile; run \`npm run gen\` and commit`);
  }
});
