package backstop

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"
)

// Another process's outcomes land in a shared store between Do's updates:
// every decision must still be the one BeginAttempt and AfterFailure give
// for the states Do actually held (as in the other hosts' tests of their
// loops, which keep plan-failures answers; Do makes one call per step).

// interferingPolicy has a breaker and a budget, so another process's
// failure changes what Do decides.
const interferingPolicy = `
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

var interferingFailure = AttemptFailure{Failure: Failure{HTTPStatus: new(503)}}

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
	d, err := s.other.AfterFailure(ctx, RetryState{Attempts: 1, StartedAtMs: &startedAt, Seed: 7}, s.s, interferingFailure, now)
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

func TestDoDecidesOnTheSharedStateAnotherProcessChanged(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t), interferingPolicy, TOML)
	ref := loadPolicy(t, newEngine(t), interferingPolicy, TOML)
	clock := newFakeClock()
	store := &interferingStore{other: ref, clock: clock, t: t}
	const failures = 5
	var decisions []Decision
	err := Do(ctx, p, failingN(failures), WithClock(clock), WithSeed(42), WithSharedState(store),
		OnRetry(func(_ error, _ int, d Decision) { decisions = append(decisions, d) }))
	if err != nil {
		t.Fatal(err)
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
		d, err := ref.AfterFailure(ctx, permit.State, f.in, interferingFailure, f.now)
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
