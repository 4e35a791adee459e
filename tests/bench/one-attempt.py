#!/usr/bin/env python3
"""Overhead per task attempt of `backstop run --one-attempt` (issue 12): a pod
runs `backstop run --one-attempt ... -- CMD` instead of `CMD`. Times, side by
side in one run and interleaved (so machine load hits every case alike):

  bare        `true`
  sqlite      `backstop run --one-attempt --state <file> -- true`, compiled-module cache warm
  cold-cache  the same with an empty BACKSTOP_CACHE_DIR each time (a pod without a cache volume)
  postgres    the same against BACKSTOP_TEST_PG_URL (tests/pg.sh start), if set

Each invocation gets a new run id (a succeeded run id is not run again).
Usage: tests/bench/one-attempt.py [BACKSTOP_BINARY] [ROUNDS]
(default: $CARGO_TARGET_DIR/release/backstop, else .../debug/backstop; 30 rounds).
Not a test: it asserts nothing; docs/BENCHMARKS.md records its figures."""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

root = Path(__file__).resolve().parents[2]
target = Path(os.environ.get("CARGO_TARGET_DIR", root / "target"))
default = next((p for p in (target / "release/backstop", target / "debug/backstop") if p.exists()), None)
binary = Path(sys.argv[1]) if len(sys.argv) > 1 else default
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 30
if binary is None or not binary.exists():
    sys.exit("one-attempt.py: no backstop binary; build one (cargo build --release -p backstop) or pass its path")
true = shutil.which("true")
work = Path(tempfile.mkdtemp(prefix="backstop-bench-"))
policy = root / "examples/orchestrators.toml"
warm_cache = work / "cache"
env = {k: v for k, v in os.environ.items() if not k.startswith("BACKSTOP_")}


def wrapped(state: str, run_id: str) -> list[str]:
    return [str(binary), "run", "--one-attempt", "--run-id", run_id, "--step", "bench",
            "--state", state, "--policy", str(policy), "--", true]


def timed(argv: list[str], cache: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, env={**env, "BACKSTOP_CACHE_DIR": str(cache)},
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


cases = {
    "bare": lambda i: timed([true], warm_cache),
    "sqlite": lambda i: timed(wrapped(str(work / "state.db"), f"warm-{i}"), warm_cache),
    "cold-cache": lambda i: timed(wrapped(str(work / "state.db"), f"cold-{i}"),
                                  Path(tempfile.mkdtemp(dir=work))),
}
if os.environ.get("BACKSTOP_TEST_PG_URL"):
    url = os.environ["BACKSTOP_TEST_PG_URL"]
    cases["postgres"] = lambda i: timed(wrapped(url, f"pg-{os.getpid()}-{i}"), warm_cache)

timed(wrapped(str(work / "state.db"), "warm-up"), warm_cache)  # fills the module cache
samples: dict[str, list[float]] = {name: [] for name in cases}
for i in range(rounds):
    for name, case in cases.items():
        samples[name].append(case(i))
shutil.rmtree(work, ignore_errors=True)

bare = statistics.median(samples["bare"])
print(f"{binary} ({rounds} rounds, interleaved; load average {os.getloadavg()[0]:.1f})")
print(f"{'case':<12} {'median':>9} {'p90':>9} {'overhead':>9}")
for name, xs in samples.items():
    xs.sort()
    med, p90 = statistics.median(xs), xs[int(0.9 * (len(xs) - 1))]
    over = "" if name == "bare" else f"{(med - bare) * 1000:7.1f}ms"
    print(f"{name:<12} {med * 1000:7.1f}ms {p90 * 1000:7.1f}ms {over:>9}")
