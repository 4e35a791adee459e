package pgstore

import (
	"bytes"
	"context"
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

	"github.com/jackc/pgx/v5"
	"github.com/tetratelabs/wazero"

	backstop "github.com/backstop-policy/backstop/go"
)

const recordPolicySource = `[retry]
jitter = "none"
base_delay = "2s"
max_attempts = 3
`

var (
	recordOnce   sync.Once
	recordPolicy *backstop.Policy
	recordErr    error
)

func recPolicy(t *testing.T) *backstop.Policy {
	t.Helper()
	recordOnce.Do(func() {
		ctx := context.Background()
		cache, err := wazero.NewCompilationCacheWithDir(filepath.Join(os.TempDir(), "backstop-pgstore-test-wazero"))
		if err != nil {
			recordErr = err
			return
		}
		engine, err := backstop.New(ctx, backstop.WithCompilationCache(cache))
		if err != nil {
			recordErr = err
			return
		}
		recordPolicy, recordErr = engine.LoadPolicy(ctx, recordPolicySource, backstop.TOML)
	})
	if recordErr != nil {
		t.Fatal(recordErr)
	}
	return recordPolicy
}

// stepClock moves only when slept on or when an attempt works.
type stepClock struct{ now time.Time }

func (c *stepClock) Now() time.Time { return c.now }
func (c *stepClock) Sleep(_ context.Context, d time.Duration) error {
	c.now = c.now.Add(d)
	return nil
}

type statusError int

func (e statusError) Error() string {
	return "HTTP status " + strings.Repeat("x", 0) + string(rune('0'+int(e)/100))
}
func (e statusError) HTTPStatusCode() int { return int(e) }

// t0 is 2025-12-06T05:46:40Z, a Saturday.
var t0 = time.UnixMilli(1_765_000_000_000)

func TestRecorderRowsAndStats(t *testing.T) {
	url := freshDB(t)
	s := open(t, url)
	d := dep(t, s, "extract")
	rec := s.Recorder("nightly")
	ctx := context.Background()
	clock := &stepClock{now: t0}
	p := recPolicy(t)
	common := []backstop.RetryOption{backstop.WithClock(clock), backstop.WithRecorder(rec), backstop.WithSharedState(d)}

	fails := []error{statusError(503), statusError(503)}
	if err := backstop.Do(ctx, p, func(context.Context) error {
		clock.now = clock.now.Add(500 * time.Millisecond)
		if len(fails) > 0 {
			e := fails[0]
			fails = fails[1:]
			return e
		}
		return nil
	}, append(common, backstop.WithRunID("run-1"))...); err != nil {
		t.Fatal(err)
	}
	err := backstop.Do(ctx, p, func(context.Context) error { return statusError(400) }, append(common, backstop.WithRunID("run-2"))...)
	var gu *backstop.GiveUpError
	if !errors.As(err, &gu) || gu.Reason != backstop.GiveUpPermanent {
		t.Fatalf("want a permanent give-up, got %v", err)
	}
	if err := backstop.Do(ctx, p, func(context.Context) error { return nil }, append(common, backstop.WithRunID("run-3"))...); err != nil {
		t.Fatal(err)
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	start := t0.UnixMilli()
	rows, err := conn.Query(ctx, `SELECT step, attempt, started_at_ms - $1, ended_at_ms - $1, delay_before_ms,
		COALESCE(delay_after_ms, -1), COALESCE(class, ''), COALESCE(rule, ''), decision FROM backstop.attempts
		WHERE run_id = 'run-1' ORDER BY attempt`, start)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var step, class, rule, decision string
		var attempt, started, ended, before, after int64
		if err := rows.Scan(&step, &attempt, &started, &ended, &before, &after, &class, &rule, &decision); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join([]string{step, itoa(attempt), itoa(started), itoa(ended), itoa(before), itoa(after), class, rule, decision}, " "))
	}
	want := []string{
		"extract 1 0 500 0 2000 transient builtin.http-transient retry",
		"extract 2 2500 3000 2000 4000 transient builtin.http-transient retry",
		"extract 3 7000 7500 4000 -1   succeeded",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("attempts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	bin := os.Getenv("BACKSTOP_BIN")
	if bin == "" {
		t.Skip("set BACKSTOP_BIN to the backstop CLI (tests/run-go.sh does)")
	}
	var totals struct {
		Steps []struct {
			Step                                                string
			Runs, Succeeded, Failed, Running, Attempts, Retries float64
			SuccessRatio                                        float64 `json:"success_ratio"`
			MaxTimeToRecoveryMs                                 float64 `json:"max_time_to_recovery_ms"`
		}
	}
	runJSON(t, bin, &totals, "stats", "--json", "--state", url)
	if len(totals.Steps) != 1 {
		t.Fatalf("steps: %+v", totals)
	}
	st := totals.Steps[0]
	if st.Step != "extract" || st.Runs != 3 || st.Succeeded != 2 || st.Failed != 1 || st.Running != 0 ||
		st.Attempts != 5 || st.Retries != 2 || math.Abs(st.SuccessRatio-2.0/3) > 1e-9 || st.MaxTimeToRecoveryMs != 7000 {
		t.Errorf("stats: %+v", st)
	}
	var trends struct {
		Groups []struct {
			Pipeline, Step string
			Total          struct {
				Runs, Succeeded, Retries float64
				GaveUp                   float64            `json:"gave_up"`
				GiveUps                  map[string]float64 `json:"give_ups"`
			}
		}
	}
	runJSON(t, bin, &trends, "stats", "--json", "--state", url, "--since", "2025-12-01", "--until", "2025-12-08")
	if len(trends.Groups) != 1 {
		t.Fatalf("groups: %+v", trends)
	}
	g := trends.Groups[0]
	if g.Pipeline != "nightly" || g.Step != "extract" || g.Total.Runs != 3 || g.Total.Succeeded != 2 || g.Total.GaveUp != 1 ||
		g.Total.Retries != 2 || g.Total.GiveUps["permanent"] != 1 {
		t.Errorf("trends: %+v", g)
	}
}

// captureWarnings sends slog's default logger to a buffer for the test.
func captureWarnings(t *testing.T) *bytes.Buffer {
	t.Helper()
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return &logs
}

func TestRecorderErrorNeverChangesTheResult(t *testing.T) {
	url := freshDB(t)
	s := open(t, url)
	rec := s.Recorder("")
	logs := captureWarnings(t)
	// The tables vanish under the recorder: every write fails.
	exec1(t, url, "DROP TABLE backstop.attempts")
	clock := &stepClock{now: t0}
	err := backstop.Do(context.Background(), recPolicy(t), func(context.Context) error { return nil },
		backstop.WithClock(clock), backstop.WithRecorder(rec), backstop.WithRunID("lost"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), `\"lost\" of \"default\" was not recorded`) {
		t.Errorf("want a warning naming the run, got:\n%s", logs.String())
	}
	if err := rec.Record(context.Background(), backstop.RecordedRun{RunID: "r", Step: "s", Status: "succeeded",
		Attempts: []backstop.RecordedAttempt{{Attempt: 1, Decision: "succeeded"}}}); err == nil {
		t.Fatal("want an error from a database without the attempts table")
	}
}

// The database goes away under an open store (its connections are ended):
// the call's result is unchanged, its decision included, and the loss is
// logged, without the connection string's password.
func TestRecorderDatabaseGoneIsLogged(t *testing.T) {
	url := freshDB(t)
	name := url[strings.LastIndex(url, "/")+1:]
	withPassword := strings.Replace(url, "postgres://postgres@", "postgres://postgres:secret-pw@", 1)
	s := open(t, withPassword)
	rec := s.Recorder("nightly")
	logs := captureWarnings(t)
	exec1(t, baseURL, `DROP DATABASE "`+name+`" WITH (FORCE)`)
	clock := &stepClock{now: t0}
	n := 0
	err := backstop.Do(context.Background(), recPolicy(t), func(context.Context) error {
		clock.now = clock.now.Add(time.Second)
		if n++; n == 1 {
			return statusError(503)
		}
		return nil
	}, backstop.WithClock(clock), backstop.WithRecorder(rec), backstop.WithRunID("gone"))
	if err != nil || n != 2 {
		t.Fatalf("err %v after %d attempts", err, n)
	}
	err = backstop.Do(context.Background(), recPolicy(t), func(context.Context) error { return statusError(400) },
		backstop.WithClock(clock), backstop.WithRecorder(rec), backstop.WithRunID("gone-2"))
	var gu *backstop.GiveUpError
	if !errors.As(err, &gu) || gu.Reason != backstop.GiveUpPermanent || gu.Attempts != 1 {
		t.Fatalf("want a permanent give-up after 1 attempt, got %v", err)
	}
	out := logs.String()
	if strings.Count(out, "level=WARN") != 2 || !strings.Contains(out, `\"gone\" of \"default\" was not recorded`) {
		t.Errorf("want 2 warnings naming the runs, got:\n%s", out)
	}
	if strings.Contains(out, "secret-pw") {
		t.Errorf("the password leaked into the log:\n%s", out)
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func runJSON(t *testing.T, bin string, v any, args ...string) {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("backstop %v: %v: %s", args, err, ee.Stderr)
		}
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}
