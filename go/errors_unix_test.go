//go:build unix

package backstop

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"reflect"
	"syscall"
	"testing"
)

// A failed child process reports its exit code, or the signal that killed it.
func TestFailureFromExecExitError(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t), "", TOML)

	err := exec.Command("sh", "-c", "exit 75").Run()
	f := FailureFromError(err)
	if f.ExitCode == nil || *f.ExitCode != 75 || f.Signal != nil {
		t.Fatalf("exit 75: %+v", f)
	}
	if c, err := p.Classify(ctx, f); err != nil || c.Rule != "builtin.exit-tempfail" {
		t.Errorf("exit 75: got %+v, %v", c, err)
	}

	err = exec.Command("sh", "-c", "kill -KILL $$").Run()
	f = FailureFromError(err)
	if f.ExitCode != nil || f.Signal == nil || *f.Signal != "9" {
		t.Fatalf("killed: %+v", f)
	}
	if c, err := p.Classify(ctx, f); err != nil || c.Class != Unknown {
		t.Errorf("SIGKILL alone: got %+v, %v", c, err)
	}
}

func TestFailureFromWrappedError(t *testing.T) {
	err := fmt.Errorf("fetch shard: %w", &url.Error{Op: "Get", URL: "https://storage/x", Err: &net.OpError{
		Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}})
	f := FailureFromError(err)
	wantTypes := []string{"*fmt.wrapError", "*url.Error", "*net.OpError", "*os.SyscallError", "syscall.Errno"}
	if !reflect.DeepEqual(f.ErrorTypes, wantTypes) {
		t.Errorf("types %q, want %q", f.ErrorTypes, wantTypes)
	}
	if f.ErrorCode == nil || *f.ErrorCode != "ECONNRESET" {
		t.Errorf("error code %v", f.ErrorCode)
	}
	if f.Message == nil || *f.Message != err.Error() {
		t.Errorf("message %v", f.Message)
	}
	if f.HTTPStatus != nil || f.GRPCCode != nil || f.ExitCode != nil || f.Signal != nil {
		t.Errorf("unexpected fields in %+v", f)
	}

	c, cerr := loadPolicy(t, newEngine(t), "", TOML).ClassifyError(context.Background(), err)
	if cerr != nil || c.Class != Transient || c.Rule != "builtin.network-errno" {
		t.Errorf("got %+v, %v", c, cerr)
	}
}

func TestFailureFromErrno(t *testing.T) {
	tests := []struct {
		err  error
		code string // "" = absent
	}{
		{syscall.ECONNREFUSED, "ECONNREFUSED"},
		{syscall.EPIPE, "EPIPE"},
		{syscall.EAGAIN, "EAGAIN"},
		{fmt.Errorf("open: %w", &os.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}), "ENOENT"},
		{syscall.Errno(4095), ""},
	}
	for _, tt := range tests {
		f := FailureFromError(tt.err)
		got := ""
		if f.ErrorCode != nil {
			got = *f.ErrorCode
		}
		if got != tt.code {
			t.Errorf("%v: code %q, want %q", tt.err, got, tt.code)
		}
	}
}
