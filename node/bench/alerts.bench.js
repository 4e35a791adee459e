// Escalation evaluations through the Node host, many times: `node bench/alerts.bench.js`.
// Not a test (no timing assertions); prints ns/op per case, best of 5 rounds.
// Each case evaluates one event against the same input state (the host stores
// the returned state; re-evaluating from a fixed one keeps every round equal).
// The state grows with the alerts it tracks, and the guest parses and prints it
// on every call, so a case with a realistic history is included.
import { loadPolicy } from '../src/index.js';
import { fromWitEvaluation, toWitEvent } from '../src/alerts.js';

// The seed guide's Example 3 policy.
const policy = loadPolicy(
  `{"rules": [
    {"condition": "run.failure_count==1", "severity": "info", "notify": ["mlops-room"], "dedup_window": "30m"},
    {"condition": "run.consecutive_failures >= 3 or sla.late_minutes >= 60", "severity": "high", "notify": ["oncall"], "escalate_after": "15m"}
  ], "payload": ["pipeline", "step", "run_id", "error_type", "last_log_lines"]}`,
  { format: 'json' },
);

const NIGHT = Date.UTC(2024, 0, 1);
const DAY = 86_400_000;
const failure = { httpStatus: 503, errorTypes: ['TransientError'], message: '503 Service Unavailable' };
const failed = (runId, extra = {}) => ({ kind: 'run-failed', pipeline: 'nightly', step: 'train', runId, failure, attempt: 3, ...extra });

// Three failed nights: the next failure pages (a notification with a payload).
let paging = '';
for (let night = 0; night < 2; night++) paging = policy.evaluateAlerts({ state: paging, event: failed(`r${night}`), now: NIGHT + night * DAY }).state;

// Twenty pipelines with a firing page each: a busy state.
let busy = '';
for (let p = 0; p < 20; p++) {
  for (let night = 0; night < 3; night++) {
    busy = policy.evaluateAlerts({ state: busy, event: { ...failed(`r${night}`), pipeline: `pipeline-${p}` }, now: NIGHT + night * DAY }).state;
  }
}

const logLines = Array.from({ length: 20 }, (_, i) => `step ${i}: loading shard ${i} from https://storage.example/shard-${i}?token=abc${i}`);
const rawNothing = { notifications: [], suppressed: [], state: paging, nextWakeupMs: undefined };

const cases = [
  ['tick, empty state', () => policy.evaluateAlerts({ event: { kind: 'tick' }, now: NIGHT })],
  ['attempt-failed -> info trigger (fresh state)', () => policy.evaluateAlerts({ event: { ...failed('r1'), kind: 'attempt-failed' }, now: NIGHT })],
  ['run-failed, 3rd night -> page (trigger + payload)', () => policy.evaluateAlerts({ state: paging, event: failed('r2'), now: NIGHT + 2 * DAY })],
  ['run-failed, 3rd night, 20 log lines + labels', () => policy.evaluateAlerts({ state: paging, event: failed('r2', { logLines, labels: { team: 'ml', tier: 'gold' } }), now: NIGHT + 2 * DAY })],
  ['run-succeeded -> resolve', () => policy.evaluateAlerts({ state: paging, event: { kind: 'run-succeeded', pipeline: 'nightly', step: 'train', runId: 'r2' }, now: NIGHT + 2 * DAY })],
  [`tick, busy state (20 firing pages, ${busy.length} bytes)`, () => policy.evaluateAlerts({ state: busy, event: { kind: 'tick' }, now: NIGHT + 2 * DAY + 60_000 })],
  ['conversion only (event in, empty evaluation out, no engine call)', () => [toWitEvent(failed('r2', { logLines })), fromWitEvaluation(rawNothing)]],
];

const iterations = Number(process.env.BENCH_ITERATIONS ?? 20_000);
const rounds = 5;
let sink;

console.log(`node ${process.version}, ${iterations} iterations x ${rounds} rounds, best round reported`);
for (const [name, run] of cases) {
  for (let i = 0; i < Math.min(iterations, 5_000); i++) sink = run(); // warm up: tier up the JIT and the guest's code
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) sink = run();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / iterations);
  }
  console.log(`${best.toFixed(0).padStart(8)} ns/op  ${(1e9 / best / 1e3).toFixed(1).padStart(6)}k/s  ${name}`);
}
if (sink === undefined) throw new Error('unreachable');
