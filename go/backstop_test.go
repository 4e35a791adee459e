package backstop

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
)

// testCache compiles the guest once for the whole test binary (it is never
// closed: the process ends first). TestNewCompilesWithoutACache covers the
// uncached path.
var testCache = wazero.NewCompilationCache()

func newEngine(t testing.TB, opts ...Option) *Engine {
	t.Helper()
	ctx := context.Background()
	e, err := New(ctx, append([]Option{WithCompilationCache(testCache)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(ctx) })
	return e
}

func loadPolicy(t testing.TB, e *Engine, source string, format Format) *Policy {
	t.Helper()
	p, err := e.LoadPolicy(context.Background(), source, format)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const storagePolicy = `
[[classify.rules]]
id = "storage-slowdown"
class = "transient"
http_status = 503
message = "(?i)slow ?down"

[[classify.rules]]
id = "bad-input"
class = "permanent"
error_type = "ValueError"
reason = "the input is malformed"

[[classify.rules]]
id = "replacement-char"
class = "permanent"
message = "ab\uFFFDcd"
`

func TestEmbeddedCoreMatchesSHA256SUMS(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "host", "wasm", "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && strings.TrimPrefix(fields[1], "*") == "backstop-core.wasm" {
			want = fields[0]
		}
	}
	if want == "" {
		t.Fatal("SHA256SUMS lists no backstop-core.wasm")
	}
	sum := sha256.Sum256(coreWasm)
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("embedded core module sha256 %s, SHA256SUMS says %s: copy the rebuilt artifact", got, want)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	ctx := context.Background()
	for _, opt := range []Option{WithPoolSize(0), WithMemoryLimitPages(0), WithMemoryLimitPages(70000)} {
		if e, err := New(ctx, opt); err == nil {
			e.Close(ctx)
			t.Errorf("New accepted a bad option")
		}
	}
}

func TestClassify(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t)
	p := loadPolicy(t, e, storagePolicy, TOML)
	tests := []struct {
		name string
		f    Failure
		want Classification
	}{
		{"user rule", Failure{HTTPStatus: new(503), Message: new("Please SlowDown")},
			Classification{Transient, "storage-slowdown", "HTTP status 503 and message pattern /(?i)slow ?down/ matched rule `storage-slowdown`"}},
		{"custom reason", Failure{ErrorTypes: []string{"ValueError"}},
			Classification{Permanent, "bad-input", "the input is malformed"}},
		{"falls through to the built-in rules", Failure{HTTPStatus: new(404)},
			Classification{Permanent, "builtin.http-permanent", "HTTP status 404 matched rule `builtin.http-permanent`"}},
		{"nothing matches", Failure{},
			Classification{Unknown, "", "no rule matched this failure"}},
		{"invalid UTF-8 is replaced", Failure{Message: new("ab\xffcd")},
			Classification{Permanent, "replacement-char", "message pattern /ab\uFFFDcd/ matched rule `replacement-char`"}},
	}
	for _, tt := range tests {
		got, err := p.Classify(ctx, tt.f)
		if err != nil || got != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}

func TestClassifyLeavesTheCallersFailureAlone(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t), "", TOML)
	types := []string{"ok", "bad\xff"}
	msg := "m\xff"
	f := Failure{ErrorTypes: types, Message: &msg}
	if _, err := p.Classify(ctx, f); err != nil {
		t.Fatal(err)
	}
	if types[1] != "bad\xff" || msg != "m\xff" || f.Message != &msg {
		t.Error("Classify modified the caller's failure")
	}
}

func TestClassifyRejectsUnrepresentableFailures(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t), "", TOML)
	tests := []struct {
		f    Failure
		path string
	}{
		{Failure{HTTPStatus: new(70000)}, "failure.http_status"},
		{Failure{HTTPStatus: new(-1)}, "failure.http_status"},
		{Failure{HTTPStatus: new(600)}, "failure.http_status"}, // the guest's own check
		{Failure{ExitCode: new(1 << 40)}, "failure.exit_code"},
		{Failure{GRPCCode: new("NOPE")}, "failure.grpc_code"},
	}
	for _, tt := range tests {
		_, err := p.Classify(ctx, tt.f)
		var pe *PolicyError
		if !errors.As(err, &pe) || pe.Code != CodeInvalidFailure || pe.Path != tt.path {
			t.Errorf("%+v: got %v, want invalid-failure at %s", tt.f, err, tt.path)
		}
	}
}

func TestLoadPolicyErrors(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t)

	_, err := e.LoadPolicy(ctx, "[[classify.rules]]\nid = \"a\"\nclass = \"sometimes\"\n\n[[classify.rules]]\nid = \"b\"\nclass = \"transient\"\nexit_code = -1\n", TOML)
	var le *LoadError
	if !errors.As(err, &le) || len(le.Errors) != 2 {
		t.Fatalf("got %v, want a *LoadError with 2 errors", err)
	}
	var pe *PolicyError
	if !errors.As(err, &pe) || pe != le.Errors[0] {
		t.Errorf("errors.As does not find the first *PolicyError in %v", err)
	}
	if pe.Code != CodeInvalidValue || pe.Path != "classify.rules[0].class" || pe.Line != 3 || pe.Column != 9 {
		t.Errorf("first error %+v", pe)
	}
	msg := err.Error()
	for _, part := range []string{"line 3, column 9", "classify.rules[0].class", "invalid-value", "and 1 more error"} {
		if !strings.Contains(msg, part) {
			t.Errorf("%q lacks %q", msg, part)
		}
	}

	_, err = e.LoadPolicy(ctx, `{"classify": {"rules": 3}}`, JSON)
	if !errors.As(err, &pe) || pe.Code != CodeWrongType || pe.Path != "classify.rules" {
		t.Errorf("JSON: got %v", err)
	}

	_, err = e.LoadPolicy(ctx, "", Format("yaml"))
	if err == nil || errors.As(err, &le) || !strings.Contains(err.Error(), "yaml") {
		t.Errorf("unknown format: got %v", err)
	}

	_, err = e.LoadPolicy(ctx, "# ok\n[classify]\nx = \"\xff\"\n", TOML)
	if !errors.As(err, &pe) || pe.Code != CodeSyntax || pe.Line != 3 || pe.Column != 6 {
		t.Errorf("invalid UTF-8: got %+v", pe)
	}
}

func TestLoadPolicyFile(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	toml := write("nightly.TOML", storagePolicy)
	json := write("p.json", `{"classify": {"rules": [{"id": "j", "class": "permanent", "exit_code": 3}]}}`)
	for path, f := range map[string]Failure{
		toml: {ErrorTypes: []string{"ValueError"}},
		json: {ExitCode: new(3)},
	} {
		p, err := e.LoadPolicyFile(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := p.Classify(ctx, f); err != nil || c.Class != Permanent {
			t.Errorf("%s: got %+v, %v", path, c, err)
		}
	}

	if _, err := e.LoadPolicyFile(ctx, write("p.yaml", "")); err == nil || !strings.Contains(err.Error(), ".toml or .json") {
		t.Errorf("yaml: got %v", err)
	}
	if _, err := e.LoadPolicyFile(ctx, filepath.Join(dir, "missing.toml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}
	bad := write("bad.json", "{")
	_, err := e.LoadPolicyFile(ctx, bad)
	var le *LoadError
	if !errors.As(err, &le) || !strings.HasPrefix(err.Error(), bad+": ") {
		t.Errorf("bad file: got %v", err)
	}
}

func TestDefaultPolicy(t *testing.T) {
	ctx := context.Background()
	p, err := newEngine(t).DefaultPolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Classify(ctx, Failure{GRPCCode: new("UNAVAILABLE")})
	if err != nil || c.Class != Transient || c.Rule != "builtin.grpc-transient" {
		t.Errorf("got %+v, %v", c, err)
	}
}

func TestPolicyClose(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, WithPoolSize(1))
	p := loadPolicy(t, e, storagePolicy, TOML)
	other := loadPolicy(t, e, "", TOML)
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := p.Classify(ctx, Failure{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Classify after Close: got %v", err)
	}
	// The next use of the instance drops the closed policy's guest handle.
	if _, err := other.Classify(ctx, Failure{}); err != nil {
		t.Fatal(err)
	}
	inst, err := e.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer e.release(inst, nil)
	if _, ok := inst.handles[p]; ok || len(inst.handles) != 1 {
		t.Errorf("instance still holds %d handles", len(inst.handles))
	}
}

func TestNewCompilesWithoutACache(t *testing.T) {
	ctx := context.Background()
	e, err := New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	p := loadPolicy(t, e, "", TOML)
	if c, err := p.Classify(ctx, Failure{HTTPStatus: new(429)}); err != nil || c.Class != Transient {
		t.Errorf("got %+v, %v", c, err)
	}
}

func TestEngineClose(t *testing.T) {
	ctx := context.Background()
	e, err := New(ctx, WithCompilationCache(testCache))
	if err != nil {
		t.Fatal(err)
	}
	p := loadPolicy(t, e, "", TOML)
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := p.Classify(ctx, Failure{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Classify after Close: got %v", err)
	}
	if _, err := e.DefaultPolicy(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("LoadPolicy after Close: got %v", err)
	}
}

// A guest that traps (here: out of memory under a small limit) gives an
// error wrapping ErrTrap, and its instance is replaced by a fresh one into
// which the policy is reloaded.
func TestTrapDiscardsTheInstance(t *testing.T) {
	ctx := context.Background()
	// 128 pages (8 MiB): room for the built-in rules, not for an 8 MiB message.
	e := newEngine(t, WithPoolSize(1), WithMemoryLimitPages(128))
	p := loadPolicy(t, e, storagePolicy, TOML)
	first := peek(t, e.plain)

	huge := strings.Repeat("x", 8<<20)
	_, err := p.Classify(ctx, Failure{Message: &huge})
	if !errors.Is(err, ErrTrap) {
		t.Fatalf("got %v, want an error wrapping ErrTrap", err)
	}
	if peek(t, e.plain) == first {
		t.Fatal("the trapped instance went back into the pool")
	}
	c, err := p.Classify(ctx, Failure{ErrorTypes: []string{"ValueError"}})
	if err != nil || c.Rule != "bad-input" {
		t.Fatalf("after the trap: got %+v, %v", c, err)
	}
	if peek(t, e.plain) == first {
		t.Fatal("a discarded instance came back")
	}
}

// peek returns a pool's only instance without using it.
func peek(t *testing.T, p *pool) *instance {
	t.Helper()
	if cap(p.slots) != 1 {
		t.Fatalf("peek needs a pool of 1, not %d", cap(p.slots))
	}
	inst := <-p.slots
	p.slots <- inst
	return inst
}

// Calls whose context can be cancelled run on interruptible instances;
// others on plain ones, which skip wazero's per-call watcher goroutine.
func TestContextPicksThePool(t *testing.T) {
	e := newEngine(t, WithPoolSize(1))
	p := loadPolicy(t, e, "", TOML)
	if peek(t, e.plain) == nil || peek(t, e.interruptible) != nil {
		t.Fatal("LoadPolicy with context.Background used an interruptible instance")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if c, err := p.Classify(ctx, Failure{HTTPStatus: new(502)}); err != nil || c.Class != Transient {
		t.Fatalf("got %+v, %v", c, err)
	}
	inst := peek(t, e.interruptible)
	if inst == nil || inst.pool != e.interruptible || len(inst.handles) != 1 {
		t.Fatal("a cancellable call did not load the policy into an interruptible instance")
	}
}

func TestContextCancellation(t *testing.T) {
	e := newEngine(t, WithPoolSize(1))
	p := loadPolicy(t, e, "", TOML)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Classify(ctx, Failure{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}

	// A call interrupted by cancellation closes its instance, which is then
	// discarded rather than reused.
	live, stop := context.WithCancel(context.Background())
	defer stop()
	inst, err := e.acquire(live)
	if err != nil {
		t.Fatal(err)
	}
	_, err = inst.classify(ctx, 1, &Failure{})
	if !errors.Is(err, context.Canceled) || !isFault(err) {
		t.Fatalf("interrupted call: got %v", err)
	}
	e.release(inst, err)
	if peek(t, e.interruptible) != nil {
		t.Fatal("the interrupted instance went back into the pool")
	}
	if _, err := p.Classify(live, Failure{}); err != nil {
		t.Fatal(err)
	}
}

// Many goroutines share an engine and its policies while policies are
// loaded and closed; run with -race.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, WithPoolSize(3))
	shared := loadPolicy(t, e, storagePolicy, TOML)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 12 {
		wg.Go(func() {
			ctx := ctx
			if g%2 == 1 { // half the goroutines use the interruptible pool
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
			}
			own, err := e.LoadPolicy(ctx, fmt.Sprintf("[[classify.rules]]\nid = \"g%d\"\nclass = \"permanent\"\nexit_code = %d\n", g, g), TOML)
			if err != nil {
				errs <- err
				return
			}
			defer own.Close(ctx)
			for i := range 100 {
				c, err := shared.Classify(ctx, Failure{HTTPStatus: new(503), Message: new("slow down")})
				if err != nil || c.Rule != "storage-slowdown" {
					errs <- fmt.Errorf("shared policy: %+v, %v", c, err)
					return
				}
				c, err = own.ClassifyError(ctx, exitError(g))
				if err != nil || c.Rule != fmt.Sprintf("g%d", g) {
					errs <- fmt.Errorf("goroutine %d, call %d: %+v, %v", g, i, c, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Every closed policy's handles are gone once each instance is reused.
	cancellable, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, ctx := range []context.Context{ctx, cancellable} {
		for range 3 {
			inst, err := e.acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer e.release(inst, nil)
			for p := range inst.handles {
				if p != shared {
					t.Errorf("instance still holds a closed policy")
				}
			}
		}
	}
}

type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitError) ExitCode() int { return int(e) }

// Repeated calls do not grow guest memory: the guest frees the lowered
// arguments, and post-return frees each result.
func TestCallsDoNotLeakGuestMemory(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, WithPoolSize(1))
	p := loadPolicy(t, e, storagePolicy, TOML)
	f := Failure{
		HTTPStatus: new(503),
		ErrorTypes: []string{"*url.Error", "ValueError"},
		Message:    new(strings.Repeat("slow down ", 1000)),
		Signal:     new("NOPE"), // every other call fails: error results are freed too
	}
	run := func(n int) uint32 {
		for i := range n {
			g := f
			if i%2 == 0 {
				g.Signal = nil
			}
			if _, err := p.Classify(ctx, g); err != nil && g.Signal == nil {
				t.Fatal(err)
			}
		}
		if _, err := e.LoadPolicy(ctx, "x = ", TOML); err == nil {
			t.Fatal("a bad policy loaded")
		}
		return peek(t, e.plain).mem.Size()
	}
	warm := run(100)
	if after := run(20000); after != warm {
		t.Errorf("guest memory grew from %d to %d bytes over 20000 calls", warm, after)
	}
}
