package backstop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"
)

// The shared conformance corpus: tests/README.md defines the format and the
// canonical JSON outputs are compared in.

type vectorPolicy struct {
	Format string `json:"format"`
	Source string `json:"source"`
}

type vectorFailure struct {
	HTTPStatus *int     `json:"http_status"`
	GRPCCode   *string  `json:"grpc_code"`
	ExitCode   *int     `json:"exit_code"`
	Signal     *string  `json:"signal"`
	ErrorTypes []string `json:"error_types"`
	ErrorBases []string `json:"error_bases"`
	ErrorCode  *string  `json:"error_code"`
	Message    *string  `json:"message"`
}

// vectorLog is a log vector's input (tests/README.md "Log vectors").
type vectorLog struct {
	Text     string    `json:"text"`
	ExitCode *int      `json:"exit_code"`
	Signal   *string   `json:"signal"`
	Stream   LogStream `json:"stream"`
}

// vectorOutcome is an attempt-failure in a planner vector's input.
type vectorOutcome struct {
	Failure    vectorFailure `json:"failure"`
	DurationMs uint64        `json:"duration_ms"`
	PushbackMs *uint64       `json:"pushback_ms"`
}

// attemptFailure is o as the public API takes it, and false when a duration
// is past what a time.Duration holds (292 years): then only the guest's
// units (o.guestUnits) can carry it.
func (o vectorOutcome) attemptFailure() (AttemptFailure, bool) {
	const maxMs = math.MaxInt64 / uint64(time.Millisecond)
	if o.DurationMs > maxMs || (o.PushbackMs != nil && *o.PushbackMs > maxMs) {
		return AttemptFailure{}, false
	}
	af := AttemptFailure{Failure: Failure(o.Failure), Duration: time.Duration(o.DurationMs) * time.Millisecond}
	if o.PushbackMs != nil {
		af.Pushback = new(time.Duration(*o.PushbackMs) * time.Millisecond)
	}
	return af, true
}

func (o vectorOutcome) guestUnits() attemptOutcome {
	return attemptOutcome{failure: Failure(o.Failure), durationMs: o.DurationMs, pushbackMs: o.PushbackMs}
}

// canonicalLogFailure is a report's failure with every key present, so a
// vector can require a field's absence.
func canonicalLogFailure(f Failure) map[string]any {
	opt := func(p *string) any {
		if p == nil {
			return nil
		}
		return *p
	}
	optInt := func(p *int) any {
		if p == nil {
			return nil
		}
		return float64(*p)
	}
	list := func(l []string) []any {
		out := []any{}
		for _, s := range l {
			out = append(out, s)
		}
		return out
	}
	return map[string]any{
		"http_status": optInt(f.HTTPStatus), "grpc_code": opt(f.GRPCCode),
		"exit_code": optInt(f.ExitCode), "signal": opt(f.Signal),
		"error_types": list(f.ErrorTypes), "error_bases": list(f.ErrorBases),
		"error_code": opt(f.ErrorCode), "message": opt(f.Message),
	}
}

// vectorEvent is the canonical event input: omitted keys are empty, zero
// or none.
type vectorEvent struct {
	Kind        EventKind         `json:"kind"`
	Pipeline    string            `json:"pipeline"`
	Step        string            `json:"step"`
	RunID       string            `json:"run_id"`
	Failure     *vectorFailure    `json:"failure"`
	Attempt     int               `json:"attempt"`
	LateMinutes int               `json:"late_minutes"`
	Labels      map[string]string `json:"labels"`
	LogLines    []string          `json:"log_lines"`
	DedupKey    *string           `json:"dedup_key"`
}

func (v vectorEvent) event() Event {
	e := Event{
		Kind: v.Kind, Pipeline: v.Pipeline, Step: v.Step, RunID: v.RunID,
		Attempt: v.Attempt, LateMinutes: v.LateMinutes, Labels: v.Labels, LogLines: v.LogLines,
	}
	if v.Failure != nil {
		e.Failure = new(Failure(*v.Failure))
	}
	if v.DedupKey != nil {
		e.DedupKey = *v.DedupKey
	}
	return e
}

// alertStep is one event of an alert sequence, with the result expected.
type alertStep struct {
	Event       vectorEvent    `json:"event"`
	NowMs       int64          `json:"now_ms"`
	State       *string        `json:"state"`
	Expect      map[string]any `json:"expect"`
	ExpectError map[string]any `json:"expect_error"`
}

type vector struct {
	Name         string           `json:"name"`
	AlertSteps   []alertStep      `json:"alert_steps"`
	Redact       *string          `json:"redact"`
	Call         string           `json:"call"`
	Input        json.RawMessage  `json:"input"`
	Policy       *vectorPolicy    `json:"policy"`
	Failure      *vectorFailure   `json:"failure"`
	Log          *vectorLog       `json:"log"`
	Source       string           `json:"source"`
	Expect       map[string]any   `json:"expect"`
	ExpectError  map[string]any   `json:"expect_error"`
	ExpectErrors []map[string]any `json:"expect_errors"`
}

type suite struct {
	Description string        `json:"description"`
	Policy      *vectorPolicy `json:"policy"`
	Vectors     []vector      `json:"vectors"`
}

func canonicalClassification(c Classification) map[string]any {
	var rule any
	if c.Rule != "" {
		rule = c.Rule
	}
	return map[string]any{"class": string(c.Class), "rule": rule, "reason": c.Reason}
}

func canonicalError(e *PolicyError) map[string]any {
	var line, column any
	if e.Line > 0 {
		line, column = float64(e.Line), float64(e.Column)
	}
	return map[string]any{"code": string(e.Code), "message": e.Message, "path": e.Path, "line": line, "column": column}
}

// matches reports whether every key of want equals got's value. Nested
// objects compare the same way (an expectation may leave out "reason" or
// "explanation" at any depth); lists must match in length and order.
func matches(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: unexpected key %q in the vector", what, k)
			continue
		}
		matchValue(t, what+"."+k, g, w)
	}
}

func matchValue(t *testing.T, what string, got, want any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s = %#v, want an object", what, got)
			return
		}
		matches(t, what, g, w)
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s = %#v, want %#v", what, got, want)
			return
		}
		for i := range w {
			matchValue(t, fmt.Sprintf("%s[%d]", what, i), g[i], w[i])
		}
	default:
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", what, got, want)
		}
	}
}

// canonical maps a planner result to canonical JSON through its own JSON
// encoding, so the runner also proves the Go types' json tags.
func canonical(t *testing.T, v any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// decodeInput decodes a planner vector's input strictly, so a misspelled
// field fails rather than reading as zero.
func decodeInput(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("input: %v", err)
	}
}

// runCall runs a planner vector's call through the public API and returns
// its canonical result.
func runCall(t *testing.T, ctx context.Context, engine *Engine, policy *Policy, v vector) (map[string]any, error) {
	switch v.Call {
	case "begin_attempt":
		var in struct {
			State  RetryState  `json:"state"`
			Shared SharedState `json:"shared"`
			NowMs  int64       `json:"now_ms"`
		}
		decodeInput(t, v.Input, &in)
		p, err := policy.BeginAttempt(ctx, in.State, in.Shared, time.UnixMilli(in.NowMs))
		return canonical(t, p), err
	case "after_failure":
		var in struct {
			State   RetryState    `json:"state"`
			Shared  SharedState   `json:"shared"`
			Outcome vectorOutcome `json:"outcome"`
			NowMs   int64         `json:"now_ms"`
		}
		decodeInput(t, v.Input, &in)
		af, ok := in.Outcome.attemptFailure()
		if !ok {
			d, err := policy.afterFailureMs(ctx, in.State, in.Shared, in.Outcome.guestUnits(), uint64(in.NowMs))
			return canonical(t, d), err
		}
		d, err := policy.AfterFailure(ctx, in.State, in.Shared, af, time.UnixMilli(in.NowMs))
		return canonical(t, d), err
	case "plan_failures":
		var in struct {
			State      RetryState    `json:"state"`
			Shared     SharedState   `json:"shared"`
			Outcome    vectorOutcome `json:"outcome"`
			NowMs      int64         `json:"now_ms"`
			MaxEntries uint32        `json:"max_entries"`
		}
		decodeInput(t, v.Input, &in)
		var entries []PlannedFailure
		var err error
		if af, ok := in.Outcome.attemptFailure(); ok {
			entries, err = policy.PlanFailures(ctx, in.State, in.Shared, af, time.UnixMilli(in.NowMs), in.MaxEntries)
		} else {
			entries, err = policy.planFailuresMs(ctx, in.State, in.Shared, in.Outcome.guestUnits(), uint64(in.NowMs), in.MaxEntries)
		}
		return canonical(t, map[string]any{"entries": entries}), err
	case "after_success":
		var in struct {
			Shared SharedState `json:"shared"`
		}
		decodeInput(t, v.Input, &in)
		sh, err := policy.AfterSuccess(ctx, in.Shared)
		return canonical(t, sh), err
	case "plan_schedule":
		var in struct {
			Seed       uint64 `json:"seed,string"`
			MaxEntries int    `json:"max_entries"`
		}
		decodeInput(t, v.Input, &in)
		s, err := policy.Schedule(ctx, in.Seed, in.MaxEntries)
		return canonical(t, s), err
	case "derive_seed":
		var in struct {
			Key string `json:"key"`
		}
		decodeInput(t, v.Input, &in)
		seed, err := engine.DeriveSeed(ctx, in.Key)
		return map[string]any{"seed": strconv.FormatUint(seed, 10)}, err
	case "sinks":
		decodeInput(t, v.Input, &struct{}{})
		sinks, ok, err := policy.Sinks(ctx)
		if !ok {
			return map[string]any{"sinks": nil}, err
		}
		return canonical(t, map[string]any{"sinks": sinks}), err
	}
	t.Fatalf("unknown call %q", v.Call)
	return nil, nil
}

func TestConformance(t *testing.T) {
	ctx := context.Background()
	engine := newEngine(t)

	files, err := filepath.Glob(filepath.Join("..", "tests", "vectors", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no vectors found in ../tests/vectors")
	}
	total, calls, sequences, steps, redactions := 0, 0, 0, 0, 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var s suite
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(s.Vectors) == 0 {
			t.Fatalf("%s: no vectors", file)
		}
		for _, v := range s.Vectors {
			total++
			if v.Call != "" {
				calls++
			}
			if v.Redact != nil {
				redactions++
			}
			if v.AlertSteps != nil {
				sequences++
				steps += len(v.AlertSteps)
			}
			t.Run(filepath.Base(file)+"/"+v.Name, func(t *testing.T) {
				runVector(t, ctx, engine, s.Policy, v)
			})
		}
	}
	// Floors, so a runner that silently finds fewer vectors fails.
	// The corpus as of the alerts interface: 325 vectors, 144 planner
	// calls, 14 alert sequences of 69 steps.
	const wantTotal, wantCalls, wantSequences, wantSteps = 325, 144, 14, 69
	if total < wantTotal || calls < wantCalls || sequences < wantSequences || steps < wantSteps {
		t.Errorf("ran %d vectors (%d planner calls, %d alert sequences of %d steps); the corpus has at least %d (%d, %d of %d)",
			total, calls, sequences, steps, wantTotal, wantCalls, wantSequences, wantSteps)
	}
	if redactions < 190 {
		t.Errorf("ran %d redaction vectors; the corpus has at least 190 (plus its load errors)", redactions)
	}
}

func runVector(t *testing.T, ctx context.Context, engine *Engine, suitePolicy *vectorPolicy, v vector) {
	shapes := 0
	for _, present := range []bool{v.Expect != nil, v.ExpectError != nil, v.ExpectErrors != nil, v.AlertSteps != nil} {
		if present {
			shapes++
		}
	}
	if shapes != 1 {
		t.Fatalf("vector has %d expectation shapes, want exactly 1", shapes)
	}
	vp := suitePolicy
	if v.Policy != nil {
		vp = v.Policy
	}
	source, format := "", TOML
	if vp != nil {
		source, format = vp.Source, Format(vp.Format)
	}
	policy, err := engine.LoadPolicy(ctx, source, format)

	if v.ExpectErrors != nil {
		var le *LoadError
		if !errors.As(err, &le) {
			t.Fatalf("LoadPolicy: got %v, want a *LoadError", err)
		}
		if len(le.Errors) != len(v.ExpectErrors) {
			t.Fatalf("got %d errors, want %d: %v", len(le.Errors), len(v.ExpectErrors), le)
		}
		for i, want := range v.ExpectErrors {
			matches(t, fmt.Sprintf("error #%d", i), canonicalError(le.Errors[i]), want)
		}
		return
	}
	if err != nil {
		t.Fatalf("LoadPolicy: %v", err)
	}
	defer policy.Close(ctx)
	if v.AlertSteps != nil {
		runAlertSteps(t, ctx, policy, v.AlertSteps)
		return
	}
	if v.Redact != nil {
		got, err := policy.Redact(ctx, *v.Redact)
		if err != nil {
			t.Fatalf("Redact: %v", err)
		}
		redactions := []any{}
		for _, c := range got.Redactions {
			redactions = append(redactions, map[string]any{"rule": c.Rule, "count": float64(c.Count)})
		}
		matches(t, "redaction", map[string]any{"text": got.Text, "redactions": redactions}, v.Expect)
		return
	}
	if v.Call != "" {
		got, err := runCall(t, ctx, engine, policy, v)
		if v.ExpectError != nil {
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("%s: got (%v, %v), want a *PolicyError", v.Call, got, err)
			}
			matches(t, "error", canonicalError(pe), v.ExpectError)
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", v.Call, err)
		}
		matches(t, v.Call, got, v.Expect)
		return
	}
	if v.Log != nil {
		runLog(t, ctx, engine, policy, v)
		return
	}
	if v.Failure == nil {
		t.Fatal("vector has no failure")
	}
	f := Failure(*v.Failure)
	got, err := policy.Classify(ctx, f)
	if v.ExpectError != nil {
		var pe *PolicyError
		if !errors.As(err, &pe) {
			t.Fatalf("Classify: got (%v, %v), want a *PolicyError", got, err)
		}
		matches(t, "error", canonicalError(pe), v.ExpectError)
		return
	}
	if err != nil {
		t.Fatalf("Classify: %v", err)
	}
	matches(t, "classification", canonicalClassification(got), v.Expect)
}

// runLog reads a log vector's tail with Engine.ReadLog, classifies the
// report's failure and compares both.
func runLog(t *testing.T, ctx context.Context, engine *Engine, policy *Policy, v vector) {
	report, err := engine.ReadLog(ctx, LogInput{
		Text: v.Log.Text, ExitCode: v.Log.ExitCode, Signal: v.Log.Signal, Stream: v.Log.Stream,
	})
	if v.ExpectError != nil {
		var pe *PolicyError
		if !errors.As(err, &pe) {
			t.Fatalf("ReadLog: got (%+v, %v), want a *PolicyError", report, err)
		}
		matches(t, "error", canonicalError(pe), v.ExpectError)
		return
	}
	if err != nil {
		t.Fatalf("ReadLog: %v", err)
	}
	c, err := policy.Classify(ctx, report.Failure)
	if err != nil {
		t.Fatalf("Classify: %v", err)
	}
	readers := []any{}
	for _, r := range report.Readers {
		readers = append(readers, r)
	}
	var pushback any
	if report.PushbackMs != nil {
		pushback = float64(*report.PushbackMs)
	}
	got := map[string]any{
		"failure": canonicalLogFailure(report.Failure), "readers": readers,
		"summary": report.Summary, "pushback_ms": pushback,
		"classification": canonicalClassification(c),
	}
	matches(t, "log", got, v.Expect)
}

// runAlertSteps runs an alert sequence through EvaluateAlerts, threading
// the state: each step starts from its own "state" if it has one, else from
// the last successful step's, and a failed step leaves it unchanged. The
// result is compared through Evaluation's JSON encoding, which also proves
// its json tags and the payload's inline encoding.
func runAlertSteps(t *testing.T, ctx context.Context, policy *Policy, steps []alertStep) {
	state := ""
	for i, step := range steps {
		what := fmt.Sprintf("step %d (%s)", i, step.Event.Kind)
		if (step.Expect == nil) == (step.ExpectError == nil) {
			t.Fatalf("%s: want exactly one of expect and expect_error", what)
		}
		in := state
		if step.State != nil {
			in = *step.State
		}
		ev, err := policy.EvaluateAlerts(ctx, in, step.Event.event(), time.UnixMilli(step.NowMs))
		if step.ExpectError != nil {
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("%s: got (%+v, %v), want a *PolicyError", what, ev, err)
			}
			matches(t, what+" error", canonicalError(pe), step.ExpectError)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		matches(t, what, canonical(t, ev), step.Expect)
		state = ev.State
	}
	runAlertStepsKeyed(t, ctx, policy, steps)
}

// runAlertStepsKeyed runs the same sequence as a keyed store does (the
// needed keys, the due ones and a whole-document state under ""; the
// changed shards stored back) and wants the same answers, the wakeup being
// the soonest of all stored shards.
func runAlertStepsKeyed(t *testing.T, ctx context.Context, policy *Policy, steps []alertStep) {
	store := map[string]KeyedState{}
	for i, step := range steps {
		what := fmt.Sprintf("step %d (%s, keyed)", i, step.Event.Kind)
		trial := maps.Clone(store)
		if step.State != nil {
			trial = map[string]KeyedState{"": {Key: "", State: *step.State}}
		}
		now := uint64(step.NowMs)
		event := step.Event.event()
		needed, err := policy.AlertStateKeys(ctx, event)
		var ev KeyedEvaluation
		if err == nil {
			var loaded []KeyedState
			for _, k := range slices.Sorted(maps.Keys(trial)) {
				st := trial[k]
				due := st.NextWakeupMs != nil && *st.NextWakeupMs <= now
				if needed.EveryKey || slices.Contains(needed.Keys, k) || k == "" || due {
					loaded = append(loaded, st)
				}
			}
			ev, err = policy.EvaluateAlertsKeyed(ctx, loaded, event, time.UnixMilli(step.NowMs))
		}
		if step.ExpectError != nil {
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("%s: got (%+v, %v), want a *PolicyError", what, ev, err)
			}
			matches(t, what+" error", canonicalError(pe), step.ExpectError)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for _, st := range ev.States {
			if st.State == "" {
				delete(trial, st.Key)
			} else {
				trial[st.Key] = st
			}
		}
		store = trial
		var next *uint64
		for _, st := range store {
			if w := st.NextWakeupMs; w != nil && (next == nil || *w < *next) {
				next = w
			}
		}
		whole := Evaluation{Notifications: ev.Notifications, Suppressed: ev.Suppressed, NextWakeupMs: next}
		matches(t, what, canonical(t, whole), step.Expect)
	}
}
