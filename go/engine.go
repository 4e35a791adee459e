// Package backstop classifies failures against Backstop policies (ordered
// rules over HTTP status, gRPC code, exit code, signal, error types and
// messages decide whether a failure is transient, permanent or unknown) and
// retries them as the policy plans: Do runs a function with backoff,
// deterministic jitter, attempt timeouts, a deadline, server pushback, a
// circuit breaker and a retry budget, and the planner (Policy.BeginAttempt,
// AfterFailure, AfterSuccess, Schedule) is there for hosts that drive the
// loop themselves.
//
// The decisions are made by the same WebAssembly core the Rust, Node and
// Python hosts run, embedded in this package and executed by wazero (pure
// Go, no cgo), so every worker decides identically.
//
//	engine, err := backstop.New(ctx)
//	defer engine.Close(ctx)
//	policy, err := engine.LoadPolicyFile(ctx, "nightly.toml")
//	verdict, err := policy.ClassifyError(ctx, stepErr)
//	if verdict.Class == backstop.Transient { /* retry */ }
//
//	err = backstop.Do(ctx, policy, readShard, backstop.WithIdempotencyKey(runID+"/read"))
//
// # Concurrency
//
// An Engine and its Policies are safe for concurrent use. A WebAssembly
// instance runs one call at a time, so the Engine keeps a pool of instances
// (by default GOMAXPROCS of them, created on first need). A call takes an
// idle instance from the pool, or waits for one (honouring its context),
// and returns it afterwards. A Policy is parsed once by LoadPolicy and then
// loaded lazily into each instance it runs on. An instance that traps is
// closed and replaced, never reused.
//
// Calls with a cancellable context run on instances that cancellation can
// interrupt mid-call; wazero charges a goroutine per guest call for that
// (about 10 µs per classification instead of about 2 µs), so calls with a
// context that is never cancelled, such as context.Background(), run on a
// second pool of plain instances.
package backstop

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
)

// coreWasm is the guest core module, byte-identical to the committed
// artifact (a test checks its sha256 against host/wasm/SHA256SUMS).
//
//go:embed wasm/backstop-core.wasm
var coreWasm []byte

// DefaultMemoryLimitPages bounds each instance's linear memory: 1024 pages
// of 64 KiB, 64 MiB.
const DefaultMemoryLimitPages = 1024

type config struct {
	poolSize   int
	limitPages uint32
	cache      wazero.CompilationCache
}

// Option configures New.
type Option func(*config)

// WithPoolSize sets how many instances may run calls at once (default
// GOMAXPROCS). Each instance holds its own memory and its own copy of every
// policy it has used.
func WithPoolSize(n int) Option { return func(c *config) { c.poolSize = n } }

// WithMemoryLimitPages caps each instance's memory at n pages of 64 KiB
// (default DefaultMemoryLimitPages). A call that needs more traps, and its
// error wraps ErrTrap.
func WithMemoryLimitPages(n uint32) Option { return func(c *config) { c.limitPages = n } }

// WithCompilationCache shares compiled code between Engines (in memory with
// wazero.NewCompilationCache, or on disk with wazero.NewCompilationCacheWithDir
// to speed up a CLI's cold start). The caller closes the cache after the
// Engines that use it.
func WithCompilationCache(c wazero.CompilationCache) Option {
	return func(cfg *config) { cfg.cache = c }
}

// Engine compiles the guest once and runs it in pools of instances.
type Engine struct {
	// wazero makes a module interruptible by context cancellation only at a
	// price: a goroutine per call, several per classification, which cost
	// more than the classification itself. A context that can never be
	// cancelled (context.Background) has nothing to honour, so such calls
	// run on plain instances, and cancellable ones on interruptible
	// instances, each kind with its own pool and runtime.
	plain, interruptible *pool
	closed               atomic.Bool

	mu   sync.Mutex
	live map[*instance]struct{} // instances in existence, for Policy.Close
}

// pool is one runtime's compiled guest and its instance slots.
type pool struct {
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	// slots holds one token per instance slot: an idle instance, or nil for
	// a slot whose instance is yet to be created (or was discarded).
	slots chan *instance
}

// New compiles the embedded guest. Close the Engine to release it.
func New(ctx context.Context, opts ...Option) (*Engine, error) {
	cfg := config{poolSize: runtime.GOMAXPROCS(0), limitPages: DefaultMemoryLimitPages}
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.poolSize < 1 {
		return nil, fmt.Errorf("backstop: pool size must be at least 1, not %d", cfg.poolSize)
	}
	if cfg.limitPages < 1 || cfg.limitPages > 65536 {
		return nil, fmt.Errorf("backstop: memory limit must be 1-65536 pages, not %d", cfg.limitPages)
	}
	e := &Engine{live: make(map[*instance]struct{})}
	var errs [2]error
	var wg sync.WaitGroup
	for i, interruptible := range []bool{false, true} {
		wg.Go(func() {
			p, err := newPool(ctx, cfg, interruptible)
			errs[i] = err
			if interruptible {
				e.interruptible = p
			} else {
				e.plain = p
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		e.closeRuntimes(ctx)
		return nil, err
	}
	return e, nil
}

func newPool(ctx context.Context, cfg config, interruptible bool) (*pool, error) {
	rc := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(cfg.limitPages).
		WithCloseOnContextDone(interruptible)
	if cfg.cache != nil {
		// Safe to share: wazero keys compiled code by the interruptible flag too.
		rc = rc.WithCompilationCache(cfg.cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	compiled, err := rt.CompileModule(ctx, coreWasm)
	if err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("backstop: compiling the guest: %w", err)
	}
	if err := checkModule(compiled); err != nil {
		_ = rt.Close(ctx)
		return nil, err
	}
	p := &pool{rt: rt, compiled: compiled, slots: make(chan *instance, cfg.poolSize)}
	for range cfg.poolSize {
		p.slots <- nil
	}
	return p, nil
}

// checkModule verifies the guest imports nothing and exports what the glue
// expects, with the core signatures the canonical ABI implies.
func checkModule(m wazero.CompiledModule) error {
	if n := len(m.ImportedFunctions()) + len(m.ImportedMemories()); n > 0 {
		return fmt.Errorf("backstop: the core module has %d imports; it must import nothing", n)
	}
	exports := m.ExportedFunctions()
	for _, f := range witFuncs {
		def, ok := exports[exportName(f)]
		if !ok {
			return fmt.Errorf("backstop: the core module does not export %q", exportName(f))
		}
		if err := f.checkSignature(def); err != nil {
			return err
		}
	}
	return nil
}

// Close releases the Engine and every instance. Calls in flight fail;
// later calls return ErrClosed.
func (e *Engine) Close(ctx context.Context) error {
	if e.closed.Swap(true) {
		return nil
	}
	return e.closeRuntimes(ctx)
}

func (e *Engine) closeRuntimes(ctx context.Context) error {
	var errs []error
	for _, p := range []*pool{e.plain, e.interruptible} {
		if p != nil {
			errs = append(errs, p.rt.Close(ctx))
		}
	}
	return errors.Join(errs...)
}

// poolFor picks the pool whose instances suit ctx.
func (e *Engine) poolFor(ctx context.Context) *pool {
	if ctx.Done() == nil {
		return e.plain
	}
	return e.interruptible
}

// acquire takes an instance suited to ctx from its pool, creating it if its
// slot is empty, and applies drops scheduled by Policy.Close.
func (e *Engine) acquire(ctx context.Context) (*instance, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := e.poolFor(ctx)
	var inst *instance
	select {
	case inst = <-p.slots:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if e.closed.Load() {
		p.slots <- inst
		return nil, ErrClosed
	}
	if inst == nil {
		var err error
		if inst, err = e.instantiate(ctx, p); err != nil {
			p.slots <- nil
			return nil, err
		}
	}
	if err := inst.flushDrops(ctx); err != nil {
		e.release(inst, err)
		return nil, err
	}
	return inst, nil
}

// release returns inst to its pool, or discards it if callErr says it can
// no longer be trusted.
func (e *Engine) release(inst *instance, callErr error) {
	p := inst.pool
	if callErr != nil && isFault(callErr) {
		e.mu.Lock()
		delete(e.live, inst)
		e.mu.Unlock()
		_ = inst.mod.Close(context.Background())
		inst = nil
	}
	p.slots <- inst
}

func (e *Engine) instantiate(ctx context.Context, p *pool) (*instance, error) {
	mod, err := p.rt.InstantiateModule(ctx, p.compiled,
		wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		if e.closed.Load() {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("backstop: instantiating the guest: %w", err)
	}
	inst, err := newInstance(mod)
	if err != nil {
		_ = mod.Close(ctx)
		return nil, err
	}
	inst.pool = p
	e.mu.Lock()
	e.live[inst] = struct{}{}
	e.mu.Unlock()
	return inst, nil
}

// LoadPolicy parses and validates a policy document. An invalid document
// gives a *LoadError listing every problem.
func (e *Engine) LoadPolicy(ctx context.Context, source string, format Format) (*Policy, error) {
	if _, ok := indexOf(policyFormats[:], format); !ok {
		return nil, fmt.Errorf("backstop: unknown policy format %q (want %q or %q)", format, TOML, JSON)
	}
	if !utf8.ValidString(source) {
		return nil, &LoadError{Errors: []*PolicyError{invalidUTF8(source)}}
	}
	p := &Policy{engine: e, source: source, format: format}
	inst, err := e.acquire(ctx)
	if err != nil {
		return nil, err
	}
	// Loading here reports a bad document now rather than at first use; the
	// handle stays with this instance.
	_, err = p.handleOn(ctx, inst)
	e.release(inst, err)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// LoadPolicyFile reads and loads a policy file; its extension (.toml or
// .json) gives the format.
func (e *Engine) LoadPolicyFile(ctx context.Context, path string) (*Policy, error) {
	var format Format
	switch strings.ToLower(filepath.Ext(path)) {
	case ".toml":
		format = TOML
	case ".json":
		format = JSON
	default:
		return nil, fmt.Errorf("backstop: %s: cannot tell the policy format from the extension (want .toml or .json)", path)
	}
	source, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("backstop: %w", err)
	}
	p, err := e.LoadPolicy(ctx, string(source), format)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// DefaultPolicy loads the built-in rules alone (the policy of an empty
// document). Each call returns a new Policy.
func (e *Engine) DefaultPolicy(ctx context.Context) (*Policy, error) {
	return e.LoadPolicy(ctx, "", TOML)
}

// invalidUTF8 locates the first invalid byte as the guest locates errors:
// one-based line and column in characters.
func invalidUTF8(source string) *PolicyError {
	line, column := 1, 1
	for i, r := range source {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(source[i:]); size <= 1 {
				break
			}
		}
		if r == '\n' {
			line, column = line+1, 1
		} else {
			column++
		}
	}
	return &PolicyError{Code: CodeSyntax, Message: "the document is not valid UTF-8", Line: line, Column: column}
}

var errNilError = errors.New("backstop: ClassifyError needs a non-nil error")
