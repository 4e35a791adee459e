#!/usr/bin/env bash
# Cross-language recording into one SQLite state file: a Python, a Node and a
# Go worker (and the backstop CLI, when BACKSTOP_BIN names one) run N
# operations each at the same time, every operation failing once and then
# succeeding, all recorded into the same file (each with its own SQLite: the
# stdlib's sqlite3, better-sqlite3, ncruces/go-sqlite3, the CLI's rusqlite).
#   - no worker lost a run (a lost run is a warning);
#   - the file passes PRAGMA integrity_check and holds every operation as a
#     succeeded run with both attempts, under pipeline "crosslang";
#   - `backstop stats` (with BACKSTOP_BIN) counts them all.
#
#   tests/sqlite/crosslang.sh
#   BACKSTOP_BIN=target/debug/backstop tests/sqlite/crosslang.sh   # + the CLI
#
# Needs python3, Node 20+ and Go; installs the Python and Node dependencies
# (python/.venv, node/node_modules) when they are missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/tests/sqlite"
n=25
step=crosslang-step

py="$root/python/.venv/bin/python"
if ! { [ -x "$py" ] && "$py" -c 'import wasmtime' 2>/dev/null; }; then
    (cd "$root/python" && { [ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv; } &&
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-test.txt ".[postgres]")
fi
if [ ! -d "$root/node/node_modules/better-sqlite3" ]; then
    (cd "$root/node" && npm ci --no-audit --no-fund --loglevel=error)
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/backstop-sqlite-crosslang.XXXXXX")"
cleanup() {
    [ -n "${pids:-}" ] && kill $pids 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

(cd "$root/go/sqlitestore" && go build -o "$work/goworker" ./internal/crossworker)
state="$work/state/backstop.db"

cat >"$work/policy.toml" <<TOML
[retry]
max_attempts = 3
jitter = "none"
base_delay = "1ms"
TOML

args() { echo "$state" "$work/policy.toml" "$work/ready.$1" "$work/go" "$work/out.$1" "$n"; }
pids=""
PYTHONPATH="$root/python/src" "$py" "$here/worker.py" $(args python) & pids="$pids $!"
node "$here/worker.mjs" $(args node) & pids="$pids $!"
"$work/goworker" $(args go) & pids="$pids $!"
workers="python node go"
if [ -n "${BACKSTOP_BIN:-}" ]; then
    # The CLI: one `backstop run` per operation, its command failing once.
    (
        touch "$work/ready.cli"
        while [ ! -e "$work/go" ]; do sleep 0.005; done
        for i in $(seq 1 "$n"); do
            "$BACKSTOP_BIN" run --state "$state" --step "$step" --run-id "cli-$i" --pipeline crosslang \
                --policy "$work/policy.toml" -- sh -c '[ -e "$1" ] || { touch "$1"; exit 1; }' sh "$work/cli.$i" \
                >/dev/null 2>>"$work/cli.stderr"
        done
        printf '{"worker":"cli","operations":%d,"attempts":%d,"lost":0}' "$n" "$((2 * n))" >"$work/out.cli"
    ) & pids="$pids $!"
    workers="$workers cli"
fi

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
[ "$failed" = 0 ] || { echo "sqlite crosslang: a worker failed" >&2; cat "$work"/cli.stderr 2>/dev/null >&2 || true; exit 1; }

"$py" - "$state" "$step" "$work" "${BACKSTOP_BIN:-}" $workers <<'PY'
import json, sqlite3, subprocess, sys
from pathlib import Path

state, step, work, cli, *workers = sys.argv[1:]
results = {w: json.loads(Path(work, f"out.{w}").read_text()) for w in workers}
operations = sum(r["operations"] for r in results.values())
attempts = sum(r["attempts"] for r in results.values())
db = sqlite3.connect(state)
recorded = db.execute(
    "SELECT count(*), count(*) FILTER (WHERE r.status = 'succeeded'), "
    "(SELECT count(*) FROM attempts a WHERE a.step = ?) FROM runs r "
    "JOIN run_pipelines p USING (run_id, step) WHERE r.step = ? AND p.pipeline = 'crosslang'",
    (step, step)).fetchone()
per_worker = dict(db.execute("SELECT substr(run_id, 1, instr(run_id, '-') - 1), count(*) FROM runs GROUP BY 1"))
integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
db.close()
print("sqlite crosslang: " + ", ".join(f"{w} {r['operations']} operations, {r['attempts']} attempts, "
                                       f"{per_worker.get(w, 0)} recorded" for w, r in results.items()))
problems = [] if integrity == "ok" else [f"integrity_check: {integrity}"]
for w, r in results.items():
    if r["lost"]:
        problems.append(f"{w} lost {r['lost']} runs")
if tuple(recorded) != (operations, operations, attempts):
    problems.append(f"recorded (runs, succeeded, attempts) {tuple(recorded)}, want {(operations, operations, attempts)}")
if cli:
    out = json.loads(subprocess.run([cli, "stats", "--json", "--state", state], check=True,
                                    capture_output=True, text=True).stdout)
    got = {s["step"]: s for s in out["steps"]}.get(step, {})
    want = {"runs": operations, "succeeded": operations, "attempts": attempts, "retries": attempts - operations}
    if {k: got.get(k) for k in want} != want:
        problems.append(f"backstop stats counts {got}, want {want}")
    print(f"sqlite crosslang: backstop stats: {got.get('runs')} runs, {got.get('attempts')} attempts")
for p in problems:
    print(f"sqlite crosslang: FAIL: {p}", file=sys.stderr)
print(f"sqlite crosslang: {0 if problems else 1} passed, {1 if problems else 0} failed")
sys.exit(1 if problems else 0)
PY
