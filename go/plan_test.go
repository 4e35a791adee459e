package backstop

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// Do takes a repeated failure's decision, and the permit after it, from a
// plan-failures answer (do.go: plannedDecision, plannedPermit). These tests
// count the guest calls it makes and compare its decisions with the ones
// BeginAttempt and AfterFailure give for the states it actually held.

// callCounter counts calls of the guest's WIT exports through wazero's
// function listeners, which an Engine gets from the context New compiles
// the guest with: a hook outside the package's code, so Do pays nothing
// for it.
type callCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *callCounter) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	for _, name := range def.ExportNames() {
		for _, f := range witFuncs {
			if name != exportName(f) {
				continue
			}
			return experimental.FunctionListenerFunc(func(context.Context, api.Module, api.FunctionDefinition, []uint64, experimental.StackIterator) {
				c.mu.Lock()
				c.n[f.name]++
				c.mu.Unlock()
			})
		}
	}
	return nil
}

// take returns the counts so far and starts again from zero.
func (c *callCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

// countingEngine is an Engine whose guest calls c counts. It compiles the
// guest itself: compiled code from a shared cache would keep the listeners
// of the engine that compiled it.
func countingEngine(t *testing.T) (*Engine, *callCounter) {
	t.Helper()
	c := &callCounter{n: map[string]int{}}
	ctx := context.Background()
	e, err := New(experimental.WithFunctionListenerFactory(ctx, c), WithPoolSize(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(ctx) })
	return e, c
}

// planPolicy has a breaker and a budget but no deadline, so a repeated
// failure's decisions cannot depend on the clock and are planned.
const planPolicy = `
[retry]
max_attempts = 8
base_delay = "100ms"
max_delay = "5s"
jitter = "full"

[retry.circuit_breaker]
consecutive_failures = 100
open_for = "30s"

[retry.budget]
max_tokens = 1000
`

var planFailure = AttemptFailure{Failure: Failure{HTTPStatus: new(503)}}

// failingN fails n times with a 503, then succeeds.
func failingN(n int) func(context.Context) error {
	calls := 0
	return func(context.Context) error {
		calls++
		if calls <= n {
			return httpError{503}
		}
		return nil
	}
}

func TestDoTakesARepeatedFailureFromThePlan(t *testing.T) {
	ctx := context.Background()
	e, calls := countingEngine(t)
	p := loadPolicy(t, e, planPolicy, TOML)
	ref := loadPolicy(t, newEngine(t), planPolicy, TOML)
	clock := newFakeClock()
	start := clock.Now()
	store := &MemoryStore{}
	const failures = 5
	var decisions []Decision
	calls.take()
	err := Do(ctx, p, failingN(failures), WithClock(clock), WithSeed(42), WithSharedState(store),
		OnRetry(func(_ error, _ int, d Decision) { decisions = append(decisions, d) }))
	if err != nil {
		t.Fatal(err)
	}
	n := calls.take()
	// The first attempt's permit is the fresh state's (fast-path-for); the
	// first failure asks for a plan, and the rest is taken from it.
	if n["plan-failures"] != 1 || n["after-failure"] != 0 || n["begin-attempt"] != 0 {
		t.Errorf("guest calls = %v, want 1 plan-failures, no after-failure or begin-attempt", n)
	}

	// The same decisions as the planner calls, one by one, on the clock Do saw.
	state, shared, now := RetryState{Seed: 42}, SharedState{}, start
	for i := range failures {
		permit, err := ref.BeginAttempt(ctx, state, shared, now)
		if err != nil || permit.Refused != "" {
			t.Fatal(permit, err)
		}
		d, err := ref.AfterFailure(ctx, permit.State, permit.Shared, planFailure, now)
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(decisions) || !reflect.DeepEqual(decisions[i], d) {
			t.Fatalf("decision %d:\n got %+v\nwant %+v", i+1, decisions[i:min(i+1, len(decisions))], d)
		}
		state, shared, now = d.State, d.Shared, now.Add(d.Delay())
	}
	permit, err := ref.BeginAttempt(ctx, state, shared, now)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.AfterSuccess(ctx, permit.Shared)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := store.Load(ctx); got != want {
		t.Errorf("shared state = %+v, want %+v", got, want)
	}

	// A failure that differs from the planned one is planned anew.
	errs := []error{httpError{503}, httpError{502}, httpError{503}, httpError{502}}
	fn, _ := failing(errs...)
	calls.take()
	if err := Do(ctx, p, fn, WithClock(clock), WithSeed(42), WithSharedState(&MemoryStore{})); err != nil {
		t.Fatal(err)
	}
	if n := calls.take(); n["plan-failures"] != len(errs) || n["after-failure"] != 0 {
		t.Errorf("alternating failures: guest calls = %v, want %d plan-failures", n, len(errs))
	}
}

// interferingStore is a SharedStore in which another process records a
// failure of its own before every update: the shared state Do gets is
// never the one its last decision left.
type interferingStore struct {
	mu     sync.Mutex
	s      SharedState
	other  *Policy
	clock  Clock
	t      *testing.T
	events []storeEvent
}

// storeEvent is one update as Do made it: the state it was handed, its
// result, and the clock.
type storeEvent struct {
	in, out SharedState
	now     time.Time
}

func (s *interferingStore) Load(context.Context) (SharedState, error) { panic("Do updates") }
func (s *interferingStore) Save(context.Context, SharedState) error   { panic("Do updates") }

func (s *interferingStore) Update(ctx context.Context, fn func(SharedState) (SharedState, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	startedAt := uint64(now.UnixMilli())
	d, err := s.other.AfterFailure(ctx, RetryState{Attempts: 1, StartedAtMs: &startedAt, Seed: 7}, s.s, planFailure, now)
	if err != nil {
		s.t.Error(err)
		return err
	}
	s.s = d.Shared
	out, err := fn(s.s)
	if err != nil {
		return err
	}
	s.events = append(s.events, storeEvent{in: s.s, out: out, now: now})
	s.s = out
	return nil
}

func TestDoDoesNotUseThePlanWhenTheSharedStateChanges(t *testing.T) {
	ctx := context.Background()
	e, calls := countingEngine(t)
	p := loadPolicy(t, e, planPolicy, TOML)
	ref := loadPolicy(t, newEngine(t), planPolicy, TOML)
	clock := newFakeClock()
	store := &interferingStore{other: ref, clock: clock, t: t}
	const failures = 5
	var decisions []Decision
	calls.take()
	err := Do(ctx, p, failingN(failures), WithClock(clock), WithSeed(42), WithSharedState(store),
		OnRetry(func(_ error, _ int, d Decision) { decisions = append(decisions, d) }))
	if err != nil {
		t.Fatal(err)
	}
	n := calls.take()
	if n["plan-failures"] != failures || n["begin-attempt"] < failures {
		t.Errorf("guest calls = %v, want %d plan-failures and at least %d begin-attempts", n, failures, failures)
	}

	// Updates alternate: begin, failure, ..., begin, success.
	ev := store.events
	if len(ev) != 2*failures+2 || len(decisions) != failures {
		t.Fatalf("%d updates and %d decisions, want %d and %d", len(ev), len(decisions), 2*failures+2, failures)
	}
	state := RetryState{Seed: 42}
	for i := range failures {
		b, f := ev[2*i], ev[2*i+1]
		permit, err := ref.BeginAttempt(ctx, state, b.in, b.now)
		if err != nil {
			t.Fatal(err)
		}
		if permit.Shared != b.out {
			t.Errorf("attempt %d: begin-attempt left %+v, want %+v", i+1, b.out, permit.Shared)
		}
		d, err := ref.AfterFailure(ctx, permit.State, f.in, planFailure, f.now)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(decisions[i], d) {
			t.Errorf("decision %d:\n got %+v\nwant %+v", i+1, decisions[i], d)
		}
		if d.Shared != f.out {
			t.Errorf("attempt %d: the failure left %+v, want %+v", i+1, f.out, d.Shared)
		}
		state = d.State
	}
}
