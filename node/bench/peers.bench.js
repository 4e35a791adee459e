// Backstop's retry() next to p-retry and cockatiel on the same work, side by
// side in one run: `node bench/peers.bench.js` (tests/bench.sh, peer section).
// Not a test (no timing assertions). Prints the median ns per call of each case
// over ROUNDS interleaved rounds, then Backstop's ratio to p-retry next to the
// goal of issue #14.
//
// What each side runs: fn returns at once ("success"), or throws an HTTP 503
// twice and then returns ("two failures"); one failed attempt costs
// (two failures - success) / 2. Sleeping is replaced on both sides: Backstop
// gets a clock whose sleep resolves at once, p-retry `minTimeout: 0` (it then
// skips its timer). Cockatiel always waits on a real setTimeout between
// attempts (1 ms at least), so it has a success case only. The policy is
// tests/bench/peer-policy.toml (5 attempts, breaker, budget, no attempt
// timeout), the same file the Go peer bench loads.
//
// BACKSTOP_BASELINE=/path/to/another/checkout/node adds that checkout's
// retry() as "baseline" cases in the same rounds: a before/after in one run.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

import pRetry from 'p-retry';
import { ExponentialBackoff, handleAll, retry as cockatielRetry } from 'cockatiel';

import * as backstop from '../src/index.js';

const policySource = readFileSync(new URL('../../tests/bench/peer-policy.toml', import.meta.url), 'utf8');
const clock = { now: () => Date.now(), sleep: () => Promise.resolve() };
// Made once, so building an Error (and its stack) is not counted on either side.
const unavailable = Object.assign(new Error('HTTP 503 Service Unavailable'), { status: 503 });

const succeed = () => 42;
let calls = 0;
const failTwice = () => {
  calls += 1;
  if (calls % 3 !== 0) throw unavailable;
  return calls;
};

const pRetryOptions = { retries: 4, minTimeout: 0, factor: 2, randomize: true };
const cockatiel = cockatielRetry(handleAll, { maxAttempts: 4, backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 5000 }) });

function backstopCases(label, { loadPolicy, MemoryStore, retry }) {
  const policy = loadPolicy(policySource);
  return {
    // The policy's own shared state: breaker closed, budget full.
    [`${label} success`]: () => retry(succeed, { policy, clock }),
    // A fresh breaker and budget per call, the baseline of the two-failures case
    // (two failures per call would drain a shared budget within a few calls).
    [`${label} success, fresh state`]: () => retry(succeed, { policy, clock, sharedState: new MemoryStore() }),
    [`${label} two failures`]: () => retry(failTwice, { policy, clock, sharedState: new MemoryStore() }),
  };
}

const baseline = process.env.BACKSTOP_BASELINE;
const cases = {
  ...backstopCases('backstop', backstop),
  ...(baseline ? backstopCases('baseline', await import(pathToFileURL(`${baseline}/src/index.js`).href)) : {}),
  'p-retry success': () => pRetry(succeed, pRetryOptions),
  'p-retry two failures': () => pRetry(failTwice, pRetryOptions),
  'cockatiel success': () => cockatiel.execute(succeed),
};

const rounds = Number(process.env.ROUNDS ?? 7);
const iterations = Number(process.env.BENCH_ITERATIONS ?? 5_000);
const samples = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
let sink;

for (const run of Object.values(cases)) for (let i = 0; i < 3_000; i++) sink = await run(); // warm up the JIT
for (let r = 0; r < rounds; r++) {
  for (const [name, run] of Object.entries(cases)) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) sink = await run();
    samples[name].push(Number(process.hrtime.bigint() - start) / iterations);
  }
}
if (sink === undefined) throw new Error('unreachable');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const m = Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, median(xs)]));

console.log(`node ${process.version}, ${rounds} interleaved rounds x ${iterations} calls, medians (ns per call):`);
for (const [name, ns] of Object.entries(m)) console.log(`  ${name.padEnd(32)} ${ns.toFixed(0).padStart(8)} ns`);

const ours = { success: m['backstop success'], failed: (m['backstop two failures'] - m['backstop success, fresh state']) / 2 };
const peer = { success: m['p-retry success'], failed: (m['p-retry two failures'] - m['p-retry success']) / 2 };
const row = (what, a, b, goal, extra = '') => {
  if (!(a > 0 && b > 0)) {
    // A difference of two medians can come out negative when the noise exceeds it.
    console.log(`${what.padEnd(24)} ${a.toFixed(0).padStart(7)} ns ${b.toFixed(0).padStart(7)} ns  no ratio: the noise exceeds the difference; use more ROUNDS`);
    return;
  }
  const ratio = a / b;
  console.log(
    `${what.padEnd(24)} ${a.toFixed(0).padStart(7)} ns ${b.toFixed(0).padStart(7)} ns ${`${ratio.toFixed(2)}x`.padStart(8)} ${`<= ${goal}x`.padStart(7)}  ${ratio <= goal ? 'met' : 'MISSED'}${extra}`,
  );
};
if (baseline) {
  const before = { success: m['baseline success'], failed: (m['baseline two failures'] - m['baseline success, fresh state']) / 2 };
  console.log(`\nbaseline (${baseline}): success ${before.success.toFixed(0)} ns = ${(before.success / peer.success).toFixed(2)}x p-retry; per failed attempt ${before.failed.toFixed(0)} ns = ${(before.failed / peer.failed).toFixed(2)}x`);
}
console.log(`\n${'Node retry() vs p-retry'.padEnd(24)} ${'backstop'.padStart(10)} ${'p-retry'.padStart(10)} ${'ratio'.padStart(8)} ${'goal'.padStart(7)}`);
row('success path, per call', ours.success, peer.success, 1, `  (cockatiel ${m['cockatiel success'].toFixed(0)} ns: ${(ours.success / m['cockatiel success']).toFixed(1)}x)`);
row('per failed attempt', ours.failed, peer.failed, 2);
