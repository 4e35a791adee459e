// The per-thread engine (component instance) and what is bound to it. Node runs
// JS on one thread, and each worker thread imports its own copy of this module.
import { Engine } from './engine.js';
import { loadOn } from './policy.js';

export const engine = new Engine();

let builtin;

/**
 * The built-in rules alone (the policy used when none is given). Shared: every
 * call returns the same Policy, and its `close()` does nothing.
 */
export function defaultPolicy() {
  builtin ??= loadOn(engine, '', { format: 'toml', shared: true });
  return builtin;
}

/**
 * The default jitter seed for an idempotency key (`<run id>/<step>`): 64-bit
 * FNV-1a of its UTF-8 bytes, computed by the engine. A BigInt (the full u64 range).
 * @param {string} key
 * @returns {bigint}
 */
export function deriveSeed(key) {
  if (typeof key !== 'string') throw new TypeError(`deriveSeed needs a string key, got ${key === null ? 'null' : typeof key}`);
  return engine.deriveSeed(key);
}
