package backstop

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// seedAlerts is the seed guide's Example 3 policy, exactly as written there.
const seedAlerts = `{
"rules": [
{"condition": "run.failure_count==1", "severity": "info", "notify": ["mlops-room"], "dedup_window": "30m"},
{"condition": "run.consecutive_failures >= 3 or sla.late_minutes >= 60", "severity": "high", "notify": ["oncall"], "escalate_after": "15m"}
],
"payload": ["pipeline", "step", "run_id", "error_type", "last_log_lines"]
}`

func TestAlertsLayouts(t *testing.T) {
	tests := []struct {
		name        string
		t           *abiType
		size, align uint32
		flat        int
	}{
		{"failure", failureT, 76, 4, 20},
		{"option<failure>", optionFailureT, 80, 4, 21},
		{"label", labelT, 16, 4, 4},
		// kind@0, pipeline@4, step@12, run-id@20, failure@28, attempt@108,
		// late@112, labels@116, log-lines@124, dedup-key@132.
		{"event", eventT, 144, 4, 37},
		{"notification", notificationT, 44, 4, 12},
		{"suppressed", suppressedT, 20, 4, 6},
		{"evaluation", evaluationT, 40, 8, 8},
	}
	for _, tt := range tests {
		if tt.t.size != tt.size || tt.t.align != tt.align || len(tt.t.flat) != tt.flat {
			t.Errorf("%s: size %d align %d flat %d, want %d %d %d",
				tt.name, tt.t.size, tt.t.align, len(tt.t.flat), tt.size, tt.align, tt.flat)
		}
	}
	if want := []uint32{0, 4, 12, 20, 28, 108, 112, 116, 124, 132}; !reflect.DeepEqual(eventT.offsets, want) {
		t.Errorf("event offsets %v, want %v", eventT.offsets, want)
	}
	// 40 flat parameters: they travel in memory, the result in a return area.
	params, results := evaluateFn.coreSignature()
	i32 := []api.ValueType{api.ValueTypeI32}
	if !evaluateFn.indirectParams() || !reflect.DeepEqual(params, i32) || !reflect.DeepEqual(results, i32) {
		t.Errorf("evaluate: %v -> %v", params, results)
	}
	if got := exportName(evaluateFn); got != "backstop:policy/alerts@0.1.0#evaluate" {
		t.Errorf("export name %q", got)
	}
	if len(eventKinds) != 6 || len(severities) != 4 || len(notificationKinds) != 4 || len(suppressionReasons) != 4 {
		t.Error("an enum's Go values do not match the WIT's case count")
	}
}

// evaluate's parameters go to memory: the event at its canonical offsets,
// labels sorted by key, "" as no dedup key.
func TestLowerEvaluateIndirect(t *testing.T) {
	b := newBump(4096)
	w := b.writer()
	e := Event{
		Kind: EventRunLate, Pipeline: "nightly", Step: "train", RunID: "r7",
		Failure: &Failure{HTTPStatus: new(503)}, Attempt: 3, LateMinutes: 61,
		Labels:   map[string]string{"zone": "eu", "team": "ml", "a": "1"},
		LogLines: []string{"one", "two"},
	}
	kind, labels, err := checkEvent(&e)
	if err != nil {
		t.Fatal(err)
	}
	args := lowerArgs(w, evaluateFn, func(s sink) {
		s.int(u32T, 9)
		s.string(`{"v":1}`)
		lowerEvent(s, &e, kind, labels)
		s.int(u64T, 1<<40)
	})
	if w.err != nil || len(args) != 1 {
		t.Fatal(w.err, args)
	}
	p := uint32(args[0])
	m := b.mem
	// handle@0, state@4, event@12 (kind@12, pipeline@16, step@24, run-id@32,
	// option<failure>@40 with the failure@44, attempt@112, late@116,
	// labels@120, log-lines@128, option<string>@136), now@152.
	checks := []struct {
		name      string
		got, want any
	}{
		{"handle", b.u32(p), uint32(9)},
		{"state", b.str(p + 4), `{"v":1}`},
		{"kind", m[p+12], byte(3)},
		{"pipeline", b.str(p + 16), "nightly"},
		{"run id", b.str(p + 32), "r7"},
		{"failure some", m[p+40], byte(1)},
		{"http some", m[p+44], byte(1)},
		{"http", binary.LittleEndian.Uint16(m[p+46:]), uint16(503)},
		{"attempt", b.u32(p + 120), uint32(3)},
		{"late", b.u32(p + 124), uint32(61)},
		{"labels", b.u32(p + 132), uint32(3)},
		{"log lines", b.u32(p + 140), uint32(2)},
		{"dedup none", m[p+144], byte(0)},
		{"now", binary.LittleEndian.Uint64(m[p+160:]), uint64(1 << 40)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	var keys []string
	for i := range b.u32(p + 132) {
		keys = append(keys, b.str(b.u32(p+128)+i*labelT.size))
	}
	if !slices.Equal(keys, []string{"a", "team", "zone"}) {
		t.Errorf("labels lowered as %v, want sorted by key", keys)
	}
}

// lowerEvaluation stores an Evaluation as the guest would return it.
func lowerEvaluation(s sink, ev *Evaluation) {
	r := s.record(evaluationT)
	ns := r.list(notificationT, len(ev.Notifications))
	for _, n := range ev.Notifications {
		f := ns.record(notificationT)
		k, _ := indexOf(notificationKinds[:], n.Kind)
		sev, _ := indexOf(severities[:], n.Severity)
		f.int(notificationKindT, uint64(k))
		f.int(severityT, uint64(sev))
		ts := f.list(stringT, len(n.Targets))
		for _, t := range n.Targets {
			ts.string(t)
		}
		f.string(n.Rule)
		f.string(n.DedupKey)
		f.string(n.Summary)
		f.string(string(n.Payload))
	}
	xs := r.list(suppressedT, len(ev.Suppressed))
	for _, x := range ev.Suppressed {
		f := xs.record(suppressedT)
		sev, _ := indexOf(severities[:], x.Severity)
		reason, _ := indexOf(suppressionReasons[:], x.Reason)
		f.string(x.Rule)
		f.string(x.DedupKey)
		f.int(severityT, uint64(sev))
		f.int(suppressionReasonT, uint64(reason))
	}
	r.string(ev.State)
	lowerWitOptionU64(r, ev.NextWakeupMs)
}

// An evaluation stored in memory lifts back unchanged; a payload that is
// not JSON or an unknown severity is an ABI violation.
func TestEvaluationRoundTrip(t *testing.T) {
	want := Evaluation{
		Notifications: []Notification{
			{Kind: NotifyEscalate, Severity: SeverityCritical, Targets: []string{"a", "b"}, Rule: "r",
				DedupKey: "k", Summary: "s", Payload: json.RawMessage(`{"x":[1]}`)},
			{Kind: NotifyResolve, Severity: SeverityInfo, Targets: []string{}, Rule: "q",
				DedupKey: "k2", Summary: "", Payload: json.RawMessage(`{}`)},
		},
		Suppressed:   []Suppressed{{Rule: "r", DedupKey: "k3", Severity: SeverityWarning, Reason: SuppressedRepeatLimit}},
		State:        `{"version":1}`,
		NextWakeupMs: new(uint64(1 << 41)),
	}
	lift := func(ev *Evaluation, corrupt func(m fakeMem, p uint32)) (Evaluation, error) {
		b := newBump(4096)
		w := b.writer()
		p := w.allocate(evaluationT.size, evaluationT.align)
		lowerEvaluation(&memSink{w: w, ptr: p}, ev)
		if w.err != nil {
			t.Fatal(w.err)
		}
		if corrupt != nil {
			corrupt(b.mem, p)
		}
		r := &reader{mem: b.mem}
		got := liftEvaluation(&source{r: r, ptr: p})
		return got, r.err
	}
	got, err := lift(&want, nil)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v (%v), want %+v", got, err, want)
	}

	// Empty lists lift as empty, not nil, so they marshal as [].
	got, err = lift(&Evaluation{}, nil)
	if err != nil || got.Notifications == nil || got.Suppressed == nil || got.NextWakeupMs != nil {
		t.Errorf("empty evaluation lifted as %#v (%v)", got, err)
	}
	if data, _ := json.Marshal(got); string(data) != `{"notifications":[],"suppressed":[],"state":"","next_wakeup_ms":null}` {
		t.Errorf("empty evaluation marshals as %s", data)
	}

	bad := want
	bad.Notifications = []Notification{{Kind: NotifyTrigger, Severity: SeverityHigh, Payload: json.RawMessage(`{"x":`)}}
	if _, err := lift(&bad, nil); !errors.Is(err, errABI) || !strings.Contains(err.Error(), "payload is not JSON") {
		t.Errorf("bad payload: %v", err)
	}
	// The first notification's severity is byte 1 of its record.
	_, err = lift(&want, func(m fakeMem, p uint32) { m[binary.LittleEndian.Uint32(m[p:])+1] = 4 })
	if !errors.Is(err, errABI) {
		t.Errorf("severity 4: got %v, want an ABI error", err)
	}
}

func TestEvaluationJSONAndHelpers(t *testing.T) {
	ev := Evaluation{
		Notifications: []Notification{{Kind: NotifyTrigger, Severity: SeverityHigh, Targets: []string{"oncall"},
			Rule: "r", DedupKey: "k", Summary: "s", Payload: json.RawMessage(`{"run_id":"r4","runbook":{"when":"x"}}`)}},
		Suppressed:   []Suppressed{{Rule: "r", DedupKey: "k", Severity: SeverityInfo, Reason: SuppressedDuplicate}},
		State:        "{}",
		NextWakeupMs: new(uint64(1_704_327_900_000)),
	}
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"notifications":[{"kind":"trigger","severity":"high","targets":["oncall"],"rule":"r","dedup_key":"k",` +
		`"summary":"s","payload":{"run_id":"r4","runbook":{"when":"x"}}}],` +
		`"suppressed":[{"rule":"r","dedup_key":"k","severity":"info","reason":"duplicate"}],` +
		`"state":"{}","next_wakeup_ms":1704327900000}`
	if string(data) != want {
		t.Errorf("marshals as\n%s\nwant\n%s", data, want)
	}
	var back Evaluation
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, ev) {
		t.Errorf("round trip: %+v (%v)", back, err)
	}

	at, ok := ev.NextWakeup()
	if !ok || !at.Equal(time.UnixMilli(1_704_327_900_000)) {
		t.Errorf("NextWakeup = %v, %v", at, ok)
	}
	if at, ok := (Evaluation{}).NextWakeup(); ok || !at.IsZero() {
		t.Errorf("no wakeup: %v, %v", at, ok)
	}
	if at, ok := (Evaluation{NextWakeupMs: new(uint64(math.MaxUint64))}).NextWakeup(); !ok || at.UnixMilli() != math.MaxInt64 {
		t.Errorf("a wakeup past int64 is clamped: %v", at)
	}

	var payload struct {
		RunID   string `json:"run_id"`
		Runbook struct {
			When string `json:"when"`
		} `json:"runbook"`
	}
	if err := ev.Notifications[0].DecodePayload(&payload); err != nil || payload.RunID != "r4" || payload.Runbook.When != "x" {
		t.Errorf("DecodePayload: %+v (%v)", payload, err)
	}
	var n int
	if err := ev.Notifications[0].DecodePayload(&n); err == nil || !strings.Contains(err.Error(), "payload of k") {
		t.Errorf("decoding into an int: %v", err)
	}
}

// The seed's Example 3, through the guest: a transient blip informs and
// never pages; three failed nights page on-call with a runbook; an
// unacknowledged page escalates after 15 minutes; an acknowledgement stops
// the timer; the next good run resolves everything that was notified.
func TestEvaluateAlertsSeedExample3(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t, WithPoolSize(1)), seedAlerts, JSON)
	day0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	failure := &Failure{HTTPStatus: new(503), ErrorTypes: []string{"TransientError"}, Message: new("503 Service Unavailable")}
	state := ""
	eval := func(e Event, at time.Time) Evaluation {
		t.Helper()
		ev, err := p.EvaluateAlerts(ctx, state, e, at)
		if err != nil {
			t.Fatal(err)
		}
		state = ev.State
		return ev
	}
	pages := func(ev Evaluation) (n int) {
		for _, x := range ev.Notifications {
			if x.Severity == SeverityHigh || x.Severity == SeverityCritical {
				n++
			}
		}
		return n
	}
	run := func(id string) Event {
		return Event{Pipeline: "nightly", Step: "train", RunID: id, Failure: failure, Attempt: 1,
			LogLines: []string{"loading shard 7", "GET https://alice:hunter2@storage.example/shard-7: 503"}}
	}

	// Night 1: one transient failure, then the retry succeeds.
	e := run("r1")
	e.Kind = EventAttemptFailed
	ev := eval(e, day0)
	if len(ev.Notifications) != 1 || ev.Notifications[0].Kind != NotifyTrigger || ev.Notifications[0].Severity != SeverityInfo ||
		!slices.Equal(ev.Notifications[0].Targets, []string{"mlops-room"}) || pages(ev) != 0 {
		t.Fatalf("a transient failure: %+v", ev.Notifications)
	}
	if _, ok := ev.NextWakeup(); ok {
		t.Error("an info alert without escalation needs no timer")
	}
	e.Kind, e.Failure, e.Attempt = EventRunSucceeded, nil, 2
	ev = eval(e, day0.Add(2*time.Minute))
	if len(ev.Notifications) != 1 || ev.Notifications[0].Kind != NotifyResolve || pages(ev) != 0 {
		t.Fatalf("the retry succeeded: %+v", ev.Notifications)
	}

	// Nights 2-4 fail; the third failed night pages.
	var page Evaluation
	for night, id := range []string{"r2", "r3", "r4"} {
		at := day0.AddDate(0, 0, night+1)
		e := run(id)
		e.Kind = EventAttemptFailed
		if ev := eval(e, at); pages(ev) != 0 {
			t.Fatalf("%s: an attempt failure paged: %+v", id, ev.Notifications)
		}
		e.Kind = EventRunFailed
		page = eval(e, at.Add(10*time.Minute))
		if want := map[bool]int{false: 0, true: 1}[id == "r4"]; pages(page) != want {
			t.Fatalf("%s failed: %d pages, want %d: %+v", id, pages(page), want, page.Notifications)
		}
	}
	n := page.Notifications[0]
	if n.Kind != NotifyTrigger || n.Rule != "rule-2" || !slices.Equal(n.Targets, []string{"oncall"}) ||
		n.DedupKey != "backstop/rule-2/nightly/train/r4/TransientError" {
		t.Errorf("the page: %+v", n)
	}
	if len(page.Suppressed) != 1 || page.Suppressed[0].Reason != SuppressedDuplicate {
		t.Errorf("the info alert for r4 is a duplicate: %+v", page.Suppressed)
	}
	var payload struct {
		RunID        string   `json:"run_id"`
		ErrorType    string   `json:"error_type"`
		LastLogLines []string `json:"last_log_lines"`
		Runbook      struct {
			WhatFailed     string `json:"what_failed"`
			When           string `json:"when"`
			CorrelationID  string `json:"correlation_id"`
			HowToRetry     string `json:"how_to_retry"`
			EscalationPath []struct {
				After  string   `json:"after"`
				Notify []string `json:"notify"`
			} `json:"escalation_path"`
		} `json:"runbook"`
	}
	if err := n.DecodePayload(&payload); err != nil {
		t.Fatal(err)
	}
	rb := payload.Runbook
	if payload.RunID != "r4" || payload.ErrorType != "TransientError" || rb.WhatFailed != "nightly/train" ||
		rb.When != "2024-01-04T00:10:00Z" || rb.CorrelationID != "r4" || !strings.Contains(rb.HowToRetry, "--run-id r4") ||
		len(rb.EscalationPath) != 2 || rb.EscalationPath[1].After != "15m" {
		t.Errorf("payload %s", n.Payload)
	}
	if logs := strings.Join(payload.LastLogLines, "\n"); strings.Contains(logs, "hunter2") || !strings.Contains(logs, "[REDACTED]") {
		t.Errorf("secrets must be redacted from the log lines: %q", logs)
	}
	due, ok := page.NextWakeup()
	if pagedAt := day0.AddDate(0, 0, 3).Add(10 * time.Minute); !ok || !due.Equal(pagedAt.Add(15*time.Minute)) {
		t.Fatalf("escalation due at %v (%v), want 15 minutes after the page", due, ok)
	}

	// A tick before the timer does nothing; one after it escalates.
	if ev := eval(Event{Kind: EventTick}, due.Add(-5*time.Minute)); len(ev.Notifications) != 0 {
		t.Errorf("an early tick: %+v", ev.Notifications)
	}
	ev = eval(Event{Kind: EventTick}, due.Add(time.Minute))
	if len(ev.Notifications) != 1 || ev.Notifications[0].Kind != NotifyEscalate || ev.Notifications[0].DedupKey != n.DedupKey {
		t.Fatalf("the due tick: %+v", ev.Notifications)
	}

	// On-call acknowledges: nothing is sent and no timer remains.
	ev = eval(Event{Kind: EventAlertAcknowledged, DedupKey: n.DedupKey}, due.Add(5*time.Minute))
	if _, ok := ev.NextWakeup(); len(ev.Notifications) != 0 || ok {
		t.Errorf("acknowledged: %+v", ev)
	}

	// Night 5 succeeds: every notified alert resolves, the page included.
	ev = eval(Event{Kind: EventRunSucceeded, Pipeline: "nightly", Step: "train", RunID: "r5", Attempt: 1}, day0.AddDate(0, 0, 4))
	var resolved []string
	for _, x := range ev.Notifications {
		if x.Kind != NotifyResolve {
			t.Errorf("night 5 sent a %s", x.Kind)
		}
		resolved = append(resolved, x.DedupKey)
	}
	if len(resolved) != 4 || !slices.Contains(resolved, n.DedupKey) {
		t.Errorf("resolved %v, want r2-r4's info alerts and the page", resolved)
	}
	if ev := eval(Event{Kind: EventTick}, day0.AddDate(0, 0, 5)); len(ev.Notifications) != 0 {
		t.Errorf("after recovery a tick sends %+v", ev.Notifications)
	}
}

// Labels reach the guest's conditions, and their order (a Go map's) does
// not change the result.
func TestEvaluateAlertsLabels(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t), `
[alerts]
payload = ["labels"]

[[alerts.rules]]
id = "ml-team"
condition = 'has(labels.team) && labels.team == "ml"'
severity = "warning"
notify = ["ml-chat"]
`, TOML)
	labels := map[string]string{"team": "ml", "zone": "eu-west-1", "owner": "ana", "tier": "gold", "b": "2", "a": "1"}
	e := Event{Kind: EventRunFailed, Pipeline: "p", Step: "s", RunID: "r", Labels: labels}
	now := time.UnixMilli(1_000_000)
	first, err := p.EvaluateAlerts(ctx, "", e, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Notifications) != 1 || first.Notifications[0].Rule != "ml-team" {
		t.Fatalf("labels.team == \"ml\": %+v", first.Notifications)
	}
	var payload struct {
		Labels map[string]string `json:"labels"`
	}
	if err := first.Notifications[0].DecodePayload(&payload); err != nil || !reflect.DeepEqual(payload.Labels, labels) {
		t.Errorf("payload labels %v (%v)", payload.Labels, err)
	}
	for range 20 {
		again, err := p.EvaluateAlerts(ctx, "", e, now)
		if err != nil || !reflect.DeepEqual(again, first) {
			t.Fatalf("the same event evaluated differently: %+v (%v)", again, err)
		}
	}
	e.Labels = map[string]string{"team": "data"}
	if ev, err := p.EvaluateAlerts(ctx, "", e, now); err != nil || len(ev.Notifications) != 0 {
		t.Errorf("another team: %+v (%v)", ev.Notifications, err)
	}
}

func TestEvaluateAlertsRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t), seedAlerts, JSON)
	now := time.UnixMilli(1_704_067_200_000)
	good := Event{Kind: EventRunFailed, Pipeline: "nightly", Step: "train", RunID: "r1"}
	with := func(f func(e *Event)) Event {
		e := good
		f(&e)
		return e
	}
	tests := []struct {
		name  string
		state string
		event Event
		code  ErrorCode
		path  string
	}{
		{"unknown kind", "", with(func(e *Event) { e.Kind = "run-exploded" }), CodeInvalidValue, "event.kind"},
		{"empty kind", "", with(func(e *Event) { e.Kind = "" }), CodeInvalidValue, "event.kind"},
		{"negative attempt", "", with(func(e *Event) { e.Attempt = -1 }), CodeInvalidValue, "event.attempt"},
		{"attempt beyond u32", "", with(func(e *Event) { e.Attempt = math.MaxUint32 + 1 }), CodeInvalidValue, "event.attempt"},
		{"negative lateness", "", with(func(e *Event) { e.LateMinutes = -5 }), CodeInvalidValue, "event.late_minutes"},
		{"no run id (the guest)", "", with(func(e *Event) { e.RunID = "" }), CodeInvalidValue, "event.run_id"},
		{"ack without a key (the guest)", "", Event{Kind: EventAlertAcknowledged}, CodeInvalidValue, "event.dedup_key"},
		{"bad failure", "", with(func(e *Event) { e.Failure = &Failure{HTTPStatus: new(70000)} }), CodeInvalidFailure, "failure.http_status"},
		{"unknown signal (the guest)", "", with(func(e *Event) { e.Failure = &Failure{Signal: new("SIGNOPE")} }), CodeInvalidFailure, "failure.signal"},
		{"state not JSON (the guest)", "{not json", good, CodeInvalidState, "state"},
		{"state not UTF-8", "{\"x\":\"\xff\"}", good, CodeInvalidState, "state"},
	}
	for _, tt := range tests {
		_, err := p.EvaluateAlerts(ctx, tt.state, tt.event, now)
		var pe *PolicyError
		if !errors.As(err, &pe) || pe.Code != tt.code || pe.Path != tt.path {
			t.Errorf("%s: got %v, want %s at %s", tt.name, err, tt.code, tt.path)
		}
	}
	if _, err := p.EvaluateAlerts(ctx, "", good, time.Unix(-1, 0)); err == nil || !strings.Contains(err.Error(), "before the Unix epoch") {
		t.Errorf("a time before 1970: %v", err)
	}
	// A failed call leaves the engine usable.
	if _, err := p.EvaluateAlerts(ctx, "", good, now); err != nil {
		t.Fatal(err)
	}
	p.Close(ctx)
	if _, err := p.EvaluateAlerts(ctx, "", good, now); !errors.Is(err, ErrClosed) {
		t.Errorf("closed policy: %v", err)
	}
}

// Invalid UTF-8 in the event's text is replaced by U+FFFD on the way in,
// and the caller's event is left alone.
func TestEvaluateAlertsRepairsUTF8(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t), `
[alerts]
payload = ["last_log_lines", "labels", "error_message"]

[[alerts.rules]]
condition = "true"
severity = "info"
notify = ["x"]
`, TOML)
	lines := []string{"ok", "bad \xff byte"}
	failure := &Failure{Message: new("msg \xfe")}
	e := Event{Kind: EventRunFailed, Pipeline: "p\xff", Step: "s", RunID: "r", Failure: failure,
		LogLines: lines, Labels: map[string]string{"k\xff": "v\xff"}}
	ev, err := p.EvaluateAlerts(ctx, "", e, time.UnixMilli(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Notifications) != 1 {
		t.Fatalf("%+v", ev)
	}
	payload := string(ev.Notifications[0].Payload)
	for _, want := range []string{`bad \ufffd byte`, `"k\ufffd":"v\ufffd"`, `msg \ufffd`} {
		if !strings.Contains(strings.ReplaceAll(payload, "\uFFFD", `\ufffd`), want) {
			t.Errorf("payload %s lacks %s", payload, want)
		}
	}
	if lines[1] != "bad \xff byte" || *failure.Message != "msg \xfe" || e.Pipeline != "p\xff" {
		t.Error("the caller's event was modified")
	}
}

// Evaluations free what they allocate in the guest, errors included.
func TestEvaluateAlertsDoesNotLeakGuestMemory(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, WithPoolSize(1))
	p := loadPolicy(t, e, seedAlerts, JSON)
	failed := Event{Kind: EventRunFailed, Pipeline: "nightly", Step: "train", RunID: "r",
		Failure:  &Failure{HTTPStatus: new(503), Message: new(strings.Repeat("slow down ", 200))},
		LogLines: []string{strings.Repeat("x", 500), "password=hunter2"}, Labels: map[string]string{"team": "ml"}}
	run := func(n int) uint32 {
		state := ""
		for i := range n {
			at := time.UnixMilli(int64(1_704_067_200_000 + i*86_400_000))
			ev, err := p.EvaluateAlerts(ctx, state, failed, at)
			if err != nil {
				t.Fatal(err)
			}
			ev, err = p.EvaluateAlerts(ctx, ev.State, Event{Kind: EventTick}, at.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			state = ev.State
			if i%10 == 9 {
				// Recover now and then, so the state stays bounded.
				ev, err = p.EvaluateAlerts(ctx, state, Event{Kind: EventRunSucceeded, Pipeline: "nightly", Step: "train", RunID: "ok"}, at.Add(2*time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				state = ev.State
			}
			if _, err := p.EvaluateAlerts(ctx, "{not json", failed, at); err == nil {
				t.Fatal("a corrupted state was accepted")
			}
		}
		return peek(t, e.plain).mem.Size()
	}
	warm := run(100)
	if after := run(2000); after != warm {
		t.Errorf("guest memory grew from %d to %d bytes over 2000 rounds", warm, after)
	}
}
