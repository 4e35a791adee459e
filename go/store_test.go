package backstop

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"
)

// storeCases are the parameters of every function whose parameters travel
// in memory, each with its generic (sink) and generated (store) lowering.
func storeCases(t *testing.T) []struct {
	name  string
	f     *witFunc
	lower func(s sink)
	store func(w *writer, p uint32)
} {
	t.Helper()
	full := Failure{HTTPStatus: new(503), GRPCCode: new("UNAVAILABLE"), ExitCode: new(-9), Signal: new("KILL"),
		ErrorTypes: []string{"TransientError", "", "日本"}, ErrorBases: []string{"OSError"},
		ErrorCode: new("SlowDown"), Message: new("503 Service Unavailable")}
	e := Event{
		Kind: EventRunFailed, Pipeline: "nightly", Step: "train", RunID: "r1", Attempt: 3, LateMinutes: 2,
		Failure: &full, Labels: map[string]string{"team": "ml", "zone": "eu-west-1"},
		LogLines: []string{"loading shard 7", "GET https://storage.example/shard-7: 503"}, DedupKey: "k",
	}
	kind, labels, err := checkEvent(&e)
	if err != nil {
		t.Fatal(err)
	}
	bare := Event{Kind: EventRunLate, Pipeline: "p"}
	bareKind, bareLabels, err := checkEvent(&bare)
	if err != nil {
		t.Fatal(err)
	}
	sh := SharedState{Breaker: BreakerState{Circuit: CircuitHalfOpen, ConsecutiveFailures: 3, RecentOutcomes: 1<<63 | 5,
		RecentCount: 7, OpenedAtMs: 1 << 41, ProbesStarted: 2, ProbesSucceeded: 1}, Budget: BudgetState{SpentMilli: 1500}}
	st := RetryState{Attempts: 2, StartedAtMs: new(uint64(1 << 40)), LastDelayMs: 1000, Seed: 1<<64 - 1}

	classify := witClassifyParams{Policy: 7, Failure: witFailureOf(&full)}
	classifyBare := witClassifyParams{Policy: 8}
	after := witAfterFailureParams{Policy: 1, State: witRetryState(st), Shared: witSharedStateOf(&sh),
		Outcome: witAttemptFailureOf(&full, 1200, new(uint64(30_000))), NowMs: 1 << 42}
	afterBare := witAfterFailureParams{Policy: 2, Outcome: witAttemptFailureOf(&Failure{}, 0, nil)}
	plan := witPlanFailuresParams{Policy: 3, State: after.State, Shared: after.Shared, Outcome: after.Outcome,
		NowMs: 5, MaxEntries: 16}
	evaluate := witEvaluateParams{Policy: 4, State: `{"v":1}`, Event: witEventOf(&e, kind, labels), NowMs: 9}
	evaluateBare := witEvaluateParams{Policy: 4, Event: witEventOf(&bare, bareKind, bareLabels)}
	many := Event{Kind: EventRunFailed, Pipeline: "p", Labels: map[string]string{}}
	for _, k := range "abcdefghijkl" { // more labels than an eventRoom holds
		many.Labels[string(k)] = "v" + string(k)
	}
	manyKind, manyLabels, err := checkEvent(&many)
	if err != nil {
		t.Fatal(err)
	}
	evaluateMany := witEvaluateParams{Policy: 4, Event: witEventIn(&many, manyKind, manyLabels, &eventRoom{})}
	keys := witAlertStateKeysParams{Policy: 5, Event: evaluate.Event}
	keyed := witEvaluateKeyedParams{Policy: 6, States: []witKeyedState{
		{Key: "a", State: "{}", NextWakeupMs: new(uint64(77))}, {Key: "", State: ""},
	}, Event: evaluate.Event, NowMs: 11}
	keyedBare := witEvaluateKeyedParams{Policy: 6, Event: evaluateBare.Event}
	return []struct {
		name  string
		f     *witFunc
		lower func(s sink)
		store func(w *writer, p uint32)
	}{
		{"classify", classifyFn, classify.lower, classify.store},
		{"classify, empty failure", classifyFn, classifyBare.lower, classifyBare.store},
		{"after-failure", afterFailureFn, after.lower, after.store},
		{"after-failure, empty", afterFailureFn, afterBare.lower, afterBare.store},
		{"plan-failures", planFailuresFn, plan.lower, plan.store},
		{"evaluate", evaluateFn, evaluate.lower, evaluate.store},
		{"evaluate, bare event", evaluateFn, evaluateBare.lower, evaluateBare.store},
		{"evaluate, many labels", evaluateFn, evaluateMany.lower, evaluateMany.store},
		{"alert-state-keys", alertStateKeysFn, keys.lower, keys.store},
		{"evaluate-keyed", evaluateKeyedFn, keyed.lower, keyed.store},
		{"evaluate-keyed, no states", evaluateKeyedFn, keyedBare.lower, keyedBare.store},
	}
}

// The generated stores write the same bytes, through the same allocations
// in the same order, as the generic lowering through sinks.
func TestStoreMatchesSinkLowering(t *testing.T) {
	for _, tt := range storeCases(t) {
		if !tt.f.indirectParams() {
			t.Fatalf("%s: parameters are flat", tt.name)
		}
		generic, generated := newBump(8192), newBump(8192)
		gw := generic.writer()
		args := lowerArgs(gw, tt.f, tt.lower)
		w := generated.writer()
		p := w.allocate(tt.f.args.size, tt.f.args.align)
		tt.store(w, p)
		if gw.err != nil || w.err != nil {
			t.Fatalf("%s: %v, %v", tt.name, gw.err, w.err)
		}
		if len(args) != 1 || uint32(args[0]) != p {
			t.Errorf("%s: parameter area %v, want [%d]", tt.name, args, p)
		}
		if generic.next != generated.next {
			t.Errorf("%s: allocated up to %d, want %d", tt.name, generated.next, generic.next)
		}
		if !bytes.Equal(generic.mem, generated.mem) {
			i := 0
			for generic.mem[i] == generated.mem[i] {
				i++
			}
			t.Errorf("%s: memory differs first at %d: %d, want %d", tt.name, i, generated.mem[i], generic.mem[i])
		}
		if len(w.spans) != 0 {
			t.Errorf("%s: %d spans left queued", tt.name, len(w.spans))
		}
	}
}

// movingMem is linear memory that moves on every allocation, as growing
// memory may: a view taken before an allocation no longer writes through.
type movingMem struct {
	buf  []byte
	next uint32
}

func (m *movingMem) Read(off, n uint32) ([]byte, bool) {
	if uint64(off)+uint64(n) > uint64(len(m.buf)) {
		return nil, false
	}
	return m.buf[off : off+n], true
}

func (m *movingMem) alloc(size, align uint32) (uint32, error) {
	m.next = alignTo(m.next, align)
	p := m.next
	m.next += size
	m.buf = append([]byte(nil), m.buf...)
	return p, nil
}

// Stores take their view of memory after the allocations they make.
func TestStoreSurvivesMovingMemory(t *testing.T) {
	for _, tt := range storeCases(t) {
		moving := &movingMem{buf: make([]byte, 8192), next: 8}
		w := &writer{mem: moving, alloc: moving.alloc}
		p := w.allocate(tt.f.args.size, tt.f.args.align)
		tt.store(w, p)
		want := newBump(8192)
		lowerArgs(want.writer(), tt.f, tt.lower)
		if w.err != nil || !bytes.Equal(moving.buf, want.mem) {
			t.Errorf("%s: stored bytes lost (%v)", tt.name, w.err)
		}
	}
	// And a stored value lifts back as it was.
	moving := &movingMem{buf: make([]byte, 4096), next: 8}
	w := &writer{mem: moving, alloc: moving.alloc}
	full := Failure{GRPCCode: new("x"), ErrorTypes: []string{"a", "b"}, ErrorBases: []string{}, Message: new("m")}
	v := witAttemptFailureOf(&full, 5, new(uint64(6)))
	p := w.allocate(attemptFailureT.size, attemptFailureT.align)
	storeWitAttemptFailure(w, p, &v)
	r := &reader{mem: moving}
	got := liftWitAttemptFailure(&source{r: r, ptr: p})
	if w.err != nil || r.err != nil {
		t.Fatal(w.err, r.err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Errorf("round trip: got %+v, want %+v", got, v)
	}
}

// A failed or bad allocation is a sticky error; the store writes nothing
// after it and leaves no spans queued.
func TestStoreRejectsBadAllocations(t *testing.T) {
	tests := []struct {
		name  string
		alloc func(m fakeMem) allocator
		want  error
	}{
		{"misaligned", func(fakeMem) allocator {
			return func(size, align uint32) (uint32, error) { return 2, nil }
		}, errABI},
		{"out of bounds", func(m fakeMem) allocator {
			return func(size, align uint32) (uint32, error) { return uint32(len(m)) - 4, nil }
		}, errABI},
		{"guest failure", func(fakeMem) allocator {
			return func(size, align uint32) (uint32, error) { return 0, context.Canceled }
		}, context.Canceled},
	}
	for _, tt := range tests {
		for _, c := range storeCases(t) {
			m := make(fakeMem, 256)
			bad, broken := tt.alloc(m), false // broken: an allocation broke the ABI
			w := &writer{mem: m, alloc: func(size, align uint32) (uint32, error) {
				p, err := bad(size, align)
				broken = broken || err != nil || p%align != 0 || uint64(p)+uint64(size) > uint64(len(m))
				return p, err
			}}
			c.store(w, 8) // the parameter area itself is fine
			if !broken && w.err != nil || broken && !errors.Is(w.err, tt.want) {
				t.Errorf("%s, %s: got %v, want %v", tt.name, c.name, w.err, tt.want)
			}
			if len(w.spans) != 0 {
				t.Errorf("%s, %s: %d spans left queued", tt.name, c.name, len(w.spans))
			}
		}
	}
}
