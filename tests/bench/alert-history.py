#!/usr/bin/env python3
"""Write an `alerts simulate` history for the alert benchmarks (tests/bench.sh
`alerts`): EVENTS events, one per second, round-robin over STEPS steps of one
pipeline. Each step's runs go failed, failed, failed (the third in a row pages
with examples/nightly-alerts.toml), succeeded (resolves), so alerts open and
close all along the history.

    alert-history.py STEPS EVENTS OUT
"""
import json
import sys

T0 = 1_704_067_200_000


def main() -> None:
    steps, events, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    failure = {"http_status": 503, "error_types": ["TransientError"],
               "message": "503 Service Unavailable from the feature store"}
    lines = ["reading features from s3://bucket/features", "botocore 503 SlowDown"]
    with open(out, "w", encoding="utf-8") as f:
        for n in range(events):
            step, rnd = n % steps, n // steps
            event = {"at": T0 + n * 1000, "pipeline": "nightly", "step": f"step-{step}",
                     "run_id": f"run-{rnd}"}
            if rnd % 4 == 3:
                event["kind"] = "run-succeeded"
            else:
                event.update(kind="run-failed", failure=failure, log_lines=lines)
            f.write(json.dumps(event, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
