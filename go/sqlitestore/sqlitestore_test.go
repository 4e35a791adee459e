package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	backstop "github.com/backstop-policy/backstop/go"
)

const policySource = `[retry]
jitter = "none"
base_delay = "2s"
max_attempts = 3
`

var (
	policyOnce   sync.Once
	sharedPolicy *backstop.Policy
	policyErr    error
)

func testPolicy(t *testing.T) *backstop.Policy {
	t.Helper()
	policyOnce.Do(func() {
		ctx := context.Background()
		cache, err := wazero.NewCompilationCacheWithDir(filepath.Join(os.TempDir(), "backstop-sqlitestore-test-wazero"))
		if err != nil {
			policyErr = err
			return
		}
		engine, err := backstop.New(ctx, backstop.WithCompilationCache(cache))
		if err != nil {
			policyErr = err
			return
		}
		sharedPolicy, policyErr = engine.LoadPolicy(ctx, policySource, backstop.TOML)
	})
	if policyErr != nil {
		t.Fatal(policyErr)
	}
	return sharedPolicy
}

// fakeClock moves only when slept on or advanced.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.now = c.now.Add(d)
	return nil
}

type httpError int

func (e httpError) Error() string       { return "HTTP status " + strconv.Itoa(int(e)) }
func (e httpError) HTTPStatusCode() int { return int(e) }

// t0 is 2025-12-06T05:46:40Z, a Saturday.
var t0 = time.UnixMilli(1_765_000_000_000)

// threeCalls: a recovery after two transient failures, a permanent give-up,
// a success at once: 3 runs, 5 attempts, 2 retries, 2 of 3 succeeded.
func threeCalls(t *testing.T, rec backstop.Recorder) {
	t.Helper()
	ctx := context.Background()
	clock := &fakeClock{now: t0}
	p := testPolicy(t)
	fails := []error{httpError(503), httpError(503)}
	err := backstop.Do(ctx, p, func(context.Context) error {
		clock.now = clock.now.Add(500 * time.Millisecond)
		if len(fails) > 0 {
			e := fails[0]
			fails = fails[1:]
			return e
		}
		return nil
	}, backstop.WithClock(clock), backstop.WithRecorder(rec), backstop.WithStep("extract"), backstop.WithRunID("run-1"))
	if err != nil {
		t.Fatal(err)
	}
	err = backstop.Do(ctx, p, func(context.Context) error {
		clock.now = clock.now.Add(250 * time.Millisecond)
		return httpError(400)
	}, backstop.WithClock(clock), backstop.WithRecorder(rec), backstop.WithStep("extract"), backstop.WithRunID("run-2"))
	var gu *backstop.GiveUpError
	if !errors.As(err, &gu) || gu.Reason != backstop.GiveUpPermanent {
		t.Fatalf("want a permanent give-up, got %v", err)
	}
	if err := backstop.Do(ctx, p, func(context.Context) error { return nil },
		backstop.WithClock(clock), backstop.WithRecorder(rec), backstop.WithStep("extract"), backstop.WithRunID("run-3")); err != nil {
		t.Fatal(err)
	}
}

func backstopBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("BACKSTOP_BIN")
	if bin == "" {
		t.Skip("set BACKSTOP_BIN to the backstop CLI (tests/run-go.sh does)")
	}
	return bin
}

func stats(t *testing.T, state string, args ...string) map[string]any {
	t.Helper()
	out, err := exec.Command(backstopBin(t), append([]string{"stats", "--json", "--state", state}, args...)...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("backstop stats: %v: %s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return v
}

func checkTotals(t *testing.T, out map[string]any) {
	t.Helper()
	steps := out["steps"].([]any)
	if len(steps) != 1 {
		t.Fatalf("want one step: %v", out)
	}
	s := steps[0].(map[string]any)
	want := map[string]float64{"runs": 3, "succeeded": 2, "failed": 1, "running": 0, "attempts": 5, "retries": 2,
		"recoveries": 1, "max_time_to_recovery_ms": 7000}
	for k, v := range want {
		if s[k] != v {
			t.Errorf("%s = %v, want %v (%v)", k, s[k], v, s)
		}
	}
	if s["step"] != "extract" || math.Abs(s["success_ratio"].(float64)-2.0/3) > 1e-9 {
		t.Errorf("step or success ratio: %v", s)
	}
}

func checkTrends(t *testing.T, out map[string]any, pipeline string) {
	t.Helper()
	groups := out["groups"].([]any)
	if len(groups) != 1 {
		t.Fatalf("want one group: %v", out)
	}
	g := groups[0].(map[string]any)
	total := g["total"].(map[string]any)
	if g["pipeline"] != pipeline || g["step"] != "extract" || total["runs"] != 3.0 || total["succeeded"] != 2.0 ||
		total["gave_up"] != 1.0 || total["retries"] != 2.0 {
		t.Errorf("trends: %v", g)
	}
	if gu, _ := total["give_ups"].(map[string]any); gu["permanent"] != 1.0 {
		t.Errorf("give-ups: %v", total["give_ups"])
	}
}

func TestSchemaIsTheCLIs(t *testing.T) {
	shared, err := os.ReadFile(filepath.Join("..", "..", "tests", "sqlite", "schema-v6.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if string(shared) != schemaV6 {
		t.Fatal("schema_v6.sql differs from tests/sqlite/schema-v6.sql (the CLI's migrations)")
	}
}

func TestRowsAreTheCLIsAndStatsCountsThem(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state", "backstop.db")
	rec, err := Open(state, WithPipeline("nightly"))
	if err != nil {
		t.Fatal(err)
	}
	threeCalls(t, rec)
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("sqlite3", state)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var version int
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != 6 {
		t.Fatalf("user_version %d, %v", version, err)
	}
	start := t0.UnixMilli()
	rows, err := db.Query(`SELECT attempt, started_at_ms - ?, ended_at_ms - ?, delay_before_ms, COALESCE(delay_after_ms, -1),
		COALESCE(class, ''), COALESCE(rule, ''), decision, timed_out FROM attempts WHERE run_id = 'run-1' ORDER BY attempt`, start, start)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		attempt, started, ended, before, after int64
		class, rule, decision                  string
		timedOut                               int64
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.attempt, &r.started, &r.ended, &r.before, &r.after, &r.class, &r.rule, &r.decision, &r.timedOut); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	want := []row{
		{1, 0, 500, 0, 2000, "transient", "builtin.http-transient", "retry", 0},
		{2, 2500, 3000, 2000, 4000, "transient", "builtin.http-transient", "retry", 0},
		{3, 7000, 7500, 4000, -1, "", "", "succeeded", 0},
	}
	if len(got) != len(want) {
		t.Fatalf("attempts: %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("attempt %d: got %+v, want %+v", i+1, got[i], want[i])
		}
	}
	var status, outcome, retryState string
	var created, finished int64
	if err := db.QueryRow(`SELECT status, outcome, retry_state, created_at_ms, finished_at_ms FROM runs WHERE run_id = 'run-1'`).
		Scan(&status, &outcome, &retryState, &created, &finished); err != nil {
		t.Fatal(err)
	}
	if status != "succeeded" || outcome != "succeeded" || created != start || finished != start+7500 {
		t.Errorf("run-1: %s %s %d %d", status, outcome, created-start, finished-start)
	}
	var rs map[string]any
	if err := json.Unmarshal([]byte(retryState), &rs); err != nil || rs["attempts"] != 3.0 {
		t.Errorf("retry_state %s: %v", retryState, err)
	}
	if err := db.QueryRow(`SELECT status || ' ' || outcome FROM runs WHERE run_id = 'run-2'`).Scan(&status); err != nil || status != "failed permanent" {
		t.Errorf("run-2: %q %v", status, err)
	}
	var labelled int
	if err := db.QueryRow(`SELECT count(*) FROM run_pipelines WHERE pipeline = 'nightly'`).Scan(&labelled); err != nil || labelled != 3 {
		t.Errorf("run_pipelines: %d %v", labelled, err)
	}

	checkTotals(t, stats(t, state))
	checkTrends(t, stats(t, state, "--since", "2025-12-01", "--until", "2025-12-08", "--pipeline", "nightly"), "nightly")
}

func TestARunIDGivenAgainIsItsNextRound(t *testing.T) {
	state := filepath.Join(t.TempDir(), "backstop.db")
	rec, err := Open(state)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	clock := &fakeClock{now: t0}
	opts := []backstop.RetryOption{backstop.WithClock(clock), backstop.WithRecorder(rec), backstop.WithRunID("nightly-7"), backstop.WithStep("load")}
	_ = backstop.Do(context.Background(), testPolicy(t), func(context.Context) error { return httpError(404) }, opts...)
	if err := backstop.Do(context.Background(), testPolicy(t), func(context.Context) error { return nil }, opts...); err != nil {
		t.Fatal(err)
	}
	var round int
	var status string
	if err := rec.db.QueryRow("SELECT round, status FROM runs WHERE run_id = 'nightly-7' AND step = 'load'").Scan(&round, &status); err != nil ||
		round != 2 || status != "succeeded" {
		t.Fatalf("round %d status %s: %v", round, status, err)
	}
}

func TestACancelledCallStaysRunning(t *testing.T) {
	state := filepath.Join(t.TempDir(), "backstop.db")
	rec, err := Open(state)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	ctx, cancel := context.WithCancel(context.Background())
	err = backstop.Do(ctx, testPolicy(t), func(context.Context) error {
		cancel()
		return context.Canceled
	}, backstop.WithRecorder(rec), backstop.WithRunID("c"))
	if !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	var status, decision, step string
	if err := rec.db.QueryRow("SELECT r.status, a.decision, r.step FROM runs r JOIN attempts a USING (run_id, step) WHERE run_id = 'c'").
		Scan(&status, &decision, &step); err != nil || status != "running" || decision != "interrupted" || step != "default" {
		t.Fatalf("%s %s %s %v", status, decision, step, err)
	}
}

// brokenRecorder fails every write: the call's result must not change.
type brokenRecorder struct{ calls int }

func (b *brokenRecorder) Record(context.Context, backstop.RecordedRun) error {
	b.calls++
	return errors.New("disk full")
}

func TestARecorderErrorNeverChangesTheResult(t *testing.T) {
	b := &brokenRecorder{}
	clock := &fakeClock{now: t0}
	n := 0
	err := backstop.Do(context.Background(), testPolicy(t), func(context.Context) error {
		if n++; n == 1 {
			return httpError(503)
		}
		return nil
	}, backstop.WithClock(clock), backstop.WithRecorder(b))
	if err != nil || b.calls != 1 {
		t.Fatalf("err %v, recorder calls %d", err, b.calls)
	}
	err = backstop.Do(context.Background(), testPolicy(t), func(context.Context) error { return httpError(400) },
		backstop.WithClock(clock), backstop.WithRecorder(b))
	var gu *backstop.GiveUpError
	if !errors.As(err, &gu) || gu.Reason != backstop.GiveUpPermanent || b.calls != 2 {
		t.Fatalf("err %v, recorder calls %d", err, b.calls)
	}
}

// A real store that cannot take the write (another writer holds the file
// past the busy timeout): the call's result is unchanged, the loss is
// logged with slog at Warn, and the next call, once the file is free, is
// recorded.
func TestALockedFileIsLoggedAndNeverChangesTheResult(t *testing.T) {
	state := filepath.Join(t.TempDir(), "backstop.db")
	rec, err := Open(state, WithBusyTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(prev)

	other, err := sql.Open("sqlite3", dsn(state, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	hold, err := other.Begin() // _txlock=immediate: takes the write lock now
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: t0}
	opts := []backstop.RetryOption{backstop.WithClock(clock), backstop.WithRecorder(rec), backstop.WithStep("extract")}
	n := 0
	err = backstop.Do(context.Background(), testPolicy(t), func(context.Context) error {
		if n++; n == 1 {
			return httpError(503)
		}
		return nil
	}, append(opts, backstop.WithRunID("while-locked"))...)
	if err != nil || n != 2 {
		t.Fatalf("err %v after %d attempts", err, n)
	}
	err = backstop.Do(context.Background(), testPolicy(t), func(context.Context) error { return httpError(400) },
		append(opts, backstop.WithRunID("while-locked-2"))...)
	var gu *backstop.GiveUpError
	if !errors.As(err, &gu) || gu.Reason != backstop.GiveUpPermanent {
		t.Fatalf("want a permanent give-up, got %v", err)
	}
	if got := strings.Count(logs.String(), "level=WARN"); got != 2 || !strings.Contains(logs.String(), `\"while-locked\" of \"extract\" was not recorded`) {
		t.Errorf("want 2 warnings naming the runs, got:\n%s", logs.String())
	}
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := backstop.Do(context.Background(), testPolicy(t), func(context.Context) error { return nil },
		append(opts, backstop.WithRunID("after"))...); err != nil {
		t.Fatal(err)
	}
	var ids string
	if err := rec.db.QueryRow("SELECT group_concat(run_id) FROM runs").Scan(&ids); err != nil || ids != "after" {
		t.Fatalf("runs recorded: %q %v", ids, err)
	}
}

func TestForeignAndNewerFilesAreRefused(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(empty); !errors.Is(err, ErrSchema) {
		t.Errorf("empty file: %v", err)
	}
	for name, setup := range map[string]string{
		"foreign.db": "CREATE TABLE mine (x)",
		"newer.db":   "CREATE TABLE runs (x); PRAGMA user_version = 7",
	} {
		path := filepath.Join(dir, name)
		db, err := sql.Open("sqlite3", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(setup); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if _, err := Open(path); !errors.Is(err, ErrSchema) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// failsAfterSuccess grants the attempt, then fails to save its success
// (no Update method: Do loads and saves).
type failsAfterSuccess struct {
	mem   backstop.MemoryStore
	saves int
}

func (f *failsAfterSuccess) Load(ctx context.Context) (backstop.SharedState, error) {
	return f.mem.Load(ctx)
}

func (f *failsAfterSuccess) Save(ctx context.Context, s backstop.SharedState) error {
	if f.saves++; f.saves == 2 {
		return errors.New("shared state unavailable")
	}
	return f.mem.Save(ctx, s)
}

func TestACallThatEndsInASharedStoreErrorIsNotRecorded(t *testing.T) {
	state := filepath.Join(t.TempDir(), "backstop.db")
	rec, err := Open(state)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	err = backstop.Do(context.Background(), testPolicy(t), func(context.Context) error { return nil },
		backstop.WithClock(&fakeClock{now: t0}), backstop.WithRecorder(rec), backstop.WithSharedState(&failsAfterSuccess{}))
	if err == nil || !strings.Contains(err.Error(), "shared state unavailable") {
		t.Fatalf("want the store's error, got %v", err)
	}
	var runs int
	if err := rec.db.QueryRow("SELECT count(*) FROM runs").Scan(&runs); err != nil || runs != 0 {
		t.Fatalf("%d runs recorded: %v", runs, err)
	}
}
