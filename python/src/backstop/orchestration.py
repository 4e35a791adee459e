"""Orchestrator-neutral glue: what the Airflow, Prefect, Dagster and Temporal
adapters share, usable directly by any other scheduler.

Two pieces, neither importing an orchestrator:

* :func:`decide` answers one question after a failed attempt the orchestrator
  ran: retry after the planner's delay, or fail now with the classification's
  reason. The orchestrator owns the attempt counter and the sleeping; Backstop
  owns the decision. The engine's planner and classifier make it (nothing is
  re-implemented here).
* :class:`AlertFeed` feeds the task's facts (run id, try number, the error
  and its log tail) into the policy's alert evaluator as attempt-failed /
  run-failed / run-succeeded / run-late events, keeps the evaluator's state in
  an :class:`AlertStateStore` between processes (a locked file by default), and
  delivers the resulting notifications (a webhook POST, or your callables).

>>> from backstop import load_policy
>>> from backstop.orchestration import decide
>>> policy = load_policy('[retry]\\nmax_attempts = 3\\nbase_delay = "2s"\\njitter = "none"')
>>> v = decide(policy, ConnectionResetError("peer reset"), attempt=1, max_attempts=5,
...            idempotency_key="nightly/run-7/extract")
>>> (v.retry, v.delay_ms)
(True, 2000)
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import tempfile
import threading
import time
import traceback
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Protocol, TypeVar, Union

from ._alerts import Evaluation, Event, EventKind, Notification
from ._exceptions import failure_from_exception, pushback_from_exception
from ._logs import read_log
from ._model import Classification, Failure
from ._planner import AttemptFailure, Decision, GiveUpReason, RetryState, SharedState
from ._policy import Policy, derive_seed
from ._retrying import SharedStateStore

__all__ = [
    "AlertFeed",
    "AlertStateStore",
    "FileAlertStateStore",
    "InMemoryAlertStateStore",
    "Verdict",
    "decide",
    "idempotency_key",
    "log_tail",
    "record_success",
    "webhook",
]

logger = logging.getLogger("backstop.orchestration")
T = TypeVar("T")

#: Log lines an alert event carries (the evaluator keeps the last 20).
LOG_LINES = 20


def idempotency_key(*parts: Any) -> str:
    """Join the parts that identify one task run (``dag_id``, ``run_id``,
    ``task_id``, ``map_index``) with ``/``, skipping ``None``. The jitter seed
    derives from it (:func:`backstop.derive_seed`), so one run's delays are
    reproducible and different runs spread out."""
    return "/".join(str(p) for p in parts if p is not None)


def log_tail(error: Optional[BaseException] = None, log: Union[str, bytes, None] = None,
             lines: int = LOG_LINES) -> list[str]:
    """The last ``lines`` lines of ``log`` (a task's output tail) or, without
    one, of the exception's formatted traceback (what the task log shows).
    The evaluator redacts secrets in them before they leave the engine."""
    if log is None and error is not None:
        log = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    if log is None:
        return []
    if isinstance(log, (bytes, bytearray)):
        log = bytes(log).decode("utf-8", errors="replace")
    return [line for line in log.splitlines() if line.strip()][-lines:]


def _outcome(error: Union[BaseException, Failure, None], log: Union[str, bytes, None],
             exit_code: Optional[int], duration_ms: int) -> tuple[AttemptFailure, bool]:
    """The attempt's failure and whether the server asked never to retry."""
    if isinstance(error, Failure):
        return AttemptFailure(error, duration_ms), False
    if isinstance(error, BaseException):
        pushback = pushback_from_exception(error)
        never = pushback is not None and math.isinf(pushback)
        return AttemptFailure(failure_from_exception(error), duration_ms,
                              None if pushback is None or never else int(pushback)), never
    if error is not None:
        raise TypeError(f"error must be an exception or a Failure, not {type(error).__name__}")
    if log is None:
        raise TypeError("decide() needs the failure: an exception, a Failure, or log= (a log tail)")
    report = read_log(log, exit_code=exit_code)
    return AttemptFailure(report.failure, duration_ms, report.pushback_ms), False


@dataclass(frozen=True)
class Verdict:
    """The answer after a failed attempt: retry after :attr:`delay_ms`, or fail."""

    retry: bool
    delay_ms: int
    """The planner's wait before the next attempt (0 when failing)."""
    attempt: int
    """The attempt that failed (1-based)."""
    give_up: Optional[GiveUpReason]
    """Why not retry (``None`` when retrying). ``PERMANENT`` for a permanent
    classification; ``ATTEMPTS_EXHAUSTED`` also when the orchestrator's own
    retry limit is reached first."""
    reason: str
    """One human sentence: what was decided and why (the classification's
    reason for a permanent failure)."""
    classification: Classification
    failure: Failure
    decision: Decision
    """The planner's decision as it made it (before the orchestrator's limit)."""

    @property
    def permanent(self) -> bool:
        return self.give_up is GiveUpReason.PERMANENT

    @property
    def delay(self) -> float:
        """:attr:`delay_ms` in seconds."""
        return self.delay_ms / 1000

    @property
    def delay_timedelta(self) -> timedelta:
        return timedelta(milliseconds=self.delay_ms)


def _last_delay_ms(policy: Policy, seed: int, attempt: int) -> int:
    """The wait before ``attempt`` as the planner scheduled it (decorrelated
    jitter needs it). The orchestrator does not carry our retry state between
    attempts, so it is recomputed from the dry-run schedule with the same seed;
    a server pushback on an earlier attempt is not seen."""
    if attempt <= 1:
        return 0
    entries = policy.schedule(seed, attempt).attempts
    return entries[min(attempt, len(entries)) - 1].delay_ms


def decide(policy: Policy, error: Union[BaseException, Failure, None] = None, *, attempt: int,
           max_attempts: Optional[int] = None, idempotency_key: Optional[str] = None,
           seed: Optional[int] = None, log: Union[str, bytes, None] = None,
           exit_code: Optional[int] = None, now_ms: Optional[int] = None,
           started_at_ms: Optional[int] = None, duration_ms: int = 0,
           shared_store: Optional[SharedStateStore] = None, dependency: str = "default") -> Verdict:
    """After attempt ``attempt`` (1-based, the orchestrator's try number) failed:
    retry, after how long, or fail, and why.

    ``error`` is the exception the task raised (or a :class:`Failure`); without
    one, ``log`` (the attempt's output tail, with ``exit_code``) is read by the
    log readers. ``max_attempts`` is the orchestrator's limit on tries
    (``retries + 1``); the verdict never retries past it, nor past the policy's
    own ``max_attempts`` or deadline. The jitter seed is ``seed`` or derives
    from ``idempotency_key`` (see :func:`idempotency_key`); with neither it is
    0, and every run waits the same. ``started_at_ms`` is when the first
    attempt started (wall-clock milliseconds, for the policy's deadline); by
    default the deadline counts from this attempt's start. ``shared_store``
    keeps the circuit breaker and retry budget for ``dependency`` across
    attempts (the retry loop's :class:`backstop.SharedStateStore`).
    """
    if not isinstance(policy, Policy):
        raise TypeError(f"policy must be a backstop.Policy, not {type(policy).__name__}")
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise ValueError(f"attempt must be an int >= 1 (the try that failed), not {attempt!r}")
    if max_attempts is not None and (isinstance(max_attempts, bool)
                                     or not isinstance(max_attempts, int) or max_attempts < 1):
        raise ValueError(f"max_attempts must be an int >= 1 or None, not {max_attempts!r}")
    outcome, never = _outcome(error, log, exit_code, duration_ms)
    if seed is None:
        seed = derive_seed(idempotency_key) if idempotency_key is not None else 0
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    if started_at_ms is None:
        started_at_ms = max(0, now_ms - duration_ms)
    state = RetryState(attempts=attempt, started_at_ms=started_at_ms,
                       last_delay_ms=_last_delay_ms(policy, seed, attempt), seed=seed)

    def after(shared: SharedState) -> tuple[SharedState, Decision]:
        decision = policy.after_failure(state, shared, outcome, now_ms)
        return decision.shared, decision

    if shared_store is None:
        decision = after(SharedState())[1]
    else:
        decision = shared_store.update(dependency, after)
    klass = decision.classification
    give_up, reason = decision.give_up, decision.explanation
    if give_up is None and never:
        give_up = GiveUpReason.PUSHBACK_BEYOND_DEADLINE
        reason = (f"attempt {attempt} failed ({klass.failure_class.value}); give up: "
                  "pushback-beyond-deadline (the server asked not to retry)")
    elif give_up is None and max_attempts is not None and attempt >= max_attempts:
        give_up = GiveUpReason.ATTEMPTS_EXHAUSTED
        reason = (f"attempt {attempt} failed ({klass.failure_class.value}); give up: "
                  f"attempts-exhausted (the orchestrator allows {max_attempts} tries)")
    elif give_up is GiveUpReason.PERMANENT:
        reason = (f"attempt {attempt} failed permanently (rule {klass.rule}): {klass.reason}"
                  if klass.reason else decision.explanation)
    retry = give_up is None
    return Verdict(retry, decision.delay_ms if retry else 0, attempt, give_up, reason, klass,
                   outcome.failure, decision)


def record_success(policy: Policy, shared_store: SharedStateStore, dependency: str = "default") -> None:
    """After a successful attempt: close a half-open circuit and refill the
    retry budget in ``shared_store`` (only needed when :func:`decide` got one)."""
    shared_store.update(dependency, lambda shared: (policy.after_success(shared), None))


# -- alert state stores -------------------------------------------------------


class AlertStateStore(Protocol):
    """Where the alert evaluator's state lives between processes.

    ``update`` must apply ``fn`` atomically: call it with the state stored
    under ``key`` (``""`` if none), store the string it returns first, and
    return its second value. Two workers reporting at once must not both
    read the old state, or one's alert would be forgotten (and paged again).
    A database row locked with ``SELECT ... FOR UPDATE`` is the fleet-wide
    equivalent of :class:`FileAlertStateStore`.
    """

    def update(self, key: str, fn: Callable[[str], tuple[str, T]]) -> T: ...


class InMemoryAlertStateStore:
    """A thread-safe, in-process :class:`AlertStateStore` (tests, one process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, str] = {}

    def update(self, key: str, fn: Callable[[str], tuple[str, T]]) -> T:
        with self._lock:
            state, result = fn(self._states.get(key, ""))
            _check_state(state)
            self._states[key] = state
            return result

    def get(self, key: str) -> str:
        with self._lock:
            return self._states.get(key, "")


_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _check_state(state: Any) -> None:
    if not isinstance(state, str):
        raise TypeError(f"an alert state is a str (Evaluation.state), not {type(state).__name__}")


class FileAlertStateStore:
    """An :class:`AlertStateStore` in a directory: one ``<key>.json`` per key,
    updated under an exclusive ``flock`` on ``<key>.lock`` and replaced
    atomically, so processes on one machine (or a shared POSIX filesystem
    with working locks) take turns. Not for NFS without lock support: use a
    database-backed store there."""

    def __init__(self, directory: Union[str, "os.PathLike[str]"]) -> None:
        self.directory = Path(directory)
        self._threads = threading.Lock()  # flock is per open file, not per thread

    def _paths(self, key: str) -> tuple[Path, Path]:
        if not isinstance(key, str) or not _KEY.match(key):
            raise ValueError(f"alert state key {key!r} must be 1-128 characters of "
                             "letters, digits, '.', '_' or '-', starting with a letter or digit")
        return self.directory / f"{key}.json", self.directory / f"{key}.lock"

    def update(self, key: str, fn: Callable[[str], tuple[str, T]]) -> T:
        import fcntl  # POSIX only; imported here so the module loads everywhere

        path, lock_path = self._paths(key)
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._threads, open(lock_path, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                state = self._read(path)
                new_state, result = fn(state)
                _check_state(new_state)
                if new_state != state:
                    self._write(path, new_state)
                return result
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def get(self, key: str) -> str:
        """The stored state (``""`` if none), read without taking the lock."""
        return self._read(self._paths(key)[0])

    @staticmethod
    def _read(path: Path) -> str:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return ""
        except ValueError as exc:
            raise ValueError(f"{path}: not an alert state file written by Backstop: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("state"), str):
            raise ValueError(f"{path}: not an alert state file written by Backstop "
                             "(expected {\"state\": \"...\"})")
        return data["state"]

    @staticmethod
    def _write(path: Path, state: str) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"state": state}, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def __repr__(self) -> str:
        return f"<FileAlertStateStore {str(self.directory)!r}>"


# -- delivery -----------------------------------------------------------------

Deliver = Callable[[Notification], Any]


def webhook(url: str, *, timeout: float = 10.0,
            headers: Optional[Mapping[str, str]] = None) -> Deliver:
    """A deliverer that POSTs each notification's JSON (:meth:`Notification.to_dict`)
    to ``url``; an HTTP error status or a network error raises."""
    parsed = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"webhook url must be an http:// or https:// URL, not {url!r}")
    extra = dict(headers or {})

    def deliver(notification: Notification) -> None:
        body = json.dumps(notification.to_dict()).encode("utf-8")
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json", **extra})
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked)
            response.read()

    # Named by host only: user:password@ in the URL must not reach the logs.
    port = f":{parsed.port}" if parsed.port else ""
    deliver.__name__ = f"webhook({parsed.scheme}://{parsed.hostname}{port})"
    return deliver


# -- the alert feed -----------------------------------------------------------


class AlertFeed:
    """Feeds a task's events into the policy's alert evaluator and delivers
    what it decides.

    ``store`` keeps the evaluator's state under ``key`` between events and
    processes (default: in this process only; pass a
    :class:`FileAlertStateStore` when attempts run in different processes, as
    they do under every orchestrator). Notifications go to each of
    ``deliver`` (callables taking a :class:`backstop.Notification`) and, with
    ``webhook_url``, to a webhook. A failing deliverer is logged on the
    ``backstop.orchestration`` logger and recorded in :attr:`delivery_errors`;
    it never raises into the task (the task's own outcome matters more), and
    the state still records the alert as sent.

    Whether a blip pages is the policy's decision: with the seed's rules one
    ``attempt-failed`` informs the team room, three failed runs in a row page
    on-call, and ``run-succeeded`` resolves what the run's failures notified.

    Escalations and repeats are due at :attr:`Evaluation.next_wakeup_ms`;
    call :meth:`tick` then (a scheduled job, a sensor) or they fire with the
    next event.

    (The policy's own ``[[alerts.sinks]]`` are not used yet: the Python
    package does not expose them; pass ``deliver`` / ``webhook_url``.)
    """

    def __init__(self, policy: Policy, *, store: Optional[AlertStateStore] = None,
                 key: str = "alerts", deliver: Union[Deliver, Iterable[Deliver], None] = None,
                 webhook_url: Optional[str] = None, webhook_timeout: float = 10.0,
                 clock: Callable[[], float] = time.time,
                 labels: Optional[Mapping[str, str]] = None) -> None:
        if not isinstance(policy, Policy):
            raise TypeError(f"policy must be a backstop.Policy, not {type(policy).__name__}")
        self.policy = policy
        self.store: AlertStateStore = store if store is not None else InMemoryAlertStateStore()
        if not isinstance(key, str) or not key:
            raise ValueError("key must be a non-empty str")
        self.key = key
        if deliver is None:
            deliverers: list[Deliver] = []
        elif callable(deliver):
            deliverers = [deliver]
        else:
            deliverers = list(deliver)
        for d in deliverers:
            if not callable(d):
                raise TypeError(f"deliver must be callables taking a Notification, not {d!r}")
        if webhook_url is not None:
            deliverers.append(webhook(webhook_url, timeout=webhook_timeout))
        self.deliverers = tuple(deliverers)
        self.clock = clock
        self.labels = dict(labels or {})
        self.delivery_errors: list[tuple[Notification, BaseException]] = []

    # The events --------------------------------------------------------------

    def attempt_failed(self, pipeline: str, step: str, run_id: str, *, attempt: int = 0,
                       error: Union[BaseException, Failure, None] = None,
                       log: Union[str, bytes, None] = None,
                       labels: Optional[Mapping[str, str]] = None) -> Evaluation:
        """An attempt failed and the orchestrator will retry it."""
        return self._failure(EventKind.ATTEMPT_FAILED, pipeline, step, run_id, attempt, error, log, labels)

    def run_failed(self, pipeline: str, step: str, run_id: str, *, attempt: int = 0,
                   error: Union[BaseException, Failure, None] = None,
                   log: Union[str, bytes, None] = None,
                   labels: Optional[Mapping[str, str]] = None) -> Evaluation:
        """The task gave up: its last attempt failed and none follows."""
        return self._failure(EventKind.RUN_FAILED, pipeline, step, run_id, attempt, error, log, labels)

    def run_succeeded(self, pipeline: str, step: str, run_id: str, *, attempt: int = 0,
                      labels: Optional[Mapping[str, str]] = None) -> Evaluation:
        """The task succeeded: resolves what its failures notified."""
        return self.send(Event(EventKind.RUN_SUCCEEDED, pipeline, step, run_id, attempt=attempt,
                               labels=self._labels(labels)))

    def run_late(self, pipeline: str, step: str, run_id: str, *, late_minutes: int,
                 labels: Optional[Mapping[str, str]] = None) -> Evaluation:
        """The run missed its deadline / SLA by ``late_minutes``."""
        return self.send(Event(EventKind.RUN_LATE, pipeline, step, run_id, late_minutes=late_minutes,
                               labels=self._labels(labels)))

    def acknowledge(self, dedup_key: str) -> Evaluation:
        """Someone acknowledged the alert: it stops escalating and repeating."""
        return self.send(Event.acknowledge(dedup_key))

    def tick(self) -> Evaluation:
        """Fire the escalations and repeats that are due."""
        return self.send(Event.tick())

    def send(self, event: Event) -> Evaluation:
        """Evaluate one event under the store's lock, keep the new state, then
        deliver its notifications (outside the lock)."""
        now_ms = max(0, round(self.clock() * 1000))

        def evaluate(state: str) -> tuple[str, Evaluation]:
            evaluation = self.policy.evaluate_alerts(event, state=state, now_ms=now_ms)
            return evaluation.state, evaluation

        evaluation = self.store.update(self.key, evaluate)
        for notification in evaluation.notifications:
            self._deliver(notification)
        return evaluation

    # Helpers -------------------------------------------------------------------

    def _labels(self, labels: Optional[Mapping[str, str]]) -> dict[str, str]:
        return {**self.labels, **(labels or {})}

    def _failure(self, kind: EventKind, pipeline: str, step: str, run_id: str, attempt: int,
                 error: Union[BaseException, Failure, None], log: Union[str, bytes, None],
                 labels: Optional[Mapping[str, str]]) -> Evaluation:
        if isinstance(error, BaseException):
            failure: Optional[Failure] = failure_from_exception(error)
        elif isinstance(error, Failure) or error is None:
            failure = error
        else:
            raise TypeError(f"error must be an exception or a Failure, not {type(error).__name__}")
        if failure is None and log is not None:
            failure = read_log(log).failure
        lines = log_tail(error if isinstance(error, BaseException) else None, log)
        return self.send(Event(kind, pipeline, step, run_id, failure, attempt=attempt,
                               labels=self._labels(labels), log_lines=lines))

    def _deliver(self, notification: Notification) -> None:
        for deliver in self.deliverers:
            try:
                deliver(notification)
            except Exception as exc:  # never fail the task over an alert
                self.delivery_errors.append((notification, exc))
                logger.warning("backstop: delivering %s %s via %s failed: %s", notification.kind.value,
                               notification.dedup_key, getattr(deliver, "__name__", deliver), exc)
