//go:build unix

package backstop

import (
	"context"
	"os/exec"
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
