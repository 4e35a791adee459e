// Command crossworker is the Go worker of the cross-language breaker test
// (tests/postgres/crosslang.sh): it calls a dependency that always fails
// (HTTP 503) through backstop.Do with the breaker in PostgreSQL, operation
// after operation, until the shared breaker refuses, and reports what it did.
// Each operation is recorded there too (Store.Recorder, pipeline "crosslang").
//
//	crossworker URL DEPENDENCY POLICY READY_FILE GO_FILE OUT_FILE
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	backstop "github.com/backstop-policy/backstop/go"
	"github.com/backstop-policy/backstop/go/pgstore"
)

type unavailable struct{}

func (unavailable) Error() string       { return "503 from the shared dependency" }
func (unavailable) HTTPStatusCode() int { return 503 }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "crossworker:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 6 {
		return errors.New("usage: crossworker URL DEPENDENCY POLICY READY_FILE GO_FILE OUT_FILE")
	}
	url, name, policyPath, ready, goFile, out := args[0], args[1], args[2], args[3], args[4], args[5]
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
	store, err := pgstore.Open(ctx, url)
	if err != nil {
		return err
	}
	defer store.Close()
	dep, err := store.Dependency(name)
	if err != nil {
		return err
	}
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
	recorder := store.Recorder("crosslang")
	attempts := 0
	outcomes := []string{}
	for range 50 {
		err := backstop.Do(ctx, policy, func(context.Context) error { attempts++; return unavailable{} },
			backstop.WithSharedState(dep), backstop.WithRecorder(recorder))
		var give *backstop.GiveUpError
		if !errors.As(err, &give) {
			return fmt.Errorf("an operation ended with %v", err)
		}
		outcomes = append(outcomes, string(give.Reason))
		if give.Reason == backstop.GiveUpCircuitOpen {
			break
		}
	}
	b, err := json.Marshal(map[string]any{"worker": "go", "attempts": attempts, "outcomes": outcomes})
	if err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o644)
}
