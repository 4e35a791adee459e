package backstop

// The hand-written half of the WIT bindings: converting between the public
// Go types and the generated WIT layouts of wit_gen.go (regenerate that with
// `cargo run -p xtask -- gen-bindings`). Conversions go by field and case
// name, never by position, so reordering a record's fields or an enum's
// cases in the WIT changes only the generated file.

import "encoding/json"

// The public enums' values in WIT order, so a case index is a position in
// these slices. Built from the generated case names: the public string
// enums' values are the WIT's names.
var (
	policyFormats      = caseValues[Format](witPolicyFormatNames[:])
	errorCodes         = caseValues[ErrorCode](witErrorCodeNames[:])
	failureClasses     = caseValues[Class](witFailureClassNames[:])
	giveUpReasons      = caseValues[GiveUpReason](witGiveUpReasonNames[:])
	eventKinds         = caseValues[EventKind](witEventKindNames[:])
	severities         = caseValues[Severity](witSeverityNames[:])
	notificationKinds  = caseValues[NotificationKind](witNotificationKindNames[:])
	suppressionReasons = caseValues[SuppressionReason](witSuppressionReasonNames[:])
	// circuits maps a WIT case index to the Circuit of the same name
	// (Circuit is a small integer with names of its own).
	circuits = circuitValues()
)

func caseValues[T ~string](names []string) []T {
	values := make([]T, len(names))
	for i, n := range names {
		values[i] = T(n)
	}
	return values
}

// circuitValues maps each WIT circuit case to its Circuit. A case Circuit
// does not know becomes an out-of-range Circuit, which MarshalText
// rejects; TestEnumsMatchTheWIT fails first.
func circuitValues() []Circuit {
	values := make([]Circuit, len(witCircuitNames))
	for i, name := range witCircuitNames {
		var c Circuit
		if c.UnmarshalText([]byte(name)) != nil {
			c = Circuit(len(circuitNames))
		}
		values[i] = c
	}
	return values
}

// witLayout is one type's layout as wit-parser computes it (wit_gen.go
// lists them; the tests check abi.go agrees).
type witLayout struct {
	wit         string
	t           *abiType
	size, align uint32
	offsets     []uint32 // a record's field offsets
	flat        string   // the flat core types, space-separated; i32*3 is a run
}

// witCoreSignature is one function's core signature as wit-parser computes it.
type witCoreSignature struct {
	f               *witFunc
	params, results string
}

func exportName(f *witFunc) string     { return f.iface + "#" + f.name }
func postReturnName(f *witFunc) string { return "cabi_post_" + exportName(f) }

// indexOf finds v's case index in an enum's Go values.
func indexOf[T comparable](values []T, v T) (uint32, bool) {
	for i, x := range values {
		if x == v {
			return uint32(i), true
		}
	}
	return 0, false
}

func deref[T any](p *T) (v T) {
	if p != nil {
		v = *p
	}
	return v
}

// -- classifier ---------------------------------------------------------------

// witFailureOf converts a Failure whose strings are valid UTF-8 and whose
// integers fit their WIT types (checkFailure ensures both).
func witFailureOf(f *Failure) witFailure {
	w := witFailure{
		GrpcCode:   f.GRPCCode,
		Signal:     f.Signal,
		ErrorTypes: f.ErrorTypes,
		ErrorBases: f.ErrorBases,
		ErrorCode:  f.ErrorCode,
		Message:    f.Message,
	}
	if f.HTTPStatus != nil {
		v := uint16(*f.HTTPStatus)
		w.HttpStatus = &v
	}
	if f.ExitCode != nil {
		v := int32(*f.ExitCode)
		w.ExitCode = &v
	}
	return w
}

func lowerFailure(s sink, f *Failure) {
	w := witFailureOf(f)
	lowerWitFailure(s, &w)
}

func policyErrorOf(w *witPolicyError) *PolicyError {
	e := &PolicyError{Code: ErrorCode(w.Code.String()), Message: w.Message, Path: w.Path}
	if l := w.Location; l != nil {
		e.Line, e.Column = int(l.Line), int(l.Column)
	}
	return e
}

func liftPolicyError(s *source) *PolicyError {
	w := liftWitPolicyError(s)
	return policyErrorOf(&w)
}

func classificationOf(w *witClassification) Classification {
	return Classification{Class: Class(w.Class.String()), Rule: deref(w.Rule), Reason: w.Reason}
}

// liftLoadResult lifts load-policy's result<policy-handle, list<policy-error>>.
func liftLoadResult(s *source) (uint32, *LoadError) {
	r := liftWitLoadPolicyResult(s)
	if !r.IsErr {
		return r.Ok, nil
	}
	le := &LoadError{}
	for i := range r.Err {
		le.Errors = append(le.Errors, policyErrorOf(&r.Err[i]))
	}
	return 0, le
}

// liftClassifyResult lifts classify's result<classification, policy-error>.
func liftClassifyResult(s *source) (Classification, *PolicyError) {
	r := liftWitClassifyResult(s)
	if r.IsErr {
		return Classification{}, policyErrorOf(&r.Err)
	}
	return classificationOf(&r.Ok), nil
}

// liftResult lifts a result<T, policy-error> with ok lifting T.
func liftResult[T any](s *source, t *abiType, ok func(*source) T) (T, *PolicyError) {
	c, payload := s.variant(t)
	if c == 0 {
		return ok(payload), nil
	}
	var zero T
	return zero, liftPolicyError(payload)
}

// -- retry --------------------------------------------------------------------

// RetryState, BudgetState and PlannedAttempt convert to and from their
// generated layouts directly: Go allows that only while the field names,
// types and order agree, so a WIT change to them fails to compile rather
// than swapping values.

// witSharedStateOf converts a SharedState whose Circuit checkShared accepted.
func witSharedStateOf(sh *SharedState) witSharedState {
	b := &sh.Breaker
	circuit, _ := indexOf(circuits, b.Circuit)
	return witSharedState{
		Breaker: witBreakerState{
			Circuit:             witCircuit(circuit),
			ConsecutiveFailures: b.ConsecutiveFailures,
			RecentOutcomes:      b.RecentOutcomes,
			RecentCount:         b.RecentCount,
			OpenedAtMs:          b.OpenedAtMs,
			ProbesStarted:       b.ProbesStarted,
			ProbesSucceeded:     b.ProbesSucceeded,
		},
		Budget: witBudgetState(sh.Budget),
	}
}

func sharedStateOf(w *witSharedState) SharedState {
	b := &w.Breaker
	return SharedState{
		Breaker: BreakerState{
			Circuit:             circuits[b.Circuit],
			ConsecutiveFailures: b.ConsecutiveFailures,
			RecentOutcomes:      b.RecentOutcomes,
			RecentCount:         b.RecentCount,
			OpenedAtMs:          b.OpenedAtMs,
			ProbesStarted:       b.ProbesStarted,
			ProbesSucceeded:     b.ProbesSucceeded,
		},
		Budget: BudgetState(w.Budget),
	}
}

func lowerRetryState(s sink, st *RetryState) {
	w := witRetryState(*st)
	lowerWitRetryState(s, &w)
}

func lowerSharedState(s sink, sh *SharedState) {
	w := witSharedStateOf(sh)
	lowerWitSharedState(s, &w)
}

func lowerAttemptFailure(s sink, f *Failure, durationMs uint64, pushbackMs *uint64) {
	w := witAttemptFailureOf(f, durationMs, pushbackMs)
	lowerWitAttemptFailure(s, &w)
}

func witAttemptFailureOf(f *Failure, durationMs uint64, pushbackMs *uint64) witAttemptFailure {
	return witAttemptFailure{Failure: witFailureOf(f), DurationMs: durationMs, PushbackMs: pushbackMs}
}

func liftRetryState(s *source) RetryState {
	return RetryState(liftWitRetryState(s))
}

func liftSharedState(s *source) SharedState {
	w := liftWitSharedState(s)
	return sharedStateOf(&w)
}

// giveUpOf converts an option<give-up-reason>; "" is none.
func giveUpOf(r *witGiveUpReason) GiveUpReason {
	if r == nil {
		return ""
	}
	return GiveUpReason(r.String())
}

func liftPermit(s *source) Permit {
	w := liftWitPermit(s)
	return permitOf(&w)
}

func permitOf(w *witPermit) Permit {
	return Permit{
		Refused:      giveUpOf(w.Refused),
		Attempt:      w.Attempt,
		TimeoutMs:    w.TimeoutMs,
		RetryAfterMs: w.RetryAfterMs,
		Probe:        w.Probe,
		State:        RetryState(w.State),
		Shared:       sharedStateOf(&w.Shared),
	}
}

func liftDecision(s *source) Decision {
	w := liftWitDecision(s)
	return decisionOf(&w)
}

func decisionOf(w *witDecision) Decision {
	return Decision{
		GiveUp:         giveUpOf(w.GiveUp),
		DelayMs:        w.DelayMs,
		Attempt:        w.Attempt,
		NextTimeoutMs:  w.NextTimeoutMs,
		Classification: classificationOf(&w.Classification),
		Explanation:    w.Explanation,
		State:          RetryState(w.State),
		Shared:         sharedStateOf(&w.Shared),
	}
}

// liftPlannedFailures lifts plan-failures' list<planned-failure> straight
// into the public type, the entries and the permits one allocation each.
func liftPlannedFailures(s *source) []PlannedFailure {
	r := s.r
	b := r.bytes(s.next(listPlannedFailureT), 8)
	if b == nil {
		return nil
	}
	p, n, elems := r.list(b, plannedFailureT)
	out := make([]PlannedFailure, 0, min(n, maxPlannedFailures))
	permits := make([]Permit, 0, cap(out))
	size := plannedFailureT.size
	for i := uint32(0); i < n && r.err == nil; i++ {
		w := liftWitPlannedFailureIn(r, p+i*size, elems[i*size:][:size])
		e := PlannedFailure{Decision: decisionOf(&w.Decision)}
		if w.NextPermit != nil {
			permits = append(permits, permitOf(w.NextPermit))
			e.NextPermit = &permits[len(permits)-1]
		}
		out = append(out, e)
	}
	return out
}

// maxPlannedFailures is the most entries plan-failures answers with.
const maxPlannedFailures = 64

func liftSchedule(s *source) Schedule {
	w := liftWitSchedule(s)
	return scheduleOf(&w)
}

func scheduleOf(w *witSchedule) Schedule {
	var sc Schedule
	for _, a := range w.Attempts {
		sc.Attempts = append(sc.Attempts, PlannedAttempt(a))
	}
	sc.EndsWith = giveUpOf(w.EndsWith)
	return sc
}

// -- alerts -------------------------------------------------------------------

// lowerEvent lowers an Event that checkEvent accepted: its enum is known,
// its integers fit u32 and its strings are valid UTF-8. labels are its
// labels sorted by key, so the same event always lowers to the same bytes.
func lowerEvent(s sink, e *Event, kind uint32, labels []label) {
	w := witEventOf(e, kind, labels)
	lowerWitEvent(s, &w)
}

func witEventOf(e *Event, kind uint32, labels []label) witEvent {
	return witEventIn(e, kind, labels, new(eventRoom))
}

// eventRoom holds what a witEvent points to, so that converting an event in
// the caller's frame allocates nothing: its failure, and up to 8 labels.
type eventRoom struct {
	failure witFailure
	labels  [8]witLabel
}

// witEventIn is witEventOf using room.
func witEventIn(e *Event, kind uint32, labels []label, room *eventRoom) witEvent {
	w := witEvent{
		Kind:        witEventKind(kind),
		Pipeline:    e.Pipeline,
		Step:        e.Step,
		RunId:       e.RunID,
		Attempt:     uint32(e.Attempt),
		LateMinutes: uint32(e.LateMinutes),
		LogLines:    e.LogLines,
	}
	if e.Failure != nil {
		room.failure = witFailureOf(e.Failure)
		w.Failure = &room.failure
	}
	if len(labels) > 0 {
		if len(labels) <= len(room.labels) {
			w.Labels = room.labels[:len(labels)]
		} else {
			w.Labels = make([]witLabel, len(labels))
		}
		for i, l := range labels {
			w.Labels[i] = witLabel{Key: l.key, Value: l.value}
		}
	}
	// The WIT's option<string>: "" is none, as an empty key names no alert.
	if e.DedupKey != "" {
		w.DedupKey = &e.DedupKey
	}
	return w
}

func liftEvaluation(s *source) Evaluation {
	w := liftWitEvaluation(s)
	for i := range w.Notifications {
		// The WIT promises a JSON object; checking here keeps json.RawMessage's
		// contract (Marshal would fail later, far from the cause).
		if p := w.Notifications[i].Payload; s.r.err == nil && !json.Valid([]byte(p)) {
			s.r.fail("notification payload is not JSON: %.40q", p)
		}
	}
	return evaluationOf(&w)
}

func liftNeededKeys(s *source) NeededKeys {
	w := liftWitNeededKeys(s)
	return NeededKeys{Keys: nonNil(w.Keys), EveryKey: w.EveryKey}
}

func liftKeyedEvaluation(s *source) KeyedEvaluation {
	w := liftWitKeyedEvaluation(s)
	for i := range w.Notifications {
		if p := w.Notifications[i].Payload; s.r.err == nil && !json.Valid([]byte(p)) {
			s.r.fail("notification payload is not JSON: %.40q", p)
		}
	}
	ev := evaluationOf(&witEvaluation{Notifications: w.Notifications, Suppressed: w.Suppressed})
	out := KeyedEvaluation{
		Notifications: ev.Notifications,
		Suppressed:    ev.Suppressed,
		States:        make([]KeyedState, 0, len(w.States)),
		NextWakeupMs:  w.NextWakeupMs,
	}
	for _, st := range w.States {
		out.States = append(out.States, KeyedState{Key: st.Key, State: st.State, NextWakeupMs: st.NextWakeupMs})
	}
	return out
}

func evaluationOf(w *witEvaluation) Evaluation {
	ev := Evaluation{
		Notifications: make([]Notification, 0, len(w.Notifications)),
		Suppressed:    make([]Suppressed, 0, len(w.Suppressed)),
		State:         w.State,
		NextWakeupMs:  w.NextWakeupMs,
	}
	for i := range w.Notifications {
		n := &w.Notifications[i]
		ev.Notifications = append(ev.Notifications, Notification{
			Kind:     NotificationKind(n.Kind.String()),
			Severity: Severity(n.Severity.String()),
			Targets:  n.Targets,
			Rule:     n.Rule,
			DedupKey: n.DedupKey,
			Summary:  n.Summary,
			Payload:  json.RawMessage(n.Payload),
		})
	}
	for _, x := range w.Suppressed {
		ev.Suppressed = append(ev.Suppressed, Suppressed{
			Rule:     x.Rule,
			DedupKey: x.DedupKey,
			Severity: Severity(x.Severity.String()),
			Reason:   SuppressionReason(x.Reason.String()),
		})
	}
	return ev
}

// alertSinks is the WIT's option<list<sink>>: present is false for none.
type alertSinks struct {
	sinks   []Sink
	present bool
}

func liftSinks(s *source) alertSinks {
	w := liftWitOptionListSink(s)
	if w == nil {
		return alertSinks{}
	}
	out := alertSinks{sinks: make([]Sink, 0, len(*w)), present: true}
	for _, k := range *w {
		out.sinks = append(out.sinks, Sink{
			Target:        k.Target,
			Kind:          SinkKind(k.Kind.String()),
			Location:      nonNil(k.Location),
			Format:        SinkFormat(k.Format.String()),
			TimeoutMs:     k.TimeoutMs,
			DeadLetter:    k.DeadLetter,
			RoutingKeyEnv: k.RoutingKeyEnv,
			Template:      k.Template,
		})
	}
	return out
}
