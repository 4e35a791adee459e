#!/usr/bin/env node
// Transpiles wasm/backstop.wasm into JS glue + core module with jco, then applies
// one checked patch (see PATCHES). `npm run gen` writes gen/; the drift test
// writes a temp dir and compares it byte for byte with the committed gen/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The exact jco invocation; the generated files are a function of these flags. */
export const JCO_ARGS = [
  'transpile', 'wasm/backstop.wasm',
  '--name', 'backstop',
  '--no-wasi-shim', // the component imports nothing, so no shim is needed or wanted
  '--instantiation', 'sync', // we compile and instantiate the core module ourselves
  '--quiet',
];

// jco 1.35's `_debugLog` reads `process.env.JCO_DEBUG` on every call, and the glue
// calls it ~20 times per export call; a `process.env` read goes through a C++
// property interceptor, which made up ~40% of a classification. The patch reads the
// variable once per instantiation instead (so JCO_DEBUG must be set before loading).
const PATCHES = [
  {
    file: 'backstop.js',
    from: `  const _debugLog = (...args) => {
    if (!globalThis?.process?.env?.JCO_DEBUG) { return; }
    console.debug(...args);
  };`,
    to: `  // Patched by scripts/transpile.js: read JCO_DEBUG once, not on every call.
  const _debugLog = globalThis?.process?.env?.JCO_DEBUG ? (...args) => console.debug(...args) : () => {};`,
  },
];

export const GENERATED_FILES = ['backstop.js', 'backstop.core.wasm'];

/** Transpile into `outDir` (emptied first). */
export function transpile(outDir) {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const jco = join(root, 'node_modules', '@bytecodealliance', 'jco', 'dist', 'jco.js');
  execFileSync(process.execPath, [jco, ...JCO_ARGS, '-o', outDir], { cwd: root, stdio: 'inherit' });
  // jco also writes .d.ts files for the raw bindings; the public types are the
  // hand-written index.d.ts, so only the runtime files are kept.
  for (const entry of readdirSync(outDir)) {
    if (!GENERATED_FILES.includes(entry)) rmSync(join(outDir, entry), { recursive: true });
  }
  for (const { file, from, to } of PATCHES) {
    const path = join(outDir, file);
    const text = readFileSync(path, 'utf8');
    const count = text.split(from).length - 1;
    if (count !== 1) {
      throw new Error(`${file}: expected the patched snippet exactly once, found it ${count} times; did jco change?`);
    }
    writeFileSync(path, text.replace(from, to));
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  transpile(resolve(root, process.argv[2] ?? 'gen'));
}
