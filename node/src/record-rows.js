// What the recorders (`@backstop/policy/postgres`'s PostgresRecorder,
// `@backstop/policy/sqlite`'s SqliteRecorder) share: a recorded run's retry
// state in the CLI's stored form.
import { fromWitState, toWitState } from './planner.js';

/** A retry state exactly as the CLI stores it (serde_json's compact form). */
export function encodeRetryState(state) {
  const s = fromWitState(toWitState(state ?? {}));
  return JSON.stringify({ attempts: s.attempts, started_at_ms: s.startedAtMs, last_delay_ms: s.lastDelayMs, seed: s.seed });
}
