"""Backstop for Prefect 3: classification, planned delays and the alert
policy in Prefect's terms (``pip install "backstop-policy[prefect]"``)::

    from prefect import flow, task
    from backstop import load_policy_file
    from backstop.orchestration import AlertFeed, FileAlertStateStore
    from backstop.prefect import BackstopPrefect

    policy = load_policy_file("nightly.toml")
    backstop = BackstopPrefect(policy, alerts=AlertFeed(policy, store=FileAlertStateStore("/shared/backstop")))

    @task(**backstop.task_options("extract"))
    def extract(): ...

``task_options`` gives ``retries`` (the policy's attempts for transient
failures, unless given), ``retry_delay_seconds`` (the planner's schedule),
``retry_condition_fn`` and the ``on_failure`` / ``on_completion`` hooks.

* ``retry_condition_fn`` answers from the classifier and the planner: a
  permanent failure (a 404, a bad credential) is not retried, nor one past the
  policy's attempts or deadline; a retried attempt is fed to the alert
  evaluator as ``attempt-failed``.
* ``on_failure`` feeds ``run-failed``; ``on_completion`` feeds
  ``run-succeeded``, resolving what the failures notified.

What Prefect cannot express: its retry delays are fixed when the task is
defined (``retry_delay_seconds`` is a number or a list indexed by retry; a
callable is called once, at definition, with the number of retries), and
``retry_condition_fn`` answers only yes or no. So the waits are the
planner's dry-run schedule for a seed derived from the task's name: the same
for every run of the task (no per-run jitter, no server pushback such as
Retry-After, no decorrelated jitter that depends on the previous wait being
re-planned per failure). The classification, the attempt limits and the
deadline are decided per failure.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Optional, Union

try:
    import prefect  # noqa: F401
except ImportError as exc:  # pragma: no cover - tested in the core suite
    raise ImportError("backstop.prefect needs Prefect 3: pip install "
                      "\"backstop-policy[prefect]\"") from exc

from ._policy import Policy, derive_seed, load_policy_file
from .orchestration import AlertFeed, Verdict, decide, idempotency_key

__all__ = ["BackstopPrefect", "planned_delays"]

logger = logging.getLogger("backstop.prefect")
#: Prefect refuses a retry_delay_seconds list longer than this.
MAX_DELAYS = 50


def planned_delays(policy: Policy, retries: int, seed_key: str) -> list[float]:
    """The planner's waits (seconds) before retries 1..``retries``, for the
    seed of ``seed_key``: what :meth:`BackstopPrefect.task_options` gives
    Prefect's ``retry_delay_seconds`` (the last wait repeats past the
    policy's attempts; Prefect takes at most 50)."""
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an int >= 0, not {retries!r}")
    if retries == 0:
        return []
    attempts = policy.schedule(derive_seed(seed_key), min(retries, MAX_DELAYS) + 1).attempts[1:]
    delays = [a.delay_ms / 1000 for a in attempts]
    if not delays:  # a policy with one attempt: nothing is retried anyway
        return [0.0]
    return delays + [delays[-1]] * (min(retries, MAX_DELAYS) - len(delays))


def _exception(state: Any) -> Optional[BaseException]:
    data = getattr(state, "data", None)
    if isinstance(data, BaseException):
        return data
    try:
        result = state.result(raise_on_failure=False)
    except Exception:
        return None
    return result if isinstance(result, BaseException) else None


class BackstopPrefect:
    """Prefect task options and hooks answering from one Backstop policy.

    ``alerts`` (an :class:`backstop.orchestration.AlertFeed`) receives the
    task's events; without it only retries are decided. ``pipeline`` names
    the pipeline in alerts (default: the flow's name, or the task's outside
    a flow)."""

    def __init__(self, policy: Union[Policy, str, "os.PathLike[str]"], *,
                 alerts: Optional[AlertFeed] = None, pipeline: Optional[str] = None) -> None:
        if isinstance(policy, (str, os.PathLike)):
            policy = load_policy_file(policy)
        if not isinstance(policy, Policy):
            raise TypeError(f"policy must be a backstop.Policy or a policy file path, not {type(policy).__name__}")
        self.policy = policy
        self.alerts = alerts
        self.pipeline = pipeline
        schedule = policy.schedule(0, MAX_DELAYS + 1)
        #: Retries the policy allows a transient failure (capped at Prefect's 50).
        self.default_retries = max(0, len(schedule.attempts) - 1)

    def task_options(self, name: str, *, retries: Optional[int] = None) -> dict[str, Any]:
        """Keyword arguments for ``@task`` (or ``task.with_options``) for the
        task named ``name`` (it seeds the planned waits)."""
        if retries is None:
            retries = self.default_retries
        return {"name": name, "retries": retries,
                "retry_delay_seconds": planned_delays(self.policy, retries, name),
                "retry_jitter_factor": None, "retry_condition_fn": self.retry_condition_fn,
                "on_failure": [self.on_failure], "on_completion": [self.on_completion]}

    # -- facts --------------------------------------------------------------

    def facts(self, task: Any, task_run: Any) -> dict[str, Any]:
        """``pipeline``, ``step`` (the task's name), ``run_id`` (the flow run's id), ``attempt``
        (``task_run.run_count``), ``max_attempts`` (``task.retries + 1``) and
        the idempotency ``key`` (flow run / task key / dynamic key)."""
        flow_name = flow_run_id = None
        try:
            from prefect.context import FlowRunContext

            ctx = FlowRunContext.get()
            if ctx is not None:
                flow_name = ctx.flow.name if ctx.flow is not None else None
                flow_run_id = str(ctx.flow_run.id) if ctx.flow_run is not None else None
        except Exception:  # outside a flow, or an older context API
            pass
        if flow_run_id is None and getattr(task_run, "flow_run_id", None) is not None:
            flow_run_id = str(task_run.flow_run_id)
        run_id = flow_run_id or str(task_run.id)
        # The step is the task's name: Prefect's per-call dynamic key is a
        # fresh id (not an index), so calls of one task in a run share a step.
        dynamic = getattr(task_run, "dynamic_key", None)
        return {"pipeline": self.pipeline or flow_name or task.name, "step": task.name, "run_id": run_id,
                "attempt": max(1, int(task_run.run_count or 1)),
                "max_attempts": int(task.retries or 0) + 1,
                "key": idempotency_key(run_id, getattr(task_run, "task_key", task.name), dynamic)}

    def verdict(self, task: Any, task_run: Any, state: Any) -> Verdict:
        f = self.facts(task, task_run)
        error = _exception(state)
        if error is None:
            return decide(self.policy, log=str(getattr(state, "message", "") or "failed"),
                          attempt=f["attempt"], max_attempts=f["max_attempts"], idempotency_key=f["key"])
        return decide(self.policy, error, attempt=f["attempt"], max_attempts=f["max_attempts"],
                      idempotency_key=f["key"])

    # -- what Prefect calls --------------------------------------------------

    def retry_condition_fn(self, task: Any, task_run: Any, state: Any) -> bool:
        """Retry this failure? (Prefect calls it only while retries remain.)"""
        v = self.verdict(task, task_run, state)
        logger.info("backstop: %s", v.reason)
        if v.retry and self.alerts is not None:
            f = self.facts(task, task_run)
            try:
                self.alerts.attempt_failed(f["pipeline"], f["step"], f["run_id"], attempt=f["attempt"],
                                           error=_exception(state) or v.failure)
            except Exception:
                logger.exception("backstop: feeding attempt-failed to the alert evaluator failed")
        return v.retry

    def on_failure(self, task: Any, task_run: Any, state: Any) -> None:
        """The task failed for good: ``run-failed``."""
        if self.alerts is None:
            return
        f = self.facts(task, task_run)
        error = _exception(state)
        self.alerts.run_failed(f["pipeline"], f["step"], f["run_id"], attempt=f["attempt"],
                               error=error, log=None if error is not None else str(state.message or ""))

    def on_completion(self, task: Any, task_run: Any, state: Any) -> None:
        """The task completed: ``run-succeeded`` (resolves its alerts)."""
        if self.alerts is None:
            return
        f = self.facts(task, task_run)
        self.alerts.run_succeeded(f["pipeline"], f["step"], f["run_id"], attempt=f["attempt"])
