package backstop

// The WIT contract (wit/backstop.wit) as canonical-ABI types, and the
// lower/lift functions for each of its types, composed from abi.go.

const witInterface = "backstop:policy/classifier@0.1.0"

var (
	policyFormats = [...]Format{TOML, JSON}
	errorCodes    = [...]ErrorCode{
		CodeSyntax, CodeUnknownField, CodeMissingField, CodeWrongType, CodeInvalidValue,
		CodeOutOfRange, CodeDuplicateID, CodeInvalidRegex, CodeTooLarge, CodeUnknownPolicy,
		CodeInvalidFailure,
	}
	failureClasses = [...]Class{Transient, Permanent, Unknown}

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

	loadPolicyFn = newWitFunc("load-policy", resultOf(u32T, listOf(policyErrorT)), stringT, policyFormatT)
	dropPolicyFn = newWitFunc("drop-policy", nil, u32T)
	classifyFn   = newWitFunc("classify", resultOf(classificationT, policyErrorT), u32T, failureT)

	witFuncs = []*witFunc{loadPolicyFn, dropPolicyFn, classifyFn}
)

func exportName(f *witFunc) string     { return witInterface + "#" + f.name }
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
			s.variant(optionU16T, 1, func(s sink) { s.int(u16T, uint32(*f.HTTPStatus)) })
		}
		lowerOptionString(s, f.GRPCCode)
		if f.ExitCode == nil {
			s.variant(optionS32T, 0, nil)
		} else {
			s.variant(optionS32T, 1, func(s sink) { s.int(s32T, uint32(int32(*f.ExitCode))) })
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
		e.Line, e.Column = int(l.int(u32T)), int(l.int(u32T))
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
		return payload.int(u32T), nil
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
