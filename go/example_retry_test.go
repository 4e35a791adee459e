package backstop_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	backstop "github.com/backstop-policy/backstop/go"
)

// storageError is what a storage client might return.
type storageError struct{ status int }

func (e *storageError) Error() string       { return fmt.Sprintf("storage: HTTP %d", e.status) }
func (e *storageError) HTTPStatusCode() int { return e.status }

func ExampleDo() {
	ctx := context.Background()
	engine, err := backstop.New(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close(ctx)
	policy, err := engine.LoadPolicy(ctx, `
[retry]
max_attempts = 4
base_delay = "10ms"
jitter = "full"
attempt_timeout = "5s"
`, backstop.TOML)
	if err != nil {
		log.Fatal(err)
	}
	breaker := &backstop.MemoryStore{} // share one per dependency

	calls := 0
	err = backstop.Do(ctx, policy, func(ctx context.Context) error {
		calls++
		if calls < 3 {
			return &storageError{503} // transient: retried
		}
		return nil
	},
		backstop.WithIdempotencyKey("run-2024-06-01/train"),
		backstop.WithSharedState(breaker),
		backstop.OnRetry(func(_ error, _ int, d backstop.Decision) { fmt.Println("retrying after attempt", d.Attempt) }),
	)
	fmt.Println(err, calls)

	err = backstop.Do(ctx, policy, func(ctx context.Context) error {
		return &storageError{404} // permanent: not retried
	})
	var giveUp *backstop.GiveUpError
	if errors.As(err, &giveUp) {
		fmt.Println(giveUp.Reason, giveUp.Attempts)
	}
	// Output:
	// retrying after attempt 1
	// retrying after attempt 2
	// <nil> 3
	// permanent 1
}

func ExamplePolicy_Schedule() {
	ctx := context.Background()
	engine, _ := backstop.New(ctx)
	defer engine.Close(ctx)
	policy, _ := engine.LoadPolicy(ctx, `
[retry]
max_attempts = 5
base_delay = "1s"
max_delay = "20s"
jitter = "none"
attempt_timeout = "60s"
deadline = "3m"
`, backstop.TOML)
	seed, _ := engine.DeriveSeed(ctx, "run-2024-06-01/train")
	schedule, _ := policy.Schedule(ctx, seed, 10)
	for _, a := range schedule.Attempts {
		fmt.Printf("attempt %d: wait %dms, timeout %dms, starts at %dms\n", a.Attempt, a.DelayMs, *a.TimeoutMs, a.StartMs)
	}
	fmt.Println("then:", schedule.EndsWith)
	// Output:
	// attempt 1: wait 0ms, timeout 60000ms, starts at 0ms
	// attempt 2: wait 1000ms, timeout 60000ms, starts at 61000ms
	// attempt 3: wait 2000ms, timeout 57000ms, starts at 123000ms
	// then: deadline
}
