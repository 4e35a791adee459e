"""Writes examples/nightly-history.jsonl: a month of synthetic nightly
retraining runs for `backstop alerts simulate`. Deterministic (no randomness):
most nights succeed; some have a transient storage blip that a retry fixes; a
three-night streak of a permanent schema error pages on-call, who acknowledges;
one night the data lands 75 minutes late.
Run: python3 tests/gen/nightly_history.py
"""
import json
import os
from datetime import datetime, timedelta, timezone

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "nightly-history.jsonl")
START = datetime(2024, 1, 1, 2, 0, tzinfo=timezone.utc)
STORAGE = {"http_status": 503, "error_types": ["botocore.exceptions.ClientError"], "error_code": "SlowDown",
           "message": "An error occurred (SlowDown) when calling the GetObject operation: Please reduce your request rate."}
SCHEMA = {"exit_code": 1, "error_types": ["pyarrow.lib.ArrowInvalid"],
          "message": "ArrowInvalid: Schema at index 0 was different: user_id: int64 vs user_id: string"}
LOGS = ["epoch 1/3 loading features from s3://features/{day}/",
        "connecting with https://trainer:{secret}@warehouse.internal/db",
        "reading part-00017.parquet"]

lines = []
def emit(at, kind, run_id, **kw):
    e = {"at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "kind": kind, "pipeline": "nightly-retrain", "step": "train", "run_id": run_id}
    e.update(kw)
    lines.append(e)

for day in range(30):
    t = START + timedelta(days=day)
    run = f"nightly-{t:%Y-%m-%d}"
    logs = [l.format(day=f"{t:%Y-%m-%d}", secret="s3cr3t-pa55") for l in LOGS]
    if day in (3, 9, 17, 25):  # a transient storage blip, fixed by the retry
        emit(t + timedelta(minutes=4), "attempt-failed", run, attempt=1, failure=STORAGE, log_lines=logs)
        emit(t + timedelta(minutes=6), "run-succeeded", run, attempt=2)
    elif day in (12, 13, 14):  # a bad upstream schema: permanent, three nights
        emit(t + timedelta(minutes=3), "attempt-failed", run, attempt=1, failure=SCHEMA, log_lines=logs)
        emit(t + timedelta(minutes=3, seconds=5), "run-failed", run, attempt=1, failure=SCHEMA, log_lines=logs)
        if day == 14:
            emit(t + timedelta(minutes=20), "tick", "")
            emit(t + timedelta(minutes=25), "alert-acknowledged", "", dedup_key=f"backstop/rule-2/nightly-retrain/train/{run}/pyarrow.lib.ArrowInvalid")
    elif day == 20:  # upstream data 75 minutes late
        emit(t + timedelta(minutes=75), "run-late", run, late_minutes=75)
        emit(t + timedelta(minutes=90), "tick", "")
        emit(t + timedelta(minutes=130), "run-succeeded", run, attempt=1)
    else:
        emit(t + timedelta(minutes=40), "run-succeeded", run, attempt=1)

with open(OUT, "w") as f:
    for e in lines:
        f.write(json.dumps(e) + "\n")
print(f"{len(lines)} events")
