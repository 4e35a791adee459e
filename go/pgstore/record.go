package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	backstop "github.com/backstop-policy/backstop/go"
)

// runPipelinesSQL is the CLI's run_pipelines table, additive on PostgreSQL
// (no new schema version), created on open as the CLI does; a database a
// library made has only version 3's tables.
const runPipelinesSQL = `CREATE TABLE IF NOT EXISTS backstop.run_pipelines (
    run_id   TEXT NOT NULL,
    step     TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    PRIMARY KEY (run_id, step)
)`

// upsertRunSQL writes the run's row: a new run id + step is round 1; one
// given again starts its next round, as `backstop run` does for a run that
// ended, unless a live `backstop run` holds its lease (then no row comes
// back and nothing is written).
const upsertRunSQL = `INSERT INTO backstop.runs (run_id, step, round, status, retry_state, outcome, exit_status,
                  created_at_ms, updated_at_ms, finished_at_ms)
VALUES ($1, $2, 1, $3, $4, $5, NULL, $6, $7, $8)
ON CONFLICT (run_id, step) DO UPDATE SET
    round = runs.round + 1, status = excluded.status, retry_state = excluded.retry_state,
    outcome = excluded.outcome, exit_status = NULL, updated_at_ms = excluded.updated_at_ms,
    finished_at_ms = excluded.finished_at_ms, lease_owner = NULL, lease_expires_at_ms = NULL
WHERE runs.lease_owner IS NULL OR runs.lease_expires_at_ms IS NULL
   OR runs.lease_expires_at_ms <= excluded.updated_at_ms
RETURNING round`

const insertAttemptSQL = `INSERT INTO backstop.attempts (run_id, step, round, attempt, host, started_at_ms, ended_at_ms,
                      delay_before_ms, timeout_ms, timed_out, class, rule, decision,
                      give_up_reason, delay_after_ms, explanation)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`

const labelRunSQL = `INSERT INTO backstop.run_pipelines (run_id, step, pipeline) VALUES ($1, $2, $3)
ON CONFLICT (run_id, step) DO UPDATE SET pipeline = excluded.pipeline`

// Recorder is a backstop.Recorder writing each Do call into the CLI's
// tables (backstop.runs, backstop.attempts, backstop.run_pipelines) in one
// transaction, so `backstop stats --state postgresql://...` counts library
// calls:
//
//	err = backstop.Do(ctx, policy, fetch, backstop.WithSharedState(dep),
//		backstop.WithRecorder(store.Recorder("nightly")))
//
// Safe for concurrent use.
type Recorder struct {
	store    *Store
	pipeline string

	mu    sync.Mutex
	ready bool
}

// Recorder records into the store's database; pipeline labels every run
// (the CLI's --pipeline; "" records none, shown as "-" by backstop stats).
func (s *Store) Recorder(pipeline string) *Recorder {
	return &Recorder{store: s, pipeline: pipeline}
}

// Record writes run and its attempts (see backstop.Recorder).
func (r *Recorder) Record(ctx context.Context, run backstop.RecordedRun) error {
	s := r.store
	what := fmt.Sprintf("recording run %q of %q", run.RunID, run.Step)
	if err := r.prepare(ctx); err != nil {
		return s.fail(ctx, what, err)
	}
	state, err := json.Marshal(run.RetryState)
	if err != nil {
		return fmt.Errorf("pgstore: %s: %w", what, err)
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return s.fail(ctx, what, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SELECT set_config('lock_timeout', $1, true)", fmt.Sprintf("%dms", max(1, s.lockTimeout.Milliseconds()))); err != nil {
		return s.fail(ctx, what, err)
	}
	var finished *int64
	if run.Status != "running" {
		f := run.EndedAt.UnixMilli()
		finished = &f
	}
	var round int64
	err = tx.QueryRow(ctx, upsertRunSQL, run.RunID, run.Step, run.Status, string(state), optional(run.Outcome),
		run.StartedAt.UnixMilli(), run.EndedAt.UnixMilli(), finished).Scan(&round)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("pgstore: %s: a running `backstop run` holds it", what)
	}
	if err != nil {
		return s.fail(ctx, what, err)
	}
	host := run.Host
	if host == "" {
		host = "unknown"
	}
	batch := &pgx.Batch{}
	for _, a := range run.Attempts {
		batch.Queue(insertAttemptSQL, run.RunID, run.Step, round, int64(a.Attempt), host,
			a.StartedAt.UnixMilli(), a.EndedAt.UnixMilli(), a.DelayBefore.Milliseconds(), toInt64(a.TimeoutMs),
			boolInt(a.TimedOut), optional(string(a.Class)), optional(a.Rule), a.Decision,
			optional(string(a.GiveUpReason)), toInt64(a.DelayAfterMs), optional(a.Explanation))
	}
	if r.pipeline != "" {
		batch.Queue(labelRunSQL, run.RunID, run.Step, r.pipeline)
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return s.fail(ctx, what, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return s.fail(ctx, what, err)
	}
	return nil
}

// prepare creates run_pipelines once (as the CLI does on open).
func (r *Recorder) prepare(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ready {
		return nil
	}
	tx, err := r.store.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, runPipelinesSQL); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	r.ready = true
	return nil
}

func optional(s string) *string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return &s
}

func toInt64(v *uint64) *int64 {
	if v == nil {
		return nil
	}
	i := int64(min(*v, 1<<63-1))
	return &i
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
