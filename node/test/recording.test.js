// retry({ recorder }) into the CLI's PostgreSQL tables (PostgresRecorder) and
// its SQLite state file (SqliteRecorder), read back by the real `backstop
// stats` (BACKSTOP_BIN, which tests/run-node.sh sets; those checks are skipped
// without it). PostgreSQL: BACKSTOP_TEST_PG_URL, or a throwaway cluster
// (tests/postgres/cluster.sh).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import Database from 'better-sqlite3';
import pg from 'pg';

import { loadPolicy, retry, RetryError } from '../src/index.js';
import { PostgresRecorder, PostgresStore } from '../src/postgres.js';
import { SqliteRecorder } from '../src/sqlite.js';

const repo = new URL('../../', import.meta.url);
const cluster = new URL('tests/postgres/cluster.sh', repo).pathname;
const policy = loadPolicy('[retry]\njitter = "none"\nbase_delay = "2s"\nmax_attempts = 3\n');
const T0 = 1_765_000_000_000; // 2025-12-06T05:46:40Z, a Saturday
const bin = process.env.BACKSTOP_BIN;

let baseUrl = process.env.BACKSTOP_TEST_PG_URL;
let clusterDir;
const ends = [];

before(() => {
  if (baseUrl) return;
  const out = execFileSync('bash', [cluster, 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const env = Object.fromEntries(out.split('\n').filter((l) => l.startsWith('export ')).map((l) => l.slice(7).split(/=(.*)/s).slice(0, 2)));
  baseUrl = env.BACKSTOP_TEST_PG_URL;
  clusterDir = env.BACKSTOP_TEST_PG_DIR;
});

after(async () => {
  await Promise.all(ends.map((e) => e.end()));
  if (clusterDir) execFileSync('bash', [cluster, 'stop', clusterDir]);
});

let dbCounter = 0;
async function freshDb() {
  const name = `node_rec_${process.pid}_${++dbCounter}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return baseUrl.replace(/\/[^/]*$/, `/${name}`);
}

async function sql(url, text, params) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows;
  } finally {
    await client.end();
  }
}

/** A clock that moves only when slept on or when an attempt works. */
function fakeClock() {
  const clock = {
    t: T0,
    now: () => clock.t,
    sleep: (ms) => {
      clock.t += ms;
      return Promise.resolve();
    },
  };
  return clock;
}

const httpError = (status) => Object.assign(new Error(`HTTP ${status}`), { status });

/** A recovery after two transient failures, a permanent give-up, a success at once. */
async function threeCalls(recorder) {
  const clock = fakeClock();
  const fails = [httpError(503), httpError(503)];
  const common = { policy, clock, recorder, step: 'extract' };
  const first = await retry(() => {
    clock.t += 500;
    if (fails.length > 0) throw fails.shift();
    return 'ok';
  }, { ...common, runId: 'run-1' });
  await assert.rejects(
    retry(() => {
      clock.t += 250;
      throw httpError(400);
    }, { ...common, runId: 'run-2' }),
    (e) => e instanceof RetryError && e.reason === 'permanent',
  );
  const third = await retry(() => 'fine', { ...common, runId: 'run-3' });
  return [first, third];
}

function stats(state, ...args) {
  return JSON.parse(execFileSync(bin, ['stats', '--json', '--state', state, ...args], { encoding: 'utf8' }));
}

describe('retry({ recorder }) into PostgreSQL', () => {
  it('writes the rows the CLI writes, and backstop stats counts them', async (t) => {
    const url = await freshDb();
    const store = new PostgresStore({ connectionString: url });
    ends.push(store);
    assert.deepEqual(await threeCalls(new PostgresRecorder({ store, pipeline: 'nightly' })), ['ok', 'fine']);

    const attempts = await sql(url, `SELECT attempt::int, (started_at_ms - $1)::int AS started, (ended_at_ms - $1)::int AS ended,
        delay_before_ms::int AS before, delay_after_ms::int AS after, class, rule, decision, timed_out::int
      FROM backstop.attempts WHERE run_id = 'run-1' ORDER BY attempt`, [T0]);
    assert.deepEqual(attempts, [
      { attempt: 1, started: 0, ended: 500, before: 0, after: 2000, class: 'transient', rule: 'builtin.http-transient', decision: 'retry', timed_out: 0 },
      { attempt: 2, started: 2500, ended: 3000, before: 2000, after: 4000, class: 'transient', rule: 'builtin.http-transient', decision: 'retry', timed_out: 0 },
      { attempt: 3, started: 7000, ended: 7500, before: 4000, after: null, class: null, rule: null, decision: 'succeeded', timed_out: 0 },
    ]);
    const runs = await sql(url, `SELECT run_id, round::int, status, outcome, exit_status, lease_owner, retry_state,
        (created_at_ms - $1)::int AS created, (finished_at_ms - $1)::int AS finished FROM backstop.runs ORDER BY run_id`, [T0]);
    assert.deepEqual(runs.map((r) => [r.run_id, r.round, r.status, r.outcome, r.exit_status, r.lease_owner]), [
      ['run-1', 1, 'succeeded', 'succeeded', null, null],
      ['run-2', 1, 'failed', 'permanent', null, null],
      ['run-3', 1, 'succeeded', 'succeeded', null, null],
    ]);
    assert.equal(runs[0].created, 0);
    assert.equal(runs[0].finished, 7500);
    assert.equal(JSON.parse(runs[0].retry_state).attempts, 3);
    assert.deepEqual(await sql(url, "SELECT decision, give_up_reason, class, rule FROM backstop.attempts WHERE run_id = 'run-2'"), [
      { decision: 'give-up', give_up_reason: 'permanent', class: 'permanent', rule: 'builtin.http-permanent' },
    ]);
    assert.equal((await sql(url, "SELECT count(*)::int AS n FROM backstop.run_pipelines WHERE pipeline = 'nightly'"))[0].n, 3);

    if (bin === undefined) {
      t.skip('set BACKSTOP_BIN to the backstop CLI (tests/run-node.sh does)');
      return;
    }
    const [step] = stats(url).steps;
    assert.equal(step.step, 'extract');
    assert.deepEqual([step.runs, step.succeeded, step.failed, step.running, step.attempts, step.retries], [3, 2, 1, 0, 5, 2]);
    assert.ok(Math.abs(step.success_ratio - 2 / 3) < 1e-9);
    assert.equal(step.max_time_to_recovery_ms, 7000);
    const [group] = stats(url, '--since', '2025-12-01', '--until', '2025-12-08', '--pipeline', 'nightly').groups;
    assert.deepEqual([group.pipeline, group.step, group.total.runs, group.total.succeeded, group.total.gave_up, group.total.retries], ['nightly', 'extract', 3, 2, 1, 2]);
    assert.deepEqual(group.total.give_ups, { permanent: 1 });
  });

  it('records a run id given again as its next round, and an aborted call as running', async () => {
    const url = await freshDb();
    const recorder = new PostgresRecorder({ connectionString: url });
    ends.push(recorder);
    const clock = fakeClock();
    const options = { policy, clock, recorder, runId: 'nightly-7', dependency: 'load' };
    await assert.rejects(retry(() => Promise.reject(httpError(404)), options), RetryError);
    assert.equal(await retry(() => 'ok', options), 'ok');
    assert.deepEqual(await sql(url, 'SELECT step, round::int, status FROM backstop.runs'), [{ step: 'load', round: 2, status: 'succeeded' }]);

    const controller = new AbortController();
    await assert.rejects(
      retry(() => {
        controller.abort(new Error('stop'));
        throw httpError(503);
      }, { policy, clock, recorder, runId: 'aborted', signal: controller.signal }),
      /stop/,
    );
    assert.deepEqual(await sql(url, "SELECT r.status, a.decision FROM backstop.runs r JOIN backstop.attempts a USING (run_id, step) WHERE run_id = 'aborted'"), [
      { status: 'running', decision: 'interrupted' },
    ]);
  });

  it('never changes the result when recording fails: it warns', async () => {
    const warnings = [];
    const onWarning = (w) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const recorder = new PostgresRecorder({ connectionString: 'postgresql://nobody:secret-pw@127.0.0.1:1/none', connectionTimeoutMillis: 1000 });
      ends.push(recorder);
      const clock = fakeClock();
      let n = 0;
      assert.equal(await retry(() => {
        if (n++ === 0) throw httpError(503);
        return 'ok';
      }, { policy, clock, recorder }), 'ok');
      const broken = { record: () => { throw new Error('disk full'); } };
      await assert.rejects(retry(() => Promise.reject(httpError(400)), { policy, clock, recorder: broken }), (e) => e instanceof RetryError && e.reason === 'permanent');
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    const ours = warnings.filter((w) => w.name === 'BackstopRecordWarning');
    assert.equal(ours.length, 2, warnings.map(String).join('\n'));
    assert.match(ours[0].message, /was not recorded: .*unavailable/);
    assert.doesNotMatch(ours[0].message, /secret-pw/);
    assert.match(ours[1].message, /disk full/);
  });

  it('records nothing for a call that ends in a shared store error', async () => {
    const runs = [];
    const recorder = { record: (run) => runs.push(run) };
    const states = new Map();
    let sets = 0;
    // Grants the attempt, then fails to save its success.
    const sharedState = {
      get: (key) => states.get(key),
      set: (key, s) => {
        if (++sets === 2) throw new Error('shared state unavailable');
        states.set(key, s);
      },
    };
    await assert.rejects(retry(() => 'ok', { policy, clock: fakeClock(), recorder, sharedState }), /shared state unavailable/);
    assert.deepEqual(runs, []);
    assert.equal(await retry(() => 'ok', { policy, clock: fakeClock(), recorder, sharedState }), 'ok');
    assert.deepEqual(runs.map((r) => [r.status, r.attempts.length]), [['succeeded', 1]]);
  });

  it('refuses a recorder without record()', async () => {
    await assert.rejects(retry(() => 1, { recorder: {} }), /recorder/);
  });
});

/** Collects the process warnings retry() emits for lost runs while `fn` runs. */
async function recordWarnings(fn) {
  const warnings = [];
  const onWarning = (w) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    await fn();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  return warnings.filter((w) => w.name === 'BackstopRecordWarning').map((w) => w.message);
}

const tempDir = () => mkdtempSync(join(tmpdir(), 'backstop-node-rec-'));

describe('retry({ recorder }) into a SQLite state file', () => {
  it('ships the CLI schema byte for byte', () => {
    assert.equal(readFileSync(new URL('../src/sqlite-schema-v6.sql', import.meta.url), 'utf8'), readFileSync(new URL('tests/sqlite/schema-v6.sql', repo), 'utf8'));
  });

  it('writes the rows the CLI writes, and backstop stats counts them', async (t) => {
    const state = join(tempDir(), 'state', 'backstop.db');
    const recorder = new SqliteRecorder({ path: state, pipeline: 'nightly' });
    assert.deepEqual(await threeCalls(recorder), ['ok', 'fine']);
    recorder.close();

    const db = new Database(state, { readonly: true });
    try {
      assert.equal(db.pragma('user_version', { simple: true }), 6);
      const types = db.prepare("SELECT DISTINCT typeof(started_at_ms) || typeof(delay_before_ms) || typeof(round) || typeof(timed_out) AS t FROM attempts").all();
      assert.deepEqual(types, [{ t: 'integerintegerintegerinteger' }]);
      assert.deepEqual(db.prepare(`SELECT attempt, started_at_ms - ? AS started, ended_at_ms - ? AS ended, delay_before_ms AS before, delay_after_ms AS after,
          class, rule, decision, timed_out, pid FROM attempts WHERE run_id = 'run-1' ORDER BY attempt`).all(T0, T0), [
        { attempt: 1, started: 0, ended: 500, before: 0, after: 2000, class: 'transient', rule: 'builtin.http-transient', decision: 'retry', timed_out: 0, pid: null },
        { attempt: 2, started: 2500, ended: 3000, before: 2000, after: 4000, class: 'transient', rule: 'builtin.http-transient', decision: 'retry', timed_out: 0, pid: null },
        { attempt: 3, started: 7000, ended: 7500, before: 4000, after: null, class: null, rule: null, decision: 'succeeded', timed_out: 0, pid: null },
      ]);
      const runs = db.prepare('SELECT run_id, round, status, outcome, exit_status, lease_owner, retry_state, created_at_ms - ? AS created, finished_at_ms - ? AS finished FROM runs ORDER BY run_id').all(T0, T0);
      assert.deepEqual(runs.map((r) => [r.run_id, r.round, r.status, r.outcome, r.exit_status, r.lease_owner]), [
        ['run-1', 1, 'succeeded', 'succeeded', null, null],
        ['run-2', 1, 'failed', 'permanent', null, null],
        ['run-3', 1, 'succeeded', 'succeeded', null, null],
      ]);
      assert.deepEqual([runs[0].created, runs[0].finished, JSON.parse(runs[0].retry_state).attempts], [0, 7500, 3]);
      assert.deepEqual(db.prepare("SELECT decision, give_up_reason, class, rule FROM attempts WHERE run_id = 'run-2'").all(), [
        { decision: 'give-up', give_up_reason: 'permanent', class: 'permanent', rule: 'builtin.http-permanent' },
      ]);
      assert.equal(db.prepare("SELECT count(*) AS n FROM run_pipelines WHERE pipeline = 'nightly'").get().n, 3);
    } finally {
      db.close();
    }

    if (bin === undefined) {
      t.skip('set BACKSTOP_BIN to the backstop CLI (tests/run-node.sh does)');
      return;
    }
    const [step] = stats(state).steps;
    assert.equal(step.step, 'extract');
    assert.deepEqual([step.runs, step.succeeded, step.failed, step.running, step.attempts, step.retries], [3, 2, 1, 0, 5, 2]);
    assert.ok(Math.abs(step.success_ratio - 2 / 3) < 1e-9);
    assert.equal(step.max_time_to_recovery_ms, 7000);
    const [group] = stats(state, '--since', '2025-12-01', '--until', '2025-12-08', '--pipeline', 'nightly').groups;
    assert.deepEqual([group.pipeline, group.step, group.total.runs, group.total.succeeded, group.total.gave_up, group.total.retries], ['nightly', 'extract', 3, 2, 1, 2]);
    assert.deepEqual(group.total.give_ups, { permanent: 1 });
  });

  it('records a run id given again as its next round, and an aborted call as running', async () => {
    const state = join(tempDir(), 'backstop.db');
    const recorder = new SqliteRecorder({ path: state });
    const clock = fakeClock();
    const options = { policy, clock, recorder, runId: 'nightly-7', dependency: 'load' };
    await assert.rejects(retry(() => Promise.reject(httpError(404)), options), RetryError);
    assert.equal(await retry(() => 'ok', options), 'ok');
    const controller = new AbortController();
    await assert.rejects(
      retry(() => {
        controller.abort(new Error('stop'));
        throw httpError(503);
      }, { policy, clock, recorder, runId: 'aborted', signal: controller.signal }),
      /stop/,
    );
    recorder.close();
    const db = new Database(state, { readonly: true });
    try {
      assert.deepEqual(db.prepare('SELECT run_id, step, round, status FROM runs ORDER BY run_id').all(), [
        { run_id: 'aborted', step: 'default', round: 1, status: 'running' },
        { run_id: 'nightly-7', step: 'load', round: 2, status: 'succeeded' },
      ]);
      assert.deepEqual(db.prepare("SELECT decision FROM attempts WHERE run_id = 'aborted'").all(), [{ decision: 'interrupted' }]);
    } finally {
      db.close();
    }
  });

  it('never changes the result when the file is locked: it warns, and records once it is free', async () => {
    const state = join(tempDir(), 'backstop.db');
    const recorder = new SqliteRecorder({ path: state, busyTimeoutMs: 50 });
    assert.equal(await retry(() => 'ok', { policy, clock: fakeClock(), recorder, runId: 'before' }), 'ok');
    const other = new Database(state);
    other.exec('BEGIN IMMEDIATE'); // another writer holds the file
    const clock = fakeClock();
    const messages = await recordWarnings(async () => {
      let n = 0;
      assert.equal(await retry(() => {
        if (n++ === 0) throw httpError(503);
        return 'ok';
      }, { policy, clock, recorder, runId: 'while-locked' }), 'ok');
      await assert.rejects(retry(() => Promise.reject(httpError(400)), { policy, clock, recorder, runId: 'while-locked-2' }),
        (e) => e instanceof RetryError && e.reason === 'permanent' && e.attempts === 1);
    });
    assert.equal(messages.length, 2, messages.join('\n'));
    assert.match(messages[0], /the run "while-locked" of "default" was not recorded: .*locked/);
    other.exec('ROLLBACK');
    other.close();
    assert.equal(await retry(() => 'ok', { policy, clock, recorder, runId: 'after' }), 'ok');
    recorder.close();
    const db = new Database(state, { readonly: true });
    try {
      assert.deepEqual(db.prepare('SELECT run_id FROM runs ORDER BY run_id').all().map((r) => r.run_id), ['after', 'before']);
    } finally {
      db.close();
    }
  });

  it('refuses an empty, a foreign and a newer file, with a warning, leaving them untouched', async () => {
    const dir = tempDir();
    const empty = join(dir, 'empty.db');
    writeFileSync(empty, '');
    const foreign = join(dir, 'foreign.db');
    const newer = join(dir, 'newer.db');
    for (const [path, setup] of [[foreign, 'CREATE TABLE mine (x)'], [newer, 'CREATE TABLE runs (x); PRAGMA user_version = 7']]) {
      const db = new Database(path);
      db.exec(setup);
      db.close();
    }
    const messages = await recordWarnings(async () => {
      for (const path of [empty, foreign, newer]) {
        assert.equal(await retry(() => 'ok', { policy, clock: fakeClock(), recorder: new SqliteRecorder({ path }) }), 'ok');
      }
    });
    assert.equal(messages.length, 3, messages.join('\n'));
    assert.match(messages[0], /empty file/);
    assert.match(messages[1], /not a Backstop state database/);
    assert.match(messages[2], /version 7, newer than 6/);
    assert.equal(readFileSync(empty, 'utf8'), '');
  });

  it('checks its options', () => {
    assert.throws(() => new SqliteRecorder({}), /path/);
    assert.throws(() => new SqliteRecorder({ path: 'x.db', pipeline: ' ' }), /pipeline/);
    assert.throws(() => new SqliteRecorder({ path: 'x.db', file: 'y' }), /unknown SqliteRecorder option `file`/);
  });
});
