// Package peerbench holds benchmarks only: Backstop's Do against
// cenkalti/backoff v4 and v5 on the same work, side by side in one run. It
// is a module of its own so that the backoff modules never enter the
// library's go.mod. Run it with tests/bench.sh (BENCH_ONLY=peers), which
// prints each ratio next to its goal, or directly:
//
//	go test -run '^$' -bench . -benchmem -count 5
package peerbench
