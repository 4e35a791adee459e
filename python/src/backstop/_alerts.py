"""The escalation evaluator's value types: the WIT ``alerts`` interface's
records as frozen dataclasses, with the canonical JSON forms of
``tests/README.md``.

Instants are integer milliseconds, exactly as the engine takes them (the same
convention as the planner's ``begin_attempt`` / ``after_failure``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any, Mapping, Optional, Sequence, Tuple

from ._model import EngineError, Failure
from ._planner import _check_ints, _trusted

_EVENT_KEYS = ("kind", "pipeline", "step", "run_id", "failure", "attempt", "late_minutes",
               "labels", "log_lines", "dedup_key")
_FAILURE_KEYS = frozenset(("http_status", "grpc_code", "exit_code", "signal", "error_types",
                           "error_bases", "error_code", "message"))


class EventKind(str, Enum):
    """What happened (the WIT's ``event-kind``)."""

    ATTEMPT_FAILED = "attempt-failed"
    RUN_FAILED = "run-failed"
    """Every attempt of the run failed: the run is over."""
    RUN_SUCCEEDED = "run-succeeded"
    """Resets consecutive failures and resolves what the run's failures notified."""
    RUN_LATE = "run-late"
    """The run is late against its SLA (``late_minutes``)."""
    ALERT_ACKNOWLEDGED = "alert-acknowledged"
    """Someone acknowledged ``dedup_key``: stop escalating and repeating it."""
    TICK = "tick"
    """Nothing happened; fire the timers (escalations, repeats) that are due."""

    def __str__(self) -> str:
        return self.value


class Severity(str, Enum):
    INFO = "info"
    WARNING = "warning"
    HIGH = "high"
    CRITICAL = "critical"

    def __str__(self) -> str:
        return self.value


class NotificationKind(str, Enum):
    TRIGGER = "trigger"
    ESCALATE = "escalate"
    """Still unacknowledged: the next level of the escalation chain."""
    REPEAT = "repeat"
    """Still firing after its repeat interval."""
    RESOLVE = "resolve"
    """The pipeline recovered; sent for everything that was notified."""

    def __str__(self) -> str:
        return self.value


class SuppressionReason(str, Enum):
    DUPLICATE = "duplicate"
    """Already notified within the dedup window."""
    INHIBITED = "inhibited"
    ACKNOWLEDGED = "acknowledged"
    REPEAT_LIMIT = "repeat-limit"

    def __str__(self) -> str:
        return self.value


class SinkKind(str, Enum):
    """How a sink delivers (the WIT's ``sink-kind``)."""

    STDOUT = "stdout"
    """One JSON line on standard output."""
    FILE = "file"
    """One JSON line appended to the file ``location[0]``."""
    WEBHOOK = "webhook"
    """An HTTP POST to ``location[0]``, retried by the host."""
    COMMAND = "command"
    """The command ``location`` (argv) with the JSON on its standard input."""

    def __str__(self) -> str:
        return self.value


class SinkFormat(str, Enum):
    """The shape of a delivered body (the WIT's ``sink-format``)."""

    BACKSTOP = "backstop"
    """The notification as is."""
    PAGERDUTY = "pagerduty"
    """A PagerDuty Events v2 event; the routing key comes from the environment
    variable ``routing_key_env`` names, at delivery."""
    SLACK = "slack"
    """A Slack-compatible incoming-webhook message."""
    TEMPLATE = "template"
    """The sink's ``template`` (JSON text), its ``{{field}}`` placeholders filled from the notification."""

    def __str__(self) -> str:
        return self.value


def _check_str(owner: str, name: str, value: Any, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        kind = "str or None" if optional else "str"
        raise TypeError(f"{owner}.{name} must be {kind}, not {type(value).__name__}")


@dataclass(frozen=True)
class Event:
    """One pipeline event for :meth:`backstop.Policy.evaluate_alerts`.

    Which fields matter depends on ``kind``: a failure event needs
    ``pipeline``, ``step``, ``run_id`` and usually ``failure``; ``run-late``
    needs ``late_minutes``; an acknowledgement needs ``dedup_key`` (see
    :meth:`acknowledge`); a tick needs nothing (see :meth:`tick`). The engine
    refuses an event that lacks what its kind requires with a
    :class:`backstop.PolicyError` naming the field (``event.run_id``).
    """

    kind: EventKind
    pipeline: str = ""
    step: str = ""
    run_id: str = ""
    failure: Optional[Failure] = None
    """The failure (attempt-failed, run-failed); classified by the policy."""
    attempt: int = 0
    """The attempt number, when known (0 = unknown)."""
    late_minutes: int = 0
    """Lateness against the SLA (run-late)."""
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Free-form labels (``labels.team`` in conditions); passed in iteration order."""
    log_lines: Sequence[str] = ()
    """The last lines of output; the engine redacts secrets before they leave it."""
    dedup_key: Optional[str] = None
    """The alert acknowledged (alert-acknowledged)."""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", EventKind(self.kind))
        except ValueError:
            raise ValueError(f"Event.kind {self.kind!r} is not one of "
                             f"{[k.value for k in EventKind]}") from None
        for name in ("pipeline", "step", "run_id"):
            _check_str("Event", name, getattr(self, name))
        _check_str("Event", "dedup_key", self.dedup_key, optional=True)
        if self.failure is not None and not isinstance(self.failure, Failure):
            raise TypeError(f"Event.failure must be a Failure or None, not {type(self.failure).__name__}")
        _check_ints(self, ("attempt", "late_minutes"), ())
        if not isinstance(self.labels, Mapping):
            raise TypeError(f"Event.labels must be a mapping of str to str, not {type(self.labels).__name__}")
        for key, value in self.labels.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"Event.labels must map str to str; got {key!r}: {value!r}")
        # A read-only copy: the caller's dict may change after the event is built.
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))
        if isinstance(self.log_lines, (str, bytes)):
            raise TypeError("Event.log_lines must be a sequence of str, not a single string")
        lines = tuple(self.log_lines)
        if not all(isinstance(line, str) for line in lines):
            raise TypeError("Event.log_lines must contain only str")
        object.__setattr__(self, "log_lines", lines)

    @classmethod
    def tick(cls) -> "Event":
        """Nothing happened: fire the escalations and repeats that are due.
        Send one at (or after) each :attr:`Evaluation.next_wakeup_ms`."""
        return cls(EventKind.TICK)

    @classmethod
    def acknowledge(cls, dedup_key: str) -> "Event":
        """Someone acknowledged the alert ``dedup_key`` (a notification's
        :attr:`Notification.dedup_key`): it stops escalating and repeating."""
        _check_str("Event", "dedup_key", dedup_key)
        return cls(EventKind.ALERT_ACKNOWLEDGED, dedup_key=dedup_key)

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form (``tests/README.md``); every key present."""
        f = self.failure
        failure = None if f is None else {
            k: v for k, v in (("http_status", f.http_status), ("grpc_code", f.grpc_code),
                              ("exit_code", f.exit_code), ("signal", f.signal),
                              ("error_types", list(f.error_types)),
                              ("error_bases", list(f.error_bases) or None),
                              ("error_code", f.error_code),
                              ("message", f.message)) if v is not None}
        return {"kind": self.kind.value, "pipeline": self.pipeline, "step": self.step,
                "run_id": self.run_id, "failure": failure, "attempt": self.attempt,
                "late_minutes": self.late_minutes, "labels": dict(self.labels),
                "log_lines": list(self.log_lines), "dedup_key": self.dedup_key}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Event":
        """Inverse of :meth:`to_dict`: omitted keys mean empty / zero / none;
        unknown keys are refused (a typo would otherwise be silently empty)."""
        if not isinstance(data, Mapping):
            raise TypeError(f"Event.from_dict expects a mapping, not {type(data).__name__}")
        unknown = set(data) - set(_EVENT_KEYS)
        if unknown:
            raise ValueError(f"Event: unknown keys {sorted(unknown)}; expected {sorted(_EVENT_KEYS)}")
        if "kind" not in data:
            raise ValueError("Event: `kind` is required")
        kwargs = dict(data)
        failure = kwargs.get("failure")
        if failure is not None:
            if not isinstance(failure, Mapping):
                raise TypeError(f"Event.failure must be a mapping, not {type(failure).__name__}")
            unknown = set(failure) - _FAILURE_KEYS
            if unknown:
                raise ValueError(f"Event.failure: unknown keys {sorted(unknown)}")
            kwargs["failure"] = Failure(**failure)
        for name in ("labels", "log_lines"):
            if kwargs.get(name) is None:
                kwargs.pop(name, None)
        return cls(**kwargs)

    def _lower(self) -> tuple[Any, ...]:
        f = self.failure
        failure = None if f is None else (f.http_status, f.grpc_code, f.exit_code, f.signal,
                                          f.error_types, f.error_bases, f.error_code, f.message)
        return (self.kind.value, self.pipeline, self.step, self.run_id, failure, self.attempt,
                self.late_minutes, [(k, v) for k, v in self.labels.items()], self.log_lines,
                self.dedup_key)


@dataclass(frozen=True)
class Notification:
    """A notification to deliver, keyed for PagerDuty-style dedup."""

    kind: NotificationKind
    severity: Severity
    targets: Tuple[str, ...]
    """Where to send it, as the policy names them (``oncall``, ``mlops-room``)."""
    rule: str
    """Id of the alert rule that fired (``rule-2`` for the second unnamed rule)."""
    dedup_key: str
    """Stable across trigger, escalate, repeat and resolve of one alert;
    acknowledge it with :meth:`Event.acknowledge`."""
    summary: str
    """One human line."""
    payload: dict[str, Any]
    """The policy's payload fields plus the ``runbook`` (parsed from the engine's JSON)."""

    @property
    def is_resolve(self) -> bool:
        return self.kind is NotificationKind.RESOLVE

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form."""
        return {"kind": self.kind.value, "severity": self.severity.value,
                "targets": list(self.targets), "rule": self.rule, "dedup_key": self.dedup_key,
                "summary": self.summary, "payload": self.payload}

    @classmethod
    def _lift(cls, raw: tuple[Any, ...]) -> "Notification":
        kind, severity, targets, rule, dedup_key, summary, payload = raw
        try:
            parsed = json.loads(payload)
        except ValueError as exc:
            raise EngineError(f"the policy engine returned a payload that is not JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise EngineError("the policy engine returned a payload that is not a JSON object")
        return _trusted(cls, NotificationKind(kind), Severity(severity), tuple(targets), rule,
                        dedup_key, summary, parsed)


@dataclass(frozen=True)
class Suppressed:
    """A notification the rules asked for but that is not sent, and why."""

    rule: str
    dedup_key: str
    severity: Severity
    reason: SuppressionReason

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "dedup_key": self.dedup_key, "severity": self.severity.value,
                "reason": self.reason.value}


@dataclass(frozen=True)
class Evaluation:
    """The outcome of one event. From :meth:`backstop.Policy.evaluate_alerts`."""

    notifications: Tuple[Notification, ...]
    """To deliver, in order."""
    suppressed: Tuple[Suppressed, ...]
    state: str
    """The next alert state: an opaque JSON document. Store it and pass it to
    the next call (it is what stops a restart from paging twice)."""
    next_wakeup_ms: Optional[int]
    """When to call back with :meth:`Event.tick`, if ever (same clock as ``now_ms``)."""

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form of ``tests/README.md``, plus ``state``."""
        return {"notifications": [n.to_dict() for n in self.notifications],
                "suppressed": [s.to_dict() for s in self.suppressed],
                "next_wakeup_ms": self.next_wakeup_ms, "state": self.state}

    @classmethod
    def _lift(cls, raw: tuple[Any, ...]) -> "Evaluation":
        notifications, suppressed, state, next_wakeup_ms = raw
        return _trusted(
            cls, tuple(Notification._lift(n) for n in notifications),
            tuple(_trusted(Suppressed, rule, key, Severity(severity), SuppressionReason(reason))
                  for rule, key, severity, reason in suppressed),
            state, next_wakeup_ms)


@dataclass(frozen=True)
class KeyedState:
    """One shard of a pipeline's alert state, stored under ``key`` (the
    guest names the keys: ``step:["p","s"]``, ``pipeline:"p"``, ``global``;
    ``""`` holds a whole-document :attr:`Evaluation.state`, split on first
    use). From :meth:`backstop.Policy.evaluate_alerts_keyed`."""

    key: str
    state: str
    """Opaque JSON; ``""`` in an answer means: delete the key."""
    next_wakeup_ms: Optional[int] = None
    """When to pass this shard again (with a tick, or any event)."""

    def _lower(self) -> tuple[Any, ...]:
        return (self.key, self.state, self.next_wakeup_ms)


@dataclass(frozen=True)
class NeededKeys:
    """The shards an event needs: ``keys``, or every stored key when ``every_key``."""

    keys: Tuple[str, ...]
    every_key: bool


@dataclass(frozen=True)
class KeyedEvaluation:
    """The outcome of one event over keyed shards."""

    notifications: Tuple[Notification, ...]
    suppressed: Tuple[Suppressed, ...]
    states: Tuple[KeyedState, ...]
    """The shards that changed: store them (an empty ``state`` deletes the key)."""
    next_wakeup_ms: Optional[int]
    """The soonest wakeup among the shards this evaluation saw."""

    @classmethod
    def _lift(cls, raw: tuple[Any, ...]) -> "KeyedEvaluation":
        notifications, suppressed, states, next_wakeup_ms = raw
        return _trusted(
            cls, tuple(Notification._lift(n) for n in notifications),
            tuple(_trusted(Suppressed, rule, key, Severity(severity), SuppressionReason(reason))
                  for rule, key, severity, reason in suppressed),
            tuple(_trusted(KeyedState, k, st, w) for k, st, w in states),
            next_wakeup_ms)


@dataclass(frozen=True)
class Sink:
    """One of the policy's ``[[alerts.sinks]]``, validated when the policy
    loaded: where notifications for a target go. From
    :meth:`backstop.Policy.sinks`; the evaluator never delivers, hosts do."""

    target: str
    """The notification target it serves, or ``*`` for every target without its own sink."""
    kind: SinkKind
    location: Tuple[str, ...]
    """The file path, the URL, or the command's argv; empty for ``stdout``."""
    format: SinkFormat
    timeout_ms: int
    """How long one delivery may take."""
    dead_letter: Optional[str]
    """Where a webhook's undeliverable notifications are appended (``None``: the host's default)."""
    routing_key_env: Optional[str] = None
    """``pagerduty``: the environment variable that holds the routing key (never the key itself)."""
    template: Optional[str] = None
    """``template``: the body template as compact JSON text, keys in document order."""

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form."""
        return {"target": self.target, "kind": self.kind.value, "location": list(self.location),
                "format": self.format.value, "timeout_ms": self.timeout_ms,
                "dead_letter": self.dead_letter, "routing_key_env": self.routing_key_env,
                "template": self.template}

    @classmethod
    def _lift(cls, raw: tuple[Any, ...]) -> "Sink":
        target, kind, location, format, timeout_ms, dead_letter, routing_key_env, template = raw
        return _trusted(cls, target, SinkKind(kind), tuple(location), SinkFormat(format),
                        timeout_ms, dead_letter, routing_key_env, template)
