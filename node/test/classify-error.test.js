// classifyError / failureFromError: what is read from real-world error shapes.
import assert from 'node:assert/strict';
import { execFile, execSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

import { defaultPolicy, failureFromError, loadPolicy } from '../src/index.js';
import { GRPC_CODE_NAMES } from '../src/from-error.js';

const policy = defaultPolicy();

function errorWith(message, props, options) {
  return Object.assign(new Error(message, options), props);
}

describe('type names along the cause chain', () => {
  it('lists built-in names outermost first, through `cause`', () => {
    const err = new TypeError('fetch failed', { cause: new RangeError('inner') });
    assert.deepEqual(failureFromError(err).errorTypes, ['TypeError', 'RangeError']);
  });

  it('uses the class name when a subclass never set `name`', () => {
    class UploadError extends Error {}
    class QuotaError extends TypeError {}
    assert.deepEqual(failureFromError(new UploadError('x', { cause: new QuotaError('y') })).errorTypes, [
      'UploadError',
      'QuotaError',
    ]);
  });

  it('uses `name` when the class or instance sets it (SDK and DOM errors)', () => {
    class ServiceException extends Error {
      constructor(name) {
        super('boom');
        this.name = name;
      }
    }
    const abort = new DOMException('The operation was aborted', 'AbortError');
    assert.deepEqual(failureFromError(new ServiceException('NoSuchKey', { cause: abort })).errorTypes, ['NoSuchKey']);
    assert.deepEqual(failureFromError(abort).errorTypes, ['AbortError']);
  });

  it('matches a built-in error-type rule deep in the chain and says where', () => {
    class ConnectionError extends Error {}
    const err = new Error('job failed', { cause: new Error('retrying', { cause: new ConnectionError('down') }) });
    const verdict = policy.classifyError(err);
    assert.equal(verdict.class, 'transient');
    assert.equal(verdict.rule, 'builtin.network-exceptions');
    assert.match(verdict.reason, /`ConnectionError` \(cause 2 in the chain\)/);
  });

  it('survives a cause cycle', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    a.cause = b;
    const failure = failureFromError(a);
    assert.deepEqual(failure.errorTypes, ['Error', 'Error']);
    assert.equal(failure.message, 'a\nb');
    assert.equal(policy.classifyError(a).class, 'unknown');
  });

  it('is bounded on a very long chain', () => {
    let err = new Error('root');
    for (let i = 0; i < 10_000; i++) err = new Error(`level ${i}`, { cause: err });
    assert.equal(failureFromError(err).errorTypes.length, 64);
  });

  it('walks the members of an AggregateError', () => {
    // Node's happy-eyeballs connect failure: fetch failed <- AggregateError [ETIMEDOUT] <- per-address errors.
    const perAddress = [errorWith('connect ETIMEDOUT 10.0.0.1:443', { code: 'ETIMEDOUT' }), new RangeError('r')];
    const err = new TypeError('fetch failed', { cause: new AggregateError(perAddress) });
    const failure = failureFromError(err);
    assert.deepEqual(failure.errorTypes, ['TypeError', 'AggregateError', 'Error', 'RangeError']);
    assert.equal(failure.errorCode, 'ETIMEDOUT');
    assert.equal(policy.classifyError(err).rule, 'builtin.network-errno');
  });
});

describe('codes and statuses', () => {
  it('takes the first string `code` along the chain (Node errno errors)', () => {
    const err = new TypeError('fetch failed', { cause: errorWith('read ECONNRESET', { code: 'ECONNRESET', errno: -104 }) });
    assert.deepEqual(policy.classifyError(err), {
      class: 'transient',
      rule: 'builtin.network-errno',
      reason: 'error code `ECONNRESET` matched rule `builtin.network-errno`',
    });
  });

  it('reads AWS SDK v3 errors: `name` as the code, $metadata.httpStatusCode as the status', () => {
    class ThrottlingException extends Error {
      constructor() {
        super('Rate exceeded');
        this.name = 'ThrottlingException';
        this.$fault = 'client';
        this.$metadata = { httpStatusCode: 400, requestId: 'r-1', attempts: 1 };
      }
    }
    const failure = failureFromError(new ThrottlingException());
    assert.equal(failure.errorCode, 'ThrottlingException');
    assert.equal(failure.httpStatus, 400);
    // The provider code wins over the generic 400 (built-in rule order).
    assert.equal(policy.classifyError(new ThrottlingException()).rule, 'builtin.cloud-throttling');
  });

  it('reads an S3-style `Code`', () => {
    assert.equal(failureFromError(errorWith('slow down', { Code: 'SlowDown' })).errorCode, 'SlowDown');
  });

  for (const [shape, props] of [
    ['status', { status: 503 }],
    ['statusCode', { statusCode: 503 }],
    ['response.status', { response: { status: 503 } }],
    ['response.statusCode', { response: { statusCode: '503' } }],
    ['$metadata.httpStatusCode', { $metadata: { httpStatusCode: 503 } }],
  ]) {
    it(`reads the HTTP status from ${shape}`, () => {
      const err = errorWith('unavailable', props);
      assert.equal(failureFromError(err).httpStatus, 503);
      assert.equal(policy.classifyError(err).rule, 'builtin.http-transient');
    });
  }

  it('ignores a status that is not an HTTP status instead of throwing', () => {
    const err = errorWith('odd', { status: 70000, statusCode: 'teapot', response: { status: 42 } });
    assert.equal(failureFromError(err).httpStatus, undefined);
    assert.equal(policy.classifyError(err).class, 'unknown');
  });

  it('maps a grpc-js numeric code to its name', () => {
    const err = errorWith('14 UNAVAILABLE: No connection established', {
      code: 14,
      details: 'No connection established',
      metadata: {},
    });
    const failure = failureFromError(err);
    assert.equal(failure.grpcCode, 'UNAVAILABLE');
    assert.equal(failure.errorCode, undefined);
    assert.deepEqual(policy.classifyError(err), {
      class: 'transient',
      rule: 'builtin.grpc-transient',
      reason: 'gRPC status UNAVAILABLE matched rule `builtin.grpc-transient`',
    });
  });

  it('uses gRPC names the engine agrees with, for every code', () => {
    const probe = loadPolicy(`
[classify]
builtin_rules = false
[[classify.rules]]
id = "any"
class = "unknown"
grpc_code = [${GRPC_CODE_NAMES.map((_, n) => n).join(', ')}]
`);
    GRPC_CODE_NAMES.forEach((name, code) => {
      const err = errorWith('x', { code, details: 'x', metadata: {} });
      assert.match(probe.classifyError(err).reason, new RegExp(`^gRPC status ${name} matched`));
    });
    probe.close();
  });

  it('does not take a numeric code without gRPC details for a gRPC code', () => {
    assert.equal(failureFromError(errorWith('x', { code: 14 })).grpcCode, undefined);
  });
});

describe('child processes', () => {
  it('reads exit code and signal from execFile errors, not an HTTP status', async () => {
    const err = await promisify(execFile)(process.execPath, ['-e', 'process.exit(137)']).catch((e) => e);
    const failure = failureFromError(err);
    assert.equal(failure.exitCode, 137);
    assert.equal(failure.httpStatus, undefined);
  });

  it('reads the exit code from execSync errors (`status`)', () => {
    let err;
    try {
      execSync(`"${process.execPath}" -e "process.exit(143)"`, { stdio: 'ignore' });
    } catch (e) {
      err = e;
    }
    const failure = failureFromError(err);
    assert.equal(failure.exitCode, 143);
    assert.equal(failure.httpStatus, undefined);
  });

  it('reads the signal of a killed process', async () => {
    const err = await promisify(execFile)(process.execPath, ['-e', 'process.kill(process.pid, "SIGKILL")']).catch((e) => e);
    assert.equal(failureFromError(err).signal, 'SIGKILL');
    assert.equal(typeof policy.classifyError(err).class, 'string');
  });

  it('reads execa-style exitCode', () => {
    assert.equal(failureFromError(errorWith('failed', { exitCode: 2, command: 'train' })).exitCode, 2);
  });

  it('drops a signal the engine does not know instead of throwing', () => {
    const err = errorWith('died', { signal: 'SIGNOTREAL', cmd: 'x' });
    assert.equal(failureFromError(err).signal, 'SIGNOTREAL');
    assert.equal(policy.classifyError(err).class, 'unknown');
  });
});

describe('messages and odd values', () => {
  it('joins the messages along the chain for message rules', () => {
    const p = loadPolicy(`
[[classify.rules]]
id = "oom"
class = "permanent"
message = "CUDA out of memory"
`);
    const err = new Error('training step failed', { cause: new Error('RuntimeError: CUDA out of memory') });
    assert.equal(failureFromError(err).message, 'training step failed\nRuntimeError: CUDA out of memory');
    assert.equal(p.classifyError(err).rule, 'oom');
    p.close();
  });

  it('keeps a string cause as text', () => {
    assert.equal(failureFromError(new Error('outer', { cause: 'socket hang up' })).message, 'outer\nsocket hang up');
  });

  for (const [what, value] of [
    ['a string', 'boom'],
    ['a number', 42],
    ['undefined', undefined],
    ['null', null],
    ['a plain object', { code: 'ECONNRESET' }],
    ['an object without a prototype', Object.create(null)],
  ]) {
    it(`classifies a thrown ${what}`, () => {
      const verdict = policy.classifyError(value);
      assert.ok(['transient', 'permanent', 'unknown'].includes(verdict.class));
    });
  }

  it('classifies a thrown plain object by its code', () => {
    assert.equal(policy.classifyError({ code: 'ECONNRESET' }).rule, 'builtin.network-errno');
    assert.equal(failureFromError('boom').message, 'boom');
  });

  it('is not broken by throwing getters or proxies', () => {
    const hostile = new Proxy(new Error('x'), {
      get() {
        throw new Error('no access');
      },
      getPrototypeOf() {
        throw new Error('no prototype');
      },
    });
    const err = new Error('outer', { cause: hostile });
    Object.defineProperty(err, 'code', {
      get() {
        throw new Error('getter');
      },
    });
    assert.equal(policy.classifyError(err).class, 'unknown');
  });
});

describe('errors from real Node APIs', () => {
  it('a refused fetch() is transient via its ECONNREFUSED cause', async () => {
    const server = createServer();
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address();
    await new Promise((resolve) => server.close(resolve)); // nothing listens there now
    const err = await fetch(`http://127.0.0.1:${port}/`).catch((e) => e);
    const failure = failureFromError(err);
    assert.deepEqual(failure.errorTypes.slice(0, 1), ['TypeError']);
    assert.equal(failure.errorCode, 'ECONNREFUSED');
    assert.match(failure.message, /^fetch failed\n.*ECONNREFUSED/);
    assert.equal(policy.classifyError(err).rule, 'builtin.network-errno');
  });

  it('a missing file (ENOENT) is unknown under the built-in rules', async () => {
    const err = await readFile('/nonexistent/backstop/policy.toml').catch((e) => e);
    assert.equal(failureFromError(err).errorCode, 'ENOENT');
    assert.deepEqual(policy.classifyError(err), { class: 'unknown', rule: null, reason: 'no rule matched this failure' });
  });
});
