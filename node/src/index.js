/**
 * @backstop/policy: classify failures with a Backstop policy, through the same
 * WebAssembly component every Backstop host runs.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadOn } from './policy.js';
import { engine } from './thread.js';

export { Policy } from './policy.js';
export { PolicyError, PolicyLoadError, GuestTrapError } from './errors.js';
export { failureFromError } from './from-error.js';
export { REDACTED } from './redaction.js';
export { FAILURE_FILE_ENV, failureReport, installUncaughtHandler, reportFailure } from './report.js';
export { defaultPolicy, deriveSeed } from './thread.js';
export { retry, RetryError, AttemptTimeoutError, MemoryStore, systemClock } from './retry.js';
export { pushbackFromError, parseRetryAfter, parseGrpcPushback } from './pushback.js';
export { readLog } from './logs.js';

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
