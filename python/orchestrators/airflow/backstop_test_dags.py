"""DAGs for test_airflow.py; conftest copies this file into the temporary
DAGs folder (dag.test() re-parses that folder)."""

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG, get_current_context, task

from backstop import Notification, load_policy_file
from backstop.airflow import BackstopRetryPolicy, alert_callbacks, fail_fast
from backstop.orchestration import AlertFeed, FileAlertStateStore

POLICY = load_policy_file(os.environ["BACKSTOP_POLICY"])
SENT: list[Notification] = []
FEED = AlertFeed(POLICY, store=FileAlertStateStore(os.environ["BACKSTOP_ALERT_STATE"]),
                 key="tests", deliver=SENT.append)
START = datetime(2026, 1, 1)
#: Far longer than the planner's milliseconds: a retry that took Airflow's
#: own delay would stand out (and the stored override would be missing).
AIRFLOW_DELAY = timedelta(seconds=30)


class ClientError(Exception):
    """botocore's ClientError shape."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(f"An error occurred ({code}) when calling the PutObject operation: Please reduce your request rate.")
        self.response = {"Error": {"Code": code, "Message": "Please reduce your request rate."},
                         "ResponseMetadata": {"HTTPStatusCode": status}}


class HTTPError(Exception):
    """requests' HTTPError shape: the status on the response."""

    def __init__(self, status: int) -> None:
        super().__init__(f"{status} Client Error: Not Found for url: https://data.example/part-0.csv")

        class Response:
            status_code = status
            headers: dict = {}

        self.response = Response()


def try_number() -> int:
    return get_current_context()["ti"].try_number


with DAG("bs_slowdown", schedule=None, start_date=START, catchup=False) as slowdown:

    @task(retries=3, retry_delay=AIRFLOW_DELAY, retry_policy=BackstopRetryPolicy(POLICY),
          **alert_callbacks(FEED))
    def extract() -> str:
        if try_number() == 1:
            raise ClientError("SlowDown", 503)
        return "ok"

    extract()


with DAG("bs_not_found", schedule=None, start_date=START, catchup=False) as not_found:

    @task(retries=3, retry_delay=AIRFLOW_DELAY, retry_policy=BackstopRetryPolicy(POLICY),
          **alert_callbacks(FEED))
    def download() -> None:
        raise HTTPError(404)

    download()


with DAG("bs_fail_fast", schedule=None, start_date=START, catchup=False) as fail_fast_dag:

    # The Airflow 2.x way: no retry_policy, the wrapper fails fast.
    @task(retries=3, retry_delay=timedelta(milliseconds=10), **alert_callbacks(FEED))
    @fail_fast(POLICY)
    def load() -> None:
        if try_number() == 1:
            raise ConnectionResetError("peer reset")  # transient: Airflow retries
        raise HTTPError(404)  # permanent: AirflowFailException, no third try

    load()
