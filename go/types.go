package backstop

import (
	"errors"
	"fmt"
	"strings"
)

// Format is the syntax a policy document is written in.
type Format string

// Policy formats.
const (
	TOML Format = "toml"
	JSON Format = "json"
)

// Class is the classifier's verdict on a failure.
type Class string

// Failure classes.
const (
	// Transient failures are worth retrying.
	Transient Class = "transient"
	// Permanent failures will fail again; retrying is pointless.
	Permanent Class = "permanent"
	// Unknown means no rule matched: retry conservatively, then escalate.
	Unknown Class = "unknown"
)

// Failure describes a failed attempt as the caller observed it. Every field is
// optional: a nil pointer (or an empty ErrorTypes) is absent, and the
// classifier looks only at what is present. Go 1.26's new(expr) makes the
// pointers painless: Failure{HTTPStatus: new(503)}.
//
// Strings that are not valid UTF-8 (raw log bytes, say) have each invalid
// sequence replaced by U+FFFD before classification.
type Failure struct {
	// HTTPStatus is an HTTP status code (100-599).
	HTTPStatus *int
	// GRPCCode is a gRPC status, by canonical name ("UNAVAILABLE") or number ("14").
	GRPCCode *string
	// ExitCode is a process exit code.
	ExitCode *int
	// Signal is the terminating signal, by name ("SIGKILL", "KILL") or number ("9").
	Signal *string
	// ErrorTypes are the type names along the cause chain, outermost first.
	ErrorTypes []string
	// ErrorBases are base classes of those types, most derived first: a rule
	// naming a base matches its subclasses. Go has no type hierarchy, so
	// FailureFromError leaves it empty; ReadLog fills it for well-known
	// Python exception types read from a log.
	ErrorBases []string
	// ErrorCode is a provider or errno code, such as "ThrottlingException" or "ECONNRESET".
	ErrorCode *string
	// Message is the error message or the last lines of output.
	Message *string
}

// Classification is the verdict on one failure and the rule that gave it.
type Classification struct {
	Class Class
	// Rule is the id of the matching rule, or "" when no rule matched (rule
	// ids are never empty).
	Rule string
	// Reason explains the verdict in words.
	Reason string
}

// ErrorCode says what kind of problem a PolicyError reports. Its values are
// the WIT's kebab-case names.
type ErrorCode string

// Error codes, in the WIT's order.
const (
	// CodeSyntax: the document is not valid TOML / JSON.
	CodeSyntax ErrorCode = "syntax"
	// CodeUnknownField: a key the schema does not know (the message suggests one).
	CodeUnknownField ErrorCode = "unknown-field"
	// CodeMissingField: a required key is absent.
	CodeMissingField ErrorCode = "missing-field"
	// CodeWrongType: a value of the wrong type.
	CodeWrongType ErrorCode = "wrong-type"
	// CodeInvalidValue: a value of the right type that is not allowed.
	CodeInvalidValue ErrorCode = "invalid-value"
	// CodeOutOfRange: a number or duration outside its documented range.
	CodeOutOfRange ErrorCode = "out-of-range"
	// CodeDuplicateID: two rules share an id.
	CodeDuplicateID ErrorCode = "duplicate-id"
	// CodeInvalidRegex: a message pattern is not a valid regular expression or is too large.
	CodeInvalidRegex ErrorCode = "invalid-regex"
	// CodeTooLarge: the input exceeds a documented size or nesting limit.
	CodeTooLarge ErrorCode = "too-large"
	// CodeUnknownPolicy: a policy handle that was never issued or was already dropped.
	CodeUnknownPolicy ErrorCode = "unknown-policy"
	// CodeInvalidFailure: a failure description the classifier cannot interpret.
	CodeInvalidFailure ErrorCode = "invalid-failure"
	// CodeInvalidState: retry, breaker or budget state that no sequence of
	// decisions can produce.
	CodeInvalidState ErrorCode = "invalid-state"
)

// PolicyError is one diagnostic about a policy document or a failure.
// Use errors.As to get it from an error returned by this package.
type PolicyError struct {
	Code ErrorCode
	// Message is a human-readable description.
	Message string
	// Path names the field, e.g. "classify.rules[2].http_status"; it is empty
	// when the problem concerns the whole document.
	Path string
	// Line and Column locate the problem in the policy document, one-based,
	// with Column counted in Unicode characters; both are 0 when the error
	// has no location.
	Line, Column int
}

func (e *PolicyError) Error() string {
	var b strings.Builder
	b.WriteString("backstop: ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d, column %d: ", e.Line, e.Column)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	fmt.Fprintf(&b, " [%s]", e.Code)
	return b.String()
}

// LoadError is returned when a policy document is invalid. It carries every
// diagnostic, in document order; errors.As also finds each *PolicyError.
type LoadError struct {
	Errors []*PolicyError
}

func (e *LoadError) Error() string {
	switch len(e.Errors) {
	case 0:
		return "backstop: invalid policy"
	case 1:
		return "backstop: invalid policy: " + strings.TrimPrefix(e.Errors[0].Error(), "backstop: ")
	default:
		return fmt.Sprintf("backstop: invalid policy: %s (and %d more errors)",
			strings.TrimPrefix(e.Errors[0].Error(), "backstop: "), len(e.Errors)-1)
	}
}

// Unwrap returns the individual diagnostics.
func (e *LoadError) Unwrap() []error {
	errs := make([]error, len(e.Errors))
	for i, pe := range e.Errors {
		errs[i] = pe
	}
	return errs
}

var (
	// ErrClosed is returned by calls on a closed Engine or Policy.
	ErrClosed = errors.New("backstop: closed")
	// ErrTrap is wrapped by the error of a call during which the guest
	// trapped (a panic, running out of memory) or broke the canonical ABI.
	// The instance it ran on is discarded; later calls use a fresh one.
	ErrTrap = errors.New("backstop: guest trapped")
)
