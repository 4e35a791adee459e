package pgstore

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tetratelabs/wazero"

	backstop "github.com/backstop-policy/backstop/go"
)

// baseURL is the test cluster: BACKSTOP_TEST_PG_URL, or one TestMain starts
// with tests/postgres/cluster.sh.
var baseURL string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	baseURL = os.Getenv("BACKSTOP_TEST_PG_URL")
	if baseURL == "" {
		script := filepath.Join("..", "..", "tests", "postgres", "cluster.sh")
		out, err := exec.Command("bash", script, "start").Output()
		if err != nil {
			fmt.Fprintf(os.Stderr, "starting PostgreSQL (%s): %v\n", script, err)
			return 1
		}
		env := map[string]string{}
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok {
				env[k] = v
			}
		}
		baseURL = env["BACKSTOP_TEST_PG_URL"]
		defer exec.Command("bash", script, "stop", env["BACKSTOP_TEST_PG_DIR"]).Run()
	}
	return m.Run()
}

// freshDB is a new, empty database, as a new deployment's.
func freshDB(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, baseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("go_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatal(err)
	}
	return baseURL[:strings.LastIndex(baseURL, "/")+1] + name
}

func exec1(t *testing.T, url, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatal(err)
	}
}

func rawState(t *testing.T, url, key string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, "SELECT state FROM backstop.shared_state WHERE step = $1", key).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func open(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func dep(t *testing.T, s *Store, name string) *Dependency {
	t.Helper()
	d, err := s.Dependency(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type vector struct {
	Name          string          `json:"name"`
	JSON          string          `json:"json"`
	State         json.RawMessage `json:"state"`
	DecodeOnly    bool            `json:"decode_only"`
	Reject        bool            `json:"reject"`
	ErrorMentions string          `json:"error_mentions"`
}

func vectors(t *testing.T) []vector {
	b, err := os.ReadFile(filepath.Join("..", "..", "tests", "postgres", "shared-state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Vectors []vector }
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Vectors
}

func TestSharedStateVectors(t *testing.T) {
	for _, v := range vectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			st, err := DecodeState(v.JSON)
			if v.Reject {
				if err == nil {
					t.Fatalf("decoded %q", v.JSON)
				}
				if !strings.Contains(err.Error(), v.ErrorMentions) {
					t.Fatalf("error %q does not mention %q", err, v.ErrorMentions)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The canonical form is Go's own JSON form of the state.
			got, _ := json.Marshal(st)
			var a, b any
			_ = json.Unmarshal(got, &a)
			_ = json.Unmarshal(v.State, &b)
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Fatalf("decoded %s, want %s", got, v.State)
			}
			if !v.DecodeOnly {
				enc, err := EncodeState(st)
				if err != nil || enc != v.JSON {
					t.Fatalf("encoded %s (%v), want %s", enc, err, v.JSON)
				}
			}
		})
	}
}

func TestEmbeddedSchemaIsTheCLIs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "tests", "postgres", "schema-v3.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != schemaV3 {
		t.Fatal("go/pgstore/schema_v3.sql differs from tests/postgres/schema-v3.sql (the CLI's DDL)")
	}
}

func TestCreatesTheCLIsSchemaOnce(t *testing.T) {
	url := freshDB(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), url)
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var tables []string
	rows, _ := conn.Query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = 'backstop' ORDER BY 1")
	tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tables, ","); got != "alert_log,alert_state,attempts,runs,schema_version,shared_state" {
		t.Fatalf("tables %s", got)
	}
	var versions []int64
	rows, _ = conn.Query(ctx, "SELECT version FROM backstop.schema_version")
	if versions, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil || len(versions) != 1 || versions[0] != 3 {
		t.Fatalf("versions %v %v", versions, err)
	}
}

func TestRefusesANewerSchema(t *testing.T) {
	url := freshDB(t)
	open(t, url)
	exec1(t, url, "UPDATE backstop.schema_version SET version = 4")
	_, err := Open(context.Background(), url)
	if !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), "version 4, newer than version 3") {
		t.Fatalf("got %v", err)
	}
}

func TestRefusesAForeignSchema(t *testing.T) {
	url := freshDB(t)
	exec1(t, url, "CREATE SCHEMA backstop; CREATE TABLE backstop.things (id int)")
	_, err := Open(context.Background(), url)
	if !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), "not Backstop's") {
		t.Fatalf("got %v", err)
	}
}

func bump(seen chan<- uint32) func(backstop.SharedState) (backstop.SharedState, error) {
	return func(s backstop.SharedState) (backstop.SharedState, error) {
		s.Budget.SpentMilli++
		if seen != nil {
			seen <- s.Budget.SpentMilli
		}
		return s, nil
	}
}

func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	url := freshDB(t)
	const workers, each = 8, 25
	seen := make(chan uint32, workers*each*2)
	var wg sync.WaitGroup
	for range workers {
		// Each worker its own pool, as another process's.
		d := dep(t, open(t, url), "hot")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := d.Update(context.Background(), bump(seen)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	close(seen)
	// A value seen twice would be an update that read a stale state (and
	// rolled back retries are not possible here: fn runs once per commit).
	got := map[uint32]bool{}
	for v := range seen {
		if got[v] {
			t.Fatalf("two updates both produced %d", v)
		}
		got[v] = true
	}
	st, err := dep(t, open(t, url), "hot").Load(context.Background())
	if err != nil || st.Budget.SpentMilli != workers*each {
		t.Fatalf("spent %d (%v), want %d", st.Budget.SpentMilli, err, workers*each)
	}
}

func TestWritesTheCLIsJSON(t *testing.T) {
	url := freshDB(t)
	d := dep(t, open(t, url), "train")
	st := backstop.SharedState{
		Breaker: backstop.BreakerState{Circuit: backstop.CircuitOpen, ConsecutiveFailures: 5, RecentOutcomes: 31, RecentCount: 5, OpenedAtMs: 1767225600000},
		Budget:  backstop.BudgetState{SpentMilli: 4000},
	}
	if err := d.Save(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	var want string
	for _, v := range vectors(t) {
		if strings.HasPrefix(v.Name, "open since") {
			want = v.JSON
		}
	}
	if got := rawState(t, url, "train"); got != want {
		t.Fatalf("stored %s, want %s", got, want)
	}
}

func TestAnErrorInFnRollsBackUnchanged(t *testing.T) {
	url := freshDB(t)
	d := dep(t, open(t, url), "k")
	ctx := context.Background()
	if err := d.Update(ctx, bump(nil)); err != nil {
		t.Fatal(err)
	}
	mine := errors.New("mine")
	err := d.Update(ctx, func(s backstop.SharedState) (backstop.SharedState, error) {
		s.Budget.SpentMilli = 99
		return s, mine
	})
	if err != mine {
		t.Fatalf("got %v, want fn's error unchanged", err)
	}
	if st, _ := d.Load(ctx); st.Budget.SpentMilli != 1 {
		t.Fatalf("spent %d after a rolled-back update", st.Budget.SpentMilli)
	}
}

func TestARowLockedPastTheLockTimeoutFailsTheUpdate(t *testing.T) {
	url := freshDB(t)
	ctx := context.Background()
	s, err := Open(ctx, url, WithLockTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := dep(t, s, "k")
	if err := d.Update(ctx, bump(nil)); err != nil {
		t.Fatal(err)
	}
	holder, err := pgx.Connect(ctx, url) // a stalled worker holding the row
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT state FROM backstop.shared_state WHERE step = 'k' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	if err := d.Update(ctx, bump(nil)); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "200ms") {
		t.Fatalf("got %v, want ErrLocked", err)
	}
	_ = tx.Rollback(ctx)
	if err := d.Update(ctx, bump(nil)); err != nil {
		t.Fatal(err)
	}
	if st, err := d.Load(ctx); err != nil || st.Budget.SpentMilli != 2 {
		t.Fatalf("spent %d (%v), want 2: nothing written while locked", st.Budget.SpentMilli, err)
	}
}

func TestAnInvalidStoredStateIsNamed(t *testing.T) {
	url := freshDB(t)
	d := dep(t, open(t, url), "k")
	if err := d.Update(context.Background(), bump(nil)); err != nil {
		t.Fatal(err)
	}
	exec1(t, url, `UPDATE backstop.shared_state SET state = '{"breaker":{"circuit":"ajar"}}'`)
	err := d.Update(context.Background(), bump(nil))
	if !errors.Is(err, ErrInvalidState) || !strings.Contains(err.Error(), `"k"`) || !strings.Contains(err.Error(), "ajar") {
		t.Fatalf("got %v", err)
	}
}

func TestKeysFollowTheCLIsStepRule(t *testing.T) {
	for name, want := range map[string]string{"": "blank", "  ": "blank", "a\nb": "U+000A", strings.Repeat("é", 129): "258 bytes"} {
		if err := CheckKey(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", name, err, want)
		}
	}
}

const policySource = `[retry]
max_attempts = 10
jitter = "none"
base_delay = "1ms"
[retry.circuit_breaker]
consecutive_failures = 3
open_for = "60s"
`

var (
	policyOnce   sync.Once
	sharedPolicy *backstop.Policy
	policyErr    error
)

// testPolicy is loaded once: compiling the engine is the slow part.
func testPolicy(t *testing.T) *backstop.Policy {
	policyOnce.Do(func() {
		ctx := context.Background()
		// Compiled code kept on disk between runs: under -race compiling
		// the engine takes minutes on a busy machine.
		cache, err := wazero.NewCompilationCacheWithDir(filepath.Join(os.TempDir(), "backstop-pgstore-test-wazero"))
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

type unavailable struct{}

func (unavailable) Error() string       { return "503 from the feature store" }
func (unavailable) HTTPStatusCode() int { return 503 }

func TestTheBreakerTripsForEveryStoreOnTheDatabase(t *testing.T) {
	url := freshDB(t)
	ctx := context.Background()
	policy := testPolicy(t)
	calls := 0
	err := backstop.Do(ctx, policy, func(context.Context) error { calls++; return unavailable{} },
		backstop.WithSharedState(dep(t, open(t, url), "feature-store")))
	var give *backstop.GiveUpError
	if !errors.As(err, &give) || give.Reason != backstop.GiveUpCircuitOpen || calls != 3 {
		t.Fatalf("got %v after %d calls", err, calls)
	}
	if got := rawState(t, url, "feature-store"); !strings.Contains(got, `"circuit":"open"`) {
		t.Fatalf("stored %s", got)
	}
	// Another worker, its own pool (as on another machine), is refused at once.
	err = backstop.Do(ctx, policy, func(context.Context) error { calls++; return nil },
		backstop.WithSharedState(dep(t, open(t, url), "feature-store")))
	if !errors.As(err, &give) || give.Reason != backstop.GiveUpCircuitOpen || give.Attempts != 0 || calls != 3 {
		t.Fatalf("got %v after %d calls", err, calls)
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestADeadDatabaseIsAClearErrorWithoutThePassword(t *testing.T) {
	url := fmt.Sprintf("postgres://worker:hunter2-s3cret@127.0.0.1:%d/pipelines?connect_timeout=2", freePort(t))
	_, err := Open(context.Background(), url)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "worker@127.0.0.1:") {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), "hunter2") {
		t.Fatalf("the password leaked: %v", err)
	}
}

func TestMalformedConnectionStringsDoNotLeakThePassword(t *testing.T) {
	for _, s := range []string{
		"postgres://worker:hunter2-s3cret@127.0.0.1:notaport/db",
		"host=127.0.0.1 password=hunter2-s3cret port=notaport",
	} {
		_, err := Open(context.Background(), s)
		if err == nil || strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), "hunter2") {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestTheLoopEndsWithTheStoreErrorWhenTheDatabaseDies(t *testing.T) {
	url := freshDB(t)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	d := dep(t, s, "d")
	policy := testPolicy(t)
	pool.Close() // as a database that went away
	ran := false
	err = backstop.Do(ctx, policy, func(context.Context) error { ran = true; return nil }, backstop.WithSharedState(d))
	if err == nil || ran || !strings.Contains(err.Error(), "pgstore: updating the shared state") {
		t.Fatalf("got %v (ran %v)", err, ran)
	}
}

// BenchmarkUpdate: one planner-call's read-modify-write (one transaction) on
// one row, from one connection.
func BenchmarkUpdate(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, baseURL)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	d, err := s.Dependency("bench")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := d.Update(ctx, bump(nil)); err != nil {
			b.Fatal(err)
		}
	}
}
