package backstop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The shared conformance corpus: tests/README.md defines the format and the
// canonical JSON outputs are compared in.

type vectorPolicy struct {
	Format string `json:"format"`
	Source string `json:"source"`
}

type vectorFailure struct {
	HTTPStatus *int     `json:"http_status"`
	GRPCCode   *string  `json:"grpc_code"`
	ExitCode   *int     `json:"exit_code"`
	Signal     *string  `json:"signal"`
	ErrorTypes []string `json:"error_types"`
	ErrorCode  *string  `json:"error_code"`
	Message    *string  `json:"message"`
}

type vector struct {
	Name         string           `json:"name"`
	Policy       *vectorPolicy    `json:"policy"`
	Failure      *vectorFailure   `json:"failure"`
	Expect       map[string]any   `json:"expect"`
	ExpectError  map[string]any   `json:"expect_error"`
	ExpectErrors []map[string]any `json:"expect_errors"`
}

type suite struct {
	Description string        `json:"description"`
	Policy      *vectorPolicy `json:"policy"`
	Vectors     []vector      `json:"vectors"`
}

func canonicalClassification(c Classification) map[string]any {
	var rule any
	if c.Rule != "" {
		rule = c.Rule
	}
	return map[string]any{"class": string(c.Class), "rule": rule, "reason": c.Reason}
}

func canonicalError(e *PolicyError) map[string]any {
	var line, column any
	if e.Line > 0 {
		line, column = float64(e.Line), float64(e.Column)
	}
	return map[string]any{"code": string(e.Code), "message": e.Message, "path": e.Path, "line": line, "column": column}
}

// matches reports whether every key of want equals got's value.
func matches(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: unexpected key %q in the vector", what, k)
			continue
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: %s = %#v, want %#v", what, k, g, w)
		}
	}
}

func TestConformance(t *testing.T) {
	ctx := context.Background()
	engine := newEngine(t)

	files, err := filepath.Glob(filepath.Join("..", "tests", "vectors", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no vectors found in ../tests/vectors")
	}
	total := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var s suite
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(s.Vectors) == 0 {
			t.Fatalf("%s: no vectors", file)
		}
		for _, v := range s.Vectors {
			total++
			t.Run(filepath.Base(file)+"/"+v.Name, func(t *testing.T) {
				runVector(t, ctx, engine, s.Policy, v)
			})
		}
	}
	// A floor, so a runner that silently finds fewer vectors fails.
	if total < 135 {
		t.Errorf("ran %d vectors; the corpus has at least 135", total)
	}
}

func runVector(t *testing.T, ctx context.Context, engine *Engine, suitePolicy *vectorPolicy, v vector) {
	shapes := 0
	for _, present := range []bool{v.Expect != nil, v.ExpectError != nil, v.ExpectErrors != nil} {
		if present {
			shapes++
		}
	}
	if shapes != 1 {
		t.Fatalf("vector has %d expectation shapes, want exactly 1", shapes)
	}
	vp := suitePolicy
	if v.Policy != nil {
		vp = v.Policy
	}
	source, format := "", TOML
	if vp != nil {
		source, format = vp.Source, Format(vp.Format)
	}
	policy, err := engine.LoadPolicy(ctx, source, format)

	if v.ExpectErrors != nil {
		var le *LoadError
		if !errors.As(err, &le) {
			t.Fatalf("LoadPolicy: got %v, want a *LoadError", err)
		}
		if len(le.Errors) != len(v.ExpectErrors) {
			t.Fatalf("got %d errors, want %d: %v", len(le.Errors), len(v.ExpectErrors), le)
		}
		for i, want := range v.ExpectErrors {
			matches(t, fmt.Sprintf("error #%d", i), canonicalError(le.Errors[i]), want)
		}
		return
	}
	if err != nil {
		t.Fatalf("LoadPolicy: %v", err)
	}
	defer policy.Close(ctx)
	if v.Failure == nil {
		t.Fatal("vector has no failure")
	}
	f := Failure(*v.Failure)
	got, err := policy.Classify(ctx, f)
	if v.ExpectError != nil {
		var pe *PolicyError
		if !errors.As(err, &pe) {
			t.Fatalf("Classify: got (%v, %v), want a *PolicyError", got, err)
		}
		matches(t, "error", canonicalError(pe), v.ExpectError)
		return
	}
	if err != nil {
		t.Fatalf("Classify: %v", err)
	}
	matches(t, "classification", canonicalClassification(got), v.Expect)
}
