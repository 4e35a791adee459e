"""Backstop on Prefect 3: a storage step throttled on its first attempt is
retried after the planner's wait and succeeds; the team room hears of the
blip, then of its resolution; nobody is paged.

Run it: ``python examples/prefect/nightly_flow.py`` (against your Prefect
server or an ephemeral one). Alert state lives in ``$BACKSTOP_ALERT_STATE``
(default ``./backstop-alerts``); set ``BACKSTOP_WEBHOOK`` to POST
notifications somewhere.
"""

import os
from pathlib import Path

from prefect import flow, task
from prefect.runtime import task_run

from backstop import load_policy_file
from backstop.orchestration import AlertFeed, FileAlertStateStore
from backstop.prefect import BackstopPrefect

policy = load_policy_file(os.environ.get("BACKSTOP_POLICY") or Path(__file__).resolve().parents[1] / "orchestrators.toml")
feed = AlertFeed(policy, store=FileAlertStateStore(os.environ.get("BACKSTOP_ALERT_STATE", "backstop-alerts")),
                 webhook_url=os.environ.get("BACKSTOP_WEBHOOK"),
                 deliver=lambda n: print("ALERT", n.kind.value, n.severity.value, ",".join(n.targets), n.summary))
backstop = BackstopPrefect(policy, alerts=feed)


class ClientError(Exception):
    """Shaped like botocore's ClientError (Backstop reads the shape, not the import)."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(f"An error occurred ({code}) when calling the GetObject operation")
        self.response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}


@task(**backstop.task_options("extract"))
def extract() -> str:
    if task_run.run_count == 1:
        raise ClientError("SlowDown", 503)  # throttled once
    return "s3://features/part-0.parquet"


@flow(name="nightly-features")
def nightly() -> str:
    return extract()


if __name__ == "__main__":
    print("RUN", nightly())
