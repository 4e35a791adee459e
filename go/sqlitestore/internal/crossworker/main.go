// Command crossworker is the Go worker of the cross-language SQLite recording
// test (tests/sqlite/crosslang.sh): N operations through backstop.Do, each
// failing once (HTTP 503) and then succeeding, recorded into one SQLite state
// file that the Python and Node workers and the CLI write at the same time.
//
//	crossworker STATE POLICY READY_FILE GO_FILE OUT_FILE N
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	backstop "github.com/backstop-policy/backstop/go"
	"github.com/backstop-policy/backstop/go/sqlitestore"
)

type unavailable struct{}

func (unavailable) Error() string       { return "503 from the dependency" }
func (unavailable) HTTPStatusCode() int { return 503 }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "crossworker:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 6 {
		return errors.New("usage: crossworker STATE POLICY READY_FILE GO_FILE OUT_FILE N")
	}
	state, policyPath, ready, goFile, out := args[0], args[1], args[2], args[3], args[4]
	n, err := strconv.Atoi(args[5])
	if err != nil {
		return err
	}
	ctx := context.Background()
	engine, err := backstop.New(ctx)
	if err != nil {
		return err
	}
	defer engine.Close(ctx)
	policy, err := engine.LoadPolicyFile(ctx, policyPath)
	if err != nil {
		return err
	}
	rec, err := sqlitestore.Open(state, sqlitestore.WithPipeline("crosslang"))
	if err != nil {
		return err
	}
	defer rec.Close()
	var logs bytes.Buffer // a lost run is a warning here
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		return err
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(goFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("no go signal within 2 minutes")
		}
	}
	attempts := 0
	for i := range n {
		calls := 0
		err := backstop.Do(ctx, policy, func(context.Context) error {
			attempts++
			if calls++; calls == 1 {
				return unavailable{}
			}
			return nil
		}, backstop.WithRecorder(rec), backstop.WithStep("crosslang-step"), backstop.WithRunID(fmt.Sprintf("go-%d", i)))
		if err != nil {
			return fmt.Errorf("operation %d: %w", i, err)
		}
	}
	b, err := json.Marshal(map[string]any{"worker": "go", "operations": n, "attempts": attempts,
		"lost": strings.Count(logs.String(), "level=WARN")})
	if err != nil {
		return err
	}
	if logs.Len() > 0 {
		fmt.Fprint(os.Stderr, logs.String())
	}
	return os.WriteFile(out, b, 0o644)
}
