"""Benchmark: one classification with a loaded policy, per path.

Run: python/.venv/bin/python python/bench_classify.py   (after tests/run-python.sh)
Not part of the test run; prints microseconds per operation.
"""

from __future__ import annotations

import argparse
import json
import timeit

import backstop
from backstop import Failure
from backstop._component import ComponentClassifier

# The seed's storage-read policy shape: user rules first, built-ins after.
POLICY = """
[[classify.rules]]
id = "server-errors"
class = "transient"
http_status = [500, 502, 503, 504]
reason = "object storage hiccup; safe to retry"

[[classify.rules]]
id = "missing-object"
class = "permanent"
http_status = [404]
"""

FAILURES = {
    "http-503": Failure(http_status=503),
    "exception-chain": Failure(
        error_types=("requests.exceptions.ConnectionError", "urllib3.exceptions.ProtocolError",
                     "ConnectionResetError"),
        error_code="ECONNRESET",
        message="('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))",
    ),
    "unmatched": Failure(message="something odd happened", exit_code=3),
}


def per_op_us(fn, number: int, repeat: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--number", type=int, default=20000)
    parser.add_argument("-r", "--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    policy = backstop.load_policy(POLICY)
    component = ComponentClassifier()
    handle = component.load_policy(POLICY)
    try:
        raise ConnectionError("upstream reset") from OSError(104, "Connection reset by peer")
    except ConnectionError as exc:
        caught = exc

    results: dict[str, float] = {}
    for name, failure in FAILURES.items():
        results[f"core-abi/{name}"] = per_op_us(lambda: policy.classify(failure), args.number, args.repeat)
        results[f"component-api/{name}"] = per_op_us(
            lambda: component.classify(handle, failure), max(args.number // 10, 100), args.repeat)
    results["core-abi/classify_exception"] = per_op_us(
        lambda: policy.classify_exception(caught), args.number, args.repeat)

    if args.json:
        print(json.dumps({k: round(v, 2) for k, v in results.items()}))
    else:
        for key, value in results.items():
            print(f"{key:40} {value:8.2f} us/op")


if __name__ == "__main__":
    main()
