package backstop

import (
	"context"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
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
	stream := uint32(0)
	if in.Stream != "" {
		var ok bool
		if stream, ok = indexOf(logStreams[:], in.Stream); !ok {
			return LogReport{}, fmt.Errorf("backstop: unknown log stream %q (want stderr, stdout or combined)", in.Stream)
		}
	}
	if !utf8.ValidString(in.Text) {
		in.Text = strings.ToValidUTF8(in.Text, "\uFFFD")
	}
	if in.Signal != nil && !utf8.ValidString(*in.Signal) {
		v := strings.ToValidUTF8(*in.Signal, "\uFFFD")
		in.Signal = &v
	}
	inst, err := e.acquire(ctx)
	if err != nil {
		return LogReport{}, err
	}
	report, err := plannerCall(ctx, inst, readLogFn, func(s sink) {
		s.record(logInputT, func(s sink) {
			s.string(in.Text)
			if in.ExitCode == nil {
				s.variant(optionS32T, 0, nil)
			} else {
				s.variant(optionS32T, 1, func(s sink) { s.int(s32T, uint64(uint32(int32(*in.ExitCode)))) })
			}
			lowerOptionString(s, in.Signal)
			if in.Stream == "" {
				s.variant(optionLogStreamT, 0, nil)
			} else {
				s.variant(optionLogStreamT, 1, func(s sink) { s.int(logStreamT, uint64(stream)) })
			}
		})
	}, liftLogReport)
	e.release(inst, err)
	return report, err
}

func liftLogReport(s *source) LogReport {
	r := s.record(logReportT)
	var report LogReport
	report.Failure = liftFailure(r)
	report.Readers = liftStrings(r)
	report.Summary = r.string()
	report.PushbackMs = r.optionU64()
	return report
}

func liftOptionalString(s *source) *string {
	if v, ok := liftOptionString(s); ok {
		return &v
	}
	return nil
}

func liftFailure(s *source) Failure {
	r := s.record(failureT)
	var f Failure
	if c, payload := r.variant(optionU16T); c == 1 {
		v := int(payload.int(u16T))
		f.HTTPStatus = &v
	}
	f.GRPCCode = liftOptionalString(r)
	if c, payload := r.variant(optionS32T); c == 1 {
		v := int(int32(uint32(payload.int(s32T))))
		f.ExitCode = &v
	}
	f.Signal = liftOptionalString(r)
	f.ErrorTypes = liftStrings(r)
	f.ErrorBases = liftStrings(r)
	f.ErrorCode = liftOptionalString(r)
	f.Message = liftOptionalString(r)
	return f
}
