"""Backstop for Dagster (``pip install "backstop-policy[dagster]"``).

* :func:`with_backstop` wraps an op's or asset's compute function: when it
  raises, the policy classifies the exception and the planner decides. A
  transient failure raises ``RetryRequested(max_retries=..., seconds_to_wait=<the
  planner's delay>)``; a permanent one (or one past the retry limit, the
  policy's deadline or an open circuit) raises ``Failure(allow_retries=False)``
  with the reason and the classification as metadata.
* :func:`failure_sensor` and :func:`success_sensor` are run status sensors that
  feed the run's outcome, step by step, into the policy's alert evaluator
  (``run-failed`` / ``run-succeeded``), so a recovered step resolves its alert;
  :func:`tick_sensor` fires due escalations and repeats.

>>> from dagster import op
>>> from backstop import load_policy_file
>>> from backstop.dagster import with_backstop
>>> policy = load_policy_file("examples/storage-read.toml")      # doctest: +SKIP
>>> @op
... @with_backstop(policy, max_retries=4)
... def read_shard(): ...                                        # doctest: +SKIP

Ids: the jitter seed derives from ``<partition key>/<step>`` for a
partitioned run and from ``<root run id>/<step>`` otherwise (a re-execution
gets a new run id but keeps its root's, so it keeps its schedule); alert
events use the job name as the pipeline, the step key as the step and the
root run id as the run id.

Importing :mod:`backstop` never imports Dagster; importing this module does.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import time
from typing import Any, Callable, Optional, Sequence, TypeVar

try:
    import dagster as dg
except ImportError as exc:  # pragma: no cover - tested in the core suite
    raise ImportError('backstop.dagster needs Dagster: pip install "backstop-policy[dagster]"') from exc

from ._alerts import Evaluation
from ._model import Failure as BackstopFailure
from ._policy import Policy
from ._retrying import SharedStateStore
from .orchestration import AlertFeed, Verdict, decide, idempotency_key

__all__ = [
    "RUN_STEP",
    "failure_sensor",
    "idempotency_key_for",
    "report_run_failure",
    "report_run_success",
    "success_sensor",
    "tick_sensor",
    "with_backstop",
]

logger = logging.getLogger("backstop.dagster")
F = TypeVar("F", bound=Callable[..., Any])

#: The step name of a run that failed outside any step (launch error, run worker lost).
RUN_STEP = "(run)"
#: Most retries assumed when the policy has no attempt limit of its own.
_UNBOUNDED_RETRIES = 1000
_META = "backstop/"


def _policy_retries(policy: Policy) -> int:
    """Retries the policy's planner allows (its ``max_attempts`` - 1), from a dry run."""
    schedule = policy.schedule(0, _UNBOUNDED_RETRIES + 1)
    return max(0, len(schedule.attempts) - 1)


def _step_key(ctx: Any) -> str:
    """The step key Dagster's events carry (``op`` or ``op[mapping_key]``)."""
    key = str(ctx.op_handle)
    mapping = ctx.get_mapping_key()
    return f"{key}[{mapping}]" if mapping else key


def _root_run_id(run: Any) -> str:
    return run.root_run_id or run.run_id


def idempotency_key_for(context: Any) -> str:
    """The key the jitter seed derives from for the running step:
    ``<partition key>/<step>`` in a partitioned run (whichever job or
    re-execution materialises that partition), else ``<root run id>/<step>``
    (a re-execution keeps its root's). ``context`` is an op or asset
    execution context."""
    ctx = getattr(context, "op_execution_context", context)
    step = _step_key(ctx)
    if ctx.has_partition_key:
        return idempotency_key(ctx.partition_key, step)
    return idempotency_key(_root_run_id(ctx.run), step)


def _first_start_ms(ctx: Any, step: str) -> Optional[int]:
    """When this step's first attempt in this run started (wall-clock ms), for
    the policy's overall deadline; ``None`` if the event log cannot say."""
    try:
        records = ctx.instance.get_records_for_run(
            ctx.run_id, of_type=dg.DagsterEventType.STEP_START).records
        times = [r.event_log_entry.timestamp for r in records
                 if r.event_log_entry.step_key == step]
    except Exception:  # an instance without event records: count from this attempt
        return None
    return int(min(times) * 1000) if times else None


def _failure_metadata(verdict: Verdict) -> dict[str, Any]:
    c = verdict.classification
    failure = {k: (list(v) if isinstance(v, tuple) else v)
               for k, v in dataclasses.asdict(verdict.failure).items()
               if v not in (None, (), [])}
    return {
        f"{_META}class": c.failure_class.value,
        f"{_META}rule": c.rule or "",
        f"{_META}give_up": verdict.give_up.value if verdict.give_up else "",
        f"{_META}attempt": verdict.attempt,
        f"{_META}failure": dg.MetadataValue.json(failure),
    }


def with_backstop(policy: Policy, *, max_retries: Optional[int] = None,
                  alerts: Optional[AlertFeed] = None,
                  shared_store: Optional[SharedStateStore] = None,
                  dependency: str = "default") -> Callable[[F], F]:
    """Decorate an op's or asset's compute function (put it *under* ``@op`` /
    ``@asset``) so Backstop decides what a raised exception means.

    ``max_retries`` is Dagster's limit on retries of the step (default: the
    policy's own ``max_attempts`` - 1); the planner never retries past it nor
    past the policy's limits. With ``alerts``, each retried attempt is fed to
    the alert evaluator as ``attempt-failed`` (the sensors feed run outcomes).
    ``shared_store`` keeps the circuit breaker and retry budget of
    ``dependency`` between steps (see :func:`backstop.orchestration.decide`).

    ``RetryRequested`` and ``Failure`` raised by the function itself pass
    through: they are the author's explicit decision.
    """
    if not isinstance(policy, Policy):
        raise TypeError(f"policy must be a backstop.Policy, not {type(policy).__name__}")
    if max_retries is None:
        max_retries = _policy_retries(policy)
    elif isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries must be an int >= 0, not {max_retries!r}")
    if alerts is not None and not isinstance(alerts, AlertFeed):
        raise TypeError(f"alerts must be a backstop.orchestration.AlertFeed, not {type(alerts).__name__}")
    retries: int = max_retries

    def decide_on(exc: Exception, started: float) -> BaseException:
        ctx = dg.OpExecutionContext.get()
        step = _step_key(ctx)
        attempt = ctx.retry_number + 1
        duration_ms = max(0, int((time.monotonic() - started) * 1000))
        # The first attempt started this call; later ones ask the event log
        # (a query of ~10 ms, paid only when a retry fails again).
        first_start = _first_start_ms(ctx, step) if attempt > 1 else None
        verdict = decide(policy, exc, attempt=attempt, max_attempts=retries + 1,
                         idempotency_key=idempotency_key_for(ctx),
                         started_at_ms=first_start, duration_ms=duration_ms,
                         shared_store=shared_store, dependency=dependency)
        if verdict.retry:
            # Python's logger, not context.log: that writes an event-log row
            # (~15 ms), and Dagster already records the retry and its wait.
            logger.info("backstop: %s", verdict.reason)
            if alerts is not None:
                try:
                    alerts.attempt_failed(ctx.job_name, step, _root_run_id(ctx.run),
                                          attempt=attempt, error=exc)
                except Exception as problem:  # alerting never changes the step's outcome
                    logger.warning("backstop: feeding the alert evaluator failed: %s", problem)
            return dg.RetryRequested(max_retries=retries, seconds_to_wait=verdict.delay)
        return dg.Failure(description=verdict.reason, metadata=_failure_metadata(verdict),
                          allow_retries=False)

    def on_error(exc: Exception, started: float) -> Optional[BaseException]:
        """What to raise instead of ``exc``; ``None`` (re-raise ``exc`` as it is,
        for Dagster's own handling) when no decision could be made."""
        try:
            return decide_on(exc, started)
        except Exception as problem:
            logger.error("backstop: no decision for %s (%s); Dagster handles it as raised",
                         type(exc).__name__, problem)
            return None

    def decorate(fn: F) -> F:
        if isinstance(fn, (dg.OpDefinition, dg.AssetsDefinition)) or not callable(fn):
            raise TypeError("with_backstop decorates the compute function: put it under @op / @asset")
        if inspect.isasyncgenfunction(fn):
            raise TypeError(f"with_backstop does not support async generator ops ({fn.__name__})")
        passthrough = (dg.RetryRequested, dg.Failure)
        wrapper: Callable[..., Any]
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                started = time.monotonic()
                try:
                    return await fn(*args, **kwargs)
                except passthrough:
                    raise
                except Exception as exc:
                    replacement = on_error(exc, started)
                    if replacement is None:
                        raise
                    raise replacement from exc
        elif inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                started = time.monotonic()
                try:
                    return (yield from fn(*args, **kwargs))
                except passthrough:
                    raise
                except Exception as exc:
                    replacement = on_error(exc, started)
                    if replacement is None:
                        raise
                    raise replacement from exc
        else:
            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                started = time.monotonic()
                try:
                    return fn(*args, **kwargs)
                except passthrough:
                    raise
                except Exception as exc:
                    replacement = on_error(exc, started)
                    if replacement is None:
                        raise
                    raise replacement from exc
        return wrapper  # type: ignore[return-value]

    return decorate


# -- sensors ------------------------------------------------------------------


def _steps_with(instance: Any, run_id: str, event_type: Any) -> list[str]:
    records = instance.get_records_for_run(run_id, of_type=event_type, limit=None).records
    steps: list[str] = []
    for record in records:
        step = record.event_log_entry.step_key
        if step and step not in steps:
            steps.append(step)
    return steps


#: Dagster's wrappers around the op's own exception (its retry policy, step errors).
_WRAPPERS = frozenset(("RetryRequestedFromPolicy", "RetryRequested",
                       "DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"))


def _error_failure(error: Any) -> BackstopFailure:
    """A Failure from Dagster's serialised error: type names along the cause
    chain (Dagster keeps bare class names, not modules) and the message,
    starting at the op's own exception (Dagster's wrappers skipped)."""
    chain: list[Any] = []
    current = error
    while current is not None and len(chain) < 64:
        chain.append(current)
        current = current.cause or current.context
    while len(chain) > 1 and chain[0].cls_name in _WRAPPERS:
        chain.pop(0)
    error = chain[0]
    types = [link.cls_name or "Exception" for link in chain]
    first = (error.message or "").strip().splitlines()
    message = first[0] if first else ""
    prefix = f"{error.cls_name}: "
    if message.startswith(prefix):
        message = message[len(prefix):]
    return BackstopFailure(error_types=tuple(types), message=message or None)


def _step_failure(data: Any, instance: Any, run_id: str, step: str) -> tuple[BackstopFailure, int, Optional[str]]:
    """The failure, the attempt number and the log text of a STEP_FAILURE."""
    error = data.error
    log = error.to_string() if error is not None else None
    user = data.user_failure_data
    metadata = user.metadata if user is not None else {}
    recorded = metadata.get(f"{_META}failure")
    if recorded is not None:  # raised by with_backstop: the facts it classified
        failure = BackstopFailure(**recorded.value)
        attempt = metadata.get(f"{_META}attempt")
        return failure, int(attempt.value) if attempt is not None else 0, log
    restarts = sum(1 for r in instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.STEP_RESTARTED, limit=None).records
        if r.event_log_entry.step_key == step)
    failure = _error_failure(error) if error is not None else BackstopFailure(message="step failed")
    return failure, restarts + 1, log


def report_run_failure(alerts: AlertFeed, context: dg.RunFailureSensorContext) -> list[Evaluation]:
    """Feed a failed run into ``alerts``: ``run-failed`` for each failed step
    (with its classification facts, attempt and traceback), ``run-succeeded``
    for each step that succeeded in it; a run that failed outside any step
    reports ``run-failed`` for step :data:`RUN_STEP`."""
    run = context.dagster_run
    pipeline, run_id = run.job_name, _root_run_id(run)
    evaluations: list[Evaluation] = []
    failures = context.get_step_failure_events()
    for event in failures:
        failure, attempt, log = _step_failure(event.step_failure_data, context.instance,
                                              run.run_id, event.step_key)
        evaluations.append(alerts.run_failed(pipeline, event.step_key, run_id, attempt=attempt,
                                             error=failure, log=log))
    if not failures:
        message = context.failure_event.message or "the run failed outside any step"
        evaluations.append(alerts.run_failed(
            pipeline, RUN_STEP, run_id, log=message,
            error=BackstopFailure(error_types=("dagster.RunFailure",), message=message)))
    for step in _steps_with(context.instance, run.run_id, dg.DagsterEventType.STEP_SUCCESS):
        evaluations.append(alerts.run_succeeded(pipeline, step, run_id))
    return evaluations


def report_run_success(alerts: AlertFeed, context: dg.RunStatusSensorContext) -> list[Evaluation]:
    """Feed a succeeded run into ``alerts``: ``run-succeeded`` for each step
    that succeeded in it, which resolves what that step's failures notified."""
    run = context.dagster_run
    pipeline, run_id = run.job_name, _root_run_id(run)
    steps = _steps_with(context.instance, run.run_id, dg.DagsterEventType.STEP_SUCCESS)
    evaluations = [alerts.run_succeeded(pipeline, step, run_id) for step in steps]
    # A run re-executed from a failure outside any step recovers that too.
    evaluations.append(alerts.run_succeeded(pipeline, RUN_STEP, run_id))
    return evaluations


def failure_sensor(alerts: AlertFeed, *, name: str = "backstop_run_failure",
                   **sensor_args: Any) -> dg.SensorDefinition:
    """A ``@run_failure_sensor`` feeding failed runs into ``alerts`` (see
    :func:`report_run_failure`). ``sensor_args`` go to Dagster's decorator
    (``monitored_jobs``, ``monitor_all_code_locations``, ``default_status``...).
    ``alerts`` should keep its state in a store every process sees (a
    :class:`backstop.orchestration.FileAlertStateStore`): the sensor runs in
    the daemon, the steps in run workers."""
    @dg.run_failure_sensor(name=name, **sensor_args)
    def backstop_run_failure(context: dg.RunFailureSensorContext) -> None:
        report_run_failure(alerts, context)

    return backstop_run_failure


def success_sensor(alerts: AlertFeed, *, name: str = "backstop_run_success",
                   **sensor_args: Any) -> dg.SensorDefinition:
    """A ``@run_status_sensor`` on ``SUCCESS`` feeding succeeded runs into
    ``alerts`` (see :func:`report_run_success`)."""
    @dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, name=name, **sensor_args)
    def backstop_run_success(context: dg.RunStatusSensorContext) -> None:
        report_run_success(alerts, context)

    return backstop_run_success


def tick_sensor(alerts: AlertFeed, *, name: str = "backstop_alert_tick",
                minimum_interval_seconds: int = 60, **sensor_args: Any) -> dg.SensorDefinition:
    """A sensor that sends the evaluator a ``tick`` every
    ``minimum_interval_seconds``: escalations and repeats fire on time even
    when no run reports."""
    @dg.sensor(name=name, minimum_interval_seconds=minimum_interval_seconds, **sensor_args)
    def backstop_alert_tick(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        evaluation = alerts.tick()
        sent = len(evaluation.notifications)
        return dg.SkipReason(f"backstop: {sent} notification(s) sent")

    return backstop_alert_tick

