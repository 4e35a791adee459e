"""Backstop for Temporal (``pip install "backstop-policy[temporal]"``).

:class:`BackstopInterceptor` is a worker interceptor: when an activity raises,
the policy classifies the exception and the planner decides, with the attempt
number from ``activity.info()``. A transient failure is re-raised as
``ApplicationError(next_retry_delay=<the planner's delay>)``, so the server
waits what Backstop planned instead of the retry policy's interval; a
permanent one (or one past the retry limit, the policy's deadline or an open
circuit) as ``ApplicationError(non_retryable=True)`` with the reason.

>>> from temporalio.worker import Worker
>>> from backstop.temporal import BackstopInterceptor
>>> worker = Worker(client, task_queue="etl", workflows=[...], activities=[read_shard],
...                 interceptors=[BackstopInterceptor(policy)])     # doctest: +SKIP

Ids: the jitter seed derives from ``<workflow id>/<activity id>`` (stable
across the activity's attempts and the workflow's replays); alert events use
the workflow type as the pipeline, the activity type as the step and the
workflow id as the run id.

Importing :mod:`backstop` never imports temporalio; importing this module does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Any, Collection, Optional

try:
    from temporalio import activity
except ImportError as exc:  # pragma: no cover - tested in the core suite
    raise ImportError('backstop.temporal needs the Temporal SDK: pip install '
                      '"backstop-policy[temporal]"') from exc
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from ._exceptions import failure_from_exception
from ._model import Failure
from ._policy import Policy
from ._retrying import SharedStateStore
from .orchestration import AlertFeed, Verdict, decide, idempotency_key

__all__ = ["BackstopInterceptor", "idempotency_key_for"]

logger = logging.getLogger("backstop.temporal")


def idempotency_key_for(info: activity.Info) -> str:
    """``<workflow id>/<activity id>``: the key the jitter seed derives from."""
    return idempotency_key(info.workflow_id or info.activity_run_id or "", info.activity_id)


def _failure(exc: BaseException) -> Failure:
    """The failure to classify. An ``ApplicationError`` raised by the activity
    names its real error in ``type``: it leads the type names, so a rule
    naming that type matches."""
    failure = failure_from_exception(exc)
    if isinstance(exc, ApplicationError) and exc.type:
        return dataclasses.replace(failure, error_types=(exc.type, *failure.error_types))
    return failure


def _error_type(exc: BaseException) -> str:
    # What the SDK itself would report: RetryPolicy.non_retryable_error_types
    # and workflow code keep matching on it.
    if isinstance(exc, ApplicationError) and exc.type:
        return exc.type
    return type(exc).__name__


def _details(verdict: Verdict) -> dict[str, Any]:
    c = verdict.classification
    return {"backstop": {"class": c.failure_class.value, "rule": c.rule,
                         "give_up": verdict.give_up.value if verdict.give_up else None,
                         "attempt": verdict.attempt, "delay_ms": verdict.delay_ms}}


class BackstopInterceptor(Interceptor):
    """A worker interceptor that hands Temporal Backstop's decision after each
    failed activity attempt.

    ``max_attempts`` caps the tries (the activity's ``RetryPolicy.maximum_attempts``
    caps them too, when set); the policy's own limits always apply. With
    ``alerts``, a retried attempt is fed to the alert evaluator as
    ``attempt-failed``, a final failure as ``run-failed`` and a success as
    ``run-succeeded`` (which resolves what earlier failures notified; pass
    ``resolve_on_success=False`` to skip that evaluation on every success).
    Alert evaluation and delivery run in a thread, off the worker's event loop.
    ``activity_types`` limits the interceptor to those activities (default: all).

    Left untouched: cancellation, and an ``ApplicationError`` the activity
    raised with ``non_retryable`` or ``next_retry_delay`` set (the author's
    explicit decision).
    """

    def __init__(self, policy: Policy, *, max_attempts: Optional[int] = None,
                 alerts: Optional[AlertFeed] = None, resolve_on_success: bool = True,
                 shared_store: Optional[SharedStateStore] = None, dependency: str = "default",
                 activity_types: Optional[Collection[str]] = None) -> None:
        if not isinstance(policy, Policy):
            raise TypeError(f"policy must be a backstop.Policy, not {type(policy).__name__}")
        if max_attempts is not None and (isinstance(max_attempts, bool)
                                         or not isinstance(max_attempts, int) or max_attempts < 1):
            raise ValueError(f"max_attempts must be an int >= 1 or None, not {max_attempts!r}")
        if alerts is not None and not isinstance(alerts, AlertFeed):
            raise TypeError(f"alerts must be a backstop.orchestration.AlertFeed, not {type(alerts).__name__}")
        self.policy = policy
        self.max_attempts = max_attempts
        self.alerts = alerts
        self.resolve_on_success = resolve_on_success
        self.shared_store = shared_store
        self.dependency = dependency
        self.activity_types = None if activity_types is None else frozenset(activity_types)

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityInbound(next, self)

    # The decision, outside the interceptor chain so it can be unit-called.
    def verdict(self, exc: BaseException, info: activity.Info, duration_ms: int = 0) -> Verdict:
        """Backstop's verdict for ``exc`` raised by the attempt ``info`` describes."""
        limits = [n for n in (self.max_attempts,
                              info.retry_policy.maximum_attempts if info.retry_policy else 0)
                  if n]
        failure: Any = exc if not isinstance(exc, ApplicationError) else _failure(exc)
        return decide(self.policy, failure, attempt=info.attempt,
                      max_attempts=min(limits) if limits else None,
                      idempotency_key=idempotency_key_for(info),
                      started_at_ms=int(info.scheduled_time.timestamp() * 1000),
                      duration_ms=duration_ms, shared_store=self.shared_store,
                      dependency=self.dependency)

    def to_application_error(self, exc: BaseException, verdict: Verdict) -> ApplicationError:
        """The error the worker reports to the server for ``verdict``."""
        if verdict.retry:
            return ApplicationError(str(exc) or verdict.reason, _details(verdict),
                                    type=_error_type(exc), next_retry_delay=verdict.delay_timedelta)
        return ApplicationError(verdict.reason, _details(verdict), type=_error_type(exc),
                                non_retryable=True)


class _ActivityInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, owner: BackstopInterceptor) -> None:
        super().__init__(next)
        self._owner = owner

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        owner = self._owner
        info = activity.info()
        if owner.activity_types is not None and info.activity_type not in owner.activity_types:
            return await self.next.execute_activity(input)
        started = time.monotonic()
        try:
            result = await self.next.execute_activity(input)
        except CancelledError:
            raise
        except ApplicationError as exc:
            if exc.non_retryable or exc.next_retry_delay is not None:
                raise
            replacement = await self._decide(exc, info, started)
            if replacement is None:
                raise
            raise replacement from exc
        except Exception as exc:
            replacement = await self._decide(exc, info, started)
            if replacement is None:
                raise
            raise replacement from exc
        alerts = owner.alerts
        if alerts is not None and owner.resolve_on_success:
            await self._alert(alerts.run_succeeded, info, attempt=info.attempt)
        return result

    async def _decide(self, exc: Exception, info: activity.Info,
                      started: float) -> Optional[ApplicationError]:
        """The error to raise instead of ``exc``; ``None`` (``exc`` goes to the
        SDK as raised) when no decision could be made."""
        owner = self._owner
        duration_ms = max(0, int((time.monotonic() - started) * 1000))
        try:
            verdict = owner.verdict(exc, info, duration_ms)
        except Exception as problem:
            logger.error("backstop: no decision for %s (%s); the SDK reports it as raised",
                         type(exc).__name__, problem)
            return None
        activity.logger.info("backstop: %s", verdict.reason)
        if owner.alerts is not None:
            report = owner.alerts.attempt_failed if verdict.retry else owner.alerts.run_failed
            await self._alert(report, info, attempt=info.attempt, error=exc)
        return owner.to_application_error(exc, verdict)

    @staticmethod
    async def _alert(report: Any, info: activity.Info, **kwargs: Any) -> None:
        try:
            # A file lock or a webhook must not stall the worker's event loop.
            await asyncio.to_thread(report, info.workflow_type or "", info.activity_type,
                                    info.workflow_id or info.activity_id, **kwargs)
        except Exception as exc:  # alerting never changes the activity's outcome
            logger.warning("backstop: feeding the alert evaluator failed: %s", exc)
