#!/usr/bin/env bash
# Cross-language breaker test: a Python, a Go and a Node worker (and the
# backstop CLI, when BACKSTOP_BIN names one with the PostgreSQL backend) call
# one dependency that always fails, at the same time, each with its own
# connection to one PostgreSQL. They share one breaker (the row
# backstop.shared_state['crosslang-dep']), so it opens for all of them after
# `consecutive_failures` failures in total, not per worker:
#   - every worker's last operation is refused or ended with circuit-open;
#   - the attempts of all workers together are at least the threshold and at
#     most threshold + workers - 1 (one attempt per other worker may already be
#     in flight when it opens; unshared breakers would need threshold each);
#   - the stored state says open;
#   - every operation is recorded as a run in the same database (the library
#     workers' recorders, the CLI's own ledger, pipeline "crosslang"), with
#     every attempt, and `backstop stats` (with BACKSTOP_BIN) counts them all.
#
#   tests/postgres/crosslang.sh            # starts and stops its own cluster
#   BACKSTOP_TEST_PG_URL=postgres://... tests/postgres/crosslang.sh
#   BACKSTOP_BIN=target/debug/backstop tests/postgres/crosslang.sh   # + the CLI
#
# Needs python3, Node 20+ and Go; installs the Python and Node dependencies
# (python/.venv, node/node_modules) when they are missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/tests/postgres"
threshold=12
dep=crosslang-dep

py="$root/python/.venv/bin/python"
if ! { [ -x "$py" ] && "$py" -c 'import wasmtime, psycopg' 2>/dev/null; }; then
    (cd "$root/python" && { [ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv; } &&
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-test.txt ".[postgres]")
fi
if [ ! -d "$root/node/node_modules/pg" ]; then
    (cd "$root/node" && npm ci --no-audit --no-fund --loglevel=error)
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/backstop-crosslang.XXXXXX")"
cleanup() {
    [ -n "${pids:-}" ] && kill $pids 2>/dev/null || true
    [ -n "${own_cluster:-}" ] && "$here/cluster.sh" stop "$BACKSTOP_TEST_PG_DIR"
    rm -rf "$work"
}
trap cleanup EXIT
if [ -z "${BACKSTOP_TEST_PG_URL:-}" ]; then
    eval "$("$here/cluster.sh" start)"
    own_cluster=1
fi

(cd "$root/go/pgstore" && go build -o "$work/goworker" ./internal/crossworker)

# A database of its own, empty: the first worker to connect creates the schema.
db="crosslang_$$_$(date +%s)"
"$py" -c 'import psycopg, sys; psycopg.connect(sys.argv[1], autocommit=True).execute(f"CREATE DATABASE \"{sys.argv[2]}\"")' \
    "$BACKSTOP_TEST_PG_URL" "$db"
url="${BACKSTOP_TEST_PG_URL%/*}/$db"

cat >"$work/policy.toml" <<TOML
[retry]
max_attempts = 3
jitter = "none"
base_delay = "5ms"
[retry.circuit_breaker]
consecutive_failures = $threshold
open_for = "60s"
TOML

args() { echo "$url" "$dep" "$work/policy.toml" "$work/ready.$1" "$work/go" "$work/out.$1"; }
pids=""
PYTHONPATH="$root/python/src" "$py" "$here/worker.py" $(args python) & pids="$pids $!"
node "$here/worker.mjs" $(args node) & pids="$pids $!"
"$work/goworker" $(args go) & pids="$pids $!"
workers="python node go"
if [ -n "${BACKSTOP_BIN:-}" ]; then
    # The CLI: one `backstop run` per operation (a new run id each), its
    # command failing; exit 69 is the breaker refusing the first attempt.
    (
        touch "$work/ready.cli" "$work/cli.attempts"
        while [ ! -e "$work/go" ]; do sleep 0.005; done
        outcomes=""
        for i in $(seq 1 50); do
            status=0
            "$BACKSTOP_BIN" run --state "$url" --step "$dep" --run-id "cli-$i" --pipeline crosslang --policy "$work/policy.toml" \
                -- sh -c 'echo x >>"$1"; exit 1' sh "$work/cli.attempts" >/dev/null 2>>"$work/cli.stderr" || status=$?
            if [ "$status" = 69 ]; then outcomes="$outcomes\"circuit-open\""; break; fi
            outcomes="$outcomes\"exit-$status\","
        done
        printf '{"worker":"cli","attempts":%d,"outcomes":[%s]}' "$(wc -l <"$work/cli.attempts")" "$outcomes" >"$work/out.cli"
    ) & pids="$pids $!"
    workers="$workers cli"
fi

# Start them together once every worker has connected (the engines compile first).
for _ in $(seq 1 3000); do
    ready=1
    for w in $workers; do [ -e "$work/ready.$w" ] || ready=0; done
    [ "$ready" = 1 ] && break
    sleep 0.05
done
touch "$work/go"
failed=0
for pid in $pids; do wait "$pid" || failed=1; done
pids=""
[ "$failed" = 0 ] || { echo "crosslang: a worker failed" >&2; cat "$work"/cli.stderr 2>/dev/null >&2 || true; exit 1; }

"$py" - "$url" "$dep" "$threshold" "$work" "${BACKSTOP_BIN:-}" $workers <<'PY'
import json, subprocess, sys
from pathlib import Path
import psycopg

url, dep, threshold, work, cli, *workers = sys.argv[1:]
threshold = int(threshold)
results = {w: json.loads(Path(work, f"out.{w}").read_text()) for w in workers}
with psycopg.connect(url) as conn:
    state = json.loads(conn.execute("SELECT state FROM backstop.shared_state WHERE step = %s", (dep,)).fetchone()[0])
    recorded = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE r.status = 'failed'), "
        "(SELECT count(*) FROM backstop.attempts a WHERE a.step = %s) FROM backstop.runs r "
        "JOIN backstop.run_pipelines p USING (run_id, step) WHERE r.step = %s AND p.pipeline = 'crosslang'",
        (dep, dep)).fetchone()
operations = sum(len(r["outcomes"]) for r in results.values())
total = sum(r["attempts"] for r in results.values())
print("crosslang: " + ", ".join(f"{w} {r['attempts']} attempts in {len(r['outcomes'])} operations" for w, r in results.items())
      + f"; {total} in all, breaker threshold {threshold}; stored circuit {state['breaker']['circuit']}")
problems = []
for w, r in results.items():
    if not r["outcomes"] or r["outcomes"][-1] != "circuit-open":
        problems.append(f"{w} never saw the circuit open: {r['outcomes']}")
if not threshold <= total <= threshold + len(workers) - 1:
    problems.append(f"{total} attempts in all; a shared breaker allows {threshold}..{threshold + len(workers) - 1}")
if state["breaker"]["circuit"] != "open":
    problems.append(f"the stored breaker is {state['breaker']['circuit']}, not open")
# Every operation gave up (attempts exhausted, or the circuit open).
if tuple(recorded) != (operations, operations, total):
    problems.append(f"recorded (runs, failed, attempts) {tuple(recorded)}, want {(operations, operations, total)}")
if cli:
    out = json.loads(subprocess.run([cli, "stats", "--json", "--state", url], check=True,
                                    capture_output=True, text=True).stdout)
    steps = {s["step"]: s for s in out["steps"]}
    got = steps.get(dep, {})
    if (got.get("runs"), got.get("failed"), got.get("attempts")) != (operations, operations, total):
        problems.append(f"backstop stats counts {got}, want runs {operations}, failed {operations}, attempts {total}")
    print(f"crosslang: backstop stats: {got.get('runs')} runs, {got.get('attempts')} attempts")
for p in problems:
    print(f"crosslang: FAIL: {p}", file=sys.stderr)
print(f"crosslang: {0 if problems else 1} passed, {1 if problems else 0} failed")
sys.exit(1 if problems else 0)
PY
