// Planner decisions through the Node host, many times: `node bench/planner.bench.js`.
// Not a test (no timing assertions); prints ns/op per case, best of 5 rounds.
// The "conversion only" case is the public API's own share of an afterFailure:
// argument checks, BigInt conversions and the frozen result, without the engine.
import { deriveSeed, loadPolicy, retry } from '../src/index.js';
import { fromWitDecision, toWitNow, toWitOutcome, toWitShared, toWitState } from '../src/planner.js';

const SOURCE = `
[retry]
max_attempts = 6
base_delay = "1s"
max_delay = "30s"
jitter = "decorrelated"
attempt_timeout = "60s"
deadline = "10m"

[retry.circuit_breaker]
consecutive_failures = 1000000

[retry.budget]
max_tokens = 1000
`;

const policy = loadPolicy(SOURCE);
const permit = policy.beginAttempt({ state: { seed: deriveSeed('run-42/train') }, now: 1_000 });
const { state, shared } = permit;
const outcome = { failure: { httpStatus: 503 }, durationMs: 250 };
const typeOutcome = { failure: { errorTypes: ['TypeError', 'Error'], errorCode: 'ECONNRESET', message: 'fetch failed' }, durationMs: 250, pushbackMs: 2000 };

// A WIT-shaped decision as jco returns it, for the conversion-only case.
const rawDecision = {
  giveUp: undefined,
  delayMs: 1234n,
  attempt: 1,
  nextTimeoutMs: 60_000n,
  classification: { class: 'transient', rule: 'builtin.http-transient', reason: 'HTTP status 503' },
  explanation: 'attempt 1 failed (transient); retry in 1.234s',
  state: toWitState(state),
  shared: toWitShared(shared),
};

const noSleep = { now: () => 0, sleep: async () => {} };
let calls = 0;
const failTwice = () => {
  calls += 1;
  if (calls % 3 !== 0) throw Object.assign(new Error('HTTP 503'), { status: 503 });
  return calls;
};
const noBreaker = loadPolicy('[retry]\nmax_attempts = 6\njitter = "full"\n');

const cases = [
  ['afterFailure {httpStatus: 503} -> retry', () => policy.afterFailure({ state, shared, outcome, now: 1_250 })],
  ['afterFailure {types, code, message, pushback} -> retry', () => policy.afterFailure({ state, shared, outcome: typeOutcome, now: 1_250 })],
  ['beginAttempt', () => policy.beginAttempt({ state, shared, now: 5_000 })],
  ['afterSuccess', () => policy.afterSuccess(shared)],
  ['schedule (6 attempts)', () => policy.schedule({ seed: 42n })],
  ['deriveSeed', () => deriveSeed('run-2024-06-01/train')],
  [
    'conversion only (afterFailure arguments and result, no engine call)',
    () => [toWitState(state), toWitShared(shared), toWitOutcome(outcome), toWitNow(1_250), fromWitDecision(rawDecision)],
  ],
];

const asyncCases = [
  ['retry(): 2 failures + 1 success, no-op sleep (per retry() call)', () => retry(failTwice, { policy: noBreaker, clock: noSleep, seed: 1n })],
];

const iterations = Number(process.env.BENCH_ITERATIONS ?? 100_000);
const rounds = 5;
let sink;

console.log(`node ${process.version}, ${iterations} iterations x ${rounds} rounds, best round reported`);
for (const [name, run] of cases) {
  for (let i = 0; i < 10_000; i++) sink = run(); // warm up: tier up the JIT and the guest's code
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) sink = run();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / iterations);
  }
  console.log(`${best.toFixed(0).padStart(7)} ns/op  ${(1e9 / best / 1e3).toFixed(0).padStart(5)}k/s  ${name}`);
}
for (const [name, run] of asyncCases) {
  const n = Math.max(1, iterations / 10);
  for (let i = 0; i < 2_000; i++) sink = await run();
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink = await run();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / n);
  }
  console.log(`${best.toFixed(0).padStart(7)} ns/op  ${(1e9 / best / 1e3).toFixed(0).padStart(5)}k/s  ${name}`);
}
if (sink === undefined) throw new Error('unreachable');
