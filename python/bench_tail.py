"""Benchmark: reading and redacting a 50-line tail (tests/bench/tail-50.txt,
the same in every host).

Run: python/.venv/bin/python python/bench_tail.py   (after tests/run-python.sh)
Not part of the test run; prints microseconds per operation.
"""

from __future__ import annotations

import pathlib
import timeit

import backstop

TEXT = (pathlib.Path(__file__).resolve().parent.parent / "tests" / "bench" / "tail-50.txt").read_text()


def main() -> None:
    policy = backstop.default_policy()
    cases = {
        "read_log(50-line tail)": lambda: backstop.read_log(TEXT, exit_code=1),
        "policy.redact(50-line tail)": lambda: policy.redact(TEXT),
    }
    for name, run in cases.items():
        run()
        number = 500
        best = min(timeit.repeat(run, number=number, repeat=5)) / number
        print(f"{best * 1e6:9.1f} µs/op  {name}")


if __name__ == "__main__":
    main()
