// @backstop/policy/postgres against a real PostgreSQL (tests/postgres/cluster.sh,
// started here unless BACKSTOP_TEST_PG_URL names one): the CLI's JSON byte for
// byte, the CLI's schema, atomic read-modify-write under concurrency, retry()
// on it, and the failures with no password in any message.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';

import pg from 'pg';

import { loadPolicy, retry, RetryError } from '../src/index.js';
import { PostgresStore, StateStoreError, checkKey, decodeSharedState, encodeSharedState } from '../src/postgres.js';

const repo = new URL('../../', import.meta.url);
const cluster = new URL('tests/postgres/cluster.sh', repo).pathname;
const { vectors } = JSON.parse(readFileSync(new URL('tests/postgres/shared-state.json', repo), 'utf8'));

let baseUrl = process.env.BACKSTOP_TEST_PG_URL;
let clusterDir;
const stores = [];

before(() => {
  if (baseUrl) return;
  const out = execFileSync('bash', [cluster, 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const env = Object.fromEntries(out.split('\n').filter((l) => l.startsWith('export ')).map((l) => l.slice(7).split(/=(.*)/s).slice(0, 2)));
  baseUrl = env.BACKSTOP_TEST_PG_URL;
  clusterDir = env.BACKSTOP_TEST_PG_DIR;
});

after(async () => {
  await Promise.all(stores.map((s) => s.end()));
  if (clusterDir) execFileSync('bash', [cluster, 'stop', clusterDir]);
});

let dbCounter = 0;
/** A new, empty database, as a new deployment's. */
async function freshDb() {
  const name = `node_${process.pid}_${++dbCounter}`;
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

function store(options) {
  const s = new PostgresStore(options);
  stores.push(s);
  return s;
}

/** The canonical snake_case form of a (camelCase) state. */
function canonical(shared) {
  return JSON.parse(encodeSharedState(shared));
}

describe('shared-state JSON (tests/postgres/shared-state.json)', () => {
  for (const v of vectors) {
    it(v.name, () => {
      if (v.reject) {
        assert.throws(() => decodeSharedState(v.json), (error) => !v.error_mentions || String(error.message).includes(v.error_mentions));
        return;
      }
      const state = decodeSharedState(v.json);
      assert.deepEqual(canonical(state), v.state);
      if (!v.decode_only) assert.equal(encodeSharedState(state), v.json);
    });
  }
});

describe('packaging', () => {
  it('ships the CLI DDL byte for byte', () => {
    assert.equal(readFileSync(new URL('../src/postgres-schema-v3.sql', import.meta.url), 'utf8'), readFileSync(new URL('tests/postgres/schema-v3.sql', repo), 'utf8'));
  });
  it('only the postgres entry point imports pg', () => {
    const src = new URL('../src/', import.meta.url);
    for (const file of readdirSync(src).filter((f) => f.endsWith('.js') && f !== 'postgres.js')) {
      const text = readFileSync(new URL(file, src), 'utf8');
      assert.doesNotMatch(text, /from 'pg'|import\('pg'\)|postgres\.js/, file);
    }
  });
  it('the dependency name follows the CLI step rule', () => {
    assert.throws(() => checkKey(''), /blank/);
    assert.throws(() => checkKey('  '), /blank/);
    assert.throws(() => checkKey('a\nb'), /U\+000A/);
    assert.throws(() => checkKey('é'.repeat(129)), /258 bytes/);
    assert.equal(checkKey('feature-store'), 'feature-store');
  });
});

describe('schema', () => {
  it('creates the CLI schema once, however many open a new database at once', async () => {
    const url = await freshDb();
    await Promise.all(Array.from({ length: 6 }, () => store({ connectionString: url, max: 1 }).get('s')));
    const tables = (await sql(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'backstop' ORDER BY 1")).map((r) => r.tablename);
    assert.deepEqual(tables, ['alert_log', 'alert_state', 'attempts', 'runs', 'schema_version', 'shared_state']);
    assert.deepEqual(await sql(url, 'SELECT version::int AS v FROM backstop.schema_version'), [{ v: 3 }]);
  });
  it('creates the schema under the CLI\'s advisory lock, the one every host takes', async () => {
    // host/src/store/postgres.rs MIGRATION_LOCK: "backstop" in ASCII.
    const url = await freshDb();
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(7089056601607532400)');
      let settled = false;
      const opening = store({ connectionString: url, max: 1 }).get('s').finally(() => { settled = true; });
      // Wait until the store is blocked on that lock (seen by the server), not for a time.
      for (;;) {
        const [{ n }] = (await holder.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")).rows;
        if (n > 0 || settled) break;
      }
      assert.equal(settled, false, 'the store created the schema without waiting for the CLI\'s lock');
      await holder.query('COMMIT');
      await opening;
    } finally {
      await holder.end();
    }
  });
  it('refuses a newer schema version', async () => {
    const url = await freshDb();
    await store({ connectionString: url }).get('s');
    await sql(url, 'UPDATE backstop.schema_version SET version = 4');
    await assert.rejects(store({ connectionString: url }).update('s', (s) => [s, 0]), (e) => e instanceof StateStoreError && e.code === 'schema' && /version 4, newer than version 3/.test(e.message));
  });
  it('refuses a foreign backstop schema', async () => {
    const url = await freshDb();
    await sql(url, 'CREATE SCHEMA backstop; CREATE TABLE backstop.things (id int)');
    await assert.rejects(store({ connectionString: url }).get('s'), (e) => e.code === 'schema' && /not Backstop's/.test(e.message));
  });
});

const bump = (seen) => (s) => {
  const spent = (s?.budget?.spentMilli ?? 0) + 1;
  seen?.push(spent);
  return [{ ...s, budget: { spentMilli: spent } }, spent];
};

describe('read-modify-write', () => {
  it('concurrent updates from separate pools lose nothing', async () => {
    const url = await freshDb();
    const workers = 8;
    const each = 25;
    const seen = [];
    await Promise.all(
      Array.from({ length: workers }, async () => {
        const s = store({ connectionString: url, max: 2 });
        for (let i = 0; i < each; i++) await s.update('hot', bump(seen));
      }),
    );
    assert.equal((await store({ connectionString: url }).get('hot')).budget.spentMilli, workers * each);
    // Every update saw a distinct predecessor: none read a stale state.
    assert.deepEqual(seen.sort((a, b) => a - b), Array.from({ length: workers * each }, (_, i) => i + 1));
  });
  it('writes the CLI JSON and reads what the CLI wrote', async () => {
    const url = await freshDb();
    const s = store({ connectionString: url });
    await s.set('train', { breaker: { circuit: 'open', consecutiveFailures: 5, recentOutcomes: '31', recentCount: 5, openedAtMs: 1767225600000 }, budget: { spentMilli: 4000 } });
    const vector = vectors.find((v) => v.name.startsWith('open since'));
    assert.deepEqual(await sql(url, "SELECT state FROM backstop.shared_state WHERE step = 'train'"), [{ state: vector.json }]);
    await sql(url, "UPDATE backstop.shared_state SET state = $1 WHERE step = 'train'", [vectors[0].json]);
    assert.deepEqual(canonical(await s.get('train')), vectors[0].state);
  });
  it('an exception from compute rolls back and propagates unchanged', async () => {
    const url = await freshDb();
    const s = store({ connectionString: url, max: 1 });
    await s.update('k', bump());
    const mine = new Error('mine');
    await assert.rejects(
      s.update('k', () => {
        throw mine;
      }),
      (e) => e === mine,
    );
    assert.equal((await s.get('k')).budget.spentMilli, 1);
    assert.equal(await s.update('k', bump()), 2);
  });
  it('a row locked past the lock timeout fails the update', async () => {
    const url = await freshDb();
    const s = store({ connectionString: url, lockTimeoutMs: 200 });
    await s.update('k', bump());
    const holder = new pg.Client({ connectionString: url }); // a stalled worker holding the row
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query("SELECT state FROM backstop.shared_state WHERE step = 'k' FOR UPDATE");
      await assert.rejects(s.update('k', bump()), (e) => e.code === 'locked' && /200 ms/.test(e.message));
    } finally {
      await holder.end();
    }
    assert.equal(await s.update('k', bump()), 2);
  });
  it('a stored state that is not valid is named', async () => {
    const url = await freshDb();
    const s = store({ connectionString: url });
    await s.update('k', bump());
    await sql(url, `UPDATE backstop.shared_state SET state = '{"breaker":{"circuit":"ajar"}}'`);
    await assert.rejects(s.update('k', bump()), (e) => e.code === 'invalid-state' && /"k"/.test(e.message) && /ajar/.test(e.message));
  });
});

const POLICY = '[retry]\nmax_attempts = 10\njitter = "none"\nbase_delay = "1ms"\n[retry.circuit_breaker]\nconsecutive_failures = 3\nopen_for = "60s"\n';

describe('retry() on PostgresStore', () => {
  it('the breaker trips for every store on the database', async () => {
    const url = await freshDb();
    const policy = loadPolicy(POLICY);
    let calls = 0;
    const failing = () => {
      calls++;
      throw Object.assign(new Error('503 from the feature store'), { status: 503 });
    };
    await assert.rejects(retry(failing, { policy, sharedState: store({ connectionString: url }), dependency: 'feature-store' }), (e) => e instanceof RetryError && e.reason === 'circuit-open');
    assert.equal(calls, 3);
    const [{ state }] = await sql(url, "SELECT state FROM backstop.shared_state WHERE step = 'feature-store'");
    assert.equal(JSON.parse(state).breaker.circuit, 'open');
    // Another worker (its own pool, as on another machine) is refused at once.
    await assert.rejects(
      retry(() => calls++, { policy: loadPolicy(POLICY), sharedState: store({ connectionString: url }), dependency: 'feature-store' }),
      (e) => e.reason === 'circuit-open' && e.attempts === 0,
    );
    assert.equal(calls, 3);
  });
});

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function assertNoSecret(error, secret) {
  for (let e = error; e; e = e.cause) {
    assert.doesNotMatch(`${e.message} ${e.stack} ${JSON.stringify(e)}`, new RegExp(secret));
    assert.equal(Object.values(e).some((v) => String(v).includes(secret)), false);
  }
}

describe('failures', () => {
  it('a dead database is a clear error without the password, and retry() runs nothing', async () => {
    const url = `postgresql://worker:hunter2-s3cret@127.0.0.1:${await freePort()}/pipelines`;
    const s = store({ connectionString: url, connectionTimeoutMillis: 2000 });
    let ran = false;
    const error = await retry(() => (ran = true), { policy: loadPolicy(POLICY), sharedState: s, dependency: 'd' }).catch((e) => e);
    assert.ok(error instanceof StateStoreError, String(error));
    assert.equal(error.code, 'unavailable');
    assert.match(error.message, /worker@127\.0\.0\.1:\d+\/pipelines.*unavailable/);
    assert.equal(ran, false);
    assertNoSecret(error, 'hunter2');
  });
  for (const connectionString of ['postgresql://worker:hunter2-s3cret@127.0.0.1:notaport/db', 'host=127.0.0.1 password=hunter2-s3cret port=notaport']) {
    it(`a malformed connection string does not leak its password: ${connectionString.slice(0, 13)}`, async () => {
      const error = await Promise.resolve()
        .then(() => store({ connectionString, connectionTimeoutMillis: 2000 }).get('k'))
        .catch((e) => e);
      assert.ok(error instanceof StateStoreError, String(error));
      assertNoSecret(error, 'hunter2');
    });
  }
  it('a dropped connection fails at most that update, and the store reconnects', async () => {
    const url = await freshDb();
    const s = store({ connectionString: url, max: 1 });
    await s.update('k', bump());
    await sql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'backstop-node' AND datname = current_database()");
    // pg's pool usually notices the idle client's end and connects afresh;
    // if the update raced it, it fails with the store's error, never replayed.
    const first = await s.update('k', bump()).catch((e) => e);
    if (first instanceof Error) {
      assert.ok(first instanceof StateStoreError, String(first));
      assert.equal(await s.update('k', bump()), 2);
    } else {
      assert.equal(first, 2);
    }
  });
});
