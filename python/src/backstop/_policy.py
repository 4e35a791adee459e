"""Loading policies and classifying failures on the shared engine instance."""

from __future__ import annotations

import os
import threading
import weakref
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Literal, Optional, Sequence, Tuple, Union

import wasmtime

from . import _retrycalls, _wit
from ._abi import AbiError
from ._core import CoreInstance
from ._model import (Classification, EngineError, ErrorCode, Failure, FailureClass,
                     PolicyError, PolicyLoadError)
from ._alerts import Evaluation, Event, KeyedEvaluation, KeyedState, NeededKeys, Sink
from ._redaction import RedactionReport
from ._planner import (_ZERO_SHARED, AttemptFailure, Decision, Permit, PlannedFailure, RetryState,
                       Schedule, SharedState, _new_permit, _new_retry_state, _trusted)

_U32_MAX = (1 << 32) - 1
_U64_MAX = (1 << 64) - 1
#: Most attempts the engine lists in a dry-run schedule.
MAX_SCHEDULE = 10_000

_BEGIN_ATTEMPT, _AFTER_FAILURE = _wit.BEGIN_ATTEMPT.name, _wit.AFTER_FAILURE.name
_PLAN_FAILURES = _wit.PLAN_FAILURES.name

PolicyFormat = Literal["toml", "json"]
_FORMATS = ("toml", "json")

CORE_MODULE = "backstop-core.wasm"
COMPONENT = "backstop.wasm"


def wasm_bytes(name: str) -> bytes:
    """The bytes of a WebAssembly file shipped in the package (``backstop/wasm/``)."""
    return resources.files("backstop").joinpath("wasm", name).read_bytes()


_compile_lock = threading.Lock()
_compiled: Optional[tuple[wasmtime.Engine, wasmtime.Module]] = None


def _engine_config() -> wasmtime.Config:
    config = wasmtime.Config()
    try:
        # Compiling takes about a second; wasmtime's on-disk code cache makes
        # every later process start in milliseconds.
        config.cache = True
    except wasmtime.WasmtimeError:
        pass
    return config


def _compiled_module() -> tuple[wasmtime.Engine, wasmtime.Module]:
    global _compiled
    with _compile_lock:
        if _compiled is None:
            config = _engine_config()
            # Linear memory grows in place and never moves (all a 32-bit
            # memory can address is reserved up front, as wasmtime does by
            # default on 64-bit hosts), so a view of it stays valid and the
            # hot calls look its size up only when a pointer lies past the
            # view (see CoreInstance.view_to).
            config.memory_reservation = 1 << 32
            config.memory_may_move = False
            engine = wasmtime.Engine(config)
            _compiled = engine, wasmtime.Module(engine, wasm_bytes(CORE_MODULE))
        return _compiled


def _policy_error(raw: tuple[Any, ...]) -> PolicyError:
    code, message, path, location = raw
    line, column = location if location is not None else (None, None)
    return PolicyError(ErrorCode(code), message, path, line, column)


class _Runtime:
    """One instance of the core module, a lock serialising every call into it,
    and recovery from traps.

    A trap may leave the guest half-way through a mutation, so the instance is
    discarded and ``generation`` advances; a :class:`Policy` whose handle
    belongs to an older generation reloads its document into the new instance.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.generation = 0
        self._instance: Optional[CoreInstance] = None
        # (generation, handle) pairs released by garbage-collected policies;
        # appended without the lock (a finalizer may run while it is held).
        self._pending_drops: list[tuple[int, int]] = []

    def instance(self) -> CoreInstance:
        """The live instance; call with :attr:`lock` held."""
        if self._instance is None:
            engine, module = _compiled_module()
            self._instance = CoreInstance(engine, module, _wit.EXPORTS, fixed_memory=True)
        instance = self._instance
        while self._pending_drops:
            generation, handle = self._pending_drops.pop()
            if generation == self.generation:
                self._guarded(instance, "drop-policy", (handle,))
        return instance

    def call(self, name: str, *args: Any) -> Any:
        """Call a WIT function; call with :attr:`lock` held."""
        return self._guarded(self.instance(), name, args)

    def call_flat(self, name: str, flat: Sequence[int]) -> Any:
        """Call a WIT function with flattened parameters (:meth:`CoreInstance.call_flat`);
        call with :attr:`lock` held."""
        return self._guarded(self.instance(), name, flat, flat=True)

    def call_core(self, export: str, *args: int) -> Any:
        """Call a core export with raw ``i32`` values, with trap recovery
        (lock held). For diagnostics and tests: bad values can trap the guest."""
        instance = self.instance()
        return self._guarded(instance, export, args, raw=True)

    def run(self, name: str, call: Callable[..., Any], *args: Any) -> Any:
        """``call(instance, *args)``, a hand-written call of WIT function
        ``name`` (see :mod:`backstop._retrycalls`), with trap recovery (lock held)."""
        instance = self.instance()
        try:
            return call(instance, *args)
        except (wasmtime.Trap, wasmtime.WasmtimeError, AbiError) as exc:
            self.discard_instance()
            raise EngineError(f"the policy engine trapped in `{name}` and was restarted: {exc}") from exc

    def _guarded(self, instance: CoreInstance, name: str, args: Sequence[Any],
                 raw: bool = False, flat: bool = False) -> Any:
        try:
            if flat:
                return instance.call_flat(name, args)
            return instance.call_core(name, *args) if raw else instance.call(name, *args)
        except (wasmtime.Trap, wasmtime.WasmtimeError, AbiError) as exc:
            self.discard_instance()
            raise EngineError(f"the policy engine trapped in `{name}` and was restarted: {exc}") from exc

    def discard_instance(self) -> None:
        self._instance = None
        self.generation += 1
        self._pending_drops.clear()

    def release(self, generation: int, handle: int) -> None:
        self._pending_drops.append((generation, handle))

    def load(self, source: str, format: PolicyFormat) -> int:
        with self.lock:
            case, value = self.call("load-policy", source, format)
        if case == "ok":
            return int(value)
        raise PolicyLoadError([_policy_error(e) for e in value])

    def _after_fork_in_child(self) -> None:
        # Another thread may have held the lock (or been mid-call) at fork time.
        self.lock = threading.RLock()
        self.discard_instance()


_runtime = _Runtime()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_runtime._after_fork_in_child)


class _Handle:
    """A policy's handle in one instance generation (shared with its finalizer)."""

    __slots__ = ("generation", "handle")

    def __init__(self, generation: int, handle: int) -> None:
        self.generation = generation
        self.handle = handle


def _release(runtime: _Runtime, state: _Handle) -> None:
    runtime.release(state.generation, state.handle)


class Policy:
    """A loaded, validated policy. Reuse it: classifying never re-parses.

    Thread-safe: all policies share one engine instance guarded by a lock.
    Use it as a context manager or call :meth:`close` to free it in the engine
    promptly; otherwise it is freed after garbage collection.
    """

    def __init__(self, source: str, format: PolicyFormat = "toml") -> None:
        _check_source(source, format)
        self.source = source
        self.format: PolicyFormat = format
        self._runtime = _runtime
        with _runtime.lock:
            self._state = _Handle(_runtime.generation, _runtime.load(source, format))
        self._finalizer = weakref.finalize(self, _release, _runtime, self._state)
        self._closed = False
        #: (shared state, the engine's after-success answer for it): see after_success.
        self._success_memo: Optional[tuple[SharedState, SharedState]] = None
        #: The engine's fast-path-for answers, (shared state, success records
        #: nothing, fresh permit or None): for the all-zero state and for the
        #: last steady state. What begin_attempt on a fresh state may skip.
        self._fast_zero: Optional[tuple[SharedState, bool, Optional[Permit]]] = None
        self._fast_last: Optional[tuple[SharedState, bool, Optional[Permit]]] = None

    def _handle(self) -> int:
        """The handle in the live instance, reloading after a restart (lock held)."""
        if self._closed:
            raise ValueError("this Policy is closed")
        runtime, state = self._runtime, self._state
        if state.generation != runtime.generation:
            handle = runtime.load(self.source, self.format)
            state.generation, state.handle = runtime.generation, handle
        return state.handle

    def classify(self, failure: Failure) -> Classification:
        """Classify one failure: the first matching rule wins.

        Raises :class:`PolicyError` (code ``invalid-failure``) when the failure
        cannot be interpreted, such as HTTP status 700 or an unknown gRPC code.
        """
        if not isinstance(failure, Failure):
            raise TypeError(f"classify() expects a Failure, not {type(failure).__name__}")
        lowered = (failure.http_status, failure.grpc_code, failure.exit_code, failure.signal,
                   failure.error_types, failure.error_bases, failure.error_code, failure.message)
        runtime = self._runtime
        with runtime.lock:
            case, value = runtime.call("classify", self._handle(), lowered)
        if case == "error":
            raise _policy_error(value)
        failure_class, rule, reason = value
        return Classification(FailureClass(failure_class), rule, reason)

    def classify_exception(self, exc: BaseException) -> Classification:
        """Classify a caught exception (see :meth:`Failure.from_exception`)."""
        return self.classify(Failure.from_exception(exc))

    # -- the retry planner: integer milliseconds, exactly as the engine takes them.

    def _plan(self, name: str, *args: Any) -> Any:
        runtime = self._runtime
        with runtime.lock:
            case, value = runtime.call(name, self._handle(), *args)
        if case == "error":
            raise _policy_error(value)
        return value

    def _plan_flat(self, name: str, flat: tuple[int, ...]) -> Any:
        """:meth:`_plan` for a function whose parameters after the policy
        handle are already flattened to core values."""
        runtime = self._runtime
        with runtime.lock:
            case, value = runtime.call_flat(name, (self._handle(), *flat))
        if case == "error":
            raise _policy_error(value)
        return value

    def begin_attempt(self, state: RetryState, shared: SharedState, now_ms: int) -> Permit:
        """Before each attempt: may it start (circuit breaker, deadline), and
        with what timeout? Keep the permit's ``state`` and ``shared``.

        ``now_ms`` is milliseconds on any clock, the same one throughout
        (including in the states). Raises :class:`PolicyError` (``invalid-state``)
        for a state no sequence of decisions can produce.
        """
        _check_arg("state", state, RetryState)
        _check_arg("shared", shared, SharedState)
        return self._begin_attempt(state, shared, _u64("now_ms", now_ms))

    def _begin_attempt(self, state: RetryState, shared: SharedState, now_ms: int) -> Permit:
        """:meth:`begin_attempt` for the retry loop, with values it checked."""
        if (state.attempts == 0 and state.started_at_ms is None and state.last_delay_ms == 0
                and not self._closed):
            fast = self._fast_for(shared, ask=True)
            if fast is not None and fast[2] is not None:
                # The engine's permit for a fresh state against this shared
                # state, with the clock and the seed filled in as it says.
                p = fast[2]
                return _new_permit(None, p.attempt, p.timeout_ms, p.retry_after_ms, p.probe,
                                   _new_retry_state(p.state.attempts, now_ms,
                                                    p.state.last_delay_ms, state.seed),
                                   shared)
        return self._run(_BEGIN_ATTEMPT, _retrycalls.begin_attempt, _flat(_wit.RETRY_STATE, state),
                         _flat(_wit.SHARED_STATE, shared), now_ms)

    def after_failure(self, state: RetryState, shared: SharedState,
                      outcome: Union[AttemptFailure, Failure], now_ms: int) -> Decision:
        """After a failed attempt: classify it, then retry after how long, or
        give up and why. ``outcome`` may be a bare :class:`Failure` (no
        duration, no pushback). Keep the decision's ``state`` and ``shared``."""
        _check_arg("state", state, RetryState)
        _check_arg("shared", shared, SharedState)
        if isinstance(outcome, Failure):
            outcome = AttemptFailure(outcome)
        _check_arg("outcome", outcome, AttemptFailure)
        return self._after_failure(state, shared, outcome._failure_fields(), outcome.duration_ms,
                                   outcome.pushback_ms, _u64("now_ms", now_ms))

    def _after_failure(self, state: RetryState, shared: SharedState, failure: tuple[Any, ...],
                       duration_ms: int, pushback_ms: Optional[int], now_ms: int) -> Decision:
        """:meth:`after_failure` for the retry loop, with values it checked:
        ``failure`` is a :class:`Failure`'s fields in WIT order."""
        return self._run(_AFTER_FAILURE, _retrycalls.after_failure, _flat(_wit.RETRY_STATE, state),
                         _flat(_wit.SHARED_STATE, shared), failure, duration_ms, pushback_ms, now_ms)

    def plan_failures(self, state: RetryState, shared: SharedState,
                      outcome: Union[AttemptFailure, Failure], now_ms: int,
                      max_entries: int = 64) -> tuple[PlannedFailure, ...]:
        """:meth:`after_failure`, then what the same failure decides when it
        fails again and again: entry 0 is ``after_failure(state, shared,
        outcome, now_ms)``; entry ``i + 1`` exists when entry ``i`` has a
        ``next_permit`` ``p`` (and ``max_entries``, 1 to 64, allows) and is
        ``after_failure(p.state, p.shared, o, t)`` for every ``t`` and every
        ``o`` with ``outcome``'s failure and pushback. The engine decides which
        answers cannot depend on the clock (no deadline, the breaker closed or
        absent); the retry helpers keep the answer, so a repeated failure costs
        no engine call."""
        _check_arg("state", state, RetryState)
        _check_arg("shared", shared, SharedState)
        if isinstance(outcome, Failure):
            outcome = AttemptFailure(outcome)
        _check_arg("outcome", outcome, AttemptFailure)
        if not isinstance(max_entries, int) or isinstance(max_entries, bool):
            raise TypeError(f"max_entries must be int, not {type(max_entries).__name__}")
        max_entries = min(max(max_entries, 1), _retrycalls.MAX_PLANNED)
        return self._plan_failures(state, shared, outcome._failure_fields(), outcome.duration_ms,
                                   outcome.pushback_ms, _u64("now_ms", now_ms), max_entries)

    def _plan_failures(self, state: RetryState, shared: SharedState, failure: tuple[Any, ...],
                       duration_ms: int, pushback_ms: Optional[int], now_ms: int,
                       max_entries: int) -> tuple[PlannedFailure, ...]:
        """:meth:`plan_failures` for the retry loop, with values it checked."""
        return self._run(_PLAN_FAILURES, _retrycalls.plan_failures, _flat(_wit.RETRY_STATE, state),
                         _flat(_wit.SHARED_STATE, shared), failure, duration_ms, pushback_ms, now_ms,
                         max_entries)

    def _run(self, name: str, call: Callable[..., tuple[str, Any]], *args: Any) -> Any:
        """One of :mod:`backstop._retrycalls`' calls, with this policy's handle."""
        runtime = self._runtime
        with runtime.lock:
            case, value = runtime.run(name, call, self._handle(), *args)
        if case == "error":
            raise _policy_error(value)
        return value

    def after_success(self, shared: SharedState) -> SharedState:
        """After a successful attempt: close a half-open circuit, refill the
        retry budget. Returns the shared state to keep."""
        _check_arg("shared", shared, SharedState)
        # The engine's answer is a pure function of (policy, shared), and the
        # same state keeps coming back (a closed breaker and a full budget
        # stay as they are), so the answer for the last state is remembered
        # rather than asked again. Nothing is decided here: every answer
        # handed out is one the engine gave for exactly this state.
        memo = self._success_memo
        if memo is not None and not self._closed and (memo[0] is shared or memo[0] == shared):
            return memo[1]
        after = SharedState._lift(self._plan_flat("after-success", _flat(_wit.SHARED_STATE, shared)))
        self._success_memo = (shared, after)
        if after == shared and shared != _ZERO_SHARED:
            # A steady state (the success left it as it was): ask once what
            # may be skipped for it, so begin_attempt skips the engine too.
            self._fast_last = self._ask_fast(shared)
        return after

    def _fast_for(self, shared: SharedState, ask: bool = False
                  ) -> Optional[tuple[SharedState, bool, Optional[Permit]]]:
        """The engine's fast-path answer known for ``shared`` (asked once
        for the all-zero state when ``ask``), or None."""
        last = self._fast_last
        if last is not None and (last[0] is shared or last[0] == shared):
            return last
        if shared is not _ZERO_SHARED and shared != _ZERO_SHARED:
            return None
        if self._fast_zero is None and ask:
            self._fast_zero = self._ask_fast(shared)
        return self._fast_zero

    def _ask_fast(self, shared: SharedState) -> tuple[SharedState, bool, Optional[Permit]]:
        nothing, permit = self._plan("fast-path-for", shared._lower())
        return (shared, bool(nothing), None if permit is None else Permit._lift(permit))

    def schedule(self, seed: int = 0, max_entries: int = 100) -> Schedule:
        """A dry run: the attempts this policy would make if every one failed
        transiently after running for its full timeout. ``max_entries`` is
        clamped to 1..10,000; the schedule's ``ends_with`` is ``None`` when it
        was cut there."""
        seed = _u64("seed", seed)
        if not isinstance(max_entries, int) or isinstance(max_entries, bool):
            raise TypeError(f"max_entries must be int, not {type(max_entries).__name__}")
        max_entries = min(max(max_entries, 1), MAX_SCHEDULE)
        return Schedule._lift(self._plan("plan-schedule", seed, max_entries))

    # -- the escalation evaluator -------------------------------------------

    def evaluate_alerts(self, event: Event, *, state: str = "", now_ms: int) -> Evaluation:
        """Evaluate one pipeline event against the policy's alert rules: the
        notifications to send, those suppressed and why, the next state and
        when to call back with :meth:`Event.tick`.

        ``state`` is the previous evaluation's :attr:`Evaluation.state` (``""``
        for none); keep the returned one, even when nothing was sent.
        ``now_ms`` is milliseconds on one clock throughout (a wall clock if
        the state is persisted). Raises :class:`PolicyError`: ``invalid-value``
        for an event that lacks what its kind needs (``path`` names the field,
        e.g. ``event.run_id``), ``invalid-failure`` for an uninterpretable
        failure, ``invalid-state`` for a state that is not one this engine
        wrote. A refused call changes nothing: keep passing the old state.
        """
        _check_arg("event", event, Event)
        if not isinstance(state, str):
            raise TypeError(f"state must be str (a previous Evaluation.state), not {type(state).__name__}")
        return Evaluation._lift(self._plan("evaluate", state, event._lower(), _u64("now_ms", now_ms)))

    def alert_state_keys(self, event: Event) -> NeededKeys:
        """The keyed alert state shards ``event`` needs (a pure function of
        the policy and the event); see :meth:`evaluate_alerts_keyed`."""
        _check_arg("event", event, Event)
        keys, every_key = self._plan("alert-state-keys", event._lower())
        return _trusted(NeededKeys, tuple(keys), every_key)

    def evaluate_alerts_keyed(self, event: Event, *, states: Sequence[KeyedState],
                              now_ms: int) -> KeyedEvaluation:
        """:meth:`evaluate_alerts` over keyed shards, so one event costs what
        it concerns: pass the stored shards :meth:`alert_state_keys` names,
        every stored shard whose ``next_wakeup_ms`` is due at ``now_ms``, and
        a whole-document state under the key ``""`` if you have one; store
        each returned shard (an empty ``state`` deletes its key). Each key's
        state is limited to 8 MiB (``too-large``, ``path`` names the key)."""
        _check_arg("event", event, Event)
        lowered = []
        for s in states:
            _check_arg("states[]", s, KeyedState)
            lowered.append(s._lower())
        return KeyedEvaluation._lift(self._plan("evaluate-keyed", lowered, event._lower(),
                                                _u64("now_ms", now_ms)))

    def sinks(self) -> Optional[Tuple[Sink, ...]]:
        """The policy's ``[[alerts.sinks]]`` in document order, validated at
        load with defaults filled in; ``None`` when the policy has no alert
        section at all (nothing to evaluate or deliver)."""
        raw = self._plan("sinks")
        if raw is None:
            return None
        return tuple(Sink._lift(s) for s in raw)

    def redact(self, text: str) -> RedactionReport:
        """Replace every secret in ``text`` with ``[REDACTED]`` (the built-in
        scanner rules plus the policy's ``[redaction]`` patterns and
        allow-list) and count them per rule, never keeping the values. Redact
        a whole log tail before splitting or clipping it: a PEM block spans
        lines. Raises :class:`PolicyError` (``too-large``) over 8 MiB.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be str, not {type(text).__name__}")
        return RedactionReport._lift(self._plan("redact", text))

    @staticmethod
    def derive_seed(key: str) -> int:
        """The default jitter seed for an idempotency key (see :func:`backstop.derive_seed`)."""
        return derive_seed(key)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Free the policy in the engine. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._finalizer()  # queues the drop; run it now rather than at the next call
        with self._runtime.lock:
            self._runtime.instance()

    def __reduce__(self) -> Any:
        # Engine state cannot cross processes; the document can (multiprocessing).
        if self._closed:
            raise ValueError("cannot pickle a closed Policy")
        return (Policy, (self.source, self.format))

    def __enter__(self) -> "Policy":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self.source)} chars"
        return f"<backstop.Policy {self.format} ({state})>"




def _flat(t: Any, value: Any) -> tuple[int, ...]:
    """The core values a retry or shared state flattens to (WIT record ``t``,
    all fixed-size fields, so no guest memory is involved), computed once per
    state object: states are immutable, and a shared state is passed again and
    again."""
    d = value.__dict__
    flat: Optional[tuple[int, ...]] = d.get("_flat")
    if flat is None:
        out: list[int] = []
        t.lower_flat(None, value._lower(), out)
        flat = d["_flat"] = tuple(out)
    return flat


def _check_arg(name: str, value: Any, kind: type) -> None:
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be a {kind.__name__}, not {type(value).__name__}")


def _u64(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be int (milliseconds / a 64-bit value), not {type(value).__name__}")
    if not 0 <= value <= _U64_MAX:
        raise ValueError(f"{name} {value} is outside 0..2^64-1")
    return value


def derive_seed(key: str) -> int:
    """The default jitter seed for an idempotency key such as ``"<run id>/<step>"``:
    its 64-bit FNV-1a hash, computed by the engine so every host agrees. The
    same key gives the same delays, so a run's schedule is reproducible."""
    if not isinstance(key, str):
        raise TypeError(f"key must be str, not {type(key).__name__}")
    with _runtime.lock:
        seed: int = _runtime.call("derive-seed", key)
    return seed


def _check_source(source: Any, format: Any) -> None:
    if not isinstance(source, str):
        raise TypeError(f"policy source must be str, not {type(source).__name__}")
    if format not in _FORMATS:
        raise ValueError(f"policy format must be 'toml' or 'json', not {format!r}")


def load_policy(source: str, format: PolicyFormat = "toml") -> Policy:
    """Parse and validate a policy document.

    Raises :class:`PolicyLoadError` listing every problem, with field paths and
    line/column locations.
    """
    return Policy(source, format)


def load_policy_file(path: Union[str, "os.PathLike[str]"],
                     format: Optional[PolicyFormat] = None) -> Policy:
    """Load a policy file; the format follows the ``.toml`` / ``.json`` suffix
    unless given."""
    path = Path(path)
    if format is None:
        suffix = path.suffix.lower().lstrip(".")
        if suffix not in _FORMATS:
            raise ValueError(f"cannot tell the policy format of {str(path)!r} from its suffix; "
                             "pass format='toml' or format='json'")
        format = suffix  # type: ignore[assignment]
    source = path.read_text(encoding="utf-8")
    try:
        return Policy(source, format)  # type: ignore[arg-type]
    except PolicyLoadError as exc:
        raise PolicyLoadError(exc.errors, filename=str(path)) from None


def default_policy() -> Policy:
    """The built-in rules alone (the empty TOML document)."""
    return Policy("", "toml")
