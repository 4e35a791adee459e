"""Backstop on Dagster: a storage read that is throttled, retried with the
planner's delay, and alerting that never pages for a blip.

    pip install "backstop-policy[dagster]"
    python examples/dagster/storage_job.py        # runs the job in-process, prints what happened
    dagster dev -f examples/dagster/storage_job.py  # or load `defs` in a real deployment

The object store here is a stand-in that answers S3's SlowDown (HTTP 503)
twice, like a throttled bucket, then serves the read. Reading a partition that
does not exist answers S3's NoSuchKey (HTTP 404): permanent, no retry.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from dagster import (Definitions, DagsterInstance, In, Nothing, build_run_status_sensor_context,
                     job, op)

from backstop import load_policy_file
from backstop.dagster import failure_sensor, success_sensor, with_backstop
from backstop.orchestration import AlertFeed, FileAlertStateStore

# The orchestrator examples' shared policy: waits of milliseconds so the
# example finishes at once (a real nightly job would wait seconds).
policy = load_policy_file(os.environ.get("BACKSTOP_POLICY")
                          or Path(__file__).resolve().parents[1] / "orchestrators.toml")


class ClientError(Exception):
    """botocore's ClientError shape: the error code and HTTP status in ``response``."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(f"An error occurred ({code}) when calling the GetObject operation")
        self.response = {"Error": {"Code": code},
                         "ResponseMetadata": {"HTTPStatusCode": status}}


class ThrottledStore:
    """Answers SlowDown ``throttle`` times, then serves; unknown keys are NoSuchKey."""

    def __init__(self, throttle: int) -> None:
        self.throttle = throttle
        self.reads = 0

    def get(self, key: str) -> bytes:
        self.reads += 1
        if not key.startswith("features/"):
            raise ClientError("NoSuchKey", 404)
        if self.reads <= self.throttle:
            raise ClientError("SlowDown", 503)
        return b"rows"


STORE = ThrottledStore(throttle=2)
STATE_DIR = Path(os.environ.get("BACKSTOP_ALERT_STATE", tempfile.mkdtemp(prefix="backstop-alerts-")))
SENT: list[dict] = []
# Every process (run workers, the sensor daemon) shares the file store, so a
# retried attempt and the run's outcome update one alert state.
feed = AlertFeed(policy, store=FileAlertStateStore(STATE_DIR), key="nightly",
                   deliver=lambda n: SENT.append(n.to_dict()))


@op(config_schema={"key": str})
@with_backstop(policy, max_retries=3, alerts=feed)
def read_shard(context) -> int:
    return len(STORE.get(context.op_config["key"]))


@op(ins={"start": In(Nothing)})
def publish() -> None:
    pass


@job
def nightly_features() -> None:
    publish(start=read_shard())


on_failure, on_success = failure_sensor(feed), success_sensor(feed)
defs = Definitions(jobs=[nightly_features], sensors=[on_failure, on_success])


def run(key: str, instance: DagsterInstance) -> dict:
    """Run the job in-process and feed its outcome to the matching sensor, as
    the Dagster daemon would."""
    config = {"ops": {"read_shard": {"config": {"key": key}}}}
    result = nightly_features.execute_in_process(run_config=config, instance=instance,
                                                 raise_on_error=False)
    retries = [e.event_specific_data.seconds_to_wait for e in result.all_events
               if e.event_type_value == "STEP_UP_FOR_RETRY"]
    event = result.get_run_success_event() if result.success else result.get_run_failure_event()
    sensor = on_success if result.success else on_failure
    context = build_run_status_sensor_context(sensor_name=sensor.name, dagster_event=event,
                                              dagster_instance=instance,
                                              dagster_run=result.dagster_run)
    sensor(context if result.success else context.for_run_failure())
    return {"key": key, "success": result.success, "retry_waits_s": retries}


def main() -> int:
    instance = DagsterInstance.ephemeral()
    outcomes = [run("features/2024-01-16.parquet", instance),   # throttled twice, then read
                run("missing/2024-01-17.parquet", instance)]    # 404: fails on the first try
    for outcome in outcomes:
        print(json.dumps(outcome))
    for notification in SENT:
        print(json.dumps({k: notification[k] for k in ("kind", "severity", "targets", "rule")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
