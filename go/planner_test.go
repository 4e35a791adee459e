package backstop

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"
)

func TestRetryLayouts(t *testing.T) {
	tests := []struct {
		name        string
		t           *abiType
		size, align uint32
		flat        int
	}{
		{"u64", u64T, 8, 8, 1},
		{"bool", boolT, 1, 1, 1},
		{"option<u64>", optionU64T, 16, 8, 2},
		{"retry-state", retryStateT, 40, 8, 5},
		{"breaker-state", breakerStateT, 40, 8, 7},
		{"shared-state", sharedStateT, 48, 8, 8},
		{"permit", permitT, 128, 8, 20},
		{"decision", decisionT, 160, 8, 27},
		{"planned-attempt", plannedAttemptT, 40, 8, 5},
	}
	for _, tt := range tests {
		if tt.t.size != tt.size || tt.t.align != tt.align || len(tt.t.flat) != tt.flat {
			t.Errorf("%s: size %d align %d flat %d, want %d %d %d",
				tt.name, tt.t.size, tt.t.align, len(tt.t.flat), tt.size, tt.align, tt.flat)
		}
	}
	// option<u64> joins its i32 discriminant slot with nothing and keeps i64.
	if want := []api.ValueType{api.ValueTypeI32, api.ValueTypeI64}; !reflect.DeepEqual(optionU64T.flat, want) {
		t.Errorf("option<u64> flat %v", optionU64T.flat)
	}
	// An i32 case and an i64 case share one i64 slot.
	if v := variantOf(u32T, u64T); !reflect.DeepEqual(v.flat, []api.ValueType{api.ValueTypeI32, api.ValueTypeI64}) {
		t.Errorf("variant<u32, u64> flat %v", v.flat)
	}
}

func TestRetryCoreSignatures(t *testing.T) {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	tests := []struct {
		f               *witFunc
		params, results []api.ValueType
	}{
		// 15 flat params: still flat (the limit is 16).
		{beginAttemptFn, []api.ValueType{i32, i32, i32, i64, i64, i64, i32, i32, i64, i32, i64, i32, i32, i32, i64}, []api.ValueType{i32}},
		{afterFailureFn, []api.ValueType{i32}, []api.ValueType{i32}},
		{afterSuccessFn, []api.ValueType{i32, i32, i32, i64, i32, i64, i32, i32, i32}, []api.ValueType{i32}},
		{planScheduleFn, []api.ValueType{i32, i64, i32}, []api.ValueType{i32}},
		{deriveSeedFn, []api.ValueType{i32, i32}, []api.ValueType{i64}},
	}
	for _, tt := range tests {
		params, results := tt.f.coreSignature()
		if !reflect.DeepEqual(params, tt.params) || !reflect.DeepEqual(results, tt.results) {
			t.Errorf("%s: %v -> %v, want %v -> %v", tt.f.name, params, results, tt.params, tt.results)
		}
	}
	if !afterFailureFn.indirectParams() || beginAttemptFn.indirectParams() {
		t.Error("after-failure's params travel in memory, begin-attempt's flat")
	}
	if exportName(deriveSeedFn) != "backstop:policy/retry@0.1.0#derive-seed" ||
		exportName(classifyFn) != "backstop:policy/classifier@0.1.0#classify" {
		t.Errorf("export names %q %q", exportName(deriveSeedFn), exportName(classifyFn))
	}
}

// The flat lowering of 64-bit values, bools and option<u64>.
func TestLowerFlat64(t *testing.T) {
	b := newBump(256)
	w := b.writer()
	f := newWitFunc("flat64", nil, u64T, boolT, optionU64T, optionU64T, s32T)
	vals := lowerArgs(w, f, func(s sink) {
		s.int(u64T, math.MaxUint64)
		s.int(boolT, 1)
		lowerWitOptionU64(s, nil)
		lowerWitOptionU64(s, new(uint64(1<<40)))
		minusOne := int32(-1)
		s.int(s32T, uint64(uint32(minusOne)))
	})
	want := []uint64{math.MaxUint64, 1, 0, 0, 1, 1 << 40, 0xffffffff}
	if w.err != nil || !reflect.DeepEqual(vals, want) {
		t.Errorf("got %v (%v), want %v", vals, w.err, want)
	}
	// An i32 value passed with high bits set is truncated to its width.
	vals = lowerArgs(w, newWitFunc("u32", nil, u32T), func(s sink) { s.int(u32T, 1<<32|5) })
	if !reflect.DeepEqual(vals, []uint64{5}) {
		t.Errorf("u32 lowered as %v", vals)
	}
}

// after-failure's parameters go to memory: state, shared state and the
// attempt failure at their canonical offsets.
func TestLowerAfterFailureIndirect(t *testing.T) {
	b := newBump(4096)
	w := b.writer()
	st := RetryState{Attempts: 3, StartedAtMs: new(uint64(1_700_000_000_000)), LastDelayMs: 2000, Seed: math.MaxUint64}
	sh := SharedState{Breaker: BreakerState{Circuit: CircuitHalfOpen, ConsecutiveFailures: 4, RecentOutcomes: 1 << 63,
		RecentCount: 9, OpenedAtMs: 77, ProbesStarted: 1, ProbesSucceeded: 2}, Budget: BudgetState{SpentMilli: 1500}}
	o := attemptOutcome{failure: Failure{HTTPStatus: new(503)}, durationMs: 250, pushbackMs: new(uint64(30_000))}
	args := lowerArgs(w, afterFailureFn, func(s sink) {
		s.int(u32T, 9)
		lowerRetryState(s, &st)
		lowerSharedState(s, &sh)
		lowerAttemptFailure(s, &o.failure, o.durationMs, o.pushbackMs)
		s.int(u64T, 123)
	})
	if w.err != nil || len(args) != 1 {
		t.Fatal(w.err, args)
	}
	p := uint32(args[0])
	m := b.mem
	u64 := func(off uint32) uint64 { return binary.LittleEndian.Uint64(m[p+off:]) }
	// handle@0; retry-state@8: attempts@8, option<u64>@16 (disc@16, val@24),
	// last-delay@32, seed@40; shared@48: circuit@48, consecutive@52,
	// outcomes@56, count@64, opened@72, started@80, succeeded@84, spent@88;
	// attempt-failure@96: failure@96 (76 bytes), duration@176, pushback@184
	// (disc@184, val@192); now@200.
	checks := []struct {
		name      string
		got, want any
	}{
		{"handle", b.u32(p), uint32(9)},
		{"attempts", b.u32(p + 8), uint32(3)},
		{"started some", m[p+16], byte(1)},
		{"started", u64(24), uint64(1_700_000_000_000)},
		{"last delay", u64(32), uint64(2000)},
		{"seed", u64(40), uint64(math.MaxUint64)},
		{"circuit", m[p+48], byte(2)},
		{"consecutive", b.u32(p + 52), uint32(4)},
		{"outcomes", u64(56), uint64(1 << 63)},
		{"count", b.u32(p + 64), uint32(9)},
		{"opened", u64(72), uint64(77)},
		{"probes", b.u32(p + 80), uint32(1)},
		{"succeeded", b.u32(p + 84), uint32(2)},
		{"spent", b.u32(p + 88), uint32(1500)},
		{"http some", m[p+96], byte(1)},
		{"duration", u64(176), uint64(250)},
		{"pushback some", m[p+184], byte(1)},
		{"pushback", u64(192), uint64(30_000)},
		{"now", u64(200), uint64(123)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

// A decision lowered into memory by the glue's own writer lifts back
// unchanged, and a hand-placed bad discriminant or bool is handled.
func TestDecisionRoundTrip(t *testing.T) {
	want := Decision{
		GiveUp: GiveUpPushbackBeyondDeadline, DelayMs: 0, Attempt: 7, NextTimeoutMs: new(uint64(5)),
		Classification: Classification{Class: Unknown, Reason: "no rule"},
		Explanation:    "attempt 7 failed",
		State:          RetryState{Attempts: 7, StartedAtMs: new(uint64(1)), LastDelayMs: 9, Seed: 1 << 62},
		Shared:         SharedState{Breaker: BreakerState{Circuit: CircuitOpen, RecentOutcomes: math.MaxUint64}},
	}
	b := newBump(4096)
	w := b.writer()
	p := w.allocate(decisionT.size, decisionT.align)
	s := &memSink{w: w, ptr: p}
	d := s.record(decisionT)
	c, _ := indexOf(giveUpReasons[:], want.GiveUp)
	g, mark := d.variant(optionGiveUpReasonT, 1)
	g.int(giveUpReasonT, uint64(c))
	d.end(optionGiveUpReasonT, mark)
	d.int(u64T, want.DelayMs)
	d.int(u32T, uint64(want.Attempt))
	lowerWitOptionU64(d, want.NextTimeoutMs)
	cl := d.record(classificationT)
	cl.int(failureClassT, 2)
	lowerWitOptionString(cl, nil)
	cl.string(want.Classification.Reason)
	d.string(want.Explanation)
	lowerRetryState(d, &want.State)
	lowerSharedState(d, &want.Shared)
	if w.err != nil {
		t.Fatal(w.err)
	}
	r := &reader{mem: b.mem}
	got := liftDecision(&source{r: r, ptr: p})
	if r.err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v (%v), want %+v", got, r.err, want)
	}

	// decision: option<give-up>@0, delay@8, attempt@16, option<u64>@24,
	// classification@40, explanation@64, state@72, shared@112 (circuit first).
	if b.mem[p+112] != 1 {
		t.Fatalf("circuit byte %d, want 1 (open)", b.mem[p+112])
	}
	b.mem[p+112] = 3
	r = &reader{mem: b.mem}
	liftDecision(&source{r: r, ptr: p})
	if !errors.Is(r.err, errABI) {
		t.Errorf("circuit 3: got %v, want an ABI error", r.err)
	}
}

func TestLiftPermitBool(t *testing.T) {
	m := make(fakeMem, 256)
	// permit: option<give-up>@0 (none), attempt@4, timeout@8 (none),
	// retry-after@24, probe@32.
	binary.LittleEndian.PutUint32(m[4:], 2)
	m[32] = 0x80 // any non-zero byte is true
	r := &reader{mem: m}
	got := liftPermit(&source{r: r})
	if r.err != nil || !got.Probe || got.Attempt != 2 || got.TimeoutMs != nil || got.Refused != "" {
		t.Errorf("got %+v (%v)", got, r.err)
	}
}

func TestFlatResultLift(t *testing.T) {
	r := &reader{mem: flatResultMem(math.MaxUint64 - 1)}
	if got := (&source{r: r}).u64(); got != math.MaxUint64-1 || r.err != nil {
		t.Errorf("u64 %d (%v)", got, r.err)
	}
	r = &reader{mem: flatResultMem(1<<32 | 7)}
	if got := (&source{r: r}).u32(); got != 7 {
		t.Errorf("u32 %d, want the low 32 bits", got)
	}
	r = &reader{mem: flatResultMem(5)}
	liftWitCircuit(&source{r: r})
	if !errors.Is(r.err, errABI) {
		t.Errorf("enum 5: %v", r.err)
	}
}

func TestStateJSON(t *testing.T) {
	st := RetryState{Attempts: 2, StartedAtMs: new(uint64(1000)), LastDelayMs: 500, Seed: math.MaxUint64}
	sh := SharedState{Breaker: BreakerState{Circuit: CircuitHalfOpen, RecentOutcomes: 1<<64 - 2, RecentCount: 3}}
	data, err := json.Marshal(struct {
		State  RetryState  `json:"state"`
		Shared SharedState `json:"shared"`
	}{st, sh})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"state":{"attempts":2,"started_at_ms":1000,"last_delay_ms":500,"seed":"18446744073709551615"},` +
		`"shared":{"breaker":{"circuit":"half-open","consecutive_failures":0,"recent_outcomes":"18446744073709551614",` +
		`"recent_count":3,"opened_at_ms":0,"probes_started":0,"probes_succeeded":0},"budget":{"spent_milli":0}}}`
	if string(data) != want {
		t.Errorf("got  %s\nwant %s", data, want)
	}
	var back struct {
		State  RetryState  `json:"state"`
		Shared SharedState `json:"shared"`
	}
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back.State, st) || back.Shared != sh {
		t.Errorf("round trip: %+v %v", back, err)
	}
	// Fresh state: nulls and zeros.
	data, _ = json.Marshal(RetryState{})
	if string(data) != `{"attempts":0,"started_at_ms":null,"last_delay_ms":0,"seed":"0"}` {
		t.Errorf("fresh state %s", data)
	}

	for _, bad := range []string{`{"circuit":"ajar"}`, `{"circuit":1}`, `{"recent_outcomes":"-1"}`} {
		var b BreakerState
		if err := json.Unmarshal([]byte(bad), &b); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := json.Marshal(BreakerState{Circuit: 7}); err == nil {
		t.Error("circuit 7 marshalled")
	}
	if Circuit(7).String() != "Circuit(7)" || CircuitOpen.String() != "open" {
		t.Error("Circuit.String")
	}
}

func TestDecisionJSON(t *testing.T) {
	d := Decision{Attempt: 1, DelayMs: 1000, Classification: Classification{Class: Transient, Reason: "r"}}
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, part := range []string{`"give_up":null`, `"next_timeout_ms":null`, `"classification":{"class":"transient","rule":null,"reason":"r"}`} {
		if !strings.Contains(s, part) {
			t.Errorf("%s lacks %s", s, part)
		}
	}
	d.GiveUp, d.Classification.Rule = GiveUpBudgetExhausted, "builtin.http-transient"
	data, _ = json.Marshal(d)
	var back Decision
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, d) {
		t.Errorf("round trip %+v %v", back, err)
	}
	var r GiveUpReason
	if err := json.Unmarshal([]byte(`"tired"`), &r); err == nil {
		t.Error("unknown reason accepted")
	}
	if err := json.Unmarshal([]byte(`3`), &r); err == nil {
		t.Error("numeric reason accepted")
	}
	if _, err := json.Marshal(GiveUpReason("tired")); err == nil {
		t.Error("unknown reason marshalled")
	}
}

func TestDurationsAndTimes(t *testing.T) {
	if msDuration(math.MaxUint64) != math.MaxInt64 || msDuration(1500) != 1500*time.Millisecond {
		t.Error("msDuration")
	}
	p := Permit{TimeoutMs: new(uint64(250)), RetryAfterMs: 3000}
	if d, ok := p.Timeout(); !ok || d != 250*time.Millisecond || p.RetryAfter() != 3*time.Second {
		t.Errorf("permit durations %v %v %v", d, ok, p.RetryAfter())
	}
	if _, ok := (Decision{}).NextTimeout(); ok {
		t.Error("a nil timeout reported present")
	}
	if _, err := unixMs(time.Time{}); err == nil || !strings.Contains(err.Error(), "before the Unix epoch") {
		t.Errorf("zero time: %v", err)
	}
	if ms, _ := unixMs(time.UnixMilli(1_700_000_000_123)); ms != 1_700_000_000_123 {
		t.Errorf("unixMs %d", ms)
	}
	o := (&AttemptFailure{Duration: 1999 * time.Microsecond, Pushback: new(1001 * time.Microsecond)}).outcome()
	if o.durationMs != 1 || *o.pushbackMs != 2 {
		t.Errorf("duration truncates, pushback rounds up: got %d, %d", o.durationMs, *o.pushbackMs)
	}
	o = (&AttemptFailure{Duration: -time.Second, Pushback: new(-time.Second)}).outcome()
	if o.durationMs != 0 || *o.pushbackMs != 0 {
		t.Errorf("negative durations: %d, %d", o.durationMs, *o.pushbackMs)
	}
}

func TestPlannerThroughTheGuest(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t)
	p := loadPolicy(t, e, `
[retry]
max_attempts = 3
base_delay = "1s"
jitter = "none"
attempt_timeout = "10s"
deadline = "1m"
`, TOML)
	now := time.UnixMilli(1_700_000_000_000)
	permit, err := p.BeginAttempt(ctx, RetryState{Seed: 42}, SharedState{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if permit.Refused != "" || permit.Attempt != 1 || *permit.TimeoutMs != 10_000 ||
		*permit.State.StartedAtMs != 1_700_000_000_000 || permit.State.Seed != 42 {
		t.Errorf("permit %+v", permit)
	}
	d, err := p.AfterFailure(ctx, permit.State, permit.Shared,
		AttemptFailure{Failure: Failure{HTTPStatus: new(503)}, Duration: 2 * time.Second}, now.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Retry() || d.Delay() != time.Second || d.Attempt != 1 || d.Classification.Class != Transient ||
		!strings.Contains(d.Explanation, "retry in 1s") {
		t.Errorf("decision %+v", d)
	}
	if next, ok := d.NextTimeout(); !ok || next != 10*time.Second {
		t.Errorf("next timeout %v", next)
	}
	// 57 s in, a 1 s wait leaves 2 s: the next timeout is clamped to it.
	d, err = p.AfterFailure(ctx, d.State, d.Shared, AttemptFailure{Failure: Failure{HTTPStatus: new(503)}}, now.Add(57*time.Second))
	if err != nil || *d.NextTimeoutMs != 2000 {
		t.Errorf("clamped timeout: %+v %v", d, err)
	}

	sched, err := p.Schedule(ctx, 42, 10)
	if err != nil || len(sched.Attempts) != 3 || sched.EndsWith != GiveUpAttemptsExhausted ||
		sched.Attempts[1].DelayMs != 1000 || sched.Attempts[1].StartMs != 11_000 {
		t.Errorf("schedule %+v %v", sched, err)
	}
	if sched, err := p.Schedule(ctx, 42, 1); err != nil || len(sched.Attempts) != 1 || sched.EndsWith != "" {
		t.Errorf("schedule cut at 1: %+v %v", sched, err)
	}
	if _, err := p.Schedule(ctx, 42, -1); err == nil {
		t.Error("negative maxEntries accepted")
	}
	if sh, err := p.AfterSuccess(ctx, SharedState{}); err != nil || sh != (SharedState{}) {
		t.Errorf("after success %+v %v", sh, err)
	}

	// Bad input is an error, not a crash.
	var pe *PolicyError
	if _, err := p.BeginAttempt(ctx, RetryState{Attempts: math.MaxUint32}, SharedState{}, now); !errors.As(err, &pe) ||
		pe.Code != CodeInvalidState || pe.Path != "state.attempts" {
		t.Errorf("max attempts: %v", err)
	}
	for _, call := range []func() error{
		func() error {
			_, err := p.BeginAttempt(ctx, RetryState{}, SharedState{Breaker: BreakerState{Circuit: 9}}, now)
			return err
		},
		func() error {
			_, err := p.AfterFailure(ctx, RetryState{}, SharedState{Breaker: BreakerState{Circuit: 9}}, AttemptFailure{}, now)
			return err
		},
		func() error {
			_, err := p.AfterSuccess(ctx, SharedState{Breaker: BreakerState{Circuit: 9}})
			return err
		},
	} {
		if err := call(); !errors.As(err, &pe) || pe.Code != CodeInvalidState || pe.Path != "shared.breaker.circuit" {
			t.Errorf("circuit 9: %v", err)
		}
	}
	if _, err := p.AfterFailure(ctx, RetryState{}, SharedState{}, AttemptFailure{Failure: Failure{HTTPStatus: new(70000)}}, now); !errors.As(err, &pe) || pe.Code != CodeInvalidFailure {
		t.Errorf("bad status: %v", err)
	}
	if _, err := p.BeginAttempt(ctx, RetryState{}, SharedState{}, time.Time{}); err == nil {
		t.Error("zero time accepted")
	}
	if _, err := p.AfterFailure(ctx, RetryState{}, SharedState{}, AttemptFailure{}, time.Time{}); err == nil {
		t.Error("zero time accepted")
	}

	p.Close(ctx)
	if _, err := p.BeginAttempt(ctx, RetryState{}, SharedState{}, now); !errors.Is(err, ErrClosed) {
		t.Errorf("closed policy: %v", err)
	}
}

func TestDeriveSeed(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t)
	for key, want := range map[string]uint64{"": 0xCBF29CE484222325, "a": 0xAF63DC4C8601EC8C} {
		if got, err := e.DeriveSeed(ctx, key); err != nil || got != want {
			t.Errorf("DeriveSeed(%q) = %#x, %v; want %#x", key, got, err, want)
		}
	}
	bad, err1 := e.DeriveSeed(ctx, "run\xff/step")
	good, err2 := e.DeriveSeed(ctx, "run\uFFFD/step")
	if err1 != nil || err2 != nil || bad != good {
		t.Errorf("invalid UTF-8 is not replaced: %#x %#x %v %v", bad, good, err1, err2)
	}
	e.Close(ctx)
	if _, err := e.DeriveSeed(ctx, "x"); !errors.Is(err, ErrClosed) {
		t.Errorf("closed engine: %v", err)
	}
}

// Planner calls free what they allocate: arguments, decisions with their
// strings, schedules with their lists, and error results.
func TestPlannerCallsDoNotLeakGuestMemory(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, WithPoolSize(1))
	p := loadPolicy(t, e, breakerPolicy, TOML)
	now := time.UnixMilli(1_000_000)
	af := AttemptFailure{Failure: Failure{HTTPStatus: new(503), Message: new(strings.Repeat("slow down ", 500))}}
	run := func(n int) uint32 {
		for range n {
			permit, err := p.BeginAttempt(ctx, RetryState{}, SharedState{}, now)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.AfterFailure(ctx, permit.State, permit.Shared, af, now); err != nil {
				t.Fatal(err)
			}
			if _, err := p.AfterSuccess(ctx, SharedState{Breaker: BreakerState{RecentCount: 65}}); err == nil {
				t.Fatal("an invalid state was accepted")
			}
			if _, err := p.Schedule(ctx, 1, 100); err != nil {
				t.Fatal(err)
			}
			if _, err := e.DeriveSeed(ctx, "run/step"); err != nil {
				t.Fatal(err)
			}
		}
		return peek(t, e.plain).mem.Size()
	}
	warm := run(100)
	if after := run(5000); after != warm {
		t.Errorf("guest memory grew from %d to %d bytes over 5000 rounds", warm, after)
	}
}
