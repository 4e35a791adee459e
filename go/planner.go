package backstop

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// The retry planner: bindings to the WIT's retry interface (begin-attempt,
// after-failure, ...); the retry loop built on it is Do, in do.go. Every
// decision is made by the guest; these types carry its inputs and outputs. Times and durations
// in the state records are whole milliseconds, as the guest counts them, and
// every record marshals to the canonical JSON of tests/README.md, so a host
// can persist it and any Backstop host can read it back.

// RetryState is the progress of one operation (one run of one step). The
// zero value is a fresh start; pass each Permit's or Decision's State to the
// next call.
type RetryState struct {
	// Attempts started so far (BeginAttempt counts them).
	Attempts uint32 `json:"attempts"`
	// StartedAtMs is when the first attempt started, in Unix milliseconds;
	// nil before it has.
	StartedAtMs *uint64 `json:"started_at_ms"`
	// LastDelayMs is the previous wait, for decorrelated jitter.
	LastDelayMs uint64 `json:"last_delay_ms"`
	// Seed makes the jitter reproducible; see Engine.DeriveSeed.
	Seed uint64 `json:"seed,string"`
}

// Circuit is a circuit breaker's position. The zero value is CircuitClosed;
// it marshals as the WIT's name ("closed", "open", "half-open").
type Circuit uint8

// Circuit positions, in the WIT's order.
const (
	CircuitClosed Circuit = iota
	CircuitOpen
	CircuitHalfOpen
)

var circuitNames = [...]string{"closed", "open", "half-open"}

func (c Circuit) String() string {
	if int(c) < len(circuitNames) {
		return circuitNames[c]
	}
	return fmt.Sprintf("Circuit(%d)", uint8(c))
}

// MarshalText gives the WIT's name; an out-of-range value is an error.
func (c Circuit) MarshalText() ([]byte, error) {
	if int(c) >= len(circuitNames) {
		return nil, fmt.Errorf("backstop: %v is not a circuit position", c)
	}
	return []byte(circuitNames[c]), nil
}

// UnmarshalText accepts the WIT's names.
func (c *Circuit) UnmarshalText(b []byte) error {
	for i, name := range circuitNames {
		if string(b) == name {
			*c = Circuit(i)
			return nil
		}
	}
	return fmt.Errorf("backstop: %q is not a circuit position (closed, open or half-open)", b)
}

// BreakerState is a circuit breaker's state. The zero value is a closed,
// empty breaker.
type BreakerState struct {
	Circuit             Circuit `json:"circuit"`
	ConsecutiveFailures uint32  `json:"consecutive_failures"`
	// RecentOutcomes holds the latest outcomes, newest in bit 0; a set bit
	// is a failure. It marshals as a decimal string (it spans 64 bits).
	RecentOutcomes  uint64 `json:"recent_outcomes,string"`
	RecentCount     uint32 `json:"recent_count"`
	OpenedAtMs      uint64 `json:"opened_at_ms"`
	ProbesStarted   uint32 `json:"probes_started"`
	ProbesSucceeded uint32 `json:"probes_succeeded"`
}

// BudgetState is a retry budget's token bucket. The zero value is full.
type BudgetState struct {
	// SpentMilli is how far below full the bucket is, in thousandths of a token.
	SpentMilli uint32 `json:"spent_milli"`
}

// SharedState is the state every operation against one dependency shares:
// its circuit breaker and retry budget. The zero value is fresh. Persist it
// or share it between processes as JSON; see SharedStore.
type SharedState struct {
	Breaker BreakerState `json:"breaker"`
	Budget  BudgetState  `json:"budget"`
}

// GiveUpReason says why the planner gave up (or refused an attempt). Its
// values are the WIT's names; "" means it did not give up, and marshals as
// JSON null.
type GiveUpReason string

// Reasons to give up, in the WIT's order.
const (
	// GiveUpPermanent: the failure was classified permanent; never retried.
	GiveUpPermanent GiveUpReason = "permanent"
	// GiveUpAttemptsExhausted: the attempt limit for the failure's class is used up.
	GiveUpAttemptsExhausted GiveUpReason = "attempts-exhausted"
	// GiveUpDeadline: the next attempt would start past the deadline.
	GiveUpDeadline GiveUpReason = "deadline"
	// GiveUpPushbackBeyondDeadline: the server asked to wait past the deadline.
	GiveUpPushbackBeyondDeadline GiveUpReason = "pushback-beyond-deadline"
	// GiveUpCircuitOpen: the dependency's circuit breaker is open.
	GiveUpCircuitOpen GiveUpReason = "circuit-open"
	// GiveUpBudgetExhausted: the dependency's retry budget is spent.
	GiveUpBudgetExhausted GiveUpReason = "budget-exhausted"
)

// MarshalJSON gives the reason's name, or null for "".
func (r GiveUpReason) MarshalJSON() ([]byte, error) {
	if r == "" {
		return []byte("null"), nil
	}
	if _, ok := indexOf(giveUpReasons[:], r); !ok {
		return nil, fmt.Errorf("backstop: %q is not a give-up reason", string(r))
	}
	return json.Marshal(string(r))
}

// UnmarshalJSON accepts a reason's name, or null for "".
func (r *GiveUpReason) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*r = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("backstop: a give-up reason is a string or null: %w", err)
	}
	if _, ok := indexOf(giveUpReasons[:], GiveUpReason(s)); !ok {
		return fmt.Errorf("backstop: %q is not a give-up reason", s)
	}
	*r = GiveUpReason(s)
	return nil
}

// Permit says whether the next attempt may start, and with what timeout.
type Permit struct {
	// Refused is "" when the attempt may start; otherwise GiveUpCircuitOpen
	// or GiveUpDeadline.
	Refused GiveUpReason `json:"refused"`
	// Attempt is the attempt about to start (1-based).
	Attempt uint32 `json:"attempt"`
	// TimeoutMs is its timeout: the policy's attempt timeout clamped to what
	// remains of the deadline; nil for none.
	TimeoutMs *uint64 `json:"timeout_ms"`
	// RetryAfterMs, when refused by an open circuit, is how long until it half-opens.
	RetryAfterMs uint64 `json:"retry_after_ms"`
	// Probe reports whether this attempt is a half-open probe.
	Probe  bool        `json:"probe"`
	State  RetryState  `json:"state"`
	Shared SharedState `json:"shared"`
}

// Timeout returns the attempt's timeout, and false when it has none.
func (p Permit) Timeout() (time.Duration, bool) { return optionalMs(p.TimeoutMs) }

// RetryAfter is RetryAfterMs as a Duration.
func (p Permit) RetryAfter() time.Duration { return msDuration(p.RetryAfterMs) }

// AttemptFailure is a failed attempt as the host observed it.
type AttemptFailure struct {
	Failure Failure
	// Duration is how long the attempt ran (truncated to milliseconds; a
	// negative value counts as 0).
	Duration time.Duration
	// Pushback is the server's requested wait (Retry-After,
	// grpc-retry-pushback-ms), rounded up to a millisecond so a retry never
	// comes early; nil for none, and a negative value counts as 0.
	Pushback *time.Duration
}

// Decision is what to do after a failed attempt.
type Decision struct {
	// GiveUp is "" to retry after DelayMs; otherwise why to give up.
	GiveUp  GiveUpReason `json:"give_up"`
	DelayMs uint64       `json:"delay_ms"`
	// Attempt is the attempt that failed (1-based).
	Attempt uint32 `json:"attempt"`
	// NextTimeoutMs is the next attempt's timeout when retrying; nil for none.
	NextTimeoutMs  *uint64        `json:"next_timeout_ms"`
	Classification Classification `json:"classification"`
	// Explanation is one human sentence: what was decided and why.
	Explanation string      `json:"explanation"`
	State       RetryState  `json:"state"`
	Shared      SharedState `json:"shared"`
}

// Retry reports whether the decision is to retry.
func (d Decision) Retry() bool { return d.GiveUp == "" }

// Delay is DelayMs as a Duration.
func (d Decision) Delay() time.Duration { return msDuration(d.DelayMs) }

// NextTimeout returns the next attempt's timeout, and false when it has none.
func (d Decision) NextTimeout() (time.Duration, bool) { return optionalMs(d.NextTimeoutMs) }

// PlannedFailure is one entry of PlanFailures: a failed attempt's decision
// and, when the guest knows it, the permit for the attempt after it.
type PlannedFailure struct {
	Decision Decision `json:"decision"`
	// NextPermit, when the decision retries and the next permit cannot
	// depend on the clock, is BeginAttempt(Decision.State, Decision.Shared,
	// t) for every t; nil otherwise.
	NextPermit *Permit `json:"next_permit"`
}

// PlannedAttempt is one row of a dry-run Schedule.
type PlannedAttempt struct {
	Attempt uint32 `json:"attempt"`
	// DelayMs is the wait before this attempt (0 for the first).
	DelayMs   uint64  `json:"delay_ms"`
	TimeoutMs *uint64 `json:"timeout_ms"`
	// StartMs is the offset of its start from the first attempt's start.
	StartMs uint64 `json:"start_ms"`
}

// Schedule is the attempts a policy would make if every one failed
// transiently after running for its full timeout (instantly when it has
// none), with no pushback, breaker or budget in play.
type Schedule struct {
	Attempts []PlannedAttempt `json:"attempts"`
	// EndsWith is why the schedule ends; "" when it was cut at maxEntries.
	EndsWith GiveUpReason `json:"ends_with"`
}

// MarshalJSON writes the canonical form: "rule" is null when no rule matched.
func (c Classification) MarshalJSON() ([]byte, error) {
	var rule *string
	if c.Rule != "" {
		rule = &c.Rule
	}
	return json.Marshal(struct {
		Class  Class   `json:"class"`
		Rule   *string `json:"rule"`
		Reason string  `json:"reason"`
	}{c.Class, rule, c.Reason})
}

// UnmarshalJSON reads the canonical form.
func (c *Classification) UnmarshalJSON(b []byte) error {
	var v struct {
		Class  Class   `json:"class"`
		Rule   *string `json:"rule"`
		Reason string  `json:"reason"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	c.Class, c.Rule, c.Reason = v.Class, "", v.Reason
	if v.Rule != nil {
		c.Rule = *v.Rule
	}
	return nil
}

func msDuration(ms uint64) time.Duration {
	if ms > math.MaxInt64/uint64(time.Millisecond) {
		return math.MaxInt64 // about 292 years: "forever" for any caller
	}
	return time.Duration(ms) * time.Millisecond
}

func optionalMs(ms *uint64) (time.Duration, bool) {
	if ms == nil {
		return 0, false
	}
	return msDuration(*ms), true
}

// unixMs converts the host's clock reading for the guest, which counts
// unsigned milliseconds. A time before 1970 (often an unset time.Time) is
// an error rather than a silent wrap-around.
func unixMs(now time.Time) (uint64, error) {
	ms := now.UnixMilli()
	if ms < 0 {
		return 0, fmt.Errorf("backstop: now (%v) is before the Unix epoch", now)
	}
	return uint64(ms), nil
}

// attemptOutcome is an AttemptFailure in the guest's units.
type attemptOutcome struct {
	failure    Failure
	durationMs uint64
	pushbackMs *uint64
}

func (a *AttemptFailure) outcome() attemptOutcome {
	o := attemptOutcome{failure: a.Failure, durationMs: uint64(max(a.Duration, 0).Milliseconds())}
	if a.Pushback != nil {
		ms := pushbackMs(*a.Pushback)
		o.pushbackMs = &ms
	}
	return o
}

// pushbackMs is a pushback in the guest's units: rounded up to a
// millisecond, and a negative one counts as 0.
func pushbackMs(pushback time.Duration) uint64 {
	d := max(pushback, 0)
	ms := uint64(d / time.Millisecond)
	if d%time.Millisecond != 0 {
		ms++
	}
	return ms
}

// checkShared rejects a circuit value the WIT cannot carry (the guest
// checks everything else about the state).
func checkShared(sh *SharedState) error {
	if int(sh.Breaker.Circuit) >= len(circuits) {
		return &PolicyError{
			Code:    CodeInvalidState,
			Path:    "shared.breaker.circuit",
			Message: fmt.Sprintf("%d is not a circuit position", uint8(sh.Breaker.Circuit)),
		}
	}
	return nil
}

// run calls fn with an instance and p's handle in it.
func (p *Policy) run(ctx context.Context, fn func(inst *instance, h uint32) error) error {
	if p.closed.Load() {
		return ErrClosed
	}
	inst, err := p.engine.acquire(ctx)
	if err != nil {
		return err
	}
	h, err := p.handleOn(ctx, inst)
	if err == nil {
		err = fn(inst, h)
	}
	p.engine.release(inst, err)
	return err
}

// BeginAttempt is called before each attempt: it consults the circuit
// breaker and the deadline. If Permit.Refused is "", start the attempt with
// Permit.Timeout and carry Permit.State and Permit.Shared forward; otherwise
// do not start it. now is the host's clock (any clock, used consistently for
// one operation and its shared state), sent to the guest in Unix ms.
//
// A state no sequence of decisions can produce gives a *PolicyError with
// code CodeInvalidState.
func (p *Policy) BeginAttempt(ctx context.Context, state RetryState, shared SharedState, now time.Time) (Permit, error) {
	nowMs, err := unixMs(now)
	if err != nil {
		return Permit{}, err
	}
	return p.beginAttemptMs(ctx, state, shared, nowMs)
}

func (p *Policy) beginAttemptMs(ctx context.Context, state RetryState, shared SharedState, nowMs uint64) (Permit, error) {
	if err := checkShared(&shared); err != nil {
		return Permit{}, err
	}
	if !p.closed.Load() {
		if permit, ok, err := p.freshPermit(ctx, &state, &shared, nowMs); ok || err != nil {
			return permit, err
		}
	}
	var permit Permit
	err := p.run(ctx, func(inst *instance, h uint32) (err error) {
		permit, err = inst.beginAttemptDirect(ctx, h, &state, &shared, nowMs)
		return err
	})
	return permit, err
}

// AfterFailure is called after a failed attempt: it classifies the failure
// and decides whether to retry after Decision.Delay or give up, and why.
// Carry Decision.State and Decision.Shared forward.
func (p *Policy) AfterFailure(ctx context.Context, state RetryState, shared SharedState, failure AttemptFailure, now time.Time) (Decision, error) {
	nowMs, err := unixMs(now)
	if err != nil {
		return Decision{}, err
	}
	return p.afterFailureMs(ctx, state, shared, failure.outcome(), nowMs)
}

func (p *Policy) afterFailureMs(ctx context.Context, state RetryState, shared SharedState, o attemptOutcome, nowMs uint64) (Decision, error) {
	if err := checkShared(&shared); err != nil {
		return Decision{}, err
	}
	if err := checkFailure(&o.failure); err != nil {
		return Decision{}, err
	}
	var d Decision
	err := p.run(ctx, func(inst *instance, h uint32) (err error) {
		d, err = inst.afterFailure(ctx, h, &state, &shared, &o, nowMs)
		return err
	})
	return d, err
}

// PlanFailures is AfterFailure, followed by what the same failure decides
// when it fails again and again: entry 0 is AfterFailure(state, shared,
// failure, now); entry i+1 exists when entry i has a NextPermit p (and
// maxEntries, which the guest clamps to 1-64, allows) and is
// AfterFailure(p.State, p.Shared, o, t) for every t and every o with
// failure's Failure and Pushback (its Duration does not matter). The guest
// decides which answers cannot depend on the clock (no deadline, the
// breaker closed or absent). A retry loop may take an entry while the
// failure and the states it holds are the ones the entry was computed for,
// so a repeated failure costs no guest call. (Do does not: under wazero an
// entry costs about what the call it saves costs; see README.)
func (p *Policy) PlanFailures(ctx context.Context, state RetryState, shared SharedState, failure AttemptFailure, now time.Time, maxEntries uint32) ([]PlannedFailure, error) {
	nowMs, err := unixMs(now)
	if err != nil {
		return nil, err
	}
	return p.planFailuresMs(ctx, state, shared, failure.outcome(), nowMs, maxEntries)
}

func (p *Policy) planFailuresMs(ctx context.Context, state RetryState, shared SharedState, o attemptOutcome, nowMs uint64, maxEntries uint32) ([]PlannedFailure, error) {
	if err := checkShared(&shared); err != nil {
		return nil, err
	}
	if err := checkFailure(&o.failure); err != nil {
		return nil, err
	}
	var plan []PlannedFailure
	err := p.run(ctx, func(inst *instance, h uint32) (err error) {
		plan, err = inst.planFailures(ctx, h, &state, &shared, &o, nowMs, maxEntries)
		return err
	})
	return plan, err
}

// AfterSuccess is called after a successful attempt: it closes a half-open
// circuit and refills the retry budget, and returns the new shared state.
func (p *Policy) AfterSuccess(ctx context.Context, shared SharedState) (SharedState, error) {
	if err := checkShared(&shared); err != nil {
		return SharedState{}, err
	}
	if fp := p.fast.known(&shared); fp != nil && fp.successRecordsNothing && !p.closed.Load() {
		return shared, nil
	}
	var out SharedState
	err := p.run(ctx, func(inst *instance, h uint32) (err error) {
		out, err = inst.afterSuccessDirect(ctx, h, &shared)
		return err
	})
	if err == nil && out == shared && shared != (SharedState{}) {
		// A steady state (the success left it as it was): ask once what may
		// be skipped for it, so the next calls against it skip the guest.
		if fp, ferr := p.fastPathFor(ctx, &shared); ferr == nil {
			p.fast.last.Store(fp)
		}
	}
	return out, err
}

// Schedule is a dry run: the attempts the policy would make with this seed
// if every one failed, at most maxEntries of them (the guest lists at least
// 1 and at most 10,000). A negative maxEntries is an error.
func (p *Policy) Schedule(ctx context.Context, seed uint64, maxEntries int) (Schedule, error) {
	if maxEntries < 0 {
		return Schedule{}, fmt.Errorf("backstop: maxEntries must not be negative, not %d", maxEntries)
	}
	n := uint32(min(maxEntries, math.MaxUint32))
	var s Schedule
	err := p.run(ctx, func(inst *instance, h uint32) (err error) {
		s, err = inst.planSchedule(ctx, h, seed, n)
		return err
	})
	return s, err
}

// DeriveSeed is the default jitter seed for an idempotency key, by
// convention "<run id>/<step>": the 64-bit FNV-1a of its UTF-8 bytes, the
// same in every Backstop host. Invalid UTF-8 is first replaced by U+FFFD.
func (e *Engine) DeriveSeed(ctx context.Context, key string) (uint64, error) {
	if !utf8.ValidString(key) {
		key = strings.ToValidUTF8(key, "\uFFFD")
	}
	inst, err := e.acquire(ctx)
	if err != nil {
		return 0, err
	}
	seed, err := inst.deriveSeed(ctx, key)
	e.release(inst, err)
	return seed, err
}
