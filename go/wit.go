package backstop

// The WIT contract (wit/backstop.wit) as canonical-ABI types, and the
// lower/lift functions for each of its types, composed from abi.go.

import "encoding/json"

const (
	classifierInterface = "backstop:policy/classifier@0.1.0"
	retryInterface      = "backstop:policy/retry@0.1.0"
	alertsInterface     = "backstop:policy/alerts@0.1.0"
)

var (
	policyFormats = [...]Format{TOML, JSON}
	errorCodes    = [...]ErrorCode{
		CodeSyntax, CodeUnknownField, CodeMissingField, CodeWrongType, CodeInvalidValue,
		CodeOutOfRange, CodeDuplicateID, CodeInvalidRegex, CodeTooLarge, CodeUnknownPolicy,
		CodeInvalidFailure, CodeInvalidState,
	}
	failureClasses = [...]Class{Transient, Permanent, Unknown}
	circuits       = [...]Circuit{CircuitClosed, CircuitOpen, CircuitHalfOpen}
	giveUpReasons  = [...]GiveUpReason{
		GiveUpPermanent, GiveUpAttemptsExhausted, GiveUpDeadline,
		GiveUpPushbackBeyondDeadline, GiveUpCircuitOpen, GiveUpBudgetExhausted,
	}

	policyFormatT   = enumOf(len(policyFormats))
	errorCodeT      = enumOf(len(errorCodes))
	failureClassT   = enumOf(len(failureClasses))
	locationT       = recordOf(u32T, u32T)
	optionStringT   = optionOf(stringT)
	optionU16T      = optionOf(u16T)
	optionS32T      = optionOf(s32T)
	optionLocationT = optionOf(locationT)
	stringListT     = listOf(stringT)
	policyErrorT    = recordOf(errorCodeT, stringT, stringT, optionLocationT)
	failureT        = recordOf(optionU16T, optionStringT, optionS32T, optionStringT, stringListT, optionStringT, optionStringT)
	classificationT = recordOf(failureClassT, optionStringT, stringT)

	optionU64T      = optionOf(u64T)
	retryStateT     = recordOf(u32T, optionU64T, u64T, u64T)
	circuitT        = enumOf(len(circuits))
	breakerStateT   = recordOf(circuitT, u32T, u64T, u32T, u64T, u32T, u32T)
	budgetStateT    = recordOf(u32T)
	sharedStateT    = recordOf(breakerStateT, budgetStateT)
	giveUpReasonT   = enumOf(len(giveUpReasons))
	optionGiveUpT   = optionOf(giveUpReasonT)
	permitT         = recordOf(optionGiveUpT, u32T, optionU64T, u64T, boolT, retryStateT, sharedStateT)
	attemptFailureT = recordOf(failureT, u64T, optionU64T)
	decisionT       = recordOf(optionGiveUpT, u64T, u32T, optionU64T, classificationT, stringT, retryStateT, sharedStateT)
	plannedAttemptT = recordOf(u32T, u64T, optionU64T, u64T)
	scheduleT       = recordOf(listOf(plannedAttemptT), optionGiveUpT)

	loadPolicyFn = newWitFunc("load-policy", resultOf(u32T, listOf(policyErrorT)), stringT, policyFormatT)
	dropPolicyFn = newWitFunc("drop-policy", nil, u32T)
	classifyFn   = newWitFunc("classify", resultOf(classificationT, policyErrorT), u32T, failureT)

	beginAttemptFn = newWitFunc("begin-attempt", resultOf(permitT, policyErrorT),
		u32T, retryStateT, sharedStateT, u64T).in(retryInterface)
	afterFailureFn = newWitFunc("after-failure", resultOf(decisionT, policyErrorT),
		u32T, retryStateT, sharedStateT, attemptFailureT, u64T).in(retryInterface)
	afterSuccessFn = newWitFunc("after-success", resultOf(sharedStateT, policyErrorT),
		u32T, sharedStateT).in(retryInterface)
	planScheduleFn = newWitFunc("plan-schedule", resultOf(scheduleT, policyErrorT),
		u32T, u64T, u32T).in(retryInterface)
	deriveSeedFn = newWitFunc("derive-seed", u64T, stringT).in(retryInterface)

	// The alerts interface. Its enums' Go values are listed in WIT order, so
	// a case index is a position in these arrays.
	eventKinds = [...]EventKind{
		EventAttemptFailed, EventRunFailed, EventRunSucceeded, EventRunLate, EventAlertAcknowledged, EventTick,
	}
	severities         = [...]Severity{SeverityInfo, SeverityWarning, SeverityHigh, SeverityCritical}
	notificationKinds  = [...]NotificationKind{NotifyTrigger, NotifyEscalate, NotifyRepeat, NotifyResolve}
	suppressionReasons = [...]SuppressionReason{
		SuppressedDuplicate, SuppressedInhibited, SuppressedAcknowledged, SuppressedRepeatLimit,
	}

	eventKindT         = enumOf(len(eventKinds))
	labelT             = recordOf(stringT, stringT)
	optionFailureT     = optionOf(failureT)
	eventT             = recordOf(eventKindT, stringT, stringT, stringT, optionFailureT, u32T, u32T, listOf(labelT), stringListT, optionStringT)
	severityT          = enumOf(len(severities))
	notificationKindT  = enumOf(len(notificationKinds))
	notificationT      = recordOf(notificationKindT, severityT, stringListT, stringT, stringT, stringT, stringT)
	suppressionReasonT = enumOf(len(suppressionReasons))
	suppressedT        = recordOf(stringT, stringT, severityT, suppressionReasonT)
	evaluationT        = recordOf(listOf(notificationT), listOf(suppressedT), stringT, optionU64T)

	evaluateFn = newWitFunc("evaluate", resultOf(evaluationT, policyErrorT),
		u32T, stringT, eventT, u64T).in(alertsInterface)

	sinkKinds    = [...]SinkKind{SinkStdout, SinkFile, SinkWebhook, SinkCommand}
	sinkFormats  = [...]SinkFormat{SinkFormatBackstop, SinkFormatPagerDuty}
	sinkKindT    = enumOf(len(sinkKinds))
	sinkFormatT  = enumOf(len(sinkFormats))
	sinkRecordT  = recordOf(stringT, sinkKindT, stringListT, sinkFormatT, u64T, optionStringT)
	optionSinksT = optionOf(listOf(sinkRecordT))
	sinksFn      = newWitFunc("sinks", resultOf(optionSinksT, policyErrorT), u32T).in(alertsInterface)

	witFuncs = []*witFunc{
		loadPolicyFn, dropPolicyFn, classifyFn,
		beginAttemptFn, afterFailureFn, afterSuccessFn, planScheduleFn, deriveSeedFn,
		evaluateFn, sinksFn,
	}
)

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

func lowerOptionString(s sink, v *string) {
	if v == nil {
		s.variant(optionStringT, 0, nil)
		return
	}
	s.variant(optionStringT, 1, func(s sink) { s.string(*v) })
}

// lowerFailure lowers a Failure whose strings are valid UTF-8 and whose
// integers fit their WIT types (checkFailure ensures both).
func lowerFailure(s sink, f *Failure) {
	s.record(failureT, func(s sink) {
		if f.HTTPStatus == nil {
			s.variant(optionU16T, 0, nil)
		} else {
			s.variant(optionU16T, 1, func(s sink) { s.int(u16T, uint64(*f.HTTPStatus)) })
		}
		lowerOptionString(s, f.GRPCCode)
		if f.ExitCode == nil {
			s.variant(optionS32T, 0, nil)
		} else {
			s.variant(optionS32T, 1, func(s sink) { s.int(s32T, uint64(uint32(int32(*f.ExitCode)))) })
		}
		lowerOptionString(s, f.Signal)
		s.list(stringT, len(f.ErrorTypes), func(s sink, i int) { s.string(f.ErrorTypes[i]) })
		lowerOptionString(s, f.ErrorCode)
		lowerOptionString(s, f.Message)
	})
}

func liftEnum[T any](s *source, t *abiType, values []T) T {
	c, _ := s.variant(t)
	return values[c] // variant() rejected out-of-range cases
}

func liftOptionString(s *source) (string, bool) {
	c, payload := s.variant(optionStringT)
	if c == 0 {
		return "", false
	}
	return payload.string(), true
}

func liftPolicyError(s *source) *PolicyError {
	f := s.record(policyErrorT)
	e := &PolicyError{Code: liftEnum(f, errorCodeT, errorCodes[:])}
	e.Message = f.string()
	e.Path = f.string()
	if c, loc := f.variant(optionLocationT); c == 1 {
		l := loc.record(locationT)
		e.Line, e.Column = int(l.u32()), int(l.u32())
	}
	return e
}

func liftClassification(s *source) Classification {
	f := s.record(classificationT)
	var c Classification
	c.Class = liftEnum(f, failureClassT, failureClasses[:])
	c.Rule, _ = liftOptionString(f)
	c.Reason = f.string()
	return c
}

// liftLoadResult lifts result<policy-handle, list<policy-error>>.
func liftLoadResult(s *source) (uint32, *LoadError) {
	c, payload := s.variant(loadPolicyFn.result)
	if c == 0 {
		return payload.u32(), nil
	}
	le := &LoadError{}
	payload.list(policyErrorT, func(s *source, _ int) {
		le.Errors = append(le.Errors, liftPolicyError(s))
	})
	return 0, le
}

// liftClassifyResult lifts result<classification, policy-error>.
func liftClassifyResult(s *source) (Classification, *PolicyError) {
	c, payload := s.variant(classifyFn.result)
	if c == 0 {
		return liftClassification(payload), nil
	}
	return Classification{}, liftPolicyError(payload)
}

func lowerOptionU64(s sink, v *uint64) {
	if v == nil {
		s.variant(optionU64T, 0, nil)
		return
	}
	s.variant(optionU64T, 1, func(s sink) { s.int(u64T, *v) })
}

func lowerRetryState(s sink, st *RetryState) {
	s.record(retryStateT, func(s sink) {
		s.int(u32T, uint64(st.Attempts))
		lowerOptionU64(s, st.StartedAtMs)
		s.int(u64T, st.LastDelayMs)
		s.int(u64T, st.Seed)
	})
}

// lowerSharedState lowers a SharedState whose Circuit checkShared accepted.
func lowerSharedState(s sink, sh *SharedState) {
	s.record(sharedStateT, func(s sink) {
		b := &sh.Breaker
		s.record(breakerStateT, func(s sink) {
			s.int(circuitT, uint64(b.Circuit))
			s.int(u32T, uint64(b.ConsecutiveFailures))
			s.int(u64T, b.RecentOutcomes)
			s.int(u32T, uint64(b.RecentCount))
			s.int(u64T, b.OpenedAtMs)
			s.int(u32T, uint64(b.ProbesStarted))
			s.int(u32T, uint64(b.ProbesSucceeded))
		})
		s.record(budgetStateT, func(s sink) { s.int(u32T, uint64(sh.Budget.SpentMilli)) })
	})
}

func lowerAttemptFailure(s sink, f *Failure, durationMs uint64, pushbackMs *uint64) {
	s.record(attemptFailureT, func(s sink) {
		lowerFailure(s, f)
		s.int(u64T, durationMs)
		lowerOptionU64(s, pushbackMs)
	})
}

func liftRetryState(s *source) RetryState {
	r := s.record(retryStateT)
	var st RetryState
	st.Attempts = r.u32()
	st.StartedAtMs = r.optionU64()
	st.LastDelayMs = r.u64()
	st.Seed = r.u64()
	return st
}

func liftSharedState(s *source) SharedState {
	r := s.record(sharedStateT)
	var sh SharedState
	b := r.record(breakerStateT)
	sh.Breaker.Circuit = liftEnum(b, circuitT, circuits[:])
	sh.Breaker.ConsecutiveFailures = b.u32()
	sh.Breaker.RecentOutcomes = b.u64()
	sh.Breaker.RecentCount = b.u32()
	sh.Breaker.OpenedAtMs = b.u64()
	sh.Breaker.ProbesStarted = b.u32()
	sh.Breaker.ProbesSucceeded = b.u32()
	sh.Budget.SpentMilli = r.record(budgetStateT).u32()
	return sh
}

// liftGiveUp lifts option<give-up-reason>; "" is none.
func liftGiveUp(s *source) GiveUpReason {
	c, payload := s.variant(optionGiveUpT)
	if c == 0 {
		return ""
	}
	return liftEnum(payload, giveUpReasonT, giveUpReasons[:])
}

func liftPermit(s *source) Permit {
	r := s.record(permitT)
	var p Permit
	p.Refused = liftGiveUp(r)
	p.Attempt = r.u32()
	p.TimeoutMs = r.optionU64()
	p.RetryAfterMs = r.u64()
	p.Probe = r.bool()
	p.State = liftRetryState(r)
	p.Shared = liftSharedState(r)
	return p
}

func liftDecision(s *source) Decision {
	r := s.record(decisionT)
	var d Decision
	d.GiveUp = liftGiveUp(r)
	d.DelayMs = r.u64()
	d.Attempt = r.u32()
	d.NextTimeoutMs = r.optionU64()
	d.Classification = liftClassification(r)
	d.Explanation = r.string()
	d.State = liftRetryState(r)
	d.Shared = liftSharedState(r)
	return d
}

func liftSchedule(s *source) Schedule {
	r := s.record(scheduleT)
	var sc Schedule
	r.list(plannedAttemptT, func(s *source, _ int) {
		a := s.record(plannedAttemptT)
		var pa PlannedAttempt
		pa.Attempt = a.u32()
		pa.DelayMs = a.u64()
		pa.TimeoutMs = a.optionU64()
		pa.StartMs = a.u64()
		sc.Attempts = append(sc.Attempts, pa)
	})
	sc.EndsWith = liftGiveUp(r)
	return sc
}

// liftResult lifts result<T, policy-error> with ok lifting T.
func liftResult[T any](s *source, t *abiType, ok func(*source) T) (T, *PolicyError) {
	c, payload := s.variant(t)
	if c == 0 {
		return ok(payload), nil
	}
	var zero T
	return zero, liftPolicyError(payload)
}

// lowerEvent lowers an Event that checkEvent accepted: its enum is known,
// its integers fit u32 and its strings are valid UTF-8. labels are its
// labels sorted by key, so the same event always lowers to the same bytes.
func lowerEvent(s sink, e *Event, kind uint32, labels []label) {
	s.record(eventT, func(s sink) {
		s.int(eventKindT, uint64(kind))
		s.string(e.Pipeline)
		s.string(e.Step)
		s.string(e.RunID)
		if e.Failure == nil {
			s.variant(optionFailureT, 0, nil)
		} else {
			s.variant(optionFailureT, 1, func(s sink) { lowerFailure(s, e.Failure) })
		}
		s.int(u32T, uint64(e.Attempt))
		s.int(u32T, uint64(e.LateMinutes))
		s.list(labelT, len(labels), func(s sink, i int) {
			s.record(labelT, func(s sink) {
				s.string(labels[i].key)
				s.string(labels[i].value)
			})
		})
		s.list(stringT, len(e.LogLines), func(s sink, i int) { s.string(e.LogLines[i]) })
		// The WIT's option<string>: "" is none, as an empty key names no alert.
		if e.DedupKey == "" {
			s.variant(optionStringT, 0, nil)
		} else {
			s.variant(optionStringT, 1, func(s sink) { s.string(e.DedupKey) })
		}
	})
}

func liftStrings(s *source) []string {
	// Non-nil even when empty, so it marshals as [] like the canonical JSON.
	out := []string{}
	s.list(stringT, func(s *source, _ int) { out = append(out, s.string()) })
	return out
}

func liftNotification(s *source) Notification {
	r := s.record(notificationT)
	var n Notification
	n.Kind = liftEnum(r, notificationKindT, notificationKinds[:])
	n.Severity = liftEnum(r, severityT, severities[:])
	n.Targets = liftStrings(r)
	n.Rule = r.string()
	n.DedupKey = r.string()
	n.Summary = r.string()
	payload := r.string()
	// The WIT promises a JSON object; checking here keeps json.RawMessage's
	// contract (Marshal would fail later, far from the cause).
	if r.r.err == nil && !json.Valid([]byte(payload)) {
		r.r.fail("notification payload is not JSON: %.40q", payload)
	}
	n.Payload = json.RawMessage(payload)
	return n
}

func liftSuppressed(s *source) Suppressed {
	r := s.record(suppressedT)
	var x Suppressed
	x.Rule = r.string()
	x.DedupKey = r.string()
	x.Severity = liftEnum(r, severityT, severities[:])
	x.Reason = liftEnum(r, suppressionReasonT, suppressionReasons[:])
	return x
}

func liftEvaluation(s *source) Evaluation {
	r := s.record(evaluationT)
	ev := Evaluation{Notifications: []Notification{}, Suppressed: []Suppressed{}}
	r.list(notificationT, func(s *source, _ int) { ev.Notifications = append(ev.Notifications, liftNotification(s)) })
	r.list(suppressedT, func(s *source, _ int) { ev.Suppressed = append(ev.Suppressed, liftSuppressed(s)) })
	ev.State = r.string()
	ev.NextWakeupMs = r.optionU64()
	return ev
}

// alertSinks is the WIT's option<list<sink>>: present is false for none.
type alertSinks struct {
	sinks   []Sink
	present bool
}

func liftSinks(s *source) alertSinks {
	c, payload := s.variant(optionSinksT)
	if c == 0 {
		return alertSinks{}
	}
	out := alertSinks{sinks: []Sink{}, present: true}
	payload.list(sinkRecordT, func(s *source, _ int) {
		r := s.record(sinkRecordT)
		var k Sink
		k.Target = r.string()
		k.Kind = liftEnum(r, sinkKindT, sinkKinds[:])
		k.Location = liftStrings(r)
		k.Format = liftEnum(r, sinkFormatT, sinkFormats[:])
		k.TimeoutMs = r.u64()
		if d, ok := liftOptionString(r); ok {
			k.DeadLetter = &d
		}
		out.sinks = append(out.sinks, k)
	})
	return out
}
