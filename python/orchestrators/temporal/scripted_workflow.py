"""The tests' workflow, alone in its module: Temporal's sandbox re-imports a
workflow's module on every run, so it imports nothing but temporalio."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy


@workflow.defn
class Scripted:
    @workflow.run
    async def run(self, activity_name: str, name: str, max_attempts: int) -> str:
        # Temporal's own interval is an hour: only Backstop's next_retry_delay
        # lets a retry happen within the test.
        return await workflow.execute_activity(
            activity_name, name, start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=timedelta(hours=1),
                                     maximum_attempts=max_attempts))
