"""Backstop on Airflow 3.3+: a storage step throttled on its first try is
retried after the planner's delay and succeeds; the team room hears of the
blip, then of its resolution; nobody is paged.

Run it (Airflow installed, ``AIRFLOW_HOME`` migrated with ``airflow db migrate``,
this file in the DAGs folder): ``python examples/airflow/nightly_dag.py``.
Alert state lives in ``$BACKSTOP_ALERT_STATE`` (default ``./backstop-alerts``);
set ``BACKSTOP_WEBHOOK`` to POST notifications somewhere.
"""

import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, get_current_context, task

from backstop import load_policy_file
from backstop.airflow import BackstopRetryPolicy, alert_callbacks
from backstop.orchestration import AlertFeed, FileAlertStateStore

policy = load_policy_file(os.environ.get("BACKSTOP_POLICY") or Path(__file__).resolve().parents[1] / "orchestrators.toml")
feed = AlertFeed(policy, store=FileAlertStateStore(os.environ.get("BACKSTOP_ALERT_STATE", "backstop-alerts")),
                 webhook_url=os.environ.get("BACKSTOP_WEBHOOK"),
                 deliver=lambda n: print("ALERT", n.kind.value, n.severity.value, ",".join(n.targets), n.summary))


class ClientError(Exception):
    """Shaped like botocore's ClientError (Backstop reads the shape, not the import)."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(f"An error occurred ({code}) when calling the GetObject operation")
        self.response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}


with DAG("nightly_features", schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:

    @task(retries=3, retry_policy=BackstopRetryPolicy(policy), **alert_callbacks(feed))
    def extract() -> str:
        if get_current_context()["ti"].try_number == 1:
            raise ClientError("SlowDown", 503)  # throttled once
        return "s3://features/part-0.parquet"

    extract()


if __name__ == "__main__":
    print("RUN", dag.test().state)
