package backstop

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

// viewReader reads m as instance.call does: through one view of all of it.
func viewReader(m fakeMem) *reader { return &reader{mem: m, buf: m} }

// A discriminant error names where it was found.
func TestLiftDiscriminantErrorNamesTheAddress(t *testing.T) {
	m := make(fakeMem, 64)
	m[16] = 1 // option<give-up-reason>: some
	m[17] = 9 // not one of 6 reasons
	r := viewReader(m)
	liftWitOptionGiveUpReason(&source{r: r, ptr: 16})
	if r.err == nil || r.err.Error() != "canonical ABI violation: discriminant 9 at 0x11 is not one of 6 cases" {
		t.Errorf("got %v", r.err)
	}
}

// plan-failures' entries lowered by the glue lift back unchanged, through
// the memory interface and through a view, and a hostile length fails.
func TestPlannedFailuresRoundTrip(t *testing.T) {
	timeout, started := uint64(250), uint64(1000)
	reason := witGiveUpReason(1)
	rule := "rate-limited"
	entries := []witPlannedFailure{
		{
			Decision: witDecision{
				DelayMs: 100, Attempt: 2, NextTimeoutMs: &timeout,
				Classification: witClassification{Class: 0, Rule: &rule, Reason: "429"},
				Explanation:    "retry in 100ms",
				State:          witRetryState{Attempts: 2, StartedAtMs: &started, LastDelayMs: 100, Seed: 7},
				Shared:         witSharedState{Breaker: witBreakerState{Circuit: 1, ConsecutiveFailures: 3, RecentOutcomes: 0b101, OpenedAtMs: 9}, Budget: witBudgetState{SpentMilli: 1500}},
			},
			NextPermit: &witPermit{Attempt: 3, TimeoutMs: &timeout, RetryAfterMs: 100, Probe: true,
				State: witRetryState{Attempts: 2, StartedAtMs: &started}},
		},
		{Decision: witDecision{GiveUp: &reason, Attempt: 3, Explanation: "attempts exhausted"}},
	}
	b := newBump(8192)
	w := b.writer()
	p := w.allocate(listPlannedFailureT.size, listPlannedFailureT.align)
	lowerWitListPlannedFailure(&memSink{w: w, ptr: p}, entries)
	if w.err != nil {
		t.Fatal(w.err)
	}
	var want []PlannedFailure
	for i := range entries {
		e := PlannedFailure{Decision: decisionOf(&entries[i].Decision)}
		if np := entries[i].NextPermit; np != nil {
			e.NextPermit = new(permitOf(np))
		}
		want = append(want, e)
	}
	for _, r := range []*reader{{mem: b.mem}, viewReader(b.mem)} {
		got := liftPlannedFailures(&source{r: r, ptr: p})
		if r.err != nil {
			t.Fatal(r.err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
		if g := liftWitListPlannedFailure(&source{r: r, ptr: p}); !reflect.DeepEqual(g, entries) {
			t.Errorf("generated lift: got %+v\nwant %+v", g, entries)
		}
	}

	binary.LittleEndian.PutUint32(b.mem[p+4:], 1000) // 1000 entries do not fit
	r := viewReader(b.mem)
	liftPlannedFailures(&source{r: r, ptr: p})
	if !errors.Is(r.err, errABI) {
		t.Errorf("got %v, want an ABI error", r.err)
	}
}

// An empty list lifts as an empty, non-nil slice.
func TestLiftEmptyListIsNotNil(t *testing.T) {
	m := make(fakeMem, 16)
	binary.LittleEndian.PutUint32(m, 4)
	if got := liftWitListString(&source{r: viewReader(m)}); got == nil || len(got) != 0 {
		t.Errorf("got %#v", got)
	}
}

// Interned strings are still copied out, checked and bounded.
func TestLiftInternsShortStrings(t *testing.T) {
	m := make(fakeMem, 64)
	putStr(m, 0, 32, "rule-a")
	r := viewReader(m)
	a, b := r.string(m[0:8]), r.string(m[0:8])
	copy(m[32:], "rule-b")
	if a != "rule-a" || b != "rule-a" || r.string(m[0:8]) != "rule-b" || r.err != nil {
		t.Errorf("got %q %q (%v)", a, b, r.err)
	}
	putStr(m, 8, 48, "\xff")
	if r.string(m[8:16]); !errors.Is(r.err, errABI) {
		t.Errorf("invalid UTF-8: got %v", r.err)
	}
	r = viewReader(m)
	for i := range internMax + 10 {
		binary.LittleEndian.PutUint32(m[16:], uint32(i%64))
		binary.LittleEndian.PutUint32(m[20:], 0)
		r.string(m[16:24])
		putStr(m, 24, 0, string(rune('a'+i%26))+string(rune('a'+i/26)))
		r.string(m[24:32])
	}
	if len(r.strs) > internMax {
		t.Errorf("%d interned strings", len(r.strs))
	}
}
