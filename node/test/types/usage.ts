// Compiled by `tsc -p test/types` in `npm test`: the hand-written index.d.ts must
// accept real usage and reject misuse (each @ts-expect-error must be an error).
import {
  defaultPolicy,
  failureFromError,
  failureReport,
  FAILURE_FILE_ENV,
  installUncaughtHandler,
  GuestTrapError,
  loadPolicy,
  loadPolicyFile,
  loadPolicyFileSync,
  Policy,
  PolicyError,
  PolicyLoadError,
  reportFailure,
  type AlertEvaluation,
  type AlertEvent,
  type AlertNotification,
  type Classification,
  type ErrorCode,
  type Failure,
  type FailureClass,
} from '@backstop/policy';

const policy: Policy = loadPolicy('version = 1', { format: 'toml' });
const verdict: Classification = policy.classify({ httpStatus: 503, grpcCode: 14, signal: 'SIGKILL', errorTypes: ['TypeError'] });
const cls: FailureClass = verdict.class;
const rule: string | null = verdict.rule;
const reason: string = verdict.reason;
policy.classifyError(new Error('x'));
policy.classifyError('thrown string');
policy.close();
policy[Symbol.dispose]();
const closed: boolean = policy.closed;
defaultPolicy().classify({});
loadPolicy(new Uint8Array(), { format: 'json' });
loadPolicyFileSync(new URL('file:///p.json'));
const pending: Promise<Policy> = loadPolicyFile('nightly.toml');
const failure: Failure = failureFromError(new Error('x'));
const types: string[] = failureFromError(null).errorTypes;

try {
  loadPolicy('');
} catch (err) {
  if (err instanceof PolicyLoadError) {
    for (const e of err.errors) {
      const code: ErrorCode = e.code;
      const line: number | null = e.line;
      const where: string = `${e.path} ${e.column ?? ''} ${e.describe()}`;
      const json: { code: ErrorCode; line: number | null } = e.toJSON();
      void [code, line, where, json];
    }
  } else if (err instanceof PolicyError || err instanceof GuestTrapError) {
    const message: string = err.message;
    void message;
  }
}

// @ts-expect-error snake_case is the JSON form, not the JS one
policy.classify({ http_status: 503 });
// @ts-expect-error statuses are numbers
policy.classify({ httpStatus: '503' });
// @ts-expect-error YAML is not a policy format
loadPolicy('', { format: 'yaml' });
// @ts-expect-error a rule is string | null, never undefined
const undefinedRule: string | undefined = verdict.rule;
// @ts-expect-error the class is an enum of three strings
const badClass: 'retry' = verdict.class;
// @ts-expect-error Policy is created by loadPolicy, not `new`
new Policy();

void [cls, rule, reason, closed, pending, failure, types, undefinedRule, badClass];

// ---- retry planner and retry() ----
import {
  AttemptTimeoutError,
  deriveSeed,
  MemoryStore,
  retry,
  RetryError,
  systemClock,
  type Decision,
  type GiveUpReason,
  type Permit,
  type PlannedFailure,
  type RetryState,
  type Schedule,
  type SharedState,
  type SharedStateStore,
} from '@backstop/policy';

const seed: bigint = deriveSeed('run-1/train');
const permit: Permit = policy.beginAttempt({ state: { seed }, now: new Date() });
const decision: Decision = policy.afterFailure({
  state: permit.state,
  shared: permit.shared,
  outcome: { failure: { httpStatus: 503 }, durationMs: 12, pushbackMs: null },
  now: 1_000,
});
const give: GiveUpReason | null = decision.giveUp;
const planned: readonly PlannedFailure[] = policy.planFailures({
  state: permit.state,
  shared: permit.shared,
  outcome: { failure: { httpStatus: 503 } },
  now: 1_000,
  maxEntries: 16,
});
const nextPermit: Permit | null = planned[0].nextPermit;
const plannedDecision: Decision = planned[0].decision;
const persisted: string = JSON.stringify(decision.state);
const restored: RetryState = JSON.parse(persisted);
policy.beginAttempt({ state: restored, shared: {} });
const next: SharedState = policy.afterSuccess(decision.shared);
const plan: Schedule = policy.schedule({ seed: '18446744073709551615', maxEntries: 10 });
const firstDelay: number = plan.attempts[0].delayMs;
const seedText: string = decision.state.seed;
const mapStore: SharedStateStore = new Map<string, SharedState>();
const store = new MemoryStore();

async function useRetry(signal: AbortSignal) {
  const text: string = await retry(
    async ({ attempt, signal: attemptSignal }) => {
      const response = await fetch(`https://example.com/${attempt}`, { signal: attemptSignal });
      return response.text();
    },
    {
      policy,
      signal,
      idempotencyKey: 'run-1/download',
      sharedState: store,
      dependency: 'storage',
      onRetry: ({ error, decision: d }) => console.log(error, d.delayMs),
      clock: systemClock,
    },
  );
  try {
    await retry(() => 1, { seed: 5n });
  } catch (err) {
    if (err instanceof RetryError) {
      const why: GiveUpReason = err.reason;
      const ran: number = err.attempts;
      const last: Decision | null = err.decision;
      void [why, ran, last];
    }
    if (err instanceof AttemptTimeoutError) {
      const ms: number = err.timeoutMs;
      void ms;
    }
  }
  return text;
}

// @ts-expect-error decisions are frozen
decision.delayMs = 0;
// @ts-expect-error the outcome is required
policy.afterFailure({ state: {} });
// @ts-expect-error seeds in state are decimal strings, not BigInt
const bigSeed: bigint = decision.state.seed;
// @ts-expect-error retry options are not p-retry's
retry(() => 1, { retries: 3 });
// @ts-expect-error a circuit is one of three states
policy.beginAttempt({ shared: { breaker: { circuit: 'ajar' } } });

// @ts-expect-error the outcome is required
policy.planFailures({ state: {} });

void [planned, nextPermit, plannedDecision, seed, give, next, plan, firstDelay, seedText, mapStore, useRetry, bigSeed];

// Escalation evaluator.
const event: AlertEvent = {
  kind: 'run-failed',
  pipeline: 'nightly',
  step: 'train',
  runId: 'r1',
  failure: { httpStatus: 503 },
  labels: { team: 'ml' },
  logLines: ['oops'],
};
const evaluation: AlertEvaluation = policy.evaluateAlerts({ event, now: new Date() });
const again: AlertEvaluation = policy.evaluateAlerts({ state: evaluation.state, event: { kind: 'tick' }, now: 5 });
const first: AlertNotification | undefined = again.notifications[0];
const wake: number | null = again.nextWakeupMs;
const runbook = first?.payload['runbook'];
const reasons: string[] = again.suppressed.map((s) => s.reason);
void [first, wake, runbook, reasons];
// @ts-expect-error the event is required
policy.evaluateAlerts({});
// @ts-expect-error an unknown event kind
policy.evaluateAlerts({ event: { kind: 'page' } });
// @ts-expect-error labels are strings
policy.evaluateAlerts({ event: { kind: 'tick', labels: { gpus: 8 } } });
// @ts-expect-error the state is the opaque string, not a parsed object
policy.evaluateAlerts({ state: {}, event: { kind: 'tick' } });
// @ts-expect-error evaluations are frozen
evaluation.state = '';

// The failure report for `backstop run`.
const wrote: boolean = reportFailure(new Error('x'), { path: '/tmp/report.json' });
const envName: 'BACKSTOP_FAILURE_FILE' = FAILURE_FILE_ENV;
const reported: string[] | undefined = failureReport(new Error('x')).error_types;
const uninstall: () => void = installUncaughtHandler();
uninstall();
void [wrote, envName, reported];
// @ts-expect-error the path is a string
reportFailure(new Error('x'), { path: 3 });

// @backstop/policy/postgres: a PostgresStore is a retry() store.
import { PostgresStore, StateStoreError, decodeSharedState, encodeSharedState } from '@backstop/policy/postgres';
{
  const pgStore = new PostgresStore({ connectionString: 'postgresql://localhost/db', lockTimeoutMs: 2000 });
  void retry(() => 1, { sharedState: pgStore, dependency: 'feature-store' });
  const text: string = encodeSharedState({ budget: { spentMilli: 1 } });
  const back: number = decodeSharedState(text).budget.spentMilli;
  void back;
  void ((e: StateStoreError) => e.code === 'unavailable');
  // @ts-expect-error the dependency name is a string
  void pgStore.update(1, (s) => [s ?? {}, 0]);
}

// retry({ recorder }): a PostgresRecorder, or any object with record(run).
import { PostgresRecorder } from '@backstop/policy/postgres';
import type { RecordedRun } from '@backstop/policy';
{
  const recorder = new PostgresRecorder({ connectionString: 'postgresql://localhost/db', pipeline: 'nightly' });
  void retry(() => 1, { recorder, runId: 'run-42', step: 'extract' });
  const mine = { record: (run: RecordedRun) => run.attempts.map((a) => a.decision) };
  void retry(() => 1, { recorder: mine });
  // @ts-expect-error a recorder needs record()
  void retry(() => 1, { recorder: {} });
}

// retry({ recorder }) into the CLI's SQLite state file.
import { SqliteRecorder } from '@backstop/policy/sqlite';
{
  const recorder = new SqliteRecorder({ path: '/var/lib/backstop/state.db', pipeline: 'nightly', busyTimeoutMs: 1000 });
  void retry(() => 1, { recorder, runId: 'run-42', step: 'extract' });
  recorder.close();
  // @ts-expect-error the state file is required
  void new SqliteRecorder({ pipeline: 'nightly' });
}
