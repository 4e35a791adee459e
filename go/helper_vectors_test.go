package backstop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The retry-helper conformance vectors (tests/helpers/*.json, format in
// tests/README.md), run against Do on a virtual clock: timers (attempt
// timeouts, the caller's cancel and deadline) fire in time order as the
// clock moves, on the test's goroutine, so no real time passes.

type vtimer struct {
	at   time.Time
	seq  int
	fire func()
}

type vclock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers []*vtimer
	// timeouts records each attempt timeout Do asked for, in order.
	timeouts []time.Duration
}

func (c *vclock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *vclock) add(at time.Time, fire func()) *vtimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &vtimer{at: at, seq: c.seq, fire: fire}
	c.timers = append(c.timers, t)
	return t
}

func (c *vclock) remove(t *vtimer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return
		}
	}
}

// fireNext moves to the earliest timer due by limit (any, when limit is
// zero) and fires it; false when there is none.
func (c *vclock) fireNext(limit time.Time) bool {
	c.mu.Lock()
	sort.SliceStable(c.timers, func(i, j int) bool {
		a, b := c.timers[i], c.timers[j]
		return a.at.Before(b.at) || (a.at.Equal(b.at) && a.seq < b.seq)
	})
	if len(c.timers) == 0 || (!limit.IsZero() && c.timers[0].at.After(limit)) {
		c.mu.Unlock()
		return false
	}
	t := c.timers[0]
	c.timers = c.timers[1:]
	if t.at.After(c.now) {
		c.now = t.at
	}
	c.mu.Unlock()
	t.fire()
	return true
}

func (c *vclock) Sleep(ctx context.Context, d time.Duration) error {
	target := c.Now().Add(d)
	for ctx.Err() == nil && c.fireNext(target) {
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = target
	c.mu.Unlock()
	return nil
}

// block waits for ctx to end, moving the clock from timer to timer: an
// attempt that hangs until its timeout or a cancel.
func (c *vclock) block(ctx context.Context) error {
	for ctx.Err() == nil {
		if !c.fireNext(time.Time{}) {
			return errors.New("deadlock: an attempt hangs and no timer is set")
		}
	}
	return ctx.Err()
}

func (c *vclock) WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	c.timeouts = append(c.timeouts, d)
	child := newVctx(ctx, c.Now().Add(d))
	t := c.add(c.Now().Add(d), func() { child.end(context.DeadlineExceeded) })
	return child, func() {
		c.remove(t)
		child.end(context.Canceled)
	}
}

// vctx is a context ended by the virtual clock, with its parent's end
// propagated synchronously (context.AfterFunc would use a goroutine).
type vctx struct {
	context.Context
	deadline time.Time
	done     chan struct{}
	mu       sync.Mutex
	err      error
	children []*vctx
}

func newVctx(parent context.Context, deadline time.Time) *vctx {
	c := &vctx{Context: parent, deadline: deadline, done: make(chan struct{})}
	if p, ok := parent.(*vctx); ok {
		p.mu.Lock()
		p.children = append(p.children, c)
		err := p.err
		p.mu.Unlock()
		if err != nil {
			c.end(err)
		}
	}
	return c
}

func (c *vctx) Deadline() (time.Time, bool) { return c.deadline, !c.deadline.IsZero() }
func (c *vctx) Done() <-chan struct{}       { return c.done }
func (c *vctx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *vctx) end(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	close(c.done)
	children := c.children
	c.mu.Unlock()
	for _, child := range children {
		child.end(err)
	}
}

// scriptedError is an attempt's scripted failure.
type scriptedError struct {
	id     string
	status int
	code   string
	after  time.Duration // -1: no pushback
}

func (e *scriptedError) Error() string             { return e.id }
func (e *scriptedError) StatusCode() int           { return e.status }
func (e *scriptedError) ErrorCode() string         { return e.code }
func (e *scriptedError) RetryAfter() time.Duration { return e.after }

type helperOutcome struct {
	OK         *string `json:"ok"`
	Hang       bool    `json:"hang"`
	DurationMs int64   `json:"duration_ms"`
	Error      *struct {
		HTTPStatus int    `json:"http_status"`
		ErrorCode  string `json:"error_code"`
	} `json:"error"`
	RetryAfter          *string `json:"retry_after"`
	GRPCRetryPushbackMs *string `json:"grpc_retry_pushback_ms"`
}

type helperCall struct {
	AdvanceMs      int64           `json:"advance_ms"`
	Seed           *string         `json:"seed"`
	IdempotencyKey *string         `json:"idempotency_key"`
	DeadlineMs     *int64          `json:"deadline_ms"`
	CancelAtMs     *int64          `json:"cancel_at_ms"`
	Outcomes       []helperOutcome `json:"outcomes"`
	Expect         map[string]any  `json:"expect"`
}

type helperSuite struct {
	OriginMs int64 `json:"origin_ms"`
	Vectors  []struct {
		Name     string       `json:"name"`
		Policy   string       `json:"policy"`
		Calls    []helperCall `json:"calls"`
		Expected []any        `json:"-"`
	} `json:"vectors"`
}

func errorID(err error) any {
	var at AttemptTimeout
	if errors.As(err, &at) {
		return fmt.Sprintf("timeout-%d", at.Attempt)
	}
	var se *scriptedError
	if errors.As(err, &se) {
		return se.id
	}
	if err == nil {
		return nil
	}
	return err.Error()
}

// matchJSON checks every key of want against got (both decoded JSON);
// `seed: "random"` is checked by the caller.
func matchJSON(t *testing.T, path string, got, want any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %v, want an object %v", path, got, want)
			return
		}
		for k, v := range w {
			if k == "seed" && v == "random" {
				continue
			}
			if _, ok := g[k]; !ok {
				t.Errorf("%s: no %q in %v", path, k, got)
				continue
			}
			matchJSON(t, path+"."+k, g[k], v)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: got %v, want %v", path, got, want)
			return
		}
		for i := range w {
			matchJSON(t, fmt.Sprintf("%s[%d]", path, i), g[i], w[i])
		}
	default:
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %#v, want %#v", path, got, want)
		}
	}
}

// normalise round-trips v through JSON so numbers compare as float64.
func normalise(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func runHelperCall(t *testing.T, p *Policy, clock *vclock, origin time.Time, call helperCall) map[string]any {
	if call.AdvanceMs > 0 {
		_ = clock.Sleep(context.Background(), time.Duration(call.AdvanceMs)*time.Millisecond)
	}
	var deadline time.Time
	if call.DeadlineMs != nil {
		deadline = origin.Add(time.Duration(*call.DeadlineMs) * time.Millisecond)
	}
	ctx := newVctx(context.Background(), deadline)
	var timers []*vtimer
	if call.CancelAtMs != nil {
		timers = append(timers, clock.add(origin.Add(time.Duration(*call.CancelAtMs)*time.Millisecond),
			func() { ctx.end(context.Canceled) }))
	}
	if !deadline.IsZero() {
		timers = append(timers, clock.add(deadline, func() { ctx.end(context.DeadlineExceeded) }))
	}
	defer func() {
		for _, tm := range timers {
			clock.remove(tm)
		}
	}()
	clock.timeouts = nil
	attempts := []map[string]any{}
	callbacks := []map[string]any{}
	opts := []RetryOption{WithClock(clock), OnRetry(func(err error, attempt int, d Decision) {
		if int(d.Attempt) != attempt {
			t.Errorf("callback attempt %d, decision attempt %d", attempt, d.Attempt)
		}
		callbacks = append(callbacks, map[string]any{
			"error": errorID(err), "attempt": attempt, "delay_ms": d.DelayMs,
			"class": string(d.Classification.Class), "rule": optionalString(d.Classification.Rule),
			"seed": strconv.FormatUint(d.State.Seed, 10),
		})
	})}
	if call.Seed != nil {
		seed, err := strconv.ParseUint(*call.Seed, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, WithSeed(seed))
	}
	if call.IdempotencyKey != nil {
		opts = append(opts, WithIdempotencyKey(*call.IdempotencyKey))
	}
	n := 0
	value, err := DoValue(ctx, p, func(actx context.Context) (string, error) {
		n++
		var timeout any
		if len(clock.timeouts) == n {
			timeout = clock.timeouts[n-1].Milliseconds()
		}
		attempts = append(attempts, map[string]any{"attempt": n, "start_ms": clock.Now().Sub(origin).Milliseconds(), "timeout_ms": timeout})
		if n > len(call.Outcomes) {
			return "", fmt.Errorf("the vector scripts no attempt %d", n)
		}
		o := call.Outcomes[n-1]
		if o.Hang {
			return "", clock.block(actx)
		}
		if o.DurationMs > 0 {
			if err := clock.Sleep(actx, time.Duration(o.DurationMs)*time.Millisecond); err != nil {
				return "", err
			}
		}
		if o.OK != nil {
			return *o.OK, nil
		}
		e := &scriptedError{id: fmt.Sprintf("attempt-%d", n), status: o.Error.HTTPStatus, code: o.Error.ErrorCode, after: -1}
		h := http.Header{}
		if o.RetryAfter != nil {
			h.Set("Retry-After", *o.RetryAfter)
		}
		if o.GRPCRetryPushbackMs != nil {
			h.Set("Grpc-Retry-Pushback-Ms", *o.GRPCRetryPushbackMs)
		}
		if d, ok := PushbackFromHeader(h, clock.Now()); ok {
			e.after = d
		}
		return "", e
	}, opts...)
	var result map[string]any
	var giveUp *GiveUpError
	switch {
	case err == nil:
		result = map[string]any{"value": value}
	case errors.As(err, &giveUp):
		var class any
		if giveUp.Decision != nil {
			class = string(giveUp.Decision.Classification.Class)
		}
		result = map[string]any{"give_up": string(giveUp.Reason), "attempts": giveUp.Attempts, "class": class, "cause": errorID(errors.Unwrap(err))}
	case errors.Is(err, context.Canceled):
		result = map[string]any{"cancelled": true, "attempts": n}
	default:
		t.Fatalf("Do returned %v", err)
	}
	return map[string]any{"attempts": attempts, "callbacks": callbacks, "result": result,
		"end_ms": clock.Now().Sub(origin).Milliseconds()}
}

func optionalString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func TestHelperVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "tests", "helpers", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no helper vectors: %v", err)
	}
	e := newEngine(t)
	count := 0
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var suite helperSuite
		if err := json.Unmarshal(raw, &suite); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		origin := time.UnixMilli(suite.OriginMs)
		for _, v := range suite.Vectors {
			count++
			t.Run(filepath.Base(file)+"/"+v.Name, func(t *testing.T) {
				p := loadPolicy(t, e, v.Policy, TOML)
				clock := &vclock{now: origin}
				var seeds []string
				for i, call := range v.Calls {
					got := normalise(t, runHelperCall(t, p, clock, origin, call)).(map[string]any)
					want := normalise(t, call.Expect).(map[string]any)
					end := want["end_ms"]
					delete(want, "end_ms")
					matchJSON(t, fmt.Sprintf("call %d", i), got, want)
					if end != nil && !reflect.DeepEqual(got["end_ms"], end) {
						t.Errorf("call %d: the clock ends at %v, want %v", i, got["end_ms"], end)
					}
					for j, cb := range want["callbacks"].([]any) {
						if cb.(map[string]any)["seed"] == "random" {
							seeds = append(seeds, got["callbacks"].([]any)[j].(map[string]any)["seed"].(string))
						}
					}
				}
				seen := map[string]bool{}
				for _, s := range seeds {
					if s == "0" || seen[s] {
						t.Errorf("random seeds %v: a 0 or a repeat", seeds)
					}
					seen[s] = true
				}
			})
		}
	}
	if count < 40 {
		t.Errorf("only %d helper vectors", count)
	}
}
