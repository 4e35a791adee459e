#!/usr/bin/env python3
"""What `backstop run` adds to a command, as whole processes, side by side.

Each round runs every case once, interleaved (so machine load hits all of
them alike), and the medians are compared:

  true                       the bare command
  run -- true (sqlite)       backstop run --state <tmp>/state.db --run-id rN -- true
  run -- true (postgres)     the same with --state postgres://... (with --pg URL)
  fail+alert bare            the step of the next case without backstop, twice
  run fail+alert (<backend>) one failed attempt (with an alert to a file sink),
                             a retry after 1 ms, a success: a run's state writes
                             with an alert evaluation and its outbox row

  run -- true (sqlite, N recorded)  the same on a state already holding N
                             recorded runs (--recorded N): a run's cost should
                             not grow with the history
  run -- true (sqlite, other build)  the same with --against OTHER, another
                             backstop binary on a state of its own: a before
                             and after measured in one loop; likewise
  run fail+alert (sqlite, other build)

The difference of medians is what backstop adds (issue 14: `run -- true`
within 5 ms of `true`); per backend it is the cost of one run's state writes
plus the fixed start-up (issue 10). Never a test: a benchmark.

  tests/bench/run-overhead.py target/release/backstop [--rounds 200] [--pg URL] [--recorded 36000]
      [--against OTHER_BACKSTOP]
"""

import argparse
import glob
import os
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid

POLICY = """version = 1
[retry]
max_attempts = 2
unknown_max_attempts = 2
base_delay = "1ms"
max_delay = "1ms"

[alerts]
payload = ["pipeline", "step", "run_id"]

[[alerts.rules]]
id = "failed"
condition = "run.failure_count >= 1"
severity = "high"
notify = ["oncall"]

[[alerts.sinks]]
target = "oncall"
type = "file"
path = "{pages}"
"""

# Fails on attempt 1, succeeds on attempt 2 (backstop sets BACKSTOP_ATTEMPT).
STEP = '[ "$BACKSTOP_ATTEMPT" = 2 ]'


def psql():
    """psql on PATH, else Debian's newest /usr/lib/postgresql/*/bin/psql."""
    found = shutil.which("psql")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    if not candidates:
        raise SystemExit("no psql to create the benchmark's database")
    return candidates[-1]


def grow(backstop, env, state, recorded):
    """A SQLite state holding `recorded` runs: one real run, its rows copied
    under new run ids (as months of history would leave them)."""
    subprocess.run([backstop, "run", "--state", state, "--run-id", "seed", "--", "true"],
                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    db = sqlite3.connect(state)
    for table in ("runs", "attempts", "run_pipelines"):
        cols = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
        picked = ",".join("run_id || '-' || n.i" if c == "run_id" else c for c in cols)
        db.execute(
            f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            f"INSERT INTO {table} ({','.join(cols)}) SELECT {picked} FROM {table}, n "
            f"WHERE run_id = 'seed'", (recorded - 1,))
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def timed(argv, env, expect):
    start = time.perf_counter()
    rc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL).returncode
    took = time.perf_counter() - start
    if rc != expect:
        raise SystemExit(f"{argv}: exit {rc}, expected {expect}")
    return took * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("backstop")
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--pg", help="a PostgreSQL server URL (a fresh database is made on it)")
    ap.add_argument("--recorded", type=int, default=0,
                    help="also time a SQLite state already holding this many runs")
    ap.add_argument("--against", help="also time `run -- true` and the failing run with this other backstop binary")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="backstop-run-bench-")
    env = dict(os.environ, BACKSTOP_CACHE_DIR=os.path.join(tmp, "cache"))
    for k in ("BACKSTOP_STATE", "BACKSTOP_LEASE_MS", "BACKSTOP_ALERT_DRAIN_MS"):
        env.pop(k, None)
    policy = os.path.join(tmp, "bench.toml")
    with open(policy, "w") as f:
        f.write(POLICY.format(pages=os.path.join(tmp, "pages.jsonl")))
    backends = [("sqlite", os.path.join(tmp, "state.db"))]
    if args.pg:
        name = "bench_" + uuid.uuid4().hex[:12]
        create = subprocess.run(
            [psql(), args.pg, "-qc", f"CREATE DATABASE {name}"],
            capture_output=True, text=True)
        if create.returncode != 0:
            raise SystemExit(f"cannot create a database on {args.pg}: {create.stderr}")
        backends.append(("postgres", args.pg.rsplit("/", 1)[0] + "/" + name))

    cases = [("true", lambda i: (["true"], 0))]
    for be, state in backends:
        cases.append((f"run -- true ({be})", lambda i, s=state: (
            [args.backstop, "run", "--state", s, "--run-id", f"t{i}", "--", "true"], 0)))
    if args.recorded:
        grown = os.path.join(tmp, "grown.db")
        grow(args.backstop, env, grown, args.recorded)
        cases.append((f"run -- true (sqlite, {args.recorded} recorded)", lambda i: (
            [args.backstop, "run", "--state", grown, "--run-id", f"t{i}", "--", "true"], 0)))
    if args.against:
        other = os.path.join(tmp, "other.db")
        cases.append(("run -- true (sqlite, other build)", lambda i: (
            [args.against, "run", "--state", other, "--run-id", f"t{i}", "--", "true"], 0)))
    cases.append(("fail+alert bare (the step twice)", None))
    for be, state in backends:
        cases.append((f"run fail+alert ({be})", lambda i, s=state: (
            [args.backstop, "run", "--state", s, "--policy", policy, "--run-id", f"f{i}",
             "--", "sh", "-c", STEP], 0)))
    if args.against:
        other_failing = os.path.join(tmp, "other-failing.db")
        cases.append(("run fail+alert (sqlite, other build)", lambda i: (
            [args.against, "run", "--state", other_failing, "--policy", policy, "--run-id", f"f{i}",
             "--", "sh", "-c", STEP], 0)))

    def bare_twice(i):
        e = dict(env, BACKSTOP_ATTEMPT="1")
        a = timed(["sh", "-c", STEP], e, 1)
        e["BACKSTOP_ATTEMPT"] = "2"
        return a + timed(["sh", "-c", STEP], e, 0)

    # Warm-up: the compiled-component cache, the databases' schemas, page cache.
    for i in range(3):
        for name, make in cases:
            if make is None:
                bare_twice(i)
            else:
                argv, rc = make(f"w{i}")
                timed(argv, env, rc)
    times = {name: [] for name, _ in cases}
    for i in range(args.rounds):
        for name, make in cases:
            if make is None:
                times[name].append(bare_twice(i))
            else:
                argv, rc = make(i)
                times[name].append(timed(argv, env, rc))

    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"{args.rounds} rounds, interleaved; median (p10-p90) per process, ms")
    for name, t in times.items():
        q = statistics.quantiles(t, n=10)
        print(f"  {name:36} {med[name]:7.2f}  ({q[0]:.2f}-{q[-1]:.2f})")
    base = med["true"]
    print("what backstop adds (difference of medians):")
    for be, _ in backends:
        print(f"  run -- true, {be:8}               +{med[f'run -- true ({be})'] - base:6.2f} ms"
              f"   (goal, issue 14: <= 5 ms)")
    if args.recorded:
        print(f"  run -- true, sqlite, {args.recorded} recorded +"
              f"{med[f'run -- true (sqlite, {args.recorded} recorded)'] - base:6.2f} ms")
    if args.against:
        print(f"  run -- true, sqlite, other build    +"
              f"{med['run -- true (sqlite, other build)'] - base:6.2f} ms   ({args.against})")
    bare = med["fail+alert bare (the step twice)"]
    for be, _ in backends:
        print(f"  failed attempt + alert + success, {be:8} +{med[f'run fail+alert ({be})'] - bare:6.2f} ms")
    if args.against:
        print(f"  failed attempt + alert + success, sqlite, other build +"
              f"{med['run fail+alert (sqlite, other build)'] - bare:6.2f} ms")


if __name__ == "__main__":
    main()
