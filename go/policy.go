package backstop

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// Policy is a loaded, validated policy. It is safe for concurrent use.
type Policy struct {
	engine *Engine
	source string
	format Format
	closed atomic.Bool
	// retryShared is Do's default SharedStore: one breaker and budget per
	// policy, shared by every Do with it.
	retryShared MemoryStore
	// fast holds the guest's fast-path answers (see fastpath.go).
	fast policyFast
}

// handleOn returns p's handle in inst, loading p into inst on first use.
// The caller holds inst.
func (p *Policy) handleOn(ctx context.Context, inst *instance) (uint32, error) {
	if h, ok := inst.handles[p]; ok {
		return h, nil
	}
	h, err := inst.loadPolicy(ctx, p.source, p.format)
	if err != nil {
		return 0, err
	}
	inst.handles[p] = h
	if p.closed.Load() {
		// Close ran while this instance was being created, so its sweep
		// missed it: drop the copy on the instance's next use.
		inst.scheduleDrop(p)
	}
	return h, nil
}

// Classify classifies one failure. A failure the classifier cannot
// interpret (say, an unknown signal name) gives a *PolicyError with code
// CodeInvalidFailure.
func (p *Policy) Classify(ctx context.Context, f Failure) (Classification, error) {
	if p.closed.Load() {
		return Classification{}, ErrClosed
	}
	if err := checkFailure(&f); err != nil {
		return Classification{}, err
	}
	inst, err := p.engine.acquire(ctx)
	if err != nil {
		return Classification{}, err
	}
	h, err := p.handleOn(ctx, inst)
	var c Classification
	if err == nil {
		c, err = inst.classify(ctx, h, &f)
	}
	p.engine.release(inst, err)
	return c, err
}

// ClassifyError classifies a Go error, described by FailureFromError.
func (p *Policy) ClassifyError(ctx context.Context, err error) (Classification, error) {
	if err == nil {
		return Classification{}, errNilError
	}
	return p.Classify(ctx, FailureFromError(err))
}

// Close releases the policy. Each instance drops its copy the next time it
// is used; calls on a closed Policy return ErrClosed.
func (p *Policy) Close(ctx context.Context) error {
	if p.closed.Swap(true) {
		return nil
	}
	e := p.engine
	e.mu.Lock()
	defer e.mu.Unlock()
	for inst := range e.live {
		inst.scheduleDrop(p)
	}
	return nil
}

// checkFailure rejects integers that do not fit the WIT's types (with the
// guest's wording for an HTTP status) and repairs invalid UTF-8 in place,
// since the guest trusts strings to be valid. f is the caller's copy.
func checkFailure(f *Failure) error {
	if f.HTTPStatus != nil && (*f.HTTPStatus < 0 || *f.HTTPStatus > math.MaxUint16) {
		return &PolicyError{
			Code:    CodeInvalidFailure,
			Path:    "failure.http_status",
			Message: fmt.Sprintf("%d is not an HTTP status code (100-599)", *f.HTTPStatus),
		}
	}
	if f.ExitCode != nil && (*f.ExitCode < math.MinInt32 || *f.ExitCode > math.MaxInt32) {
		return &PolicyError{
			Code:    CodeInvalidFailure,
			Path:    "failure.exit_code",
			Message: fmt.Sprintf("%d is not a 32-bit exit code", *f.ExitCode),
		}
	}
	for _, s := range []**string{&f.GRPCCode, &f.Signal, &f.ErrorCode, &f.Message} {
		if *s != nil && !utf8.ValidString(**s) {
			v := strings.ToValidUTF8(**s, "\uFFFD")
			*s = &v
		}
	}
	f.ErrorTypes = validStrings(f.ErrorTypes)
	f.ErrorBases = validStrings(f.ErrorBases)
	return nil
}

// validStrings repairs invalid UTF-8 in a copy; the caller's slice is never modified.
func validStrings(list []string) []string {
	copied := false
	for i, t := range list {
		if !utf8.ValidString(t) {
			if !copied {
				list = append([]string(nil), list...)
				copied = true
			}
			list[i] = strings.ToValidUTF8(t, "\uFFFD")
		}
	}
	return list
}
