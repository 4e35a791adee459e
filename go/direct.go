package backstop

import (
	"context"
	"encoding/binary"
	"fmt"
)

// The two planner calls Do makes on every successful operation,
// begin-attempt and after-success, bypass the generic glue of abi.go: their
// parameters are flat scalars (15 and 9 core values), written straight onto
// the call stack, and their results are fixed-size records, read from one
// bounds-checked view of the return area at the offsets the generated
// layouts give (wit_gen.go's permitT, sharedStateT, ...). The generic path
// builds sinks, sources and closures per value: 20 allocations per
// begin-attempt. direct_test.go compares both paths value for value.
//
// Only the transport differs: the guest makes every decision, and a guest
// error (the result's err case) is lifted by the generic code.

// Offsets into the return areas, from the generated layouts.
var (
	permitResultOff = resultPermitOrPolicyErrorT.payloadOff
	sharedResultOff = resultSharedStateOrPolicyErrorT.payloadOff

	permitRefusedOff = permitT.offsets[0]
	permitAttemptOff = permitT.offsets[1]
	permitTimeoutOff = permitT.offsets[2]
	permitRetryOff   = permitT.offsets[3]
	permitProbeOff   = permitT.offsets[4]
	permitStateOff   = permitT.offsets[5]
	permitSharedOff  = permitT.offsets[6]
)

// directView reads one return area: every load is inside the bounds-checked
// view, and an unknown discriminant is an ABI violation, as in abi.go.
type directView struct {
	b   []byte
	err error
}

func (v *directView) u8(off uint32) uint8   { return v.b[off] }
func (v *directView) u32(off uint32) uint32 { return binary.LittleEndian.Uint32(v.b[off:]) }
func (v *directView) u64(off uint32) uint64 { return binary.LittleEndian.Uint64(v.b[off:]) }

// disc loads a variant's discriminant (all of these are one byte) and checks it.
func (v *directView) disc(off uint32, t *abiType) uint32 {
	c := uint32(v.u8(off))
	if c >= uint32(len(t.cases)) && v.err == nil {
		v.err = fmt.Errorf("%w: discriminant %d at offset %d is not one of %d cases", errABI, c, off, len(t.cases))
		return 0
	}
	return c
}

// optionU64 loads an option<u64> at off.
func (v *directView) optionU64(off uint32) *uint64 {
	if v.disc(off, optionU64T) == 0 {
		return nil
	}
	x := v.u64(off + optionU64T.payloadOff)
	return &x
}

func (v *directView) retryState(off uint32) RetryState {
	o := retryStateT.offsets
	return RetryState{
		Attempts:    v.u32(off + o[0]),
		StartedAtMs: v.optionU64(off + o[1]),
		LastDelayMs: v.u64(off + o[2]),
		Seed:        v.u64(off + o[3]),
	}
}

func (v *directView) sharedState(off uint32) SharedState {
	b, o := off+sharedStateT.offsets[0], breakerStateT.offsets
	return SharedState{
		Breaker: BreakerState{
			Circuit:             circuits[v.disc(b+o[0], circuitT)],
			ConsecutiveFailures: v.u32(b + o[1]),
			RecentOutcomes:      v.u64(b + o[2]),
			RecentCount:         v.u32(b + o[3]),
			OpenedAtMs:          v.u64(b + o[4]),
			ProbesStarted:       v.u32(b + o[5]),
			ProbesSucceeded:     v.u32(b + o[6]),
		},
		Budget: BudgetState{SpentMilli: v.u32(off + sharedStateT.offsets[1] + budgetStateT.offsets[0])},
	}
}

// pushShared writes a shared state's 8 flat values at st[0:8].
func pushShared(st []uint64, sh *SharedState) {
	circuit, _ := indexOf(circuits, sh.Breaker.Circuit) // checkShared accepted it
	b := &sh.Breaker
	st[0] = uint64(circuit)
	st[1] = uint64(b.ConsecutiveFailures)
	st[2] = b.RecentOutcomes
	st[3] = uint64(b.RecentCount)
	st[4] = b.OpenedAtMs
	st[5] = uint64(b.ProbesStarted)
	st[6] = uint64(b.ProbesSucceeded)
	st[7] = uint64(sh.Budget.SpentMilli)
}

// callDirect calls f with the flat parameters already in in.stack, and
// returns a view of the ok payload's return area (at its offset). The
// guest's err case is lifted and returned as its *PolicyError, after the
// post-return function ran; otherwise the caller lifts the payload and then
// calls finishDirect.
func (in *instance) callDirect(ctx context.Context, f *witFunc) (v directView, at, ret uint32, err error) {
	if err := in.exports[f].CallWithStack(ctx, in.stack); err != nil {
		return v, 0, 0, newFault(ctx, f.name, err)
	}
	ret = uint32(in.stack[0])
	b, ok := in.mem.Read(ret, f.result.size)
	switch {
	case ret%f.result.align != 0:
		return v, 0, 0, newFault(ctx, f.name, fmt.Errorf("%w: return area %#x is not aligned to %d", errABI, ret, f.result.align))
	case !ok:
		return v, 0, 0, newFault(ctx, f.name, fmt.Errorf("%w: return area of %d bytes at %#x is out of bounds", errABI, f.result.size, ret))
	}
	v.b = b
	if v.disc(0, f.result) == 0 {
		return v, f.result.payloadOff, ret, v.err
	}
	r := &in.r
	r.err = nil
	perr := liftPolicyError(r.at(ret + f.result.payloadOff))
	v.err = r.err
	if err := in.finishDirect(ctx, f, ret, &v); err != nil {
		return v, 0, 0, err
	}
	return v, 0, 0, perr
}

// finishDirect reports an ABI violation met while lifting, or runs the
// post-return function.
func (in *instance) finishDirect(ctx context.Context, f *witFunc, ret uint32, v *directView) error {
	if v.err != nil {
		return newFault(ctx, f.name, v.err)
	}
	if post := in.posts[f]; post != nil {
		in.stack[0] = uint64(ret)
		if err := post.CallWithStack(ctx, in.stack); err != nil {
			return newFault(ctx, f.name, err)
		}
	}
	return nil
}

// beginAttemptDirect is beginAttempt without the generic glue.
func (in *instance) beginAttemptDirect(ctx context.Context, handle uint32, st *RetryState, sh *SharedState, nowMs uint64) (Permit, error) {
	s := in.stack[:15]
	s[0] = uint64(handle)
	s[1] = uint64(st.Attempts)
	if st.StartedAtMs != nil {
		s[2], s[3] = 1, *st.StartedAtMs
	} else {
		s[2], s[3] = 0, 0
	}
	s[4] = st.LastDelayMs
	s[5] = st.Seed
	pushShared(s[6:14], sh)
	s[14] = nowMs
	v, at, ret, err := in.callDirect(ctx, beginAttemptFn)
	if err != nil {
		return Permit{}, err
	}
	var p Permit
	if v.disc(at+permitRefusedOff, optionGiveUpReasonT) == 1 {
		p.Refused = giveUpReasons[v.disc(at+permitRefusedOff+optionGiveUpReasonT.payloadOff, giveUpReasonT)]
	}
	p.Attempt = v.u32(at + permitAttemptOff)
	p.TimeoutMs = v.optionU64(at + permitTimeoutOff)
	p.RetryAfterMs = v.u64(at + permitRetryOff)
	p.Probe = v.u8(at+permitProbeOff) != 0
	p.State = v.retryState(at + permitStateOff)
	p.Shared = v.sharedState(at + permitSharedOff)
	if err := in.finishDirect(ctx, beginAttemptFn, ret, &v); err != nil {
		return Permit{}, err
	}
	return p, nil
}

// afterSuccessDirect is afterSuccess without the generic glue.
func (in *instance) afterSuccessDirect(ctx context.Context, handle uint32, sh *SharedState) (SharedState, error) {
	s := in.stack[:9]
	s[0] = uint64(handle)
	pushShared(s[1:9], sh)
	v, at, ret, err := in.callDirect(ctx, afterSuccessFn)
	if err != nil {
		return SharedState{}, err
	}
	out := v.sharedState(at)
	if err := in.finishDirect(ctx, afterSuccessFn, ret, &v); err != nil {
		return SharedState{}, err
	}
	return out, nil
}
