"""Backstop for Apache Airflow: classification, planned delays and the alert
policy in Airflow's own terms (``pip install "backstop-policy[airflow]"``).

Airflow 3.3+ (``retry_policy=``, evaluated in the worker after each failure)::

    from backstop import load_policy_file
    from backstop.airflow import BackstopRetryPolicy, alert_callbacks
    from backstop.orchestration import AlertFeed, FileAlertStateStore

    policy = load_policy_file("nightly.toml")
    feed = AlertFeed(policy, store=FileAlertStateStore("/shared/backstop"), webhook_url=HOOK)

    @task(retries=5, retry_policy=BackstopRetryPolicy(policy), **alert_callbacks(feed))
    def extract(): ...

* a permanent failure (a 404, a bad credential) fails on the first try, with
  the classification's reason as Airflow's ``retry_reason``;
* a transient one is retried after the planner's delay (jitter seeded from
  ``dag_id/run_id/task_id/map_index``), never past the task's ``retries`` nor
  the policy's ``max_attempts``;
* the callbacks feed attempt-failed / run-failed / run-succeeded into the
  policy's alert rules, so one blip never pages and a recovered task resolves.

Airflow 2.x has no ``retry_policy``: wrap the callable with :func:`fail_fast`
(permanent failures raise ``AirflowFailException``); the delay stays the
operator's fixed ``retry_delay`` (the scheduler computes it from the
serialized task; a worker cannot change it for one try). For a DAG
``deadline=DeadlineAlert(...)`` (3.1+) use :func:`deadline_missed` /
:func:`deadline_missed_sync` as its callback.
"""

from __future__ import annotations

import functools
import math
import os
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Optional, TypeVar, Union

from ._policy import Policy, load_policy, load_policy_file
from .orchestration import AlertFeed, FileAlertStateStore, Verdict, decide, idempotency_key

try:
    import airflow  # noqa: F401
except ImportError as exc:  # pragma: no cover - tested in the core suite
    raise ImportError("backstop.airflow needs Apache Airflow: pip install "
                      "\"backstop-policy[airflow]\"") from exc

try:  # Airflow 3: the Task SDK
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException
except ImportError:  # pragma: no cover - Airflow 2.x
    from airflow.exceptions import AirflowFailException  # type: ignore[no-redef]
    from airflow.operators.python import get_current_context  # type: ignore[no-redef]

try:  # Airflow 3.3+
    from airflow.sdk.definitions.retry_policy import RetryDecision, RetryPolicy
except ImportError:  # pragma: no cover - before 3.3
    RetryDecision = None  # type: ignore[assignment,misc]
    RetryPolicy = object  # type: ignore[assignment,misc]

__all__ = [
    "BackstopRetryPolicy",
    "alert_callbacks",
    "deadline_missed",
    "deadline_missed_sync",
    "fail_fast",
    "task_facts",
    "verdict",
]

F = TypeVar("F", bound=Callable[..., Any])
_TYPE = "backstop.airflow.BackstopRetryPolicy"


def _as_policy(policy: Union[Policy, str, "os.PathLike[str]"]) -> Policy:
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, (str, os.PathLike)):
        return load_policy_file(policy)
    raise TypeError(f"policy must be a backstop.Policy or a policy file path, not {type(policy).__name__}")


def task_facts(context: Mapping[str, Any]) -> dict[str, Any]:
    """The facts Backstop needs from an Airflow task context: ``pipeline``
    (dag_id), ``step`` (task_id, with ``[map_index]`` for a mapped task),
    ``run_id``, ``attempt`` and ``max_attempts`` (this run's try and tries
    allowed: after a clear Airflow raises ``max_tries`` and keeps counting
    ``try_number``, so both are taken relative to the task's ``retries``), and
    the idempotency ``key`` ``dag_id/run_id/task_id/map_index``."""
    ti = context["ti"]
    run_id = context.get("run_id") or ti.run_id
    map_index = getattr(ti, "map_index", -1)
    if map_index is None:
        map_index = -1
    try_number = int(ti.try_number)
    max_tries = int(getattr(ti, "max_tries", 0) or 0)
    task = context.get("task") or getattr(ti, "task", None)
    retries = getattr(task, "retries", None)
    if isinstance(retries, int) and 0 <= retries <= max_tries:
        offset = max_tries - retries
        attempt, max_attempts = max(1, try_number - offset), retries + 1
    else:
        attempt, max_attempts = max(1, try_number), max_tries + 1
    step = ti.task_id if map_index < 0 else f"{ti.task_id}[{map_index}]"
    return {"pipeline": ti.dag_id, "step": step, "run_id": run_id, "attempt": attempt,
            "max_attempts": max_attempts,
            "key": idempotency_key(ti.dag_id, run_id, ti.task_id, map_index)}


def verdict(policy: Policy, exception: BaseException, context: Mapping[str, Any]) -> Verdict:
    """The Backstop verdict for a failed Airflow try (see :func:`backstop.orchestration.decide`)."""
    facts = task_facts(context)
    ti = context["ti"]
    started = getattr(ti, "start_date", None)
    started_ms = int(started.timestamp() * 1000) if isinstance(started, datetime) else None
    return decide(policy, exception, attempt=facts["attempt"], max_attempts=facts["max_attempts"],
                  idempotency_key=facts["key"], started_at_ms=started_ms)


class BackstopRetryPolicy(RetryPolicy):  # type: ignore[misc,valid-type]
    """An Airflow 3.3+ ``retry_policy=``: :meth:`evaluate` answers
    ``RetryDecision.retry(<planner delay>)`` or ``RetryDecision.fail(<reason>)``.

    ``policy`` is a :class:`backstop.Policy` or a policy file path. The policy
    document travels with :meth:`serialize` (Airflow keeps only a flag in the
    serialized DAG; the worker evaluates the object parsed from the DAG file).

    The policy's ``deadline`` counts from the start of the current try: the
    worker is not told when the first try started.
    """

    def __init__(self, policy: Union[Policy, str, "os.PathLike[str]"]) -> None:
        if RetryDecision is None:
            raise RuntimeError("BackstopRetryPolicy needs Airflow 3.3+ (retry_policy=); on older "
                               "Airflow wrap the callable with backstop.airflow.fail_fast")
        self.policy = _as_policy(policy)

    def evaluate(self, exception: BaseException, try_number: int, max_tries: int,
                 context: Optional[Mapping[str, Any]] = None) -> Any:
        if context is None:  # Airflow passes it; without it there is no run to seed from
            context = {}
        if "ti" not in context:
            v = decide(self.policy, exception, attempt=max(1, try_number), max_attempts=max_tries + 1)
        else:
            v = verdict(self.policy, exception, context)
        if v.retry:
            return RetryDecision.retry(v.delay_timedelta, f"backstop: {v.reason}")
        return RetryDecision.fail(f"backstop: {v.reason}")

    def serialize(self) -> dict[str, Any]:
        return {"__type": _TYPE, "policy": self.policy.source, "format": self.policy.format}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> "BackstopRetryPolicy":
        if not isinstance(data, Mapping) or data.get("__type") != _TYPE:
            raise ValueError(f"not a serialized {_TYPE}: {data!r}")
        return cls(load_policy(data["policy"], data.get("format", "toml")))

    def __repr__(self) -> str:
        return f"BackstopRetryPolicy({self.policy!r})"


def fail_fast(policy: Union[Policy, str, "os.PathLike[str]"]) -> Callable[[F], F]:
    """Decorate a task callable (Airflow 2.x and 3.x): a failure Backstop says
    not to retry (permanent, or the policy's attempts or deadline used up)
    raises ``AirflowFailException`` with the reason, so Airflow skips the
    remaining retries; any other failure is re-raised unchanged for Airflow
    to retry after the operator's ``retry_delay``. Airflow's own control
    exceptions (skip, defer, reschedule, fail) pass through untouched."""
    loaded = _as_policy(policy)

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if type(exc).__module__.split(".")[0] == "airflow":
                    raise
                v = verdict(loaded, exc, get_current_context())
                if v.retry:
                    raise
                raise AirflowFailException(f"backstop: {v.reason}") from exc

        return wrapper  # type: ignore[return-value]

    return decorate


def alert_callbacks(feed: AlertFeed, *,
                    log_tail: Optional[Callable[[Mapping[str, Any]], Optional[str]]] = None,
                    labels: Optional[Mapping[str, str]] = None) -> dict[str, Callable[..., None]]:
    """``on_retry_callback``, ``on_failure_callback`` and
    ``on_success_callback`` feeding ``feed``: a retried try is
    ``attempt-failed``, a final failure ``run-failed``, a success
    ``run-succeeded`` (resolving what the failures notified). Splat them into
    the operator (``@task(..., **alert_callbacks(feed))``) or ``default_args``.

    The log tail is the exception's traceback (what the task log shows), or
    what ``log_tail(context)`` returns. A callback never raises: Airflow logs
    and ignores callback errors anyway, and an alert problem must not change
    the task's outcome."""

    def facts(context: Mapping[str, Any]) -> tuple[dict[str, Any], Optional[BaseException], Optional[str]]:
        f = task_facts(context)
        exc = context.get("exception")
        error = exc if isinstance(exc, BaseException) else None
        # fail_fast's AirflowFailException stands for the error it wraps.
        if isinstance(error, AirflowFailException) and error.__cause__ is not None:
            error = error.__cause__
        tail = log_tail(context) if log_tail is not None else None
        return f, error, tail

    def on_retry(context: Mapping[str, Any]) -> None:
        f, error, tail = facts(context)
        feed.attempt_failed(f["pipeline"], f["step"], f["run_id"], attempt=f["attempt"], error=error,
                            log=tail, labels=labels)

    def on_failure(context: Mapping[str, Any]) -> None:
        f, error, tail = facts(context)
        feed.run_failed(f["pipeline"], f["step"], f["run_id"], attempt=f["attempt"], error=error,
                        log=tail, labels=labels)

    def on_success(context: Mapping[str, Any]) -> None:
        f = task_facts(context)
        feed.run_succeeded(f["pipeline"], f["step"], f["run_id"], attempt=f["attempt"], labels=labels)

    return {"on_retry_callback": _guarded(on_retry), "on_failure_callback": _guarded(on_failure),
            "on_success_callback": _guarded(on_success)}


def _guarded(fn: Callable[[Mapping[str, Any]], None]) -> Callable[[Mapping[str, Any]], None]:
    @functools.wraps(fn)
    def call(context: Mapping[str, Any]) -> None:
        try:
            fn(context)
        except Exception:
            import logging

            logging.getLogger("backstop.airflow").exception("backstop: the %s callback failed", fn.__name__)

    return call


# -- DAG deadline alerts (Airflow 3.1+ DeadlineAlert callbacks) -----------------


def _deadline(policy: str, state_dir: str, webhook_url: Optional[str], step: str, key: str,
              late_minutes: Optional[int], context: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    if not context or "dag_run" not in context:
        raise ValueError("deadline_missed needs Airflow's deadline context (context['dag_run'])")
    dag_run = context["dag_run"]
    pipeline = dag_run["dag_id"]
    run_id = dag_run.get("dag_run_id") or dag_run.get("run_id")
    if late_minutes is None:
        when = (context.get("deadline") or {}).get("deadline_time")
        if isinstance(when, str):
            when = datetime.fromisoformat(when.replace("Z", "+00:00"))
        late = 0.0
        if isinstance(when, datetime):
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            late = (datetime.now(timezone.utc) - when).total_seconds() / 60
        # The callback runs because the deadline passed: late by at least a minute.
        late_minutes = max(1, math.ceil(late))
    feed = AlertFeed(load_policy_file(policy), store=FileAlertStateStore(state_dir), key=key,
                     webhook_url=webhook_url)
    evaluation = feed.run_late(pipeline, step, run_id, late_minutes=late_minutes)
    return {"late_minutes": late_minutes,
            "notifications": [n.to_dict() for n in evaluation.notifications],
            "delivery_errors": [str(e) for _, e in feed.delivery_errors]}


def deadline_missed_sync(*, policy: str, state_dir: str, webhook_url: Optional[str] = None,
                         step: str = "dag", key: str = "alerts", late_minutes: Optional[int] = None,
                         context: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """A ``SyncCallback`` for ``DAG(deadline=DeadlineAlert(...))``: feed a
    ``run-late`` event (step ``step``, lateness past the deadline, at least 1
    minute) for the DAG run. Airflow passes only JSON ``kwargs``, so the policy
    file, the alert state directory and the webhook come by path/URL::

        DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=timedelta(hours=2),
                      callback=SyncCallback(deadline_missed_sync, kwargs={
                          "policy": "/opt/backstop/nightly.toml", "state_dir": "/shared/backstop"}))
    """
    return _deadline(policy, state_dir, webhook_url, step, key, late_minutes, context)


async def deadline_missed(*, policy: str, state_dir: str, webhook_url: Optional[str] = None,
                          step: str = "dag", key: str = "alerts", late_minutes: Optional[int] = None,
                          context: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """The ``AsyncCallback`` (triggerer) form of :func:`deadline_missed_sync`;
    the blocking work runs in a thread."""
    import asyncio

    return await asyncio.to_thread(_deadline, policy, state_dir, webhook_url, step, key,
                                   late_minutes, context)
