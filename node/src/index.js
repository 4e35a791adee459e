/**
 * @backstop/policy: classify failures with a Backstop policy, through the same
 * WebAssembly component every Backstop host runs.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Engine } from './engine.js';
import { loadOn } from './policy.js';

export { Policy } from './policy.js';
export { PolicyError, PolicyLoadError, GuestTrapError } from './errors.js';
export { failureFromError } from './from-error.js';

// One engine (component instance) per thread: Node runs JS on one thread, and
// each worker thread imports its own copy of this module.
const engine = new Engine();

/**
 * Parse and validate a policy document.
 * @param {string | Uint8Array} source
 * @param {{ format?: 'toml' | 'json' }} [options]
 */
export function loadPolicy(source, { format = 'toml' } = {}) {
  return loadOn(engine, source, { format });
}

function fileFormat(path, format) {
  if (format !== undefined) return format;
  const ext = extname(typeof path === 'string' ? path : fileURLToPath(path)).toLowerCase();
  if (ext === '.toml') return 'toml';
  if (ext === '.json') return 'json';
  throw new TypeError(`cannot tell the format of ${String(path)} from its extension; pass { format: 'toml' | 'json' }`);
}

/**
 * Read and load a policy file; the format follows the extension (.toml, .json)
 * unless given.
 * @param {string | URL} path
 * @param {{ format?: 'toml' | 'json' }} [options]
 */
export async function loadPolicyFile(path, { format } = {}) {
  format = fileFormat(path, format);
  const source = await readFile(path, 'utf8');
  return loadOn(engine, source, { format, file: String(path) });
}

/** Synchronous `loadPolicyFile`, for start-up code. */
export function loadPolicyFileSync(path, { format } = {}) {
  format = fileFormat(path, format);
  return loadOn(engine, readFileSync(path, 'utf8'), { format, file: String(path) });
}

let builtin;

/**
 * The built-in rules alone (the policy used when none is given). Shared: every
 * call returns the same Policy, and its `close()` does nothing.
 */
export function defaultPolicy() {
  builtin ??= loadOn(engine, '', { format: 'toml', shared: true });
  return builtin;
}
