package peerbench

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	backstop "github.com/backstop-policy/backstop/go"
	backoffv4 "github.com/cenkalti/backoff/v4"
	backoffv5 "github.com/cenkalti/backoff/v5"
)

// What each side runs: fn succeeds at once ("Success"), or fails twice with
// a transient error and then succeeds ("TwoFailures"); the cost of one failed
// attempt is (TwoFailures - Success) / 2. Sleeping is replaced on both sides
// (a clock whose Sleep returns at once; a backoff Timer that fires at once),
// so the numbers are the libraries' own overhead. The error value is made
// once, so its construction is not counted on either side.

// httpError is a 503 as Backstop's FailureFromError reads it (transient by
// the built-in rules); backoff retries any error.
type httpError struct{ status int }

func (e httpError) Error() string       { return "HTTP 503 Service Unavailable" }
func (e httpError) HTTPStatusCode() int { return e.status }

var errUnavailable error = httpError{503}

// failingTwice fails on calls 1 and 2 of every 3.
func failingTwice() func() error {
	calls := 0
	return func() error {
		calls++
		if calls%3 != 0 {
			return errUnavailable
		}
		return nil
	}
}

// noSleep is time.Now and a Sleep that returns at once.
type noSleep struct{}

func (noSleep) Now() time.Time                                   { return time.Now() }
func (noSleep) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// instantTimer is a backoff v4 Timer that fires at once (v5's timer option
// is unexported, so v5 waits on a real zero-length timer).
type instantTimer struct{ c chan time.Time }

func (t *instantTimer) Start(time.Duration) { t.c <- time.Time{} }
func (t *instantTimer) Stop()               {}
func (t *instantTimer) C() <-chan time.Time { return t.c }
func newInstantTimer() *instantTimer        { return &instantTimer{c: make(chan time.Time, 1)} }

// shared is the one engine and policy every Backstop case uses: compiling
// the module per benchmark would dominate the run.
var shared struct {
	once sync.Once
	p    *backstop.Policy
	err  error
}

func loadPolicy(b *testing.B) *backstop.Policy {
	b.Helper()
	shared.once.Do(func() {
		ctx := context.Background()
		e, err := backstop.New(ctx, backstop.WithPoolSize(1))
		if err != nil {
			shared.err = err
			return
		}
		source, err := os.ReadFile("../../../tests/bench/peer-policy.toml")
		if err != nil {
			shared.err = err
			return
		}
		shared.p, shared.err = e.LoadPolicy(ctx, string(source), backstop.TOML)
	})
	if shared.err != nil {
		b.Fatal(shared.err)
	}
	return shared.p
}

// v4Policy is the peer policy's shape in backoff v4: exponential from
// 100 ms to 5 s with jitter, 5 attempts, made per operation (it is stateful).
func v4Policy() backoffv4.BackOff {
	eb := backoffv4.NewExponentialBackOff(backoffv4.WithInitialInterval(100*time.Millisecond),
		backoffv4.WithMaxInterval(5*time.Second))
	return backoffv4.WithMaxRetries(eb, 4)
}

// v5Options: v5's timer cannot be replaced (its option is unexported), so
// v5 runs with a zero backoff and waits on a real zero-length timer; its
// failed attempts include that timer.
func v5Options() []backoffv5.RetryOption {
	return []backoffv5.RetryOption{backoffv5.WithBackOff(&backoffv5.ZeroBackOff{}), backoffv5.WithMaxTries(5)}
}

func benchBackstop(b *testing.B, fn func() error, fresh bool) {
	ctx := context.Background()
	p := loadPolicy(b)
	op := func(context.Context) error { return fn() }
	// The default seed (crypto/rand), as a caller without an idempotency
	// key gets; the Node bench does the same.
	clock := backstop.WithClock(noSleep{})
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if fresh {
			// A fresh breaker and budget each time: two failures per
			// operation would drain a shared budget within a few.
			err = backstop.Do(ctx, p, op, clock, backstop.WithSharedState(&backstop.MemoryStore{}))
		} else {
			err = backstop.Do(ctx, p, op, clock)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

func benchV4(b *testing.B, fn func() error) {
	t := newInstantTimer()
	b.ReportAllocs()
	for b.Loop() {
		if err := backoffv4.RetryNotifyWithTimer(fn, v4Policy(), nil, t); err != nil {
			b.Fatal(err)
		}
	}
}

func benchV5(b *testing.B, fn func() error) {
	ctx := context.Background()
	op := func() (struct{}, error) { return struct{}{}, fn() }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := backoffv5.Retry(ctx, op, v5Options()...); err != nil {
			b.Fatal(err)
		}
	}
}

func succeed() error { return nil }

// BenchmarkSuccess is one call whose first attempt succeeds, against the
// policy's own shared state (breaker closed, budget full).
func BenchmarkSuccess(b *testing.B) {
	b.Run("backstop", func(b *testing.B) { benchBackstop(b, succeed, false) })
	b.Run("backoffv4", func(b *testing.B) { benchV4(b, succeed) })
	b.Run("backoffv5", func(b *testing.B) { benchV5(b, succeed) })
}

// BenchmarkSuccessFreshState is BenchmarkSuccess with a new shared state
// per call, the baseline of BenchmarkTwoFailures for Backstop.
func BenchmarkSuccessFreshState(b *testing.B) {
	b.Run("backstop", func(b *testing.B) { benchBackstop(b, succeed, true) })
}

// BenchmarkTwoFailures is one call that fails twice (HTTP 503) and then
// succeeds, sleeping replaced.
func BenchmarkTwoFailures(b *testing.B) {
	b.Run("backstop", func(b *testing.B) { benchBackstop(b, failingTwice(), true) })
	b.Run("backoffv4", func(b *testing.B) { benchV4(b, failingTwice()) })
	b.Run("backoffv5", func(b *testing.B) { benchV5(b, failingTwice()) })
}
