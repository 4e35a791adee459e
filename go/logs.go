package backstop

import (
	"context"
	"fmt"
	"math"
	"strings"
)

// LogStream says which output a log tail came from.
type LogStream string

// Log streams, in the WIT's order. The zero value "" means not given.
const (
	StreamStderr   LogStream = "stderr"
	StreamStdout   LogStream = "stdout"
	StreamCombined LogStream = "combined"
)

// LogInput is a finished process's output tail.
type LogInput struct {
	// Text is the tail of the output, as it was written: it need not be
	// split into lines, and invalid UTF-8 is replaced by U+FFFD. Only the
	// last 256 KiB are read.
	Text string
	// ExitCode is the process's exit code, when it exited.
	ExitCode *int
	// Signal is the terminating signal, by name ("SIGKILL") or number.
	Signal *string
	// Stream is where Text came from ("" when not given).
	Stream LogStream
}

// LogReport is what the log readers recovered from a tail.
type LogReport struct {
	// Failure is the failure to classify, exit code and signal included.
	Failure Failure
	// Readers are the readers that contributed, the one that named the error
	// first ("python-traceback", "botocore", ...); empty when none did.
	Readers []string
	// Summary is one line for humans: what was read.
	Summary string
	// PushbackMs is server pushback seen in the log (Retry-After,
	// grpc-retry-pushback-ms), in milliseconds.
	PushbackMs *uint64
}

// ReadLog reads a failure out of a process's output tail: Python tracebacks
// (cause chains, exception groups), provider error codes, HTTP and gRPC
// statuses, JVM, Node, Go and native runtime errors, errno texts and
// Retry-After lines, identically in every Backstop host. Classify the
// report's Failure with Policy.Classify. It fails only for a signal that is
// neither a name nor a number (a *PolicyError with code CodeInvalidFailure).
func (e *Engine) ReadLog(ctx context.Context, in LogInput) (LogReport, error) {
	if in.ExitCode != nil && (*in.ExitCode < math.MinInt32 || *in.ExitCode > math.MaxInt32) {
		return LogReport{}, &PolicyError{
			Code:    CodeInvalidFailure,
			Path:    "log.exit_code",
			Message: fmt.Sprintf("%d is not a 32-bit exit code", *in.ExitCode),
		}
	}
	var stream *witLogStream
	if in.Stream != "" {
		c, ok := witLogStreamNamed(string(in.Stream))
		if !ok {
			return LogReport{}, fmt.Errorf("backstop: unknown log stream %q (want stderr, stdout or combined)", in.Stream)
		}
		stream = &c
	}
	params := witReadLogParams{Input: witLogInput{
		Text:   strings.ToValidUTF8(in.Text, "\uFFFD"),
		Stream: stream,
	}}
	if in.ExitCode != nil {
		v := int32(*in.ExitCode)
		params.Input.ExitCode = &v
	}
	if in.Signal != nil {
		v := strings.ToValidUTF8(*in.Signal, "\uFFFD")
		params.Input.Signal = &v
	}
	inst, err := e.acquire(ctx)
	if err != nil {
		return LogReport{}, err
	}
	report, err := plannerCall(ctx, inst, readLogFn, params.lower, func(s *source) LogReport {
		return logReportOf(liftWitLogReport(s))
	})
	e.release(inst, err)
	return report, err
}

func logReportOf(w witLogReport) LogReport {
	return LogReport{
		Failure:    failureOf(&w.Failure),
		Readers:    nonNil(w.Readers),
		Summary:    w.Summary,
		PushbackMs: w.PushbackMs,
	}
}

// failureOf converts the guest's failure record back to the public type.
func failureOf(w *witFailure) Failure {
	f := Failure{
		GRPCCode:   w.GrpcCode,
		Signal:     w.Signal,
		ErrorTypes: nonNil(w.ErrorTypes),
		ErrorBases: nonNil(w.ErrorBases),
		ErrorCode:  w.ErrorCode,
		Message:    w.Message,
	}
	if w.HttpStatus != nil {
		v := int(*w.HttpStatus)
		f.HTTPStatus = &v
	}
	if w.ExitCode != nil {
		v := int(*w.ExitCode)
		f.ExitCode = &v
	}
	return f
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
