package backstop

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Clock is the time source and sleeper Do uses. Tests inject a fake one to
// run a retry loop without waiting; SystemClock is the default.
type Clock interface {
	// Now is the current time. Do sends it to the planner in Unix ms and
	// measures attempt durations with it.
	Now() time.Time
	// Sleep waits for d, or until ctx is done, when it returns ctx.Err().
	Sleep(ctx context.Context, d time.Duration) error
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SystemClock is the real clock: time.Now, and a timer raced against the
// context's Done channel.
var SystemClock Clock = systemClock{}

// TimeoutClock is a Clock that also makes the contexts that bound attempts.
// Do uses it, when the clock has it, instead of context.WithTimeout, so a
// fake clock drives attempt timeouts too; the context's error at the
// timeout must be context.DeadlineExceeded.
type TimeoutClock interface {
	Clock
	WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc)
}

// SharedStore keeps one dependency's SharedState (circuit breaker and retry
// budget) between operations, in memory or in a database, file or cache
// shared by processes; the state marshals to JSON. Do loads it before and
// saves it after each planner call.
//
// Load and Save alone let concurrent operations overwrite each other's
// outcomes. A store that also has the method
//
//	Update(ctx context.Context, fn func(SharedState) (SharedState, error)) error
//
// (as MemoryStore does) is updated through it instead; Update must apply fn
// atomically, for example under a lock or in a transaction, and return
// fn's error unchanged.
type SharedStore interface {
	Load(ctx context.Context) (SharedState, error)
	Save(ctx context.Context, s SharedState) error
}

type updater interface {
	Update(ctx context.Context, fn func(SharedState) (SharedState, error)) error
}

// MemoryStore is a SharedStore in memory, safe for concurrent use, with an
// atomic Update. The zero value holds a fresh state. Share one MemoryStore
// between every Do against the same dependency.
type MemoryStore struct {
	mu sync.Mutex
	s  SharedState
}

// Load returns the current state.
func (m *MemoryStore) Load(context.Context) (SharedState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.s, nil
}

// Save replaces the state.
func (m *MemoryStore) Save(_ context.Context, s SharedState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.s = s
	return nil
}

// Update replaces the state with fn's result, holding the store's lock
// throughout; on error the state is left as it was.
func (m *MemoryStore) Update(_ context.Context, fn func(SharedState) (SharedState, error)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	next, err := fn(m.s)
	if err == nil {
		m.s = next
	}
	return err
}

// AttemptTimeout is the error of an attempt that ran past its timeout (the
// policy's attempt_timeout, clamped to its deadline). Do classifies it
// instead of the attempt's own error. Its type name is the one every
// Backstop host reports for a timed-out attempt, which the built-in rule
// builtin.attempt-timeout classifies as transient; a rule of your own can
// name it as error_type = "backstop.AttemptTimeout" (or "AttemptTimeout").
// Its cause chain continues with context.DeadlineExceeded and the attempt's
// error. errors.As finds it with a backstop.AttemptTimeout target.
type AttemptTimeout struct {
	// Attempt is the attempt that timed out (1-based).
	Attempt int
	Timeout time.Duration
	// Err is what the attempt returned.
	Err error
}

func (e AttemptTimeout) Error() string {
	return fmt.Sprintf("backstop: attempt %d timed out after %v: %v", e.Attempt, e.Timeout, e.Err)
}

// Unwrap returns context.DeadlineExceeded and the attempt's error.
func (e AttemptTimeout) Unwrap() []error { return []error{context.DeadlineExceeded, e.Err} }

// RetryAfterError attaches a server's pushback (an HTTP Retry-After or
// grpc-retry-pushback-ms; see PushbackFromHeader) to an error. Do honours
// any error in the chain with a method RetryAfter() time.Duration, so an
// error type of your own works as well; a negative duration means "no
// pushback", and Never means "do not retry".
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string             { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error             { return e.Err }
func (e *RetryAfterError) RetryAfter() time.Duration { return e.After }

// pushback finds the first RetryAfter() in err's chain.
func pushback(err error) *time.Duration {
	var p interface{ RetryAfter() time.Duration }
	if !errors.As(err, &p) {
		return nil
	}
	d, ok := safeCall(p.RetryAfter)
	if !ok || d < 0 {
		return nil
	}
	return &d
}

// GiveUpError is Do's error whenever it gives up, for every reason alike (a
// permanent failure included): the planner gave up or refused an attempt,
// the server asked not to retry, or the next wait would outlast the
// context's deadline. Unwrap returns the last attempt's error, so errors.Is
// and errors.As see through it.
type GiveUpError struct {
	Reason GiveUpReason
	// Attempts is how many attempts ran.
	Attempts int
	// Decision is the planner's last decision, nil when no attempt failed
	// (the circuit was open before the first). It is a decision to retry
	// when Reason is GiveUpDeadline because the wait would outlast the
	// context's deadline, or when the next attempt was refused.
	Decision *Decision
	// RetryAfter, when Reason is GiveUpCircuitOpen and the attempt was
	// refused, is how long until the circuit half-opens.
	RetryAfter time.Duration
	// Err is the last attempt's error; nil when no attempt ran.
	Err error

	// contextDeadline: the planner would retry, but ctx's deadline comes
	// first.
	contextDeadline bool
	wait            time.Duration
}

func (e *GiveUpError) Error() string {
	var b strings.Builder
	b.WriteString("backstop: ")
	switch {
	case e.contextDeadline:
		fmt.Fprintf(&b, "give up after %d attempts: a wait of %v would outlast the context's deadline", e.Attempts, e.wait)
	case e.Decision != nil && e.Decision.GiveUp == e.Reason:
		b.WriteString(e.Decision.Explanation)
	case e.Reason == GiveUpCircuitOpen:
		fmt.Fprintf(&b, "attempt %d refused: circuit-open (it half-opens in %v)", e.Attempts+1, e.RetryAfter)
	default:
		fmt.Fprintf(&b, "attempt %d refused: %s", e.Attempts+1, e.Reason)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *GiveUpError) Unwrap() error { return e.Err }

// RetryOption configures Do and DoValue.
type RetryOption func(*retryConfig)

type retryConfig struct {
	seed    *uint64
	key     *string
	store   SharedStore
	clock   Clock
	onRetry []func(err error, attempt int, d Decision)

	recorder    Recorder
	runID, step string
}

// WithIdempotencyKey seeds the jitter from a key naming the operation, by
// convention runID + "/" + step (see Engine.DeriveSeed): a rerun of the
// same step waits exactly as before, while different runs spread out.
// Without it (or WithSeed) the seed is 64 random bits from crypto/rand
// (never 0), so concurrent operations spread out instead of retrying in
// lockstep.
func WithIdempotencyKey(key string) RetryOption {
	return func(c *retryConfig) { c.key = &key }
}

// WithSeed sets the jitter seed directly, over WithIdempotencyKey: it fixes
// the waits, for tests.
func WithSeed(seed uint64) RetryOption {
	return func(c *retryConfig) { c.seed = &seed }
}

// WithSharedState keeps the circuit breaker and retry budget in store, so
// every operation against one dependency shares them, across processes if
// the store is shared. Without it every Do with the same *Policy shares one
// in-memory MemoryStore (the policy's own).
func WithSharedState(store SharedStore) RetryOption {
	return func(c *retryConfig) { c.store = store }
}

// WithClock replaces SystemClock, for tests.
func WithClock(clock Clock) RetryOption {
	return func(c *retryConfig) { c.clock = clock }
}

// OnRetry calls fn with the failed attempt's error, its number and the
// decision to retry, before the wait (to log Decision.Explanation, say).
// Hooks run in the order given.
func OnRetry(fn func(err error, attempt int, d Decision)) RetryOption {
	return func(c *retryConfig) { c.onRetry = append(c.onRetry, fn) }
}

// randomSeed is 64 bits from the operating system's randomness, never 0.
func randomSeed() uint64 {
	// Seeds are read from the OS 64 at a time (as the Node, Python and Rust
	// hosts do) rather than one system call per Do: a successful Do makes
	// no guest call on the fast path, so that read would be a large share.
	seedPool.mu.Lock()
	defer seedPool.mu.Unlock()
	for {
		if seedPool.n == 0 {
			var b [8 * len(seedPool.seeds)]byte
			_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
			for i := range seedPool.seeds {
				seedPool.seeds[i] = binary.LittleEndian.Uint64(b[8*i:])
			}
			seedPool.n = len(seedPool.seeds)
		}
		seedPool.n--
		if s := seedPool.seeds[seedPool.n]; s != 0 {
			return s
		}
	}
}

// seedPool holds random seeds not yet handed out (see randomSeed).
var seedPool struct {
	mu    sync.Mutex
	seeds [64]uint64
	n     int
}

// cancelledProbeFailure is what a half-open probe cancelled by the caller is
// reported as, in every host: the breaker must hear of it (or it would wait
// for the probe's lease to run out); no rule matches it, so it is a failure.
var cancelledProbeFailure = Failure{
	ErrorTypes: []string{"backstop.Cancelled"},
	Message:    new("the caller cancelled the half-open probe"),
}

// Do runs fn until it succeeds or the policy gives up, sleeping between
// attempts as the planner decides. Each attempt gets a context with the
// planner's timeout for it; an attempt that runs past it fails with an
// AttemptTimeout. A failed attempt's error is classified with
// FailureFromError, and a server pushback is taken from any error in its
// chain with a RetryAfter() time.Duration method (see RetryAfterError).
//
// Do returns nil on success; a *GiveUpError wrapping the last attempt's
// error when it gives up, for any reason (when the next wait would end at
// or past ctx's deadline, with GiveUpDeadline); and, when ctx is done, an
// error that errors.Is ctx.Err() (and the last attempt's error, if any),
// without waiting further. A half-open probe cut short by ctx is reported
// to the breaker as a failure. Errors
// of the planner or the shared-state store are returned wrapped. If an
// attempt succeeds but its success cannot be recorded in the shared state,
// Do returns that error, saying the attempt succeeded.
func Do(ctx context.Context, p *Policy, fn func(ctx context.Context) error, opts ...RetryOption) error {
	if p == nil || fn == nil {
		return errors.New("backstop: Do needs a policy and a function")
	}
	// One allocation for the loop and its configuration: options write
	// into the retrier's own copy.
	r := &retrier{ctx: ctx, p: p, cfg: retryConfig{clock: SystemClock}}
	cfg := &r.cfg
	for _, opt := range opts {
		opt(cfg)
	}
	if cfg.clock == nil {
		return errors.New("backstop: WithClock needs a clock")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Planner calls are bounded work (microseconds), so they run with a
	// context that cannot be cancelled: on plain instances, which are about
	// 3x faster per call than interruptible ones (see README). ctx is still
	// checked around every call, and store calls get ctx itself.
	r.gctx = ctx
	if ctx.Done() != nil {
		r.detached.parent = ctx
		r.gctx = &r.detached
	}
	gctx := r.gctx
	var seed uint64
	switch {
	case cfg.seed != nil:
		seed = *cfg.seed
	case cfg.key != nil:
		var err error
		if seed, err = p.engine.DeriveSeed(gctx, *cfg.key); err != nil {
			return err
		}
	default:
		seed = randomSeed()
	}
	if cfg.store == nil {
		cfg.store = &p.retryShared
	}
	r.state = RetryState{Seed: seed}
	if cfg.recorder == nil {
		return r.run(fn)
	}
	r.rec = newRecording(cfg, cfg.clock.Now())
	err := r.run(fn)
	r.record()
	return err
}

// DoValue is Do for a function that returns a value: the value of the
// successful attempt, or the zero value with Do's error.
func DoValue[T any](ctx context.Context, p *Policy, fn func(ctx context.Context) (T, error), opts ...RetryOption) (T, error) {
	var v T
	if fn == nil {
		return v, errors.New("backstop: DoValue needs a function")
	}
	err := Do(ctx, p, func(ctx context.Context) error {
		r, err := fn(ctx)
		if err == nil {
			v = r
		}
		return err
	}, opts...)
	return v, err
}

// retrier is one Do call's loop.
type retrier struct {
	ctx      context.Context
	gctx     context.Context // ctx without cancellation, for the guest
	detached detached        // gctx when ctx can be cancelled
	p        *Policy
	cfg      retryConfig
	state    RetryState
	last     *Decision
	lastErr  error
	rec      *recording // nil without WithRecorder

	// The planner step that update applies to the shared state, its inputs
	// and its results (fields, so the MemoryStore path needs no closure).
	step     step
	outcome  AttemptFailure
	permit   Permit
	decision Decision
}

// step is one planner call applied to the shared state.
type step uint8

const (
	stepBegin step = iota
	stepSuccess
	stepFailure
)

// apply runs r.step on sh and keeps its result in r.
func (r *retrier) apply(sh SharedState) (SharedState, error) {
	var err error
	switch r.step {
	case stepBegin:
		r.permit, err = r.p.BeginAttempt(r.gctx, r.state, sh, r.cfg.clock.Now())
		return r.permit.Shared, err
	case stepSuccess:
		return r.p.AfterSuccess(r.gctx, sh)
	default:
		r.decision, err = r.p.AfterFailure(r.gctx, r.state, sh, r.outcome, r.cfg.clock.Now())
		return r.decision.Shared, err
	}
}

// detached is context.WithoutCancel for the guest's calls, minus its cost:
// the standard one is a value type, boxed again by every Value lookup, and
// wazero looks values up on each call (an allocation each). Values come
// from the parent; nothing in it is ever done. Only Do's guest calls see it.
type detached struct{ parent context.Context }

func (*detached) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*detached) Done() <-chan struct{}       { return nil }
func (*detached) Err() error                  { return nil }
func (d *detached) Value(key any) any         { return d.parent.Value(key) }

func (r *retrier) run(fn func(ctx context.Context) error) error {
	ctx, clock := r.ctx, r.cfg.clock
	for {
		err := r.update(stepBegin)
		permit := r.permit
		if err != nil {
			return r.fail(fmt.Sprintf("planning attempt %d", r.state.Attempts+1), err)
		}
		if ctx.Err() != nil {
			if r.rec != nil {
				r.rec.end("running", "")
			}
			return r.stopped(nil)
		}
		if permit.Refused != "" {
			if r.rec != nil {
				r.state = permit.State
				r.rec.end("failed", string(permit.Refused))
			}
			return &GiveUpError{Reason: permit.Refused, Attempts: int(r.state.Attempts), Decision: r.last,
				RetryAfter: permit.RetryAfter(), Err: r.lastErr}
		}
		r.state = permit.State

		attemptCtx, cancel := ctx, context.CancelFunc(func() {})
		timeout, hasTimeout := permit.Timeout()
		if hasTimeout {
			if tc, ok := clock.(TimeoutClock); ok {
				attemptCtx, cancel = tc.WithTimeout(ctx, timeout)
			} else {
				attemptCtx, cancel = context.WithTimeout(ctx, timeout)
			}
		}
		start := clock.Now()
		err = fn(attemptCtx)
		timedOut := hasTimeout && errors.Is(attemptCtx.Err(), context.DeadlineExceeded)
		cancel()

		if err == nil {
			end := clock.Now()
			err := r.update(stepSuccess)
			if err != nil {
				return r.fail(fmt.Sprintf("attempt %d succeeded, but recording it", permit.Attempt), err)
			}
			if r.rec != nil {
				// After the shared state took it: a call that ends in a store
				// error is not recorded.
				r.rec.attempt(permit, start, end, "succeeded", nil, false)
				r.rec.end("succeeded", "succeeded")
			}
			return nil
		}
		if ctx.Err() != nil {
			// The caller's context ended: not the dependency's failure, so
			// it is neither recorded nor retried; except that a half-open
			// probe must report, or the breaker waits for it.
			if r.rec != nil {
				r.rec.attempt(permit, start, clock.Now(), "interrupted", nil, timedOut)
				r.rec.run.Attempts[len(r.rec.run.Attempts)-1].Explanation = "the caller's context ended: " + ctx.Err().Error()
				r.rec.end("running", "")
			}
			if permit.Probe {
				r.outcome = AttemptFailure{Failure: cancelledProbeFailure, Duration: clock.Now().Sub(start)}
				_ = r.update(stepFailure)
			}
			return r.stopped(err)
		}
		if timedOut {
			err = AttemptTimeout{Attempt: int(permit.Attempt), Timeout: timeout, Err: err}
		}
		r.lastErr = err
		pb := pushback(err)
		never := pb != nil && *pb == Never
		if never {
			pb = nil // the planner records the failure; the refusal is applied below
		}
		end := clock.Now()
		r.outcome = AttemptFailure{
			Failure:  FailureFromError(err),
			Duration: end.Sub(start),
			Pushback: pb,
		}
		err = r.update(stepFailure)
		d := r.decision
		if err != nil {
			return r.fail(fmt.Sprintf("planning after attempt %d", permit.Attempt), err)
		}
		r.last, r.state = &d, d.State
		if d.Retry() && never {
			// The planner would retry, but the server asked not to (gRPC A6).
			d.GiveUp, d.DelayMs, d.NextTimeoutMs = GiveUpPushbackBeyondDeadline, 0, nil
			d.Explanation = fmt.Sprintf("attempt %d failed (%s); give up: %s (the server asked not to retry)",
				d.Attempt, d.Classification.Class, d.GiveUp)
			r.recordGiveUp(permit, start, end, d, timedOut)
			return &GiveUpError{Reason: d.GiveUp, Attempts: int(d.Attempt), Decision: &d, Err: r.lastErr}
		}
		if !d.Retry() {
			r.recordGiveUp(permit, start, end, d, timedOut)
			return &GiveUpError{Reason: d.GiveUp, Attempts: int(d.Attempt), Decision: &d, Err: r.lastErr}
		}
		delay := d.Delay()
		if deadline, ok := ctx.Deadline(); ok && !clock.Now().Add(delay).Before(deadline) {
			// Sleeping into a deadline only to fail there helps no one.
			if r.rec != nil {
				g := d
				g.GiveUp = GiveUpDeadline
				g.Explanation = fmt.Sprintf("attempt %d failed (%s); give up: deadline (a wait of %v would outlast the context's deadline)",
					d.Attempt, d.Classification.Class, delay)
				r.recordGiveUp(permit, start, end, g, timedOut)
			}
			return &GiveUpError{Reason: GiveUpDeadline, Attempts: int(d.Attempt), Decision: &d, Err: r.lastErr,
				contextDeadline: true, wait: delay}
		}
		if r.rec != nil {
			r.rec.attempt(permit, start, end, "retry", &d, timedOut)
		}
		for _, hook := range r.cfg.onRetry {
			hook(r.lastErr, int(d.Attempt), d)
		}
		if err := clock.Sleep(ctx, delay); err != nil {
			if r.rec != nil {
				r.rec.end("running", "")
			}
			if ctx.Err() != nil {
				return r.stopped(nil)
			}
			return fmt.Errorf("backstop: sleeping before attempt %d: %w", d.Attempt+1, err)
		}
	}
}

// recordGiveUp records the attempt after which the call gave up, and the run.
func (r *retrier) recordGiveUp(p Permit, start, end time.Time, d Decision, timedOut bool) {
	if r.rec != nil {
		r.rec.attempt(p, start, end, "give-up", &d, timedOut)
		r.rec.end("failed", string(d.GiveUp))
	}
}

// update applies one planner step to the shared state.
func (r *retrier) update(st step) error {
	r.step = st
	switch s := r.cfg.store.(type) {
	case *MemoryStore:
		// MemoryStore.Update, minus the closure an interface call would need.
		s.mu.Lock()
		defer s.mu.Unlock()
		next, err := r.apply(s.s)
		if err == nil {
			s.s = next
		}
		return err
	case updater:
		return s.Update(r.ctx, r.apply)
	default:
		cur, err := s.Load(r.ctx)
		if err != nil {
			return fmt.Errorf("loading the shared state: %w", err)
		}
		next, err := r.apply(cur)
		if err != nil {
			return err
		}
		if err := s.Save(r.ctx, next); err != nil {
			return fmt.Errorf("saving the shared state: %w", err)
		}
		return nil
	}
}

// fail reports an error of the planner or the store; if ctx ended
// meanwhile, that is the better explanation.
func (r *retrier) fail(what string, err error) error {
	if r.ctx.Err() != nil {
		return r.stopped(nil)
	}
	return fmt.Errorf("backstop: %s: %w", what, err)
}

// stopped is the error when ctx is done: ctx.Err(), joined with the last
// attempt's error (this one's, when ctx ended during an attempt).
func (r *retrier) stopped(attemptErr error) error {
	cerr := r.ctx.Err()
	last := r.lastErr
	if attemptErr != nil {
		last = attemptErr
	}
	if last == nil {
		return cerr
	}
	if errors.Is(last, cerr) {
		return fmt.Errorf("backstop: attempt %d: %w", r.state.Attempts, last)
	}
	return fmt.Errorf("backstop: %w after %d attempts; last error: %w", cerr, r.state.Attempts, last)
}
