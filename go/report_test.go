package backstop

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func readReport(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("report %s is not JSON: %v", data, err)
	}
	return r
}

func TestFailureReportIsTheCanonicalFormOfFailureFromError(t *testing.T) {
	err := fmt.Errorf("read shard 17: %w", &apiError{code: "SlowDown", status: 503})
	data, rerr := FailureReport(&RetryAfterError{Err: err, After: 1500*time.Millisecond + 1})
	if rerr != nil {
		t.Fatal(rerr)
	}
	var r map[string]any
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	f := FailureFromError(&RetryAfterError{Err: err})
	types, _ := json.Marshal(f.ErrorTypes)
	gotTypes, _ := json.Marshal(r["error_types"])
	if string(types) != string(gotTypes) {
		t.Errorf("error_types %s, want %s", gotTypes, types)
	}
	if r["error_code"] != "SlowDown" || r["http_status"] != float64(503) {
		t.Errorf("code/status: %v", r)
	}
	if r["message"] != "read shard 17: api error SlowDown" {
		t.Errorf("message %q", r["message"])
	}
	// Rounded up: a wait never undercuts what was asked.
	if r["pushback_ms"] != float64(1501) {
		t.Errorf("pushback_ms %v", r["pushback_ms"])
	}
	for _, absent := range []string{"grpc_code", "exit_code", "signal"} {
		if _, ok := r[absent]; ok {
			t.Errorf("%s present in %s", absent, data)
		}
	}
}

func TestReportFailureWritesTheFileNamedByTheVariable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "failure.json")
	t.Setenv(FailureFileEnv, path)
	err := fmt.Errorf("list partitions: %w", syscall.ECONNRESET)
	if werr := ReportFailure(err); werr != nil {
		t.Fatal(werr)
	}
	r := readReport(t, path)
	if r["error_code"] != "ECONNRESET" {
		t.Errorf("error_code %v", r["error_code"])
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("a temporary file was left: %v", entries)
	}
}

func TestReportFailureWithoutTheVariableWritesNothing(t *testing.T) {
	t.Setenv(FailureFileEnv, "")
	if err := ReportFailure(errors.New("x")); err != nil {
		t.Fatal(err)
	}
	t.Setenv(FailureFileEnv, filepath.Join(t.TempDir(), "failure.json"))
	if err := ReportFailure(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(os.Getenv(FailureFileEnv)); !os.IsNotExist(err) {
		t.Errorf("a nil error was reported: %v", err)
	}
}

func TestReportFailureSaysWhyItCannotWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-dir", "failure.json")
	err := ReportFailureTo(path, errors.New("x"))
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v does not name %s", err, path)
	}
}

func TestAHugeMessageKeepsItsEndOnARuneBoundary(t *testing.T) {
	data, err := FailureReport(errors.New(strings.Repeat("é", 100_000) + "the end"))
	if err != nil {
		t.Fatal(err)
	}
	var r struct{ Message string }
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(r.Message, "the end") || len(r.Message) > maxReportMessage || strings.ContainsRune(r.Message, '\uFFFD') {
		t.Errorf("message of %d bytes, suffix %q", len(r.Message), r.Message[len(r.Message)-10:])
	}
}
