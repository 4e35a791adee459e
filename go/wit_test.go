package backstop

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/api"
)

// expandFlat reads wit_gen.go's core type lists ("i32*2 i64").
func expandFlat(t *testing.T, text string) []api.ValueType {
	t.Helper()
	out := []api.ValueType{}
	for _, part := range strings.Fields(text) {
		name, count, found := strings.Cut(part, "*")
		n := 1
		if found {
			var err error
			if n, err = strconv.Atoi(count); err != nil {
				t.Fatalf("bad run %q", part)
			}
		}
		vt := map[string]api.ValueType{"i32": api.ValueTypeI32, "i64": api.ValueTypeI64}[name]
		if vt == 0 {
			t.Fatalf("bad core type %q", name)
		}
		for range n {
			out = append(out, vt)
		}
	}
	return out
}

// The hand-written canonical ABI (abi.go) lays out every type of the WIT
// as wit-parser does, and derives the same core signature for every export.
func TestGeneratedLayoutsMatchWitParser(t *testing.T) {
	if len(witLayouts) == 0 || len(witCoreSignatures) != len(witFuncs) {
		t.Fatalf("%d layouts, %d signatures for %d functions", len(witLayouts), len(witCoreSignatures), len(witFuncs))
	}
	for _, l := range witLayouts {
		offsets := l.t.offsets
		if l.t.kind != kindRecord {
			offsets = nil
		}
		flat := append([]api.ValueType{}, l.t.flat...)
		if l.t.size != l.size || l.t.align != l.align || !reflect.DeepEqual(offsets, l.offsets) ||
			!reflect.DeepEqual(flat, expandFlat(t, l.flat)) {
			t.Errorf("%s: abi.go gives size %d align %d offsets %v flat %v; wit-parser %d %d %v %s",
				l.wit, l.t.size, l.t.align, offsets, typeNames(flat), l.size, l.align, l.offsets, l.flat)
		}
	}
	for _, c := range witCoreSignatures {
		params, results := c.f.coreSignature()
		if !reflect.DeepEqual(append([]api.ValueType{}, params...), expandFlat(t, c.params)) ||
			!reflect.DeepEqual(append([]api.ValueType{}, results...), expandFlat(t, c.results)) {
			t.Errorf("%s: abi.go gives %v -> %v; wit-parser %s -> %s",
				exportName(c.f), typeNames(params), typeNames(results), c.params, c.results)
		}
	}
}

// Every WIT enum case has its public Go value (the public string enums'
// values are the WIT names, and Circuit knows each name).
func TestEnumsMatchTheWIT(t *testing.T) {
	known := map[string][]string{
		"policy-format": {string(TOML), string(JSON)},
		"error-code": {string(CodeSyntax), string(CodeUnknownField), string(CodeMissingField),
			string(CodeWrongType), string(CodeInvalidValue), string(CodeOutOfRange), string(CodeDuplicateID),
			string(CodeInvalidRegex), string(CodeTooLarge), string(CodeUnknownPolicy),
			string(CodeInvalidFailure), string(CodeInvalidState)},
		"failure-class": {string(Transient), string(Permanent), string(Unknown)},
		"give-up-reason": {string(GiveUpPermanent), string(GiveUpAttemptsExhausted), string(GiveUpDeadline),
			string(GiveUpPushbackBeyondDeadline), string(GiveUpCircuitOpen), string(GiveUpBudgetExhausted)},
		"event-kind": {string(EventAttemptFailed), string(EventRunFailed), string(EventRunSucceeded),
			string(EventRunLate), string(EventAlertAcknowledged), string(EventTick)},
		"severity":           {string(SeverityInfo), string(SeverityWarning), string(SeverityHigh), string(SeverityCritical)},
		"notification-kind":  {string(NotifyTrigger), string(NotifyEscalate), string(NotifyRepeat), string(NotifyResolve)},
		"suppression-reason": {string(SuppressedDuplicate), string(SuppressedInhibited), string(SuppressedAcknowledged), string(SuppressedRepeatLimit)},
		"circuit":            {CircuitClosed.String(), CircuitOpen.String(), CircuitHalfOpen.String()},
		"sink-kind":          {string(SinkStdout), string(SinkFile), string(SinkWebhook), string(SinkCommand)},
		"sink-format":        {string(SinkFormatBackstop), string(SinkFormatPagerDuty), string(SinkFormatSlack), string(SinkFormatTemplate)},
	}
	wit := map[string][]string{
		"policy-format":      witPolicyFormatNames[:],
		"error-code":         witErrorCodeNames[:],
		"failure-class":      witFailureClassNames[:],
		"give-up-reason":     witGiveUpReasonNames[:],
		"event-kind":         witEventKindNames[:],
		"severity":           witSeverityNames[:],
		"notification-kind":  witNotificationKindNames[:],
		"suppression-reason": witSuppressionReasonNames[:],
		"circuit":            witCircuitNames[:],
		"sink-kind":          witSinkKindNames[:],
		"sink-format":        witSinkFormatNames[:],
	}
	for name, cases := range wit {
		got := append([]string{}, cases...)
		want := append([]string{}, known[name]...)
		slices.Sort(got)
		slices.Sort(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("enum %s: the WIT has %v, the Go constants %v", name, cases, known[name])
		}
	}
	for i, c := range circuits {
		if c.String() != witCircuitNames[i] {
			t.Errorf("circuit case %d (%s) maps to %v", i, witCircuitNames[i], c)
		}
	}
}

// The conversions to and from the generated layouts go by field name: a
// state with a distinct value in every field survives the round trip
// through guest memory unchanged.
func TestStateRoundTripByName(t *testing.T) {
	st := RetryState{Attempts: 3, StartedAtMs: new(uint64(11)), LastDelayMs: 22, Seed: 33}
	sh := SharedState{
		Breaker: BreakerState{Circuit: CircuitHalfOpen, ConsecutiveFailures: 1, RecentOutcomes: 2, RecentCount: 3,
			OpenedAtMs: 4, ProbesStarted: 5, ProbesSucceeded: 6},
		Budget: BudgetState{SpentMilli: 7},
	}
	b := newBump(1024)
	w := b.writer()
	p := w.allocate(retryStateT.size, retryStateT.align)
	lowerRetryState(&memSink{w: w, ptr: p}, &st)
	q := w.allocate(sharedStateT.size, sharedStateT.align)
	lowerSharedState(&memSink{w: w, ptr: q}, &sh)
	if w.err != nil {
		t.Fatal(w.err)
	}
	r := &reader{mem: b.mem}
	gotSt := liftRetryState(&source{r: r, ptr: p})
	gotSh := liftSharedState(&source{r: r, ptr: q})
	if r.err != nil || !reflect.DeepEqual(gotSt, st) || gotSh != sh {
		t.Errorf("round trip: %+v %+v (%v)", gotSt, gotSh, r.err)
	}
}

// fill sets every field of v, recursively, to a value that is not zero
// (an enum case index of 1, "{}" for strings, one element per list).
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i))
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.String:
		v.SetString("{}")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		v.SetInt(1)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		v.SetMapIndex(k, e)
	}
}

// unset names the fields of v (recursively) that are still zero.
func unset(v reflect.Value, path string) []string {
	switch v.Kind() {
	case reflect.Struct:
		var out []string
		for i := range v.NumField() {
			out = append(out, unset(v.Field(i), path+"."+v.Type().Field(i).Name)...)
		}
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return []string{path}
		}
		return unset(v.Elem(), path)
	case reflect.Slice:
		if v.Len() == 0 {
			return []string{path}
		}
		return unset(v.Index(0), path+"[0]")
	}
	if v.IsZero() {
		return []string{path}
	}
	return nil
}

// Every field the WIT adds must be carried by the glue: converting a value
// with every field set leaves no field of the other side unset. (A new WIT
// field that wit.go does not map fails here, not silently as a zero.)
func TestConversionsCarryEveryField(t *testing.T) {
	check := func(name string, got any) {
		t.Helper()
		if missing := unset(reflect.ValueOf(got), name); len(missing) > 0 {
			t.Errorf("not carried across the WIT boundary: %v", missing)
		}
	}
	lifted := func(w any) any {
		fill(reflect.ValueOf(w).Elem())
		return w
	}
	check("Permit", permitOf(lifted(&witPermit{}).(*witPermit)))
	check("Decision", decisionOf(lifted(&witDecision{}).(*witDecision)))
	check("Schedule", scheduleOf(lifted(&witSchedule{}).(*witSchedule)))
	check("Evaluation", evaluationOf(lifted(&witEvaluation{}).(*witEvaluation)))
	check("PolicyError", *policyErrorOf(lifted(&witPolicyError{}).(*witPolicyError)))

	var f Failure
	fill(reflect.ValueOf(&f).Elem())
	check("witFailure", witFailureOf(&f))
	var e Event
	fill(reflect.ValueOf(&e).Elem())
	check("witEvent", witEventOf(&e, 1, []label{{"k", "v"}}))
	var st RetryState
	fill(reflect.ValueOf(&st).Elem())
	check("witRetryState", witRetryState(st))
	var sh SharedState
	fill(reflect.ValueOf(&sh).Elem())
	check("witSharedState", witSharedStateOf(&sh))
	check("witAttemptFailure", witAttemptFailureOf(&f, 1, new(uint64(1))))
}
