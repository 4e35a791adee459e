#!/usr/bin/env bash
# Every host's benchmarks back to back in one run, so the numbers share one
# machine state: the Rust criterion bench (native core vs wasmtime, and the CLI
# cold start), the Go (wazero), Node (jco) and Python (wasmtime-py) benches,
# and the peer section: each host's retry helper next to the library its users
# would otherwise pick (Node: p-retry, cockatiel; Go: cenkalti/backoff v4, v5;
# Python: tenacity; Rust: backon), with each ratio printed next to its goal
# (issue #14).
# Results are printed and kept under target/bench-results/<timestamp>/.
# docs/BENCHMARKS.md explains what each case measures and how they compare.
#
#   tests/bench.sh                 # everything, ~5-10 minutes on 2 cores
#   BENCH_ONLY="rust go" tests/bench.sh
#   BENCH_ONLY=peers tests/bench.sh   # the peer section alone (PEER_ROUNDS=7)
#   BENCH_ONLY=alerts tests/bench.sh  # alert scaling (60/600/6,000 steps, one
#                                     # document (to 600 steps unless
#                                     # ALERT_WHOLE_MAX_STEPS) vs keyed shards) and `alerts
#                                     # simulate` peak RSS for 10k/100k/1M events
#   BENCH_ONLY=run tests/bench.sh     # `backstop run -- true` against `true`, also
#                                     # on a state holding 36,000 runs (RUN_ROUNDS=100)
#   CRITERION_ARGS="--warm-up-time 3 --measurement-time 10" tests/bench.sh
#
# Needs: cargo, go, node (20+) with npm, python3 with venv. Installs the Node
# dev dependencies (npm ci) and the Python package into python/.venv when
# missing; refreshes the venv's backstop-policy from python/ so it benches the
# checked-out source.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

only="${BENCH_ONLY:-rust go node python peers alerts run}"
criterion_args="${CRITERION_ARGS:---warm-up-time 1 --measurement-time 3}"
out="$root/target/bench-results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
failed=()

section() { printf '\n==== %s ====\n' "$*"; }
wants() { [[ " $only " == *" $1 "* ]]; }

section "machine"
{
    echo "date:  $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "nproc: $(nproc)"
    echo "cpu:   $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "load before: $(uptime)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (dirty tree)')"
    echo "rustc: $(rustc --version 2>/dev/null)"
    echo "go:    $(go version 2>/dev/null)"
    echo "node:  $(node --version 2>/dev/null)"
} | tee "$out/machine.txt"

run() { # name, then the command; output to the terminal and to $out/name.txt
    local name="$1"; shift
    local start=$SECONDS
    "$@" 2>&1 | tee "$out/$name.txt"
    local rc=${PIPESTATUS[0]}
    echo "[$name: exit $rc, $((SECONDS - start)) s]"
    [ "$rc" -eq 0 ] || failed+=("$name")
}

if wants rust; then
    section "Rust: criterion, native core vs wasmtime host, CLI cold start ($criterion_args)"
    # shellcheck disable=SC2086
    run rust cargo bench --workspace --bench decisions -- $criterion_args
    # Criterion's point estimates (median of the samples), one line per case.
    section "Rust summary (criterion median)"
    python3 - "$root/target/criterion" <<'EOF' | tee "$out/rust-summary.txt"
import json, pathlib, sys
base = pathlib.Path(sys.argv[1])
for est in sorted(base.glob("**/new/estimates.json")):
    bench = json.loads((est.parent / "benchmark.json").read_text())
    if not bench["group_id"].startswith(("classify/", "plan/", "alerts/", "tail-50/", "cli-cold-start")):
        continue
    m = json.loads(est.read_text())["median"]["point_estimate"]
    unit = f"{m:10.1f} ns" if m < 1e5 else f"{m / 1e6:10.2f} ms"
    print(f"{bench['group_id'] + '/' + bench['function_id']:45} {unit}")
EOF
fi

if wants go; then
    section "Go: wazero host (go test -bench . -benchmem)"
    run go bash -c 'cd go && go test -run "^$" -bench . -benchmem'
fi

if wants node; then
    section "Node: jco host (npm run bench)"
    if [ ! -d node/node_modules ]; then
        (cd node && npm ci --no-audit --no-fund --loglevel=error)
    fi
    run node bash -c 'cd node && npm run --silent bench'
fi

if wants python; then
    section "Python: wasmtime-py host"
    if [ ! -x python/.venv/bin/python ]; then
        "${PYTHON:-python3}" -m venv python/.venv
        python/.venv/bin/python -m pip install --quiet --disable-pip-version-check \
            -r python/requirements-test.txt
    fi
    python/.venv/bin/python -m pip install --quiet --disable-pip-version-check ./python
    run python-classify python/.venv/bin/python python/bench_classify.py
    run python-planner python/.venv/bin/python python/bench_planner.py
    run python-tail python/.venv/bin/python python/bench_tail.py

    # The Python peers (tenacity) run in the peer section below.
fi

if wants peers; then
    # Interleaved rounds, medians: the cases share the machine's state even
    # when its load changes during the run.
    rounds="${PEER_ROUNDS:-7}"
    section "Peers, Go: Do vs cenkalti/backoff v4 and v5 ($rounds rounds)"
    # A module of its own (go/internal/peerbench), so backoff never enters
    # the library's go.mod; the test binary is built once, then run per round.
    go_peers() {
        (cd go/internal/peerbench && go test -c -o "$out/peerbench.test" .) || return 1
        for _ in $(seq "$rounds"); do
            (cd go/internal/peerbench && "$out/peerbench.test" -test.run '^$' -test.bench . \
                -test.benchmem -test.benchtime 0.3s) || return 1
        done | tee "$out/go-peers-raw.txt" | grep '^Benchmark' | python3 "$root/tests/bench/go-peer-ratios.py"
        return "${PIPESTATUS[0]}"
    }
    run go-peers go_peers
    section "Peers, Node: retry() vs p-retry and cockatiel ($rounds rounds)"
    if [ ! -d node/node_modules ]; then
        (cd node && npm ci --no-audit --no-fund --loglevel=error)
    fi
    run node-peers bash -c 'cd node && ROUNDS="$1" node bench/peers.bench.js' _ "$rounds"
    section "Peers, Python: @retry, Retrying, async @retry vs tenacity"
    # The peer lives in the bench's own venv, never in the test venv.
    if [ ! -x python/.venv-bench/bin/python ]; then
        "${PYTHON:-python3}" -m venv python/.venv-bench
    fi
    python/.venv-bench/bin/python -m pip install --quiet --disable-pip-version-check \
        -r python/requirements-bench.txt ./python
    run python-peers python/.venv-bench/bin/python python/bench_peers.py
    section "Peers, Rust: retrying vs backon ($rounds rounds)"
    # host/benches/peers.rs: interleaved rounds in one process, medians.
    run rust-peers env ROUNDS="$rounds" cargo bench --workspace --bench peers
fi

if wants alerts; then
    # One release CLI; histories from tests/bench/alert-history.py. Wall time
    # per event of `alerts simulate --json` over a history whose state grows
    # to N steps, the whole document (`--whole-state`, the old way) next to
    # keyed shards, in the same run; then peak RSS (/usr/bin/time -v) of the
    # keyed, streaming replay for 10k / 100k / 1M events at 6,000 steps.
    alerts_bench() {
        cargo build --workspace --release --bin backstop --quiet || return 1
        local bin="${CARGO_TARGET_DIR:-$root/target}/release/backstop"
        local policy="$root/examples/nightly-alerts.toml" h="$out/history.jsonl"
        local whole_events="${ALERT_WHOLE_EVENTS:-2000}"
        printf '%-7s %-8s %-22s %-22s %s\n' steps events "one document ms/event" "keyed ms/event" ratio
        for steps in 60 600 6000; do
            # Enough events for every step to hold state, and at least 2,000.
            local events=$(( steps * 2 > whole_events ? steps * 2 : whole_events ))
            python3 "$root/tests/bench/alert-history.py" "$steps" "$events" "$h" || return 1
            local t0 t1 t2
            t0=$(date +%s%N)
            # The whole document at 6,000 steps costs ~0.1 s an event: 20 minutes
            # for the 12,000 events; ALERT_WHOLE_MAX_STEPS=6000 runs it anyway.
            if [ "$steps" -le "${ALERT_WHOLE_MAX_STEPS:-600}" ]; then
                "$bin" alerts simulate --policy "$policy" --history "$h" --json --whole-state >/dev/null || return 1
                t1=$(date +%s%N)
            else
                t1=$t0
            fi
            "$bin" alerts simulate --policy "$policy" --history "$h" --json >/dev/null || return 1
            t2=$(date +%s%N)
            python3 - "$steps" "$events" "$t0" "$t1" "$t2" <<'PY'
import sys
steps, events, t0, t1, t2 = map(int, sys.argv[1:])
whole, keyed = (t1 - t0) / 1e6 / events, (t2 - t1) / 1e6 / events
if t1 == t0:  # skipped (ALERT_WHOLE_MAX_STEPS)
    print(f"{steps:<7} {events:<8} {'(skipped)':<22} {keyed:<22.3f} -")
else:
    print(f"{steps:<7} {events:<8} {whole:<22.3f} {keyed:<22.3f} {whole / keyed:.1f}x")
PY
        done
        echo
        printf '%-9s %-14s %-12s %s\n' events "peak RSS MiB" "events/s" "(keyed, --json, 6,000 steps)"
        for events in 10000 100000 1000000; do
            python3 "$root/tests/bench/alert-history.py" 6000 "$events" "$h" || return 1
            local t0 t1
            t0=$(date +%s%N)
            /usr/bin/time -v "$bin" alerts simulate --policy "$policy" --history "$h" --json \
                >/dev/null 2>"$out/time-$events.txt" || return 1
            t1=$(date +%s%N)
            python3 - "$events" "$t0" "$t1" "$out/time-$events.txt" <<'PY'
import re, sys
events, t0, t1, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(path).read()).group(1))
print(f"{events:<9} {rss / 1024:<14.1f} {events / ((t1 - t0) / 1e9):<12.0f}")
PY
        done
        rm -f "$h"
    }
    section "Alerts: evaluation cost vs steps, and simulate memory vs events"
    run alerts alerts_bench
fi

if wants run; then
    run_bench() {
        cargo build --workspace --release --bin backstop --quiet || return 1
        python3 "$root/tests/bench/run-overhead.py" "${CARGO_TARGET_DIR:-$root/target}/release/backstop" \
            --rounds "${RUN_ROUNDS:-100}" --recorded 36000
    }
    section "backstop run -- true against true (whole processes)"
    run run run_bench
fi

section "done"
echo "load after: $(uptime)" | tee -a "$out/machine.txt"
echo "results in $out"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "FAILED: ${failed[*]}" >&2
    exit 1
fi
