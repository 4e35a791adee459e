// Package sqlitestore records Backstop retry calls (backstop.WithRecorder)
// into the backstop CLI's SQLite state file, so `backstop stats --state
// FILE` counts library calls beside `backstop run`'s:
//
//	rec, err := sqlitestore.Open("/var/lib/backstop/state.db", sqlitestore.WithPipeline("nightly"))
//	...
//	defer rec.Close()
//	err = backstop.Do(ctx, policy, fetch, backstop.WithRecorder(rec), backstop.WithStep("extract"))
//
// It uses github.com/ncruces/go-sqlite3 (SQLite compiled to Go: no cgo),
// and is a module of its own so that the core module does not make its
// users download a SQLite.
package sqlitestore

import (
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/ncruces/go-sqlite3/driver" // the "sqlite3" database/sql driver

	backstop "github.com/backstop-policy/backstop/go"
)

// SchemaVersion is the CLI's SQLite schema version (PRAGMA user_version)
// this package writes; a file with another version is refused.
const SchemaVersion = 6

// schemaV6 is the CLI's migrations 1 to 6 in order, byte for byte (a test
// compares it with tests/sqlite/schema-v6.sql, which the CLI's tests check).
//
//go:embed schema_v6.sql
var schemaV6 string

// ErrSchema: the file is not a Backstop state database this package writes.
var ErrSchema = errors.New("the file's schema cannot be used")

// Option configures a Recorder.
type Option func(*Recorder)

// WithPipeline labels every recorded run with a pipeline (the CLI's
// --pipeline); without it runs have none ("-" in backstop stats).
func WithPipeline(name string) Option {
	return func(r *Recorder) { r.pipeline = name }
}

// WithBusyTimeout bounds how long a write waits for another writer
// (default 5s).
func WithBusyTimeout(d time.Duration) Option {
	return func(r *Recorder) {
		if d > 0 {
			r.busy = d
		}
	}
}

// Recorder is a backstop.Recorder writing each call, in one transaction,
// into the CLI's runs, attempts and run_pipelines tables. Safe for
// concurrent use.
type Recorder struct {
	db       *sql.DB
	path     string
	pipeline string
	busy     time.Duration
}

// Open opens the state file at path, creating it with the CLI's schema when
// it does not exist (built under a temporary name and linked into place, as
// the CLI does, so no reader sees a half-made one). An existing file must
// hold schema version 6 (ErrSchema otherwise).
func Open(path string, opts ...Option) (*Recorder, error) {
	r := &Recorder{path: path, busy: 5 * time.Second}
	for _, opt := range opts {
		opt(r)
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := create(path, r.busy); err != nil {
			return nil, fmt.Errorf("sqlitestore: creating %s: %w", path, err)
		}
	}
	if fi, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	} else if fi.Size() == 0 {
		return nil, fmt.Errorf("sqlitestore: %s is an empty file, not a Backstop state database: %w", path, ErrSchema)
	}
	db, err := sql.Open("sqlite3", dsn(path, r.busy, "_pragma=synchronous(normal)"))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: opening %s: %w", path, err)
	}
	if err := r.check(db); err != nil {
		_ = db.Close()
		return nil, err
	}
	r.db = db
	return r, nil
}

func dsn(path string, busy time.Duration, extra ...string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	q := append([]string{fmt.Sprintf("_pragma=busy_timeout(%d)", max(1, busy.Milliseconds())), "_txlock=immediate"}, extra...)
	return (&url.URL{Scheme: "file", OmitHost: true, Path: abs}).String() + "?" + strings.Join(q, "&")
}

func (r *Recorder) check(db *sql.DB) error {
	var version, tables int64
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("sqlitestore: reading %s: %w", r.path, err)
	}
	if version == SchemaVersion {
		return nil
	}
	if err := db.QueryRow("SELECT count(*) FROM sqlite_master WHERE type = 'table'").Scan(&tables); err != nil {
		return fmt.Errorf("sqlitestore: reading %s: %w", r.path, err)
	}
	switch {
	case version == 0 && tables > 0:
		return fmt.Errorf("sqlitestore: %s is not a Backstop state database: %w", r.path, ErrSchema)
	case version > SchemaVersion:
		return fmt.Errorf("sqlitestore: %s holds Backstop schema version %d, newer than %d; upgrade this module: %w",
			r.path, version, SchemaVersion, ErrSchema)
	default:
		return fmt.Errorf("sqlitestore: %s holds Backstop schema version %d; open it once with the backstop CLI "+
			"(backstop stats --state %s) to migrate it to %d: %w", r.path, version, r.path, SchemaVersion, ErrSchema)
	}
}

// create builds a complete database under a temporary name in the same
// directory and links it into place; if another process won the race, its
// file is used.
func create(path string, busy time.Duration) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_ = f.Close()
	defer func() {
		for _, leftover := range []string{tmp, tmp + "-wal", tmp + "-shm", tmp + "-journal"} {
			_ = os.Remove(leftover)
		}
	}()
	db, err := sql.Open("sqlite3", dsn(tmp, busy))
	if err != nil {
		return err
	}
	_, err = db.Exec("PRAGMA journal_mode = WAL")
	if err == nil {
		_, err = db.Exec(fmt.Sprintf("BEGIN;\n%s\nPRAGMA user_version = %d;\nCOMMIT;", schemaV6, SchemaVersion))
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

// Close closes the database.
func (r *Recorder) Close() error { return r.db.Close() }

// upsertRunSQL writes the run's row: a new run id + step is round 1; one
// given again starts its next round, as `backstop run` does for a run that
// ended, unless a live `backstop run` holds its lease (then no row comes
// back and nothing is written).
const upsertRunSQL = `INSERT INTO runs (run_id, step, round, status, retry_state, outcome, exit_status,
                  created_at_ms, updated_at_ms, finished_at_ms)
VALUES (?, ?, 1, ?, ?, ?, NULL, ?, ?, ?)
ON CONFLICT (run_id, step) DO UPDATE SET
    round = runs.round + 1, status = excluded.status, retry_state = excluded.retry_state,
    outcome = excluded.outcome, exit_status = NULL, updated_at_ms = excluded.updated_at_ms,
    finished_at_ms = excluded.finished_at_ms, lease_owner = NULL, lease_expires_at_ms = NULL
WHERE runs.lease_owner IS NULL OR runs.lease_expires_at_ms IS NULL
   OR runs.lease_expires_at_ms <= excluded.updated_at_ms
RETURNING round`

const insertAttemptSQL = `INSERT INTO attempts (run_id, step, round, attempt, host, started_at_ms, ended_at_ms,
                      delay_before_ms, timeout_ms, timed_out, class, rule, decision,
                      give_up_reason, delay_after_ms, explanation)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const labelRunSQL = `INSERT INTO run_pipelines (run_id, step, pipeline) VALUES (?, ?, ?)
ON CONFLICT (run_id, step) DO UPDATE SET pipeline = excluded.pipeline`

// Record writes run and its attempts in one transaction (see backstop.Recorder).
func (r *Recorder) Record(ctx context.Context, run backstop.RecordedRun) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("sqlitestore: recording run %q of %q in %s: %w", run.RunID, run.Step, r.path, err)
		}
	}()
	state, err := json.Marshal(run.RetryState)
	if err != nil {
		return err
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	var finished any
	if run.Status != "running" {
		finished = run.EndedAt.UnixMilli()
	}
	var round int64
	err = tx.QueryRowContext(ctx, upsertRunSQL, run.RunID, run.Step, run.Status, string(state), optional(run.Outcome),
		run.StartedAt.UnixMilli(), run.EndedAt.UnixMilli(), finished).Scan(&round)
	if errors.Is(err, sql.ErrNoRows) {
		return errors.New("a running `backstop run` holds it")
	}
	if err != nil {
		return err
	}
	host := run.Host
	if host == "" {
		host = "unknown"
	}
	for _, a := range run.Attempts {
		if _, err := tx.ExecContext(ctx, insertAttemptSQL, run.RunID, run.Step, round, int64(a.Attempt), host,
			a.StartedAt.UnixMilli(), a.EndedAt.UnixMilli(), a.DelayBefore.Milliseconds(), toInt64(a.TimeoutMs),
			boolInt(a.TimedOut), optional(string(a.Class)), optional(a.Rule), a.Decision,
			optional(string(a.GiveUpReason)), toInt64(a.DelayAfterMs), optional(a.Explanation)); err != nil {
			return err
		}
	}
	if r.pipeline != "" {
		if _, err := tx.ExecContext(ctx, labelRunSQL, run.RunID, run.Step, r.pipeline); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func optional(s string) any {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return s
}

func toInt64(v *uint64) any {
	if v == nil {
		return nil
	}
	return int64(min(*v, 1<<63-1))
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
