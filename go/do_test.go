package backstop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock advances only when Do sleeps, and records every sleep.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	// Real "now", so a context deadline set from time.Now() lines up.
	return &fakeClock{now: time.Now()}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// blockingClock signals each sleep and then waits for ctx to end.
type blockingClock struct {
	fakeClock
	sleeping chan time.Duration
}

func (c *blockingClock) Sleep(ctx context.Context, d time.Duration) error {
	c.sleeping <- d
	<-ctx.Done()
	return ctx.Err()
}

// httpError is a failure with an HTTP status, as FailureFromError sees it.
type httpError struct{ status int }

func (e httpError) Error() string       { return fmt.Sprintf("HTTP %d", e.status) }
func (e httpError) HTTPStatusCode() int { return e.status }

// failing returns fn failing with errs in turn, then succeeding, and a
// counter of its calls.
func failing(errs ...error) (func(context.Context) error, *int) {
	calls := 0
	return func(context.Context) error {
		calls++
		if calls <= len(errs) {
			return errs[calls-1]
		}
		return nil
	}, &calls
}

const plainRetry = `
[retry]
max_attempts = 4
base_delay = "1s"
multiplier = 2
jitter = "none"
`

func TestDoRetriesTransientFailuresUntilSuccess(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t), plainRetry, TOML)
	clock := newFakeClock()
	fn, calls := failing(httpError{503}, httpError{503})
	var seen []Decision
	err := Do(ctx, p, fn, WithClock(clock), OnRetry(func(_ error, _ int, d Decision) { seen = append(seen, d) }))
	if err != nil {
		t.Fatal(err)
	}
	if *calls != 3 {
		t.Errorf("%d calls, want 3", *calls)
	}
	if want := []time.Duration{time.Second, 2 * time.Second}; !reflect.DeepEqual(clock.slept(), want) {
		t.Errorf("slept %v, want %v", clock.slept(), want)
	}
	if len(seen) != 2 || seen[0].Attempt != 1 || seen[1].Attempt != 2 || seen[0].Classification.Class != Transient {
		t.Errorf("OnRetry saw %+v", seen)
	}
}

func TestDoValue(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t), plainRetry, TOML)
	calls := 0
	v, err := DoValue(ctx, p, func(context.Context) (string, error) {
		calls++
		if calls == 1 {
			return "partial", &net.OpError{Op: "read", Err: errors.New("connection reset")}
		}
		return "shard-7", nil
	}, WithClock(newFakeClock()))
	if err != nil || v != "shard-7" {
		t.Errorf("got (%q, %v)", v, err)
	}
	v, err = DoValue(ctx, p, func(context.Context) (string, error) { return "partial", httpError{404} },
		WithClock(newFakeClock()))
	if err == nil || v != "" {
		t.Errorf("a failure gave (%q, %v), want the zero value and an error", v, err)
	}
}

func TestDoFailsFastOnPermanentErrors(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t), plainRetry, TOML)
	clock := newFakeClock()
	fn, calls := failing(httpError{404}, httpError{404})
	err := Do(ctx, p, fn, WithClock(clock))
	var gu *GiveUpError
	if !errors.As(err, &gu) {
		t.Fatalf("got %v, want a *GiveUpError", err)
	}
	if *calls != 1 || len(clock.slept()) != 0 {
		t.Errorf("%d calls, slept %v; want 1 call and no sleep", *calls, clock.slept())
	}
	if gu.Reason != GiveUpPermanent || gu.Attempts != 1 || gu.Decision == nil ||
		gu.Decision.Classification.Class != Permanent {
		t.Errorf("got %+v", gu)
	}
	var he httpError
	if !errors.As(err, &he) || he.status != 404 || gu.Unwrap() != (httpError{404}) {
		t.Errorf("the error does not wrap the attempt's: %v", err)
	}
	if !strings.Contains(err.Error(), "give up: permanent") || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("message %q", err)
	}
}

func TestDoGivesUpWhenAttemptsAreExhausted(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t), plainRetry, TOML)
	clock := newFakeClock()
	last := httpError{503}
	fn, calls := failing(httpError{502}, httpError{500}, httpError{504}, last)
	err := Do(ctx, p, fn, WithClock(clock))
	var gu *GiveUpError
	if !errors.As(err, &gu) || gu.Reason != GiveUpAttemptsExhausted || gu.Attempts != 4 || *calls != 4 {
		t.Fatalf("got %v (%d calls)", err, *calls)
	}
	if gu.Err != last {
		t.Errorf("wraps %v, want the last attempt's error", gu.Err)
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; !reflect.DeepEqual(clock.slept(), want) {
		t.Errorf("slept %v, want %v", clock.slept(), want)
	}
}

func TestDoRespectsTheContextDeadline(t *testing.T) {
	p := loadPolicy(t, newEngine(t), `
[retry]
max_attempts = 10
base_delay = "20m"
multiplier = 2
max_delay = "2h"
jitter = "none"
`, TOML)
	clock := newFakeClock()
	// A deadline an hour away in real time: the fake clock reaches it
	// after the 20-minute wait, when the next (40-minute) wait would pass it.
	ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(time.Hour))
	defer cancel()
	fn, calls := failing(httpError{503}, httpError{503}, httpError{503})
	err := Do(ctx, p, fn, WithClock(clock))
	var gu *GiveUpError
	if !errors.As(err, &gu) || gu.Reason != GiveUpDeadline || gu.Attempts != 2 || *calls != 2 {
		t.Fatalf("got %v (%d calls)", err, *calls)
	}
	if gu.Decision == nil || !gu.Decision.Retry() || gu.Decision.Delay() != 40*time.Minute {
		t.Errorf("decision %+v, want the planner's 40m retry", gu.Decision)
	}
	if want := []time.Duration{20 * time.Minute}; !reflect.DeepEqual(clock.slept(), want) {
		t.Errorf("slept %v, want %v", clock.slept(), want)
	}
	if !strings.Contains(err.Error(), "context's deadline") {
		t.Errorf("message %q", err)
	}
}

func TestDoReturnsPromptlyWhenCancelledMidSleep(t *testing.T) {
	p := loadPolicy(t, newEngine(t), plainRetry, TOML)
	clock := &blockingClock{fakeClock: *newFakeClock(), sleeping: make(chan time.Duration)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fn, calls := failing(httpError{503}, httpError{503})
	done := make(chan error)
	go func() { done <- Do(ctx, p, fn, WithClock(clock)) }()
	if d := <-clock.sleeping; d != time.Second {
		t.Errorf("sleeping %v, want 1s", d)
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if !errors.Is(err, httpError{503}) || *calls != 1 {
		t.Errorf("got %v after %d calls; want it to carry the last error after 1", err, *calls)
	}

	// Already cancelled: no attempt at all, and exactly ctx.Err().
	fn, calls = failing()
	if err := Do(ctx, p, fn, WithClock(clock)); err != context.Canceled || *calls != 0 {
		t.Errorf("got %v after %d calls", err, *calls)
	}
}

func TestDoStopsWhenCancelledDuringAnAttempt(t *testing.T) {
	p := loadPolicy(t, newEngine(t), plainRetry, TOML)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	err := Do(ctx, p, func(ctx context.Context) error {
		calls++
		cancel()
		return fmt.Errorf("upload aborted: %w", ctx.Err())
	}, WithClock(newFakeClock()))
	var gu *GiveUpError
	if !errors.Is(err, context.Canceled) || errors.As(err, &gu) || calls != 1 ||
		!strings.Contains(err.Error(), "upload aborted") {
		t.Errorf("got %v after %d calls", err, calls)
	}
}

func TestDoAppliesTheAttemptTimeout(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t), `
[retry]
max_attempts = 2
base_delay = "1s"
attempt_timeout = "20ms"
jitter = "none"
`, TOML)
	var timeouts []time.Duration
	var decisions []Decision
	calls := 0
	err := Do(ctx, p, func(ctx context.Context) error {
		calls++
		deadline, ok := ctx.Deadline()
		if !ok {
			return errors.New("no attempt deadline")
		}
		timeouts = append(timeouts, time.Until(deadline))
		if calls == 1 {
			<-ctx.Done() // a hung attempt
			return ctx.Err()
		}
		return nil
	}, WithClock(newFakeClock()), OnRetry(func(_ error, _ int, d Decision) { decisions = append(decisions, d) }))
	if err != nil || calls != 2 {
		t.Fatalf("got %v after %d calls", err, calls)
	}
	for _, d := range timeouts {
		if d > 20*time.Millisecond {
			t.Errorf("attempt deadline %v away, want at most 20ms", d)
		}
	}
	if len(decisions) != 1 || decisions[0].Classification.Class != Transient ||
		decisions[0].Classification.Rule != "builtin.attempt-timeout" {
		t.Errorf("the timeout was classified %+v, want transient by the built-in rule", decisions)
	}

	// Every attempt hangs: the give-up wraps an AttemptTimeout.
	err = Do(ctx, p, func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}, WithClock(newFakeClock()))
	var at AttemptTimeout
	if !errors.As(err, &at) || at.Attempt != 2 || at.Timeout != 20*time.Millisecond {
		t.Fatalf("got %v, want an AttemptTimeout of attempt 2", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v does not wrap context.DeadlineExceeded", err)
	}
	f := FailureFromError(at)
	if len(f.ErrorTypes) < 2 || f.ErrorTypes[0] != "backstop.AttemptTimeout" ||
		f.ErrorTypes[1] != "context.deadlineExceededError" {
		t.Errorf("error types %v", f.ErrorTypes)
	}
}

func TestAttemptTimeoutCanBeNamedByARule(t *testing.T) {
	p := loadPolicy(t, newEngine(t), `
[[classify.rules]]
id = "hung"
class = "permanent"
error_type = "backstop.AttemptTimeout"
`, TOML)
	c, err := p.ClassifyError(context.Background(), AttemptTimeout{Attempt: 1, Timeout: time.Second, Err: context.DeadlineExceeded})
	if err != nil || c.Rule != "hung" {
		t.Errorf("got %+v, %v", c, err)
	}
}

func TestDoHonoursPushback(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t), plainRetry, TOML)
	clock := newFakeClock()
	wrapped := fmt.Errorf("fetch: %w", &RetryAfterError{Err: httpError{429}, After: 7*time.Second + time.Microsecond})
	fn, _ := failing(wrapped, &RetryAfterError{Err: httpError{503}, After: -1})
	if err := Do(ctx, p, fn, WithClock(clock)); err != nil {
		t.Fatal(err)
	}
	// Rounded up to the millisecond; a negative pushback is none (backoff 2s).
	if want := []time.Duration{7001 * time.Millisecond, 2 * time.Second}; !reflect.DeepEqual(clock.slept(), want) {
		t.Errorf("slept %v, want %v", clock.slept(), want)
	}
}

const breakerPolicy = `
[retry]
max_attempts = 5
base_delay = "1s"
jitter = "none"

[retry.circuit_breaker]
consecutive_failures = 2
open_for = "30s"
`

func TestDoWithAnOpenCircuit(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t), breakerPolicy, TOML)
	clock := newFakeClock()
	store := &MemoryStore{}

	fn, calls := failing(httpError{503}, httpError{503}, httpError{503})
	err := Do(ctx, p, fn, WithClock(clock), WithSharedState(store))
	var gu *GiveUpError
	if !errors.As(err, &gu) || gu.Reason != GiveUpCircuitOpen || *calls != 2 {
		t.Fatalf("got %v after %d calls, want the second failure to open the circuit", err, *calls)
	}
	if s, _ := store.Load(ctx); s.Breaker.Circuit != CircuitOpen {
		t.Fatalf("store holds %+v", s)
	}

	// Another operation against the same dependency is refused without running.
	clock.advance(10 * time.Second)
	fn, calls = failing()
	err = Do(ctx, p, fn, WithClock(clock), WithSharedState(store))
	if !errors.As(err, &gu) || gu.Reason != GiveUpCircuitOpen || gu.Attempts != 0 || *calls != 0 ||
		gu.Err != nil || gu.Decision != nil {
		t.Fatalf("got %#v after %d calls", err, *calls)
	}
	if gu.RetryAfter != 20*time.Second {
		t.Errorf("retry after %v, want 20s (30s open, 10s passed)", gu.RetryAfter)
	}
	if !strings.Contains(err.Error(), "refused: circuit-open") {
		t.Errorf("message %q", err)
	}

	// Once open_for has passed, a probe runs; its success closes the circuit.
	clock.advance(gu.RetryAfter)
	fn, calls = failing()
	if err := Do(ctx, p, fn, WithClock(clock), WithSharedState(store)); err != nil || *calls != 1 {
		t.Fatalf("probe: %v after %d calls", err, *calls)
	}
	if s, _ := store.Load(ctx); s.Breaker.Circuit != CircuitClosed {
		t.Errorf("store holds %+v after a successful probe", s)
	}
}

// Concurrent operations sharing a MemoryStore lose no outcome.
func TestMemoryStoreUpdatesAtomically(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t), `
[retry]
max_attempts = 1

[retry.circuit_breaker]
consecutive_failures = 1000
`, TOML)
	store := &MemoryStore{}
	const workers, each = 8, 10
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				err := Do(ctx, p, func(context.Context) error { return httpError{503} },
					WithClock(newFakeClock()), WithSharedState(store))
				if !errors.As(err, new(*GiveUpError)) {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if s, _ := store.Load(ctx); s.Breaker.ConsecutiveFailures != workers*each {
		t.Errorf("%d consecutive failures recorded, want %d", s.Breaker.ConsecutiveFailures, workers*each)
	}
}

// mapStore is a Load/Save store without Update, failing on demand.
type mapStore struct {
	s                 SharedState
	loadErr, saveErr  error
	loads, saves      int
	lastSavedCircuits []Circuit
}

func (m *mapStore) Load(context.Context) (SharedState, error) {
	m.loads++
	return m.s, m.loadErr
}

func (m *mapStore) Save(_ context.Context, s SharedState) error {
	m.saves++
	if m.saveErr != nil {
		return m.saveErr
	}
	m.s = s
	m.lastSavedCircuits = append(m.lastSavedCircuits, s.Breaker.Circuit)
	return nil
}

func TestDoWithALoadSaveStore(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t), breakerPolicy, TOML)
	store := &mapStore{}
	fn, _ := failing(httpError{503})
	if err := Do(ctx, p, fn, WithClock(newFakeClock()), WithSharedState(store)); err != nil {
		t.Fatal(err)
	}
	// begin, after-failure, begin, after-success: each loads and saves.
	if store.loads != 4 || store.saves != 4 || store.s.Breaker.ConsecutiveFailures != 0 {
		t.Errorf("%d loads, %d saves, state %+v", store.loads, store.saves, store.s)
	}

	broken := errors.New("disk full")
	store = &mapStore{saveErr: broken}
	fn, calls := failing()
	err := Do(ctx, p, fn, WithClock(newFakeClock()), WithSharedState(store))
	if !errors.Is(err, broken) || *calls != 0 || !strings.Contains(err.Error(), "saving the shared state") {
		t.Errorf("got %v after %d calls", err, *calls)
	}
	store = &mapStore{loadErr: broken}
	if err := Do(ctx, p, fn, WithClock(newFakeClock()), WithSharedState(store)); !errors.Is(err, broken) {
		t.Errorf("got %v", err)
	}

	// A corrupted state is the guest's invalid-state error, not a crash.
	store = &mapStore{s: SharedState{Breaker: BreakerState{RecentCount: 65}}}
	err = Do(ctx, p, fn, WithClock(newFakeClock()), WithSharedState(store))
	var pe *PolicyError
	if !errors.As(err, &pe) || pe.Code != CodeInvalidState {
		t.Errorf("got %v, want an invalid-state PolicyError", err)
	}
}

func TestDoReportsASuccessItCouldNotRecord(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t), breakerPolicy, TOML)
	store := &failingUpdateStore{failOn: 2}
	fn, calls := failing()
	err := Do(ctx, p, fn, WithClock(newFakeClock()), WithSharedState(store))
	if !errors.Is(err, errStoreDown) || *calls != 1 || !strings.Contains(err.Error(), "attempt 1 succeeded") {
		t.Errorf("got %v after %d calls", err, *calls)
	}
}

var errStoreDown = errors.New("store down")

// failingUpdateStore's Update fails on its failOn-th call.
type failingUpdateStore struct {
	MemoryStore
	n, failOn int
}

func (s *failingUpdateStore) Update(ctx context.Context, fn func(SharedState) (SharedState, error)) error {
	s.n++
	if s.n == s.failOn {
		return errStoreDown
	}
	return s.MemoryStore.Update(ctx, fn)
}

// The idempotency key seeds the jitter: the waits are the schedule's for
// DeriveSeed(key), and a different key waits differently.
func TestDoSeedsTheJitterFromTheIdempotencyKey(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t)
	p := loadPolicy(t, e, `
[retry]
max_attempts = 4
jitter = "full"
`, TOML)
	waits := func(opts ...RetryOption) []time.Duration {
		clock := newFakeClock()
		fn, _ := failing(httpError{503}, httpError{503}, httpError{503})
		if err := Do(ctx, p, fn, append(opts, WithClock(clock))...); err != nil {
			t.Fatal(err)
		}
		return clock.slept()
	}
	seed, err := e.DeriveSeed(ctx, "run-42/train")
	if err != nil {
		t.Fatal(err)
	}
	sched, err := p.Schedule(ctx, seed, 4)
	if err != nil {
		t.Fatal(err)
	}
	var want []time.Duration
	for _, a := range sched.Attempts[1:] {
		want = append(want, time.Duration(a.DelayMs)*time.Millisecond)
	}
	if got := waits(WithIdempotencyKey("run-42/train")); !reflect.DeepEqual(got, want) {
		t.Errorf("keyed waits %v, want the schedule's %v", got, want)
	}
	if got := waits(WithSeed(seed)); !reflect.DeepEqual(got, want) {
		t.Errorf("seeded waits %v, want %v", got, want)
	}
	if reflect.DeepEqual(waits(WithIdempotencyKey("run-43/train")), want) {
		t.Error("another key gave the same waits")
	}
	// Without a key or seed: 64 bits from crypto/rand, so two operations
	// (and an operation and seed 0) do not retry in lockstep.
	zero := waits(WithSeed(0))
	a, b := waits(), waits()
	if reflect.DeepEqual(a, zero) || reflect.DeepEqual(a, b) {
		t.Errorf("unseeded waits %v and %v (seed 0: %v): not random", a, b, zero)
	}
	// An explicit seed wins over the key.
	if got := waits(WithSeed(seed), WithIdempotencyKey("run-43/train")); !reflect.DeepEqual(got, want) {
		t.Errorf("seed and key: waits %v, want the seed's %v", got, want)
	}
}

func TestDoRejectsBadArguments(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t), plainRetry, TOML)
	if err := Do(ctx, nil, func(context.Context) error { return nil }); err == nil {
		t.Error("nil policy accepted")
	}
	if err := Do(ctx, p, nil); err == nil {
		t.Error("nil function accepted")
	}
	if _, err := DoValue[int](ctx, p, nil); err == nil {
		t.Error("nil function accepted by DoValue")
	}
	if err := Do(ctx, p, func(context.Context) error { return nil }, WithClock(nil)); err == nil {
		t.Error("nil clock accepted")
	}
	p.Close(ctx)
	if err := Do(ctx, p, func(context.Context) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("closed policy: %v", err)
	}
}

func TestSystemClockSleepHonoursTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	if err := SystemClock.Sleep(ctx, 0); err != nil {
		t.Errorf("zero sleep: %v", err)
	}
	if err := SystemClock.Sleep(ctx, time.Millisecond); err != nil {
		t.Errorf("short sleep: %v", err)
	}
	cancel()
	if err := SystemClock.Sleep(ctx, time.Hour); err != context.Canceled {
		t.Errorf("cancelled sleep: %v", err)
	}
}
