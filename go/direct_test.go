package backstop

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestDirectPlannerCallsMatchGenericGlue compares begin-attempt and
// after-success through direct.go with the same calls through the generic
// canonical-ABI glue, on one instance, over states of every shape: granted
// and refused permits, every circuit, absent and present options, u64
// extremes, and states the guest refuses (both must return the same
// *PolicyError).
func TestDirectPlannerCallsMatchGenericGlue(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, WithPoolSize(1))
	p := loadPolicy(t, e, `
[retry]
max_attempts = 6
base_delay = "1s"
max_delay = "30s"
jitter = "decorrelated"
attempt_timeout = "10s"
deadline = "1m"

[retry.circuit_breaker]
consecutive_failures = 3
open_for = "30s"

[retry.budget]
max_tokens = 10
`, TOML)
	inst, err := e.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer e.release(inst, nil)
	h, err := p.handleOn(ctx, inst)
	if err != nil {
		t.Fatal(err)
	}

	r := rand.New(rand.NewPCG(1, 2))
	pick32 := func(xs ...uint32) uint32 { return xs[r.IntN(len(xs))] }
	pick64 := func(xs ...uint64) uint64 { return xs[r.IntN(len(xs))] }
	var granted, refused, refusedByGuest int
	for i := range 2000 {
		st := RetryState{
			Attempts:    pick32(0, 1, 2, 5, 6, 7, math.MaxUint32, uint32(r.IntN(10))),
			LastDelayMs: pick64(0, 1000, 30_000, math.MaxUint64, r.Uint64()>>40),
			Seed:        pick64(0, 1, math.MaxUint64, r.Uint64()),
		}
		if r.IntN(3) > 0 {
			st.StartedAtMs = new(pick64(0, 1000, 59_000, 1<<63, r.Uint64()>>20))
		}
		sh := SharedState{
			Breaker: BreakerState{
				Circuit:             circuits[r.IntN(len(circuits))],
				ConsecutiveFailures: pick32(0, 1, 2, 3, 4, math.MaxUint32),
				RecentOutcomes:      pick64(0, 1, math.MaxUint64, r.Uint64()),
				RecentCount:         pick32(0, 1, 3, 64, 65, math.MaxUint32),
				OpenedAtMs:          pick64(0, 1000, 40_000, math.MaxUint64, r.Uint64()>>20),
				ProbesStarted:       pick32(0, 1, 2, math.MaxUint32),
				ProbesSucceeded:     pick32(0, 1, 2, math.MaxUint32),
			},
			Budget: BudgetState{SpentMilli: pick32(0, 1, 999, 1000, 10_000, 10_001, math.MaxUint32)},
		}
		now := pick64(0, 1000, 31_000, 70_000, math.MaxUint64, r.Uint64()>>20)

		want, wantErr := inst.beginAttempt(ctx, h, &st, &sh, now)
		got, gotErr := inst.beginAttemptDirect(ctx, h, &st, &sh, now)
		compareDirect(t, i, "begin-attempt", want, got, wantErr, gotErr)
		switch {
		case wantErr != nil:
			refusedByGuest++
		case want.Refused == "":
			granted++
		default:
			refused++
		}

		wantSh, wantErr := inst.afterSuccess(ctx, h, &sh)
		gotSh, gotErr := inst.afterSuccessDirect(ctx, h, &sh)
		compareDirect(t, i, "after-success", wantSh, gotSh, wantErr, gotErr)
	}
	// The states reach every kind of answer, or the comparison proves little.
	if granted < 50 || refused < 50 || refusedByGuest < 50 {
		t.Fatalf("granted %d, refused %d, refused by the guest %d: the generator misses cases", granted, refused, refusedByGuest)
	}
}

func compareDirect(t *testing.T, i int, what string, want, got any, wantErr, gotErr error) {
	t.Helper()
	var wantP, gotP *PolicyError
	if errors.As(wantErr, &wantP) != errors.As(gotErr, &gotP) || (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("case %d, %s: generic error %v, direct error %v", i, what, wantErr, gotErr)
	}
	if wantP != nil && !reflect.DeepEqual(wantP, gotP) {
		t.Fatalf("case %d, %s: generic error %#v, direct error %#v", i, what, wantP, gotP)
	}
	if wantErr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("case %d, %s:\ngeneric %+v\ndirect  %+v", i, what, want, got)
	}
	if wantErr != nil && !errors.As(wantErr, &wantP) {
		t.Fatalf("case %d, %s: the guest trapped: %v", i, what, wantErr)
	}
}
