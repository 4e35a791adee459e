#!/usr/bin/env python3
"""Summarise go/internal/peerbench output (several rounds of `-bench .`):
median ns/op and allocs/op per case, then Backstop's ratio to backoff v4 next
to the goal of issue #14. A failed attempt costs (TwoFailures - Success) / 2,
with Backstop's SuccessFreshState as its baseline (the same fresh store as
its TwoFailures)."""
import re
import statistics
import sys
from collections import defaultdict

ns, allocs = defaultdict(list), defaultdict(list)
line_re = re.compile(r"^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(?:\s+\d+ B/op\s+(\d+) allocs/op)?")
for line in sys.stdin:
    m = line_re.match(line)
    if m:
        ns[m[1]].append(float(m[2]))
        if m[3] is not None:
            allocs[m[1]].append(int(m[3]))
if not ns:
    sys.exit("go-peer-ratios: no benchmark lines on stdin")

med = {k: statistics.median(v) for k, v in ns.items()}
rounds = min(len(v) for v in ns.values())
print(f"medians of {rounds} rounds (ns/op, allocs/op):")
for name in sorted(med):
    a = f"{statistics.median(allocs[name]):6.0f} allocs" if allocs[name] else ""
    print(f"  {name:34} {med[name]:10.0f} ns  {a}")


def failed(lib, base):
    return (med[f"TwoFailures/{lib}"] - med[base]) / 2


rows = [
    ("success path, per call", med["Success/backstop"], med["Success/backoffv4"], med["Success/backoffv5"], 3),
    ("per failed attempt", failed("backstop", "SuccessFreshState/backstop"),
     failed("backoffv4", "Success/backoffv4"), failed("backoffv5", "Success/backoffv5"), 5),
]
print()
print(f"{'Go Do vs cenkalti/backoff':26} {'backstop':>10} {'v4':>9} {'v5*':>9} {'ratio v4':>9} {'goal':>7}")
for what, ours, v4, v5, goal in rows:
    if ours <= 0 or v4 <= 0:
        # A difference of two medians can come out negative when the noise exceeds it.
        print(f"{what:26} {ours:8.0f}ns {v4:7.0f}ns {v5:7.0f}ns  no ratio: the noise exceeds the difference; use more rounds")
        continue
    ratio = ours / v4
    verdict = "met" if ratio <= goal else "MISSED"
    print(f"{what:26} {ours:8.0f}ns {v4:7.0f}ns {v5:7.0f}ns {ratio:8.1f}x {'<= ' + str(goal) + 'x':>7}  {verdict}")
print("* v5 waits on a real zero-length timer between attempts (its timer option is unexported)")
