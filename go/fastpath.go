package backstop

import (
	"context"
	"sync/atomic"
)

// fastPath is the guest's answer to fast-path-for for one shared state: what
// BeginAttempt on a fresh state and AfterSuccess may skip for it. It is a
// pure function of the policy and the state, so it is kept (never derived).
type fastPath struct {
	shared                SharedState
	successRecordsNothing bool
	freshPermit           *Permit
}

// policyFast holds a Policy's known fast paths: the all-zero shared state's
// (every new dependency's) and the last steady state's (one a success left
// unchanged). Both are immutable once stored.
type policyFast struct {
	zero atomic.Pointer[fastPath]
	last atomic.Pointer[fastPath]
}

// known returns the fast path known for sh, or nil.
func (f *policyFast) known(sh *SharedState) *fastPath {
	if *sh == (SharedState{}) {
		return f.zero.Load()
	}
	if fp := f.last.Load(); fp != nil && fp.shared == *sh {
		return fp
	}
	return nil
}

func (p *Policy) fastPathFor(ctx context.Context, sh *SharedState) (*fastPath, error) {
	var w witFastPath
	err := p.run(ctx, func(inst *instance, h uint32) (err error) {
		w, err = plannerCall(ctx, inst, fastPathForFn, func(s sink) {
			s.int(u32T, uint64(h))
			lowerSharedState(s, sh)
		}, liftWitFastPath)
		return err
	})
	if err != nil {
		return nil, err
	}
	fp := &fastPath{shared: *sh, successRecordsNothing: w.SuccessRecordsNothing}
	if w.FreshPermit != nil {
		permit := permitOf(w.FreshPermit)
		fp.freshPermit = &permit
	}
	return fp, nil
}

// freshPermit is the guest's permit for a fresh state against sh when it
// gave one (asking once per policy for the all-zero state), filled in with
// the clock and the seed as the guest's answer says; ok is false otherwise.
func (p *Policy) freshPermit(ctx context.Context, state *RetryState, sh *SharedState, nowMs uint64) (Permit, bool, error) {
	if *state != (RetryState{Seed: state.Seed}) {
		return Permit{}, false, nil
	}
	fp := p.fast.known(sh)
	if fp == nil && *sh == (SharedState{}) {
		var err error
		if fp, err = p.fastPathFor(ctx, sh); err != nil {
			return Permit{}, false, err
		}
		p.fast.zero.Store(fp)
	}
	if fp == nil || fp.freshPermit == nil {
		return Permit{}, false, nil
	}
	permit := *fp.freshPermit
	if permit.TimeoutMs != nil {
		t := *permit.TimeoutMs // the caller's own copy
		permit.TimeoutMs = &t
	}
	permit.State.StartedAtMs = &nowMs
	permit.State.Seed = state.Seed
	return permit, true, nil
}
