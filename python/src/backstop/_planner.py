"""The retry planner's value types: the WIT ``retry`` interface's records as
frozen dataclasses, with the canonical JSON form (``tests/README.md``) for
persisting state.

Durations and instants here are integer milliseconds, exactly as the engine
takes them; the retry helpers (:mod:`backstop._retrying`) speak seconds.
"""

from __future__ import annotations

import math

from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, Mapping, Optional, Tuple, TypeVar

from ._model import Classification, Failure, FailureClass

_U32_MAX = (1 << 32) - 1
_U64_MAX = (1 << 64) - 1


class Circuit(str, Enum):
    """A circuit breaker's position."""

    CLOSED = "closed"
    """Attempts flow."""
    OPEN = "open"
    """Attempts are refused until ``open_for`` has passed."""
    HALF_OPEN = "half-open"
    """A few probe attempts may test the dependency."""

    def __str__(self) -> str:
        return self.value


class GiveUpReason(str, Enum):
    """Why the planner stopped retrying (the WIT's ``give-up-reason``)."""

    PERMANENT = "permanent"
    ATTEMPTS_EXHAUSTED = "attempts-exhausted"
    DEADLINE = "deadline"
    PUSHBACK_BEYOND_DEADLINE = "pushback-beyond-deadline"
    CIRCUIT_OPEN = "circuit-open"
    BUDGET_EXHAUSTED = "budget-exhausted"

    def __str__(self) -> str:
        return self.value


def _check_int(owner: str, name: str, value: Any, hi: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{owner}.{name} must be int, not {type(value).__name__}")
    if not 0 <= value <= hi:
        bits = 32 if hi == _U32_MAX else 64
        raise ValueError(f"{owner}.{name} {value} is outside 0..2^{bits}-1")


def _check_ints(obj: Any, u32: Tuple[str, ...], u64: Tuple[str, ...]) -> None:
    owner = type(obj).__name__
    for name in u32:
        _check_int(owner, name, getattr(obj, name), _U32_MAX)
    for name in u64:
        value = getattr(obj, name)
        if value is not None:
            _check_int(owner, name, value, _U64_MAX)


def _seconds(ms: Optional[int]) -> Optional[float]:
    return None if ms is None else ms / 1000


def _u64_text(owner: str, name: str, value: Any) -> int:
    """A u64 from canonical JSON: a decimal string (the canonical form; JSON
    numbers lose precision past 2^53) or, leniently, an int."""
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit():
            raise ValueError(f"{owner}.{name} must be a decimal string, not {value!r}")
        return int(text)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"{owner}.{name} must be a decimal string, not {type(value).__name__}")


_D = TypeVar("_D")


def _from_mapping(cls: type[_D], data: Any, convert: Mapping[str, Any]) -> _D:
    """Build ``cls`` from a canonical JSON object: absent keys take their
    defaults (zero / None, i.e. fresh state), unknown keys are refused."""
    if not isinstance(data, Mapping):
        raise TypeError(f"{cls.__name__}.from_dict expects a mapping, not {type(data).__name__}")
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown keys {sorted(unknown)}; expected {sorted(known)}")
    kwargs = {k: convert[k](v) if k in convert else v for k, v in data.items()}
    return cls(**kwargs)


_BUILDERS: dict[type, Any] = {}


def _builder(cls: type[_D]) -> Any:
    """A function building ``cls`` from its field values in order, without
    ``__init__`` and ``__post_init__``: for values the engine returned
    (lifting already checked every value's type and range; the checks were a
    third of a decision's cost). Generated once per class, the way namedtuple
    is, because writing the instance dict key by key is twice as fast as a
    generic ``__dict__.update(zip(...))``."""
    build = _BUILDERS.get(cls)
    if build is None:
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        params = ", ".join(f"v{i}" for i in range(len(names)))
        body = "".join(f"\n    d[{name!r}] = v{i}" for i, name in enumerate(names))
        env: dict[str, Any] = {"new": object.__new__, "cls": cls}
        exec(f"def build({params}):\n    o = new(cls)\n    d = o.__dict__{body}\n    return o", env)
        build = _BUILDERS[cls] = env["build"]
    return build


def _trusted(cls: type[_D], *values: Any) -> _D:
    """Build a frozen dataclass from values the engine returned (see :func:`_builder`)."""
    built: _D = _builder(cls)(*values)
    return built


@dataclass(frozen=True)
class RetryState:
    """Progress of one operation (one run of one step). The default, all zero,
    is a fresh operation."""

    attempts: int = 0
    """Attempts started so far (``begin_attempt`` counts them)."""
    started_at_ms: Optional[int] = None
    """When the first attempt started, on the caller's clock."""
    last_delay_ms: int = 0
    """The previous wait (decorrelated jitter uses it)."""
    seed: int = 0
    """Jitter seed; see :func:`backstop.derive_seed`."""

    def __post_init__(self) -> None:
        _check_ints(self, ("attempts",), ("started_at_ms", "last_delay_ms", "seed"))

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form (``seed`` as a decimal string)."""
        return {"attempts": self.attempts, "started_at_ms": self.started_at_ms,
                "last_delay_ms": self.last_delay_ms, "seed": str(self.seed)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RetryState":
        """Inverse of :meth:`to_dict`; absent keys mean zero / ``None``."""
        return _from_mapping(cls, data, {"seed": lambda v: _u64_text(cls.__name__, "seed", v)})

    def _lower(self) -> tuple[Any, ...]:
        return (self.attempts, self.started_at_ms, self.last_delay_ms, self.seed)

    @classmethod
    def _lift(cls, raw: tuple[Any, ...]) -> "RetryState":
        state: RetryState = _new_retry_state(*raw)
        return state


@dataclass(frozen=True)
class BreakerState:
    """A circuit breaker's state; the default is a closed, empty breaker."""

    circuit: Circuit = Circuit.CLOSED
    consecutive_failures: int = 0
    recent_outcomes: int = 0
    """The latest outcomes as a bit mask, newest in bit 0; a set bit is a failure."""
    recent_count: int = 0
    opened_at_ms: int = 0
    probes_started: int = 0
    probes_succeeded: int = 0

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "circuit", Circuit(self.circuit))
        except ValueError:
            raise ValueError(f"BreakerState.circuit {self.circuit!r} is not one of "
                             f"{[c.value for c in Circuit]}") from None
        _check_ints(self, ("consecutive_failures", "recent_count", "probes_started",
                           "probes_succeeded"), ("recent_outcomes", "opened_at_ms"))

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form (``recent_outcomes`` as a decimal string)."""
        return {"circuit": self.circuit.value, "consecutive_failures": self.consecutive_failures,
                "recent_outcomes": str(self.recent_outcomes), "recent_count": self.recent_count,
                "opened_at_ms": self.opened_at_ms, "probes_started": self.probes_started,
                "probes_succeeded": self.probes_succeeded}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "BreakerState":
        return _from_mapping(cls, data, {
            "recent_outcomes": lambda v: _u64_text(cls.__name__, "recent_outcomes", v)})

    def _lower(self) -> tuple[Any, ...]:
        return (self.circuit.value, self.consecutive_failures, self.recent_outcomes,
                self.recent_count, self.opened_at_ms, self.probes_started, self.probes_succeeded)


@dataclass(frozen=True)
class BudgetState:
    """A retry budget's state; the default is a full bucket."""

    spent_milli: int = 0
    """How far below full the token bucket is, in thousandths of a token."""

    def __post_init__(self) -> None:
        _check_ints(self, ("spent_milli",), ())

    def to_dict(self) -> dict[str, Any]:
        return {"spent_milli": self.spent_milli}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "BudgetState":
        return _from_mapping(cls, data, {})


@dataclass(frozen=True)
class SharedState:
    """State shared by every operation against one dependency: persist it,
    share it between processes (see :class:`backstop.SharedStateStore`)."""

    breaker: BreakerState = field(default_factory=BreakerState)
    budget: BudgetState = field(default_factory=BudgetState)

    def __post_init__(self) -> None:
        if not isinstance(self.breaker, BreakerState):
            raise TypeError(f"SharedState.breaker must be BreakerState, not {type(self.breaker).__name__}")
        if not isinstance(self.budget, BudgetState):
            raise TypeError(f"SharedState.budget must be BudgetState, not {type(self.budget).__name__}")

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form."""
        return {"breaker": self.breaker.to_dict(), "budget": self.budget.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SharedState":
        """Inverse of :meth:`to_dict`; absent keys mean a fresh breaker / budget."""
        return _from_mapping(cls, data, {"breaker": BreakerState.from_dict,
                                         "budget": BudgetState.from_dict})

    def _lower(self) -> tuple[Any, ...]:
        # Immutable and interned (see _lift), so lowered once per object.
        d = self.__dict__
        lowered: Optional[tuple[Any, ...]] = d.get("_lowered")
        if lowered is None:
            lowered = d["_lowered"] = (self.breaker._lower(), (self.budget.spent_milli,))
        return lowered

    @classmethod
    def _lift(cls, raw: tuple[Any, ...]) -> "SharedState":
        breaker, (spent_milli,) = raw
        circuit, *rest = breaker
        return cls._from_flat((_CIRCUIT_INDEX[circuit], *rest, spent_milli))

    @classmethod
    def _from_flat(cls, flat: tuple[int, ...]) -> "SharedState":
        """The shared state whose flat core values (the WIT record flattened:
        circuit index, breaker counters, budget) are ``flat``, checked."""
        # Shared states repeat (a closed breaker and a full budget come back
        # unchanged from most calls), and they are immutable: hand out one
        # object per value instead of building three per call, its flat form
        # kept with it for the next call.
        shared = _SHARED_INTERNED.get(flat)
        if shared is None:
            circuit, failures, outcomes, count, opened, started, succeeded, spent = flat
            shared = _new_shared(_new_breaker(_CIRCUIT_LIST[circuit], failures, outcomes, count,
                                              opened, started, succeeded), _new_budget(spent))
            shared.__dict__["_flat"] = flat
            if len(_SHARED_INTERNED) >= _INTERN_MAX:
                _SHARED_INTERNED.clear()
                _SHARED_INTERNED[_ZERO_FLAT] = _ZERO_SHARED
            _SHARED_INTERNED[flat] = shared
        return shared


#: Lifted shared states by their flat value (see SharedState._from_flat); bounded.
_SHARED_INTERNED: dict[tuple[int, ...], SharedState] = {}
_INTERN_MAX = 256
_CIRCUIT_LIST = tuple(Circuit)
_CIRCUIT_INDEX = {c.value: i for i, c in enumerate(Circuit)}
#: The all-zero shared state, every new dependency's. Interned, so the engine's
#: answers for it come back as this very object and compare by identity.
_ZERO_SHARED = SharedState()
_ZERO_FLAT = (0, 0, 0, 0, 0, 0, 0, 0)
_ZERO_SHARED.__dict__["_flat"] = _ZERO_FLAT
_SHARED_INTERNED[_ZERO_FLAT] = _ZERO_SHARED


# Enum members by WIT case name: a dict lookup costs a tenth of ``Enum(value)``.
_REASONS = {r.value: r for r in GiveUpReason}
_CLASSES = {c.value: c for c in FailureClass}


def _reason(raw: Optional[str]) -> Optional[GiveUpReason]:
    return None if raw is None else _REASONS[raw]


@dataclass(frozen=True)
class Permit:
    """May the next attempt start? From :meth:`backstop.Policy.begin_attempt`."""

    refused: Optional[GiveUpReason]
    """``None`` when it may start; otherwise ``CIRCUIT_OPEN`` or ``DEADLINE``."""
    attempt: int
    """The attempt about to start (1-based)."""
    timeout_ms: Optional[int]
    """Its timeout: the policy's attempt timeout clamped to what remains of the deadline."""
    retry_after_ms: int
    """When refused by an open circuit: how long until it half-opens."""
    probe: bool
    """Whether this attempt is a half-open probe."""
    state: RetryState
    """The retry state to keep (the attempt counted)."""
    shared: SharedState
    """The shared state to keep."""

    @property
    def allowed(self) -> bool:
        return self.refused is None

    @property
    def timeout(self) -> Optional[float]:
        """:attr:`timeout_ms` in seconds."""
        return _seconds(self.timeout_ms)

    @property
    def retry_after(self) -> float:
        """:attr:`retry_after_ms` in seconds."""
        return self.retry_after_ms / 1000

    def to_dict(self) -> dict[str, Any]:
        return {"refused": None if self.refused is None else self.refused.value,
                "attempt": self.attempt, "timeout_ms": self.timeout_ms,
                "retry_after_ms": self.retry_after_ms, "probe": self.probe,
                "state": self.state.to_dict(), "shared": self.shared.to_dict()}

    @classmethod
    def _lift(cls, raw: tuple[Any, ...]) -> "Permit":
        refused, attempt, timeout_ms, retry_after_ms, probe, state, shared = raw
        permit: Permit = _new_permit(None if refused is None else _REASONS[refused], attempt,
                                     timeout_ms, retry_after_ms, probe, _new_retry_state(*state),
                                     SharedState._lift(shared))
        return permit


@dataclass(frozen=True)
class AttemptFailure:
    """A failed attempt, as observed: what the planner's ``after_failure`` takes."""

    failure: Failure
    duration_ms: int = 0
    """How long the attempt ran."""
    pushback_ms: Optional[int] = None
    """Server pushback (Retry-After, ``grpc-retry-pushback-ms``)."""

    def __post_init__(self) -> None:
        if not isinstance(self.failure, Failure):
            raise TypeError(f"AttemptFailure.failure must be a Failure, not {type(self.failure).__name__}")
        _check_ints(self, (), ("duration_ms", "pushback_ms"))

    @classmethod
    def from_exception(cls, exc: BaseException, duration_ms: int = 0,
                       now: Optional[float] = None) -> "AttemptFailure":
        """Describe a caught exception: its :class:`Failure` and any server
        pushback it carries (see :func:`backstop.pushback_from_exception`;
        ``now`` is the wall-clock time in seconds an HTTP-date is measured from)."""
        from ._exceptions import failure_from_exception, pushback_from_exception

        pushback = pushback_from_exception(exc, now=now)
        # NEVER ("do not retry") has no millisecond value: the retry loop acts on it.
        return cls(failure_from_exception(exc), duration_ms,
                   None if pushback is None or math.isinf(pushback) else int(pushback))

    def _failure_fields(self) -> tuple[Any, ...]:
        """The failure's fields in WIT order."""
        f = self.failure
        return (f.http_status, f.grpc_code, f.exit_code, f.signal, f.error_types, f.error_bases,
                f.error_code, f.message)

    def _lower(self) -> tuple[Any, ...]:
        return (self._failure_fields(), self.duration_ms, self.pushback_ms)


def _classification(raw: tuple[Any, ...]) -> Classification:
    failure_class, rule, reason = raw
    classification: Classification = _new_classification(_CLASSES[failure_class], rule, reason)
    return classification


@dataclass(frozen=True)
class Decision:
    """What to do after a failed attempt. From :meth:`backstop.Policy.after_failure`."""

    give_up: Optional[GiveUpReason]
    """``None``: retry after :attr:`delay_ms`; otherwise give up for this reason."""
    delay_ms: int
    attempt: int
    """The attempt that failed (1-based)."""
    next_timeout_ms: Optional[int]
    """The next attempt's timeout when retrying."""
    classification: Classification
    explanation: str
    """One human sentence: what was decided and why."""
    state: RetryState
    shared: SharedState

    @property
    def should_retry(self) -> bool:
        return self.give_up is None

    @property
    def delay(self) -> float:
        """:attr:`delay_ms` in seconds."""
        return self.delay_ms / 1000

    @property
    def next_timeout(self) -> Optional[float]:
        """:attr:`next_timeout_ms` in seconds."""
        return _seconds(self.next_timeout_ms)

    def to_dict(self) -> dict[str, Any]:
        c = self.classification
        return {"give_up": None if self.give_up is None else self.give_up.value,
                "delay_ms": self.delay_ms, "attempt": self.attempt,
                "next_timeout_ms": self.next_timeout_ms,
                "classification": {"class": c.failure_class.value, "rule": c.rule, "reason": c.reason},
                "explanation": self.explanation, "state": self.state.to_dict(),
                "shared": self.shared.to_dict()}

    @classmethod
    def _lift(cls, raw: tuple[Any, ...]) -> "Decision":
        give_up, delay_ms, attempt, next_timeout_ms, classification, explanation, state, shared = raw
        decision: Decision = _new_decision(
            None if give_up is None else _REASONS[give_up], delay_ms, attempt, next_timeout_ms,
            _classification(classification), explanation, _new_retry_state(*state),
            SharedState._lift(shared))
        return decision


@dataclass(frozen=True)
class PlannedFailure:
    """One failed attempt of :meth:`backstop.Policy.plan_failures`' answer."""

    decision: Decision
    next_permit: Optional[Permit]
    """When the decision retries and the next permit cannot depend on the
    clock: ``begin_attempt(decision.state, decision.shared, t)`` for every ``t``."""

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.decision.to_dict(),
                "next_permit": None if self.next_permit is None else self.next_permit.to_dict()}

    @classmethod
    def _lift(cls, raw: tuple[Any, ...]) -> "PlannedFailure":
        decision, permit = raw
        return cls(Decision._lift(decision), None if permit is None else Permit._lift(permit))


@dataclass(frozen=True)
class PlannedAttempt:
    """One row of a dry-run :class:`Schedule`."""

    attempt: int
    delay_ms: int
    """Wait before this attempt (0 for the first)."""
    timeout_ms: Optional[int]
    start_ms: int
    """Offset of its start from the first attempt's start."""

    def to_dict(self) -> dict[str, Any]:
        return {"attempt": self.attempt, "delay_ms": self.delay_ms,
                "timeout_ms": self.timeout_ms, "start_ms": self.start_ms}


@dataclass(frozen=True)
class Schedule:
    """The attempts a policy would make if every one failed transiently."""

    attempts: Tuple[PlannedAttempt, ...]
    ends_with: Optional[GiveUpReason]
    """Why the schedule ends; ``None`` when it was cut at ``max_entries``."""

    def to_dict(self) -> dict[str, Any]:
        return {"attempts": [a.to_dict() for a in self.attempts],
                "ends_with": None if self.ends_with is None else self.ends_with.value}

    @classmethod
    def _lift(cls, raw: tuple[Any, ...]) -> "Schedule":
        attempts, ends_with = raw
        return cls(tuple(PlannedAttempt(*a) for a in attempts), _reason(ends_with))


_new_retry_state = _builder(RetryState)
_new_breaker = _builder(BreakerState)
_new_budget = _builder(BudgetState)
_new_shared = _builder(SharedState)
_new_permit = _builder(Permit)
_new_decision = _builder(Decision)
_new_planned = _builder(PlannedFailure)
_new_classification = _builder(Classification)
