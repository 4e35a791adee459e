package backstop

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tetratelabs/wazero/api"
)

// instance is one instantiation of the core module. It is used by one
// goroutine at a time (whoever took it from the pool), except for the
// pending-drop list, which Policy.Close appends to from anywhere.
type instance struct {
	pool    *pool // the pool it belongs to
	mod     api.Module
	mem     api.Memory
	realloc api.Function
	exports map[*witFunc]api.Function
	posts   map[*witFunc]api.Function
	stack   []uint64 // scratch for CallWithStack, big enough for any export

	// The glue's state for one call, reused by the next: the goroutine
	// holding the instance is the only user.
	callCtx context.Context
	w       writer
	r       reader
	flat    flatSink

	// handles maps each Policy loaded into this instance to its guest handle.
	// Only the goroutine holding the instance touches it.
	handles map[*Policy]uint32

	mu    sync.Mutex
	drops []*Policy // closed policies whose handles to drop on next use
}

// fault is the error of a call after which the instance cannot be trusted:
// the guest trapped, broke the ABI, or was closed by ctx cancellation.
type fault struct {
	op    string
	cause error // ErrTrap or the context's error
	err   error
}

func (f *fault) Error() string {
	if f.cause == ErrTrap {
		return fmt.Sprintf("backstop: %s: guest trapped: %v", f.op, f.err)
	}
	return fmt.Sprintf("backstop: %s: %v (%v)", f.op, f.cause, f.err)
}

func (f *fault) Unwrap() []error { return []error{f.cause, f.err} }

func newFault(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return &fault{op: op, cause: cerr, err: err}
	}
	return &fault{op: op, cause: ErrTrap, err: err}
}

func isFault(err error) bool {
	var f *fault
	return errors.As(err, &f)
}

func newInstance(mod api.Module) (*instance, error) {
	inst := &instance{
		mod:     mod,
		mem:     mod.Memory(),
		realloc: mod.ExportedFunction("cabi_realloc"),
		exports: make(map[*witFunc]api.Function, len(witFuncs)),
		posts:   make(map[*witFunc]api.Function, len(witFuncs)),
		stack:   make([]uint64, maxFlatParams),
		handles: make(map[*Policy]uint32),
	}
	if inst.mem == nil || inst.realloc == nil {
		return nil, errors.New("backstop: the core module does not export memory and cabi_realloc")
	}
	inst.w = writer{mem: inst.mem, alloc: inst.guestAlloc}
	inst.r = reader{mem: inst.mem}
	inst.flat.vals = make([]uint64, 0, maxFlatParams)
	for _, f := range witFuncs {
		fn := mod.ExportedFunction(exportName(f))
		if fn == nil {
			return nil, fmt.Errorf("backstop: the core module does not export %q", exportName(f))
		}
		inst.exports[f] = fn
		// wit-bindgen emits a post-return only where there is something to free.
		if post := mod.ExportedFunction(postReturnName(f)); post != nil {
			inst.posts[f] = post
		}
	}
	return inst, nil
}

// call invokes f: lowers the parameters with params, and, if f has a
// result, lifts it from the return area with result before running the
// post-return function (which frees what the guest allocated for it).
func (in *instance) call(ctx context.Context, f *witFunc, params func(s sink), result func(s *source)) error {
	in.callCtx = ctx
	defer func() { in.callCtx = nil }() // not kept past the call
	w := &in.w
	w.err = nil
	args := lowerArgsInto(w, &in.flat, f, params)
	if w.err != nil {
		return newFault(ctx, f.name, w.err)
	}
	return in.invoke(ctx, f, args, result)
}

// callStore is call for a function whose parameters travel in memory:
// store writes them (a generated wit*Params.store) into the parameter
// area, which is allocated first, as lowerArgs does.
func (in *instance) callStore(ctx context.Context, f *witFunc, store func(w *writer, p uint32), result func(s *source)) error {
	if !f.indirectParams() {
		panic("backstop: callStore of " + f.name + ", whose parameters are flat")
	}
	in.callCtx = ctx
	defer func() { in.callCtx = nil }() // not kept past the call
	w := &in.w
	w.err = nil
	p := w.allocate(f.args.size, f.args.align)
	store(w, p)
	if w.err != nil {
		return newFault(ctx, f.name, w.err)
	}
	in.flat.vals = append(in.flat.vals[:0], uint64(p))
	return in.invoke(ctx, f, in.flat.vals, result)
}

// invoke runs f with its lowered core arguments, and lifts its result.
func (in *instance) invoke(ctx context.Context, f *witFunc, args []uint64, result func(s *source)) error {
	copy(in.stack, args)
	if err := in.exports[f].CallWithStack(ctx, in.stack); err != nil {
		return newFault(ctx, f.name, err)
	}
	if f.result == nil {
		return nil
	}
	if !f.indirectResult() {
		// One core value (derive-seed's u64): lifted from a copy, and there
		// is nothing for a post-return to free.
		r := &reader{mem: flatResultMem(in.stack[0])}
		result(&source{r: r})
		if r.err != nil {
			return newFault(ctx, f.name, r.err)
		}
		return nil
	}
	ret := api.DecodeU32(in.stack[0])
	r := &in.r
	r.err = nil
	if ret%f.result.align != 0 {
		r.fail("return area %#x is not aligned to %d", ret, f.result.align)
	} else {
		// One view of linear memory for the whole result: loads slice it
		// rather than calling through api.Memory each time.
		r.buf, _ = in.mem.Read(0, in.mem.Size())
		result(r.at(ret))
		r.buf = nil // memory may grow before the next call
	}
	if r.err != nil {
		return newFault(ctx, f.name, r.err)
	}
	if post := in.posts[f]; post != nil {
		in.stack[0] = uint64(ret)
		if err := post.CallWithStack(ctx, in.stack); err != nil {
			return newFault(ctx, f.name, err)
		}
	}
	return nil
}

// guestAlloc is cabi_realloc(0, 0, align, size), for the writer.
func (in *instance) guestAlloc(size, align uint32) (uint32, error) {
	st := in.stack[:4]
	st[0], st[1], st[2], st[3] = 0, 0, uint64(align), uint64(size)
	if err := in.realloc.CallWithStack(in.callCtx, st); err != nil {
		return 0, err
	}
	return api.DecodeU32(st[0]), nil
}

// loadPolicy returns the guest's handle, or the policy's diagnostics.
func (in *instance) loadPolicy(ctx context.Context, doc string, format Format) (uint32, error) {
	fmtIndex, ok := indexOf(policyFormats[:], format)
	if !ok {
		return 0, fmt.Errorf("backstop: unknown policy format %q (want %q or %q)", format, TOML, JSON)
	}
	var handle uint32
	var loadErr *LoadError
	err := in.call(ctx, loadPolicyFn,
		func(s sink) {
			s.string(doc)
			s.int(policyFormatT, uint64(fmtIndex))
		},
		func(s *source) { handle, loadErr = liftLoadResult(s) })
	if err != nil {
		return 0, err
	}
	if loadErr != nil {
		return 0, loadErr
	}
	return handle, nil
}

func (in *instance) dropPolicy(ctx context.Context, handle uint32) error {
	return in.call(ctx, dropPolicyFn, func(s sink) { s.int(u32T, uint64(handle)) }, nil)
}

func (in *instance) classify(ctx context.Context, handle uint32, f *Failure) (Classification, error) {
	var c Classification
	var perr *PolicyError
	args := witClassifyParams{Policy: handle, Failure: witFailureOf(f)}
	err := in.callStore(ctx, classifyFn, args.store,
		func(s *source) { c, perr = liftClassifyResult(s) })
	if err != nil {
		return Classification{}, err
	}
	if perr != nil {
		return Classification{}, perr
	}
	return c, nil
}

// plannerCall runs a retry or alerts export whose result is result<T, policy-error>.
func plannerCall[T any](ctx context.Context, in *instance, f *witFunc, params func(s sink), ok func(*source) T) (T, error) {
	var v T
	var perr *PolicyError
	err := in.call(ctx, f, params, func(s *source) { v, perr = liftResult(s, f.result, ok) })
	if err == nil && perr != nil {
		err = perr
	}
	return v, err
}

// plannerStore is plannerCall for parameters that travel in memory (see callStore).
func plannerStore[T any](ctx context.Context, in *instance, f *witFunc, store func(w *writer, p uint32), ok func(*source) T) (T, error) {
	var v T
	var perr *PolicyError
	err := in.callStore(ctx, f, store, func(s *source) { v, perr = liftResult(s, f.result, ok) })
	if err == nil && perr != nil {
		err = perr
	}
	return v, err
}

func (in *instance) beginAttempt(ctx context.Context, handle uint32, st *RetryState, sh *SharedState, nowMs uint64) (Permit, error) {
	return plannerCall(ctx, in, beginAttemptFn, func(s sink) {
		s.int(u32T, uint64(handle))
		lowerRetryState(s, st)
		lowerSharedState(s, sh)
		s.int(u64T, nowMs)
	}, liftPermit)
}

func (in *instance) afterFailure(ctx context.Context, handle uint32, st *RetryState, sh *SharedState, o *attemptOutcome, nowMs uint64) (Decision, error) {
	args := witAfterFailureParams{
		Policy:  handle,
		State:   witRetryState(*st),
		Shared:  witSharedStateOf(sh),
		Outcome: witAttemptFailureOf(&o.failure, o.durationMs, o.pushbackMs),
		NowMs:   nowMs,
	}
	return plannerStore(ctx, in, afterFailureFn, args.store, liftDecision)
}

func (in *instance) planFailures(ctx context.Context, handle uint32, st *RetryState, sh *SharedState, o *attemptOutcome, nowMs uint64, maxEntries uint32) ([]PlannedFailure, error) {
	args := witPlanFailuresParams{
		Policy:     handle,
		State:      witRetryState(*st),
		Shared:     witSharedStateOf(sh),
		Outcome:    witAttemptFailureOf(&o.failure, o.durationMs, o.pushbackMs),
		NowMs:      nowMs,
		MaxEntries: maxEntries,
	}
	return plannerStore(ctx, in, planFailuresFn, args.store, liftPlannedFailures)
}

func (in *instance) afterSuccess(ctx context.Context, handle uint32, sh *SharedState) (SharedState, error) {
	return plannerCall(ctx, in, afterSuccessFn, func(s sink) {
		s.int(u32T, uint64(handle))
		lowerSharedState(s, sh)
	}, liftSharedState)
}

func (in *instance) planSchedule(ctx context.Context, handle uint32, seed uint64, maxEntries uint32) (Schedule, error) {
	return plannerCall(ctx, in, planScheduleFn, func(s sink) {
		s.int(u32T, uint64(handle))
		s.int(u64T, seed)
		s.int(u32T, uint64(maxEntries))
	}, liftSchedule)
}

func (in *instance) deriveSeed(ctx context.Context, key string) (uint64, error) {
	var seed uint64
	err := in.call(ctx, deriveSeedFn, func(s sink) { s.string(key) }, func(s *source) { seed = s.u64() })
	return seed, err
}

func (in *instance) evaluate(ctx context.Context, handle uint32, state string, e *Event, kind uint32, labels []label, nowMs uint64) (Evaluation, error) {
	var room eventRoom
	args := witEvaluateParams{Policy: handle, State: state, Event: witEventIn(e, kind, labels, &room), NowMs: nowMs}
	return plannerStore(ctx, in, evaluateFn, args.store, liftEvaluation)
}

func (in *instance) alertStateKeys(ctx context.Context, handle uint32, e *Event, kind uint32, labels []label) (NeededKeys, error) {
	var room eventRoom
	args := witAlertStateKeysParams{Policy: handle, Event: witEventIn(e, kind, labels, &room)}
	return plannerStore(ctx, in, alertStateKeysFn, args.store, liftNeededKeys)
}

func (in *instance) evaluateKeyed(ctx context.Context, handle uint32, states []KeyedState, e *Event, kind uint32, labels []label, nowMs uint64) (KeyedEvaluation, error) {
	w := make([]witKeyedState, len(states))
	for i, st := range states {
		w[i] = witKeyedState{Key: st.Key, State: st.State, NextWakeupMs: st.NextWakeupMs}
	}
	var room eventRoom
	params := witEvaluateKeyedParams{Policy: handle, States: w, Event: witEventIn(e, kind, labels, &room), NowMs: nowMs}
	return plannerStore(ctx, in, evaluateKeyedFn, params.store, liftKeyedEvaluation)
}

func (in *instance) sinks(ctx context.Context, handle uint32) (alertSinks, error) {
	params := witSinksParams{Policy: handle}
	return plannerCall(ctx, in, sinksFn, params.lower, liftSinks)
}

// scheduleDrop asks the instance to drop p's handle when next used.
func (in *instance) scheduleDrop(p *Policy) {
	in.mu.Lock()
	in.drops = append(in.drops, p)
	in.mu.Unlock()
}

// flushDrops drops the handles of policies closed since the last use.
func (in *instance) flushDrops(ctx context.Context) error {
	in.mu.Lock()
	drops := in.drops
	in.drops = nil
	in.mu.Unlock()
	for _, p := range drops {
		h, ok := in.handles[p]
		if !ok {
			continue
		}
		delete(in.handles, p)
		if err := in.dropPolicy(ctx, h); err != nil {
			return err
		}
	}
	return nil
}
