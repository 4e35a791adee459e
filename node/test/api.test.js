// The public API: loading, classify() input validation, errors, lifecycle.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';

import * as backstop from '../src/index.js';
import {
  defaultPolicy,
  loadPolicy,
  loadPolicyFile,
  loadPolicyFileSync,
  Policy,
  PolicyError,
  PolicyLoadError,
} from '../src/index.js';

const STORAGE_TOML = `
version = 1

[[classify.rules]]
id = "server-errors"
class = "transient"
http_status = "5xx"
reason = "object storage hiccup; safe to retry"
`;

const STORAGE_JSON = JSON.stringify({
  version: 1,
  classify: { rules: [{ id: 'server-errors', class: 'transient', http_status: '5xx' }] },
});

it('resolves by package name through package.json "exports"', async () => {
  const byName = await import('@backstop/policy');
  assert.equal(byName.loadPolicy, loadPolicy);
});

it('exports exactly the documented API', () => {
  assert.deepEqual(Object.keys(backstop).sort(), [
    'AttemptTimeoutError',
    'FAILURE_FILE_ENV',
    'GuestTrapError',
    'MemoryStore',
    'Policy',
    'PolicyError',
    'PolicyLoadError',
    'REDACTED',
    'RetryError',
    'defaultPolicy',
    'deriveSeed',
    'failureFromError',
    'failureReport',
    'installUncaughtHandler',
    'loadPolicy',
    'loadPolicyFile',
    'loadPolicyFileSync',
    'parseGrpcPushback',
    'parseRetryAfter',
    'pushbackFromError',
    'readLog',
    'reportFailure',
    'retry',
    'systemClock',
  ]);
});

describe('loading', () => {
  it('loads TOML by default and JSON on request', () => {
    const toml = loadPolicy(STORAGE_TOML);
    const json = loadPolicy(STORAGE_JSON, { format: 'json' });
    assert.ok(toml instanceof Policy);
    assert.equal(toml.format, 'toml');
    assert.equal(json.format, 'json');
    assert.deepEqual(toml.classify({ httpStatus: 501 }), {
      class: 'transient',
      rule: 'server-errors',
      reason: 'object storage hiccup; safe to retry',
    });
    assert.equal(json.classify({ httpStatus: 501 }).rule, 'server-errors');
    toml.close();
    json.close();
  });

  it('accepts UTF-8 bytes', () => {
    const policy = loadPolicy(new TextEncoder().encode(STORAGE_TOML));
    assert.equal(policy.classify({ httpStatus: 503 }).rule, 'server-errors');
    policy.close();
  });

  it('rejects a bad source or format with a TypeError', () => {
    assert.throws(() => loadPolicy(42), TypeError);
    assert.throws(() => loadPolicy(null), TypeError);
    assert.throws(() => loadPolicy('', { format: 'yaml' }), /format must be 'toml' or 'json'/);
    assert.throws(() => loadPolicy(new Uint8Array([0xff, 0xfe])), TypeError); // not UTF-8
  });

  const dir = mkdtempSync(join(tmpdir(), 'backstop-policy-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads files, inferring the format from the extension', async () => {
    writeFileSync(join(dir, 'nightly.toml'), STORAGE_TOML);
    writeFileSync(join(dir, 'nightly.json'), STORAGE_JSON);
    writeFileSync(join(dir, 'nightly.policy'), STORAGE_JSON);
    for (const policy of [
      await loadPolicyFile(join(dir, 'nightly.toml')),
      await loadPolicyFile(pathToFileURL(join(dir, 'nightly.json'))),
      await loadPolicyFile(join(dir, 'nightly.policy'), { format: 'json' }),
      loadPolicyFileSync(join(dir, 'nightly.toml')),
    ]) {
      assert.equal(policy.classify({ httpStatus: 502 }).rule, 'server-errors');
      policy.close();
    }
    await assert.rejects(loadPolicyFile(join(dir, 'nightly.policy')), /pass \{ format/);
    await assert.rejects(loadPolicyFile(join(dir, 'missing.toml')), { code: 'ENOENT' });
  });

  it('names the file in a refused file policy', async () => {
    const file = join(dir, 'bad.toml');
    writeFileSync(file, 'clasify = 1\n');
    const err = await loadPolicyFile(file).catch((e) => e);
    assert.ok(err instanceof PolicyLoadError);
    assert.equal(err.file, file);
    assert.match(err.message, new RegExp(`^policy ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} was refused`));
  });
});

describe('errors', () => {
  it('PolicyLoadError carries every PolicyError, in order, and summarises them', () => {
    const source = `
[[classify.rules]]
id = "a"
class = "sometimes"
http_status = 503

[[classify.rules]]
id = "b"
class = "transient"
http_statuss = 503
`;
    const err = (() => {
      try {
        loadPolicy(source);
      } catch (e) {
        return e;
      }
    })();
    assert.ok(err instanceof PolicyLoadError);
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'PolicyLoadError');
    assert.deepEqual(
      err.errors.map((e) => [e.code, e.path, e.line]),
      [
        ['invalid-value', 'classify.rules[0].class', 4],
        ['unknown-field', 'classify.rules[1].http_statuss', 10],
      ],
    );
    const [first] = err.errors;
    assert.ok(first instanceof PolicyError && first instanceof Error);
    assert.equal(first.name, 'PolicyError');
    assert.equal(typeof first.column, 'number');
    assert.match(err.message, /^policy was refused \(2 errors\):\n  invalid-value: classify\.rules\[0\]\.class \(line 4, column \d+\): /);
    assert.match(err.message, /\n  unknown-field: classify\.rules\[1\]\.http_statuss \(line 10, column 1\): unknown field/);
    assert.deepEqual(Object.keys(first.toJSON()), ['code', 'message', 'path', 'line', 'column']);
  });

  it('a whole-document error has an empty path and null location when it has none', () => {
    const err = new PolicyError('too-large', 'too many');
    assert.deepEqual(err.toJSON(), { code: 'too-large', message: 'too many', path: '', line: null, column: null });
    assert.equal(err.describe(), 'too many');
  });

  it('an uninterpretable failure is a PolicyError with the field path', () => {
    const policy = defaultPolicy();
    assert.throws(() => policy.classify({ httpStatus: 600 }), {
      name: 'PolicyError',
      code: 'invalid-failure',
      path: 'failure.http_status',
      message: '600 is not an HTTP status code (100-599)',
    });
    assert.throws(() => policy.classify({ signal: 'SIGNOPE' }), { code: 'invalid-failure', path: 'failure.signal' });
    assert.throws(() => policy.classify({ grpcCode: 17 }), { code: 'invalid-failure', path: 'failure.grpc_code' });
  });
});

describe('classify() input', () => {
  const policy = defaultPolicy();

  it('returns plain values with rule null when nothing matched', () => {
    assert.deepEqual(policy.classify({}), { class: 'unknown', rule: null, reason: 'no rule matched this failure' });
  });

  it('accepts gRPC codes and signals as names or numbers', () => {
    assert.equal(policy.classify({ grpcCode: 14 }).rule, 'builtin.grpc-transient');
    assert.equal(policy.classify({ grpcCode: 'UNAVAILABLE' }).rule, 'builtin.grpc-transient');
    assert.deepEqual(policy.classify({ signal: 9 }), policy.classify({ signal: 'SIGKILL' }));
  });

  it('treats null like an absent field', () => {
    assert.deepEqual(policy.classify({ httpStatus: null, errorTypes: null, message: null }), policy.classify({}));
  });

  it('catches values a WIT u16 / s32 would silently wrap', () => {
    // 70000 mod 65536 = 4464 and 65539 would become 3: never let that through.
    for (const httpStatus of [70000, 65539, -1, 503.5, NaN, Infinity]) {
      assert.throws(() => policy.classify({ httpStatus }), { code: 'invalid-failure', path: 'failure.http_status' });
    }
    for (const exitCode of [2 ** 31, -(2 ** 31) - 1, 1.5]) {
      assert.throws(() => policy.classify({ exitCode }), { code: 'invalid-failure', path: 'failure.exit_code' });
    }
    assert.equal(policy.classify({ exitCode: -(2 ** 31) }).class, 'unknown');
  });

  it('rejects wrong types and unknown fields with a TypeError that helps', () => {
    assert.throws(() => policy.classify(null), TypeError);
    assert.throws(() => policy.classify('503'), TypeError);
    assert.throws(() => policy.classify({ httpStatus: '503' }), /failure\.httpStatus must be a number, got a string/);
    assert.throws(() => policy.classify({ errorTypes: 'TypeError' }), /errorTypes must be an array of strings/);
    assert.throws(() => policy.classify({ errorTypes: ['A', 1] }), /errorTypes\[1\] must be a string/);
    assert.throws(() => policy.classify({ message: 42 }), /failure\.message must be a string/);
    assert.throws(() => policy.classify({ signal: {} }), /must be a string or a number/);
    assert.throws(() => policy.classify({ http_status: 503 }), /unknown failure field `http_status`; did you mean `httpStatus`\?/);
    assert.throws(() => policy.classify({ status: 503 }), /expected one of: httpStatus, grpcCode/);
  });

  it('looks at no more cause-chain entries than the engine does', () => {
    const chain = Array.from({ length: 1000 }, () => 'Error');
    chain[63] = 'ConnectionError';
    assert.equal(policy.classify({ errorTypes: chain }).rule, 'builtin.network-exceptions');
    chain[63] = 'Error';
    chain[64] = 'ConnectionError';
    assert.equal(policy.classify({ errorTypes: chain }).rule, null);
  });

  it('matches huge messages exactly as the engine would on the full text', () => {
    // Each rule reveals the first character of the text the engine matched on.
    const p = loadPolicy(
      ['x', 'b', 'é', '😀', 'z', '\uFFFD']
        .map((c, i) => `[[classify.rules]]\nid = "starts-${i}"\nclass = "transient"\nmessage = "^${c}"\n`)
        .join('\n'),
    );
    // The engine's rule, computed independently on bytes: last 64 KiB, moved forward
    // to a character boundary.
    const engineTail = (text) => {
      const bytes = Buffer.from(text, 'utf8');
      let start = Math.max(0, bytes.length - 64 * 1024);
      while (start < bytes.length && (bytes[start] & 0xc0) === 0x80) start += 1;
      return bytes.subarray(start).toString('utf8');
    };
    const big = 'z'.repeat(1_000_000);
    for (const message of [
      big + 'b' + 'x'.repeat(65535), // the tail starts exactly at `b`
      big + 'é' + 'x'.repeat(65535), // the cut falls inside `é`
      big + '😀' + 'x'.repeat(65534), // ... inside an emoji
      big + '😀' + 'x'.repeat(65537), // the JS-side cut falls between its surrogates
      big + '😀' + 'x'.repeat(65536),
      '😀'.repeat(300_000) + 'b',
      'é'.repeat(500_000),
    ]) {
      const tail = engineTail(message);
      assert.ok(tail.length < 70_000);
      assert.deepEqual(p.classify({ message }), p.classify({ message: tail }));
    }
    assert.equal(p.classify({ message: big + 'b' + 'x'.repeat(65535) }).rule, 'starts-1');
    p.close();
  });
});

describe('lifecycle', () => {
  it('close() releases the policy; using it afterwards is an unknown-policy error', () => {
    const policy = loadPolicy(STORAGE_TOML);
    assert.equal(policy.closed, false);
    policy.close();
    policy.close(); // idempotent
    assert.equal(policy.closed, true);
    assert.throws(() => policy.classify({ httpStatus: 503 }), { name: 'PolicyError', code: 'unknown-policy' });
  });

  it('Symbol.dispose closes', () => {
    const policy = loadPolicy(STORAGE_TOML);
    policy[Symbol.dispose]();
    assert.equal(policy.closed, true);
  });

  it('defaultPolicy() is shared, is the built-in rules, and close() leaves it usable', () => {
    const policy = defaultPolicy();
    assert.equal(defaultPolicy(), policy);
    policy.close();
    assert.equal(policy.closed, false);
    assert.deepEqual(policy.classify({ httpStatus: 503 }), loadPolicy('').classify({ httpStatus: 503 }));
  });

  it('thousands of load/close cycles do not exhaust the engine (handles are released)', () => {
    for (let i = 0; i < 5000; i++) loadPolicy(STORAGE_TOML).close();
  });
});

it('policies that are never closed are released when collected (FinalizationRegistry)', () => {
  // The engine holds at most 4096 policies; 10000 unclosed ones only fit if the
  // collected ones were released. Needs --expose-gc, hence a child process.
  const script = `
    import { loadPolicy } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
    for (let i = 0; i < 10000; i++) {
      loadPolicy('[classify]\\nbuiltin_rules = true\\n');
      if (i % 1000 === 999) {
        globalThis.gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    console.log('ok');
  `;
  const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(child.stderr, '');
  assert.equal(child.stdout.trim(), 'ok');
});
