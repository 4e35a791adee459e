// reportFailure / installUncaughtHandler: the failure report `backstop run` reads.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { FAILURE_FILE_ENV, failureFromError, failureReport, reportFailure } from '../src/index.js';

const index = fileURLToPath(new URL('../src/index.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'backstop-report-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function dir(name) {
  const path = join(scratch, name);
  return mkdtempSync(path);
}

function slowDown() {
  // The AWS SDK v3 shape: the service's code as `name`, the status in `$metadata`.
  const error = new Error('Please reduce your request rate.', {
    cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
  });
  error.name = 'SlowDown';
  error.$metadata = { httpStatusCode: 503 };
  return error;
}

describe('failureReport', () => {
  it('is failureFromError in canonical JSON form', () => {
    const error = slowDown();
    const report = failureReport(error);
    const failure = failureFromError(error);
    assert.deepEqual(report.error_types, failure.errorTypes);
    assert.equal(report.http_status, 503);
    assert.equal(report.error_code, 'SlowDown');
    assert.equal(report.message, failure.message);
    for (const key of Object.keys(report)) assert.match(key, /^[a-z_]+$/);
    assert.equal('grpc_code' in report, false);
    assert.equal('pushback_ms' in report, false);
  });

  it('carries server pushback', () => {
    const error = Object.assign(new Error('429'), { retryAfterMs: 1500 });
    assert.equal(failureReport(error, { nowMs: 0 }).pushback_ms, 1500);
  });

  it('keeps the end of a huge message', () => {
    const report = failureReport(new Error('x'.repeat(200_000) + 'the end'));
    assert.ok(report.message.endsWith('the end'));
    assert.ok(report.message.length <= 64 * 1024 + 1);
  });

  it('describes a thrown non-error', () => {
    assert.equal(failureReport('plain string').message, 'plain string');
  });
});

describe('reportFailure', () => {
  it('writes the file named by BACKSTOP_FAILURE_FILE, atomically', () => {
    const d = dir('env-');
    const path = join(d, 'failure.json');
    const saved = process.env[FAILURE_FILE_ENV];
    process.env[FAILURE_FILE_ENV] = path;
    try {
      assert.equal(reportFailure(slowDown()), true);
    } finally {
      if (saved === undefined) delete process.env[FAILURE_FILE_ENV];
      else process.env[FAILURE_FILE_ENV] = saved;
    }
    const report = JSON.parse(readFileSync(path, 'utf8'));
    assert.equal(report.error_code, 'SlowDown');
    assert.deepEqual(readdirSync(d), ['failure.json']);
  });

  it('writes nothing without a path', () => {
    const saved = process.env[FAILURE_FILE_ENV];
    delete process.env[FAILURE_FILE_ENV];
    try {
      assert.equal(reportFailure(new Error('x')), false);
    } finally {
      if (saved !== undefined) process.env[FAILURE_FILE_ENV] = saved;
    }
  });

  it('warns instead of throwing when the report cannot be written', () => {
    const path = join(scratch, 'no-such-dir', 'failure.json');
    const script = `import { reportFailure } from ${JSON.stringify(index)};
      process.stdout.write(String(reportFailure(new Error('x'), { path: ${JSON.stringify(path)} })));`;
    const done = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(done.status, 0);
    assert.equal(done.stdout, 'false');
    assert.match(done.stderr, /backstop: cannot write the failure report .*no-such-dir/);
  });
});

describe('installUncaughtHandler', () => {
  function crash(body, env) {
    const script = `import { installUncaughtHandler } from ${JSON.stringify(index)};
      installUncaughtHandler();
      installUncaughtHandler();
      ${body}`;
    return spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
    });
  }

  it('reports an uncaught exception and leaves Node to print it and exit', () => {
    const path = join(dir('uncaught-'), 'failure.json');
    const done = crash(
      `const e = new Error('CUDA out of memory. Tried to allocate 2.00 GiB'); e.code = 'ERR_OOM'; throw e;`,
      { [FAILURE_FILE_ENV]: path },
    );
    assert.equal(done.status, 1);
    assert.match(done.stderr, /CUDA out of memory/);
    const report = JSON.parse(readFileSync(path, 'utf8'));
    assert.deepEqual(report.error_types, ['Error']);
    assert.equal(report.error_code, 'ERR_OOM');
  });

  it('reports an unhandled rejection', () => {
    const path = join(dir('rejection-'), 'failure.json');
    const done = crash(`Promise.reject(new RangeError('bad shard index'));`, { [FAILURE_FILE_ENV]: path });
    assert.equal(done.status, 1);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')).error_types, ['RangeError']);
  });
});
