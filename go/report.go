package backstop

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"
)

// FailureFileEnv is the environment variable `backstop run` sets to each
// attempt's failure report path. A step that writes its failure there (see
// ReportFailure) is classified on exactly that rather than on its logs.
const FailureFileEnv = "BACKSTOP_FAILURE_FILE"

// maxReportMessage is how much of a message the report keeps: message
// patterns see only its last 64 KiB (the guest's MAX_MESSAGE_BYTES).
const maxReportMessage = 64 * 1024

// report is the canonical JSON form of a Failure (tests/README.md) plus the
// server pushback; absent fields are left out.
type report struct {
	HTTPStatus *int     `json:"http_status,omitempty"`
	GRPCCode   *string  `json:"grpc_code,omitempty"`
	ExitCode   *int     `json:"exit_code,omitempty"`
	Signal     *string  `json:"signal,omitempty"`
	ErrorTypes []string `json:"error_types,omitempty"`
	ErrorBases []string `json:"error_bases,omitempty"`
	ErrorCode  *string  `json:"error_code,omitempty"`
	Message    *string  `json:"message,omitempty"`
	PushbackMs *int64   `json:"pushback_ms,omitempty"`
}

// FailureReport is the report ReportFailure writes for err, as JSON:
// FailureFromError(err) in the canonical form every Backstop host shares,
// plus "pushback_ms" when an error in the chain has a RetryAfter() method.
func FailureReport(err error) ([]byte, error) {
	f := FailureFromError(err)
	r := report{
		HTTPStatus: f.HTTPStatus,
		GRPCCode:   f.GRPCCode,
		ExitCode:   f.ExitCode,
		Signal:     f.Signal,
		ErrorTypes: f.ErrorTypes,
		ErrorBases: f.ErrorBases,
		ErrorCode:  f.ErrorCode,
		Message:    f.Message,
	}
	if r.Message != nil {
		tail := messageTail(*r.Message)
		r.Message = &tail
	}
	if d := pushback(err); d != nil {
		ms := d.Milliseconds()
		if *d%time.Millisecond != 0 {
			ms++ // round up: a wait never undercuts what the server asked
		}
		r.PushbackMs = &ms
	}
	return json.Marshal(r)
}

// messageTail keeps the last maxReportMessage bytes of s, cut at a rune boundary.
func messageTail(s string) string {
	if len(s) <= maxReportMessage {
		return s
	}
	s = s[len(s)-maxReportMessage:]
	for i := 0; i < utf8.UTFMax && i < len(s); i++ {
		if utf8.RuneStart(s[i]) {
			return s[i:]
		}
	}
	return s
}

// ReportFailure writes err as this attempt's failure report for `backstop
// run`, at the path in BACKSTOP_FAILURE_FILE; when that is unset (the
// program is not running under `backstop run`), or err is nil, it does
// nothing. Typical use, at the end of main:
//
//	if err := run(); err != nil {
//		backstop.ReportFailure(err)
//		log.Fatal(err)
//	}
//
// The returned error says why a report could not be written; ignoring it
// loses only the report (backstop then reads the logs).
func ReportFailure(err error) error {
	path := os.Getenv(FailureFileEnv)
	if path == "" || err == nil {
		return nil
	}
	return ReportFailureTo(path, err)
}

// ReportFailureTo writes err's failure report to path, atomically: a
// temporary file in the same directory, then a rename, so a reader never
// sees half a report.
func ReportFailureTo(path string, err error) error {
	if err == nil {
		return nil
	}
	data, merr := FailureReport(err)
	if merr != nil {
		return fmt.Errorf("backstop: failure report: %w", merr)
	}
	tmp, cerr := os.CreateTemp(filepath.Dir(path), ".backstop-failure-*.tmp")
	if cerr != nil {
		return fmt.Errorf("backstop: cannot write the failure report %s: %w", path, cerr)
	}
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("backstop: cannot write the failure report %s: %w", path, werr)
	}
	return nil
}
