package backstop

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// BenchmarkClassify measures one classification with a loaded policy: the
// built-in rules and a failure carrying a status, a cause chain and a
// message, so every kind of field crosses the ABI. Run it with
//
//	go test -run '^$' -bench Classify -benchmem
func BenchmarkClassify(b *testing.B) {
	ctx := context.Background()
	p := loadPolicy(b, newEngine(b, WithPoolSize(1)), "", TOML)
	f := Failure{
		HTTPStatus: new(503),
		ErrorTypes: []string{"*url.Error", "*net.OpError"},
		Message:    new("GET https://storage.example/shard-7: 503 Service Unavailable"),
	}
	for b.Loop() {
		if _, err := p.Classify(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClassifyCancellable is BenchmarkClassify with a cancellable
// context, which runs on interruptible instances.
func BenchmarkClassifyCancellable(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := loadPolicy(b, newEngine(b, WithPoolSize(1)), "", TOML)
	f := Failure{
		HTTPStatus: new(503),
		ErrorTypes: []string{"*url.Error", "*net.OpError"},
		Message:    new("GET https://storage.example/shard-7: 503 Service Unavailable"),
	}
	for b.Loop() {
		if _, err := p.Classify(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClassifyParallel measures throughput with GOMAXPROCS goroutines
// sharing the default pool.
func BenchmarkClassifyParallel(b *testing.B) {
	ctx := context.Background()
	p := loadPolicy(b, newEngine(b), "", TOML)
	f := Failure{HTTPStatus: new(503), Message: new("503 Service Unavailable")}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Classify(ctx, f); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

const benchRetryPolicy = `
[retry]
max_attempts = 5
base_delay = "1s"
max_delay = "20s"
jitter = "additive"
attempt_timeout = "60s"
deadline = "6m"

[retry.circuit_breaker]
consecutive_failures = 5
open_for = "30s"

[retry.budget]
max_tokens = 10
`

// BenchmarkAfterFailure measures one planner decision: a 503 after attempt
// 2 of an operation with a deadline, breaker and budget, so the whole
// decision record (strings, options, both states) crosses the ABI and the
// parameters travel in memory. Run it with
//
//	go test -run '^$' -bench 'AfterFailure|BeginAttempt' -benchmem
func BenchmarkAfterFailure(b *testing.B) {
	ctx := context.Background()
	p := loadPolicy(b, newEngine(b, WithPoolSize(1)), benchRetryPolicy, TOML)
	start := time.UnixMilli(1_700_000_000_000)
	state := RetryState{Attempts: 2, StartedAtMs: new(uint64(start.UnixMilli())), LastDelayMs: 1000, Seed: 42}
	af := AttemptFailure{Failure: Failure{HTTPStatus: new(503), Message: new("503 Service Unavailable")}, Duration: 1200 * time.Millisecond}
	now := start.Add(3 * time.Second)
	for b.Loop() {
		d, err := p.AfterFailure(ctx, state, SharedState{}, af, now)
		if err != nil || !d.Retry() {
			b.Fatal(d, err)
		}
	}
}

// BenchmarkAfterFailureCancellable is BenchmarkAfterFailure with a
// cancellable context (interruptible instances), as Do uses when given one.
func BenchmarkAfterFailureCancellable(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := loadPolicy(b, newEngine(b, WithPoolSize(1)), benchRetryPolicy, TOML)
	start := time.UnixMilli(1_700_000_000_000)
	state := RetryState{Attempts: 2, StartedAtMs: new(uint64(start.UnixMilli())), LastDelayMs: 1000, Seed: 42}
	af := AttemptFailure{Failure: Failure{HTTPStatus: new(503), Message: new("503 Service Unavailable")}, Duration: 1200 * time.Millisecond}
	now := start.Add(3 * time.Second)
	for b.Loop() {
		if _, err := p.AfterFailure(ctx, state, SharedState{}, af, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBeginAttempt measures the check before an attempt (flat
// parameters, no strings).
func BenchmarkBeginAttempt(b *testing.B) {
	ctx := context.Background()
	p := loadPolicy(b, newEngine(b, WithPoolSize(1)), benchRetryPolicy, TOML)
	now := time.UnixMilli(1_700_000_000_000)
	state := RetryState{Attempts: 1, StartedAtMs: new(uint64(now.UnixMilli())), Seed: 42}
	for b.Loop() {
		if _, err := p.BeginAttempt(ctx, state, SharedState{}, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDo measures a whole Do that fails once and then succeeds, on a
// fake clock: 2 begin-attempts, 1 after-failure, 1 after-success.
func BenchmarkDo(b *testing.B) {
	ctx := context.Background()
	p := loadPolicy(b, newEngine(b, WithPoolSize(1)), benchRetryPolicy, TOML)
	clock := newFakeClock()
	for b.Loop() {
		store := &MemoryStore{} // a fresh budget each time
		calls := 0
		err := Do(ctx, p, func(context.Context) error {
			calls++
			if calls == 1 {
				return httpError{503}
			}
			return nil
		}, WithClock(clock), WithSharedState(store))
		if err != nil {
			b.Fatal(err)
		}
		clock.sleeps = clock.sleeps[:0]
	}
}

// BenchmarkDoCancellable is BenchmarkDo with a cancellable context; Do's
// planner calls still run on plain instances.
func BenchmarkDoCancellable(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := loadPolicy(b, newEngine(b, WithPoolSize(1)), benchRetryPolicy, TOML)
	clock := newFakeClock()
	for b.Loop() {
		calls := 0
		err := Do(ctx, p, func(context.Context) error {
			calls++
			if calls == 1 {
				return httpError{503}
			}
			return nil
		}, WithClock(clock), WithSharedState(&MemoryStore{}))
		if err != nil {
			b.Fatal(err)
		}
		clock.sleeps = clock.sleeps[:0]
	}
}

// BenchmarkEvaluateAlerts measures one escalation evaluation with the
// seed's Example 3 policy: a run-failed event with a failure to classify,
// labels and log lines to redact, against a state holding one open alert,
// so the payload and runbook are built each time. Run it with
//
//	go test -run '^$' -bench EvaluateAlerts -benchmem
func BenchmarkEvaluateAlerts(b *testing.B) {
	ctx := context.Background()
	p := loadPolicy(b, newEngine(b, WithPoolSize(1)), seedAlerts, JSON)
	now := time.UnixMilli(1_704_067_200_000)
	e := Event{
		Kind: EventRunFailed, Pipeline: "nightly", Step: "train", RunID: "r1", Attempt: 3,
		Failure:  &Failure{HTTPStatus: new(503), ErrorTypes: []string{"TransientError"}, Message: new("503 Service Unavailable")},
		Labels:   map[string]string{"team": "ml", "zone": "eu-west-1"},
		LogLines: []string{"loading shard 7", "GET https://alice:hunter2@storage.example/shard-7: 503"},
	}
	first, err := p.EvaluateAlerts(ctx, "", e, now)
	if err != nil {
		b.Fatal(err)
	}
	e.RunID = "r2"
	for b.Loop() {
		if _, err := p.EvaluateAlerts(ctx, first.State, e, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluateAlertsTick measures a timer tick against the same state:
// the cheapest call a scheduler makes.
func BenchmarkEvaluateAlertsTick(b *testing.B) {
	ctx := context.Background()
	p := loadPolicy(b, newEngine(b, WithPoolSize(1)), seedAlerts, JSON)
	now := time.UnixMilli(1_704_067_200_000)
	first, err := p.EvaluateAlerts(ctx, "", Event{Kind: EventRunFailed, Pipeline: "nightly", Step: "train", RunID: "r1",
		Failure: &Failure{HTTPStatus: new(503)}}, now)
	if err != nil {
		b.Fatal(err)
	}
	tick := Event{Kind: EventTick}
	for b.Loop() {
		if _, err := p.EvaluateAlerts(ctx, first.State, tick, now.Add(time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
}

// tail50 is the shared 50-line tail every host's benchmark reads: training
// progress, a bearer token and a botocore traceback.
func tail50(b *testing.B) string {
	text, err := os.ReadFile("../tests/bench/tail-50.txt")
	if err != nil {
		b.Fatal(err)
	}
	return string(text)
}

// BenchmarkReadLog measures the log readers over a 50-line tail.
//
//	go test -run '^$' -bench 'ReadLog|Redact' -benchmem
func BenchmarkReadLog(b *testing.B) {
	ctx := context.Background()
	e := newEngine(b, WithPoolSize(1))
	in := LogInput{Text: tail50(b), ExitCode: new(1)}
	for b.Loop() {
		if _, err := e.ReadLog(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedact measures redacting the same tail with the built-in rules.
func BenchmarkRedact(b *testing.B) {
	ctx := context.Background()
	p := loadPolicy(b, newEngine(b, WithPoolSize(1)), "", TOML)
	text := tail50(b)
	for b.Loop() {
		if _, err := p.Redact(ctx, text); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlanFailures is BenchmarkAfterFailure through plan-failures, for
// 1 entry (after-failure's answer and the next permit) and for as many as
// the policy plans (up to 16).
func BenchmarkPlanFailures(b *testing.B) {
	for _, entries := range []uint32{1, 2, 16} {
		b.Run(fmt.Sprintf("entries=%d", entries), func(b *testing.B) {
			ctx := context.Background()
			// No deadline, so the answers past the first do not depend on the clock.
			p := loadPolicy(b, newEngine(b, WithPoolSize(1)), "[retry]\nmax_attempts = 5\n", TOML)
			start := time.UnixMilli(1_700_000_000_000)
			state := RetryState{Attempts: 1, StartedAtMs: new(uint64(start.UnixMilli())), Seed: 42}
			af := AttemptFailure{Failure: Failure{HTTPStatus: new(503), Message: new("503 Service Unavailable")}, Duration: 1200 * time.Millisecond}
			now := start.Add(3 * time.Second)
			for b.Loop() {
				plan, err := p.PlanFailures(ctx, state, SharedState{}, af, now, entries)
				if err != nil || len(plan) == 0 {
					b.Fatal(plan, err)
				}
			}
		})
	}
}
