package backstop

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// Recorder receives each Do call, once it has ended, as one RecordedRun: a
// round of a run id + step with its attempts, the rows `backstop run`
// writes for a command, so that `backstop stats` counts library calls too.
// pgstore.Store.Recorder writes them into the CLI's PostgreSQL tables, and
// the module github.com/backstop-policy/backstop/go/sqlitestore into its
// SQLite state file.
//
// Record runs in Do's goroutine, after the last attempt and before Do
// returns, with Do's context without its cancellation (a call its context
// ended is recorded too; bound the write with a timeout of your own).
// Recording never changes Do's result: an error from Record is
// logged with log/slog's default logger at level Warn, and Do returns
// what it would have returned without a recorder.
type Recorder interface {
	Record(ctx context.Context, run RecordedRun) error
}

// RecordedRun is one Do call, as a row of the CLI's runs table.
type RecordedRun struct {
	// RunID is WithRunID's, or a new random one per call.
	RunID string
	// Step is WithStep's, or the shared store's Name() (as
	// pgstore.Dependency's, the CLI's --step), or "default".
	Step string
	// Status is "succeeded", "failed" (gave up) or "running" (the caller's
	// context ended the call).
	Status string
	// Outcome is "succeeded" or the give-up reason; "" while running.
	Outcome string
	// RetryState is the planner's last retry state.
	RetryState RetryState
	StartedAt  time.Time
	EndedAt    time.Time
	Attempts   []RecordedAttempt
	// Host is the machine's name (os.Hostname).
	Host string
}

// RecordedAttempt is one attempt, as a row of the CLI's attempts table.
type RecordedAttempt struct {
	// Attempt is 1-based, as the planner counts.
	Attempt   uint32
	StartedAt time.Time
	EndedAt   time.Time
	// DelayBefore is the wait before it (0 for the first).
	DelayBefore time.Duration
	// TimeoutMs is the attempt's timeout, nil when it had none.
	TimeoutMs *uint64
	// Decision is "succeeded", "retry", "give-up" or "interrupted" (the
	// caller's context ended it).
	Decision string
	TimedOut bool
	// Class and Rule classify a failure ("" when it succeeded, or no rule matched).
	Class Class
	Rule  string
	// GiveUpReason is why the call gave up after it ("" otherwise).
	GiveUpReason GiveUpReason
	// DelayAfterMs is the wait the planner chose after it, when it retried.
	DelayAfterMs *uint64
	Explanation  string
}

// WithRecorder records each call (see Recorder). Without it nothing is
// recorded.
func WithRecorder(r Recorder) RetryOption {
	return func(c *retryConfig) { c.recorder = r }
}

// WithRunID names the run a recorded call belongs to (the CLI's --run-id);
// without it each call is a run of its own, with a random id. A run id given
// again records the call as the run's next round, as `backstop run` does.
func WithRunID(id string) RetryOption {
	return func(c *retryConfig) { c.runID = id }
}

// WithStep names a recorded call's step (the CLI's --step). Without it: the
// shared store's Name() when it has one (pgstore.Dependency's), else
// "default".
func WithStep(step string) RetryOption {
	return func(c *retryConfig) { c.step = step }
}

var hostName = func() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	return h
}()

// recording is one call's run, built as attempts end.
type recording struct {
	run         RecordedRun
	delayBefore time.Duration
	// ended: the call reached an outcome to record (a planner or store
	// error leaves it false, and nothing is recorded).
	ended bool
}

func newRecording(cfg *retryConfig, now time.Time) *recording {
	id := cfg.runID
	if id == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	step := cfg.step
	if step == "" {
		step = "default"
		if named, ok := cfg.store.(interface{ Name() string }); ok && named.Name() != "" {
			step = named.Name()
		}
	}
	return &recording{run: RecordedRun{RunID: id, Step: step, StartedAt: now, Host: hostName}}
}

// attempt adds an ended attempt; d is the decision after a failure.
func (rec *recording) attempt(p Permit, start, end time.Time, verdict string, d *Decision, timedOut bool) {
	a := RecordedAttempt{
		Attempt: p.Attempt, StartedAt: start, EndedAt: end, DelayBefore: rec.delayBefore,
		TimeoutMs: p.TimeoutMs, Decision: verdict, TimedOut: timedOut,
	}
	if d != nil {
		a.Class, a.Rule, a.Explanation = d.Classification.Class, d.Classification.Rule, d.Explanation
		if verdict == "retry" {
			delay := d.DelayMs
			a.DelayAfterMs = &delay
			rec.delayBefore = d.Delay()
		} else if verdict == "give-up" {
			a.GiveUpReason = d.GiveUp
		}
	}
	rec.run.Attempts = append(rec.run.Attempts, a)
}

func (rec *recording) end(status, outcome string) {
	rec.ended = true
	rec.run.Status, rec.run.Outcome = status, outcome
}

// record hands the run to the recorder; an error is logged, never returned.
func (r *retrier) record() {
	rec := r.rec
	if !rec.ended {
		return
	}
	rec.run.RetryState = r.state
	rec.run.EndedAt = r.cfg.clock.Now()
	if err := r.cfg.recorder.Record(context.WithoutCancel(r.ctx), rec.run); err != nil {
		slog.Default().WarnContext(r.ctx, fmt.Sprintf("backstop: the run %q of %q was not recorded: %v",
			rec.run.RunID, rec.run.Step, err))
	}
}
