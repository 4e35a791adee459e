"""The same WIT calls through wasmtime-py's component API (``wasmtime.component``).

Not used by :class:`backstop.Policy`: at 100+ microseconds per call it misses
the latency budget (see README). Kept so the tests can prove the committed
component and the core-module path decide identically, and so the benchmark
can measure both.
"""

from __future__ import annotations

from typing import Any, Optional

import wasmtime
import wasmtime.component as wc

from . import _abi, _wit
from ._alerts import Evaluation, Event, Sink
from ._redaction import RedactionReport
from ._logs import LogReport
from ._model import Classification, ErrorCode, Failure, FailureClass, PolicyError, PolicyLoadError
from ._planner import (AttemptFailure, Decision, Permit, PlannedFailure, RetryState, Schedule,
                       SharedState)
from ._policy import COMPONENT, PolicyFormat, _engine_config, wasm_bytes
from ._policy import _policy_error as _tuple_policy_error


def to_component(t: _abi.ValType, value: Any) -> Any:
    """A value in :mod:`backstop._abi`'s Python form, as wasmtime.component wants it."""
    if isinstance(t, _abi.Record):
        record = wc.Record()
        for name, ft, item in zip(t.names, t.types, value):
            setattr(record, name, to_component(ft, item))
        return record
    if isinstance(t, _abi.Option):
        return None if value is None else to_component(t._some, value)
    if isinstance(t, _abi.List):
        return [to_component(t.elem, item) for item in value]
    if isinstance(t, _abi.Variant) and not isinstance(t, _abi.Enum):
        raise TypeError("variants are not passed to the component")
    return value  # integers, bool, strings, enum case names


def from_component(t: _abi.ValType, value: Any) -> Any:
    """Inverse of :func:`to_component` (a result must come back tagged)."""
    if isinstance(t, _abi.Record):
        return tuple(from_component(ft, getattr(value, name)) for name, ft in zip(t.names, t.types))
    if isinstance(t, _abi.Option):
        return None if value is None else from_component(t._some, value)
    if isinstance(t, _abi.List):
        return [from_component(t.elem, item) for item in value]
    if isinstance(t, _abi.Enum):
        return value
    if isinstance(t, _abi.Variant):
        if isinstance(value, wc.Variant):
            # result<record, record>: wasmtime-py tags it ("ok" / "err").
            index, payload = {"ok": 0, "err": 1}[value.tag], value.payload
        else:
            index, payload = _untagged_case(t, value), value
        payload_t = t.types[index]
        return (t.names[index], None if payload_t is None else from_component(payload_t, payload))
    return value


def _python_types(t: Optional[_abi.ValType]) -> tuple[type, ...]:
    """The Python types wasmtime-py lifts a value of ``t`` to."""
    if t is None:
        return (type(None),)
    if isinstance(t, _abi.Record):
        return (wc.Record,)
    if isinstance(t, _abi.Option):
        return (type(None),) + _python_types(t._some)
    if isinstance(t, _abi.List):
        return (list,)
    if isinstance(t, (_abi.Enum, _abi.String)):
        return (str,)
    if isinstance(t, _abi.Variant):
        return (wc.Variant,)
    if isinstance(t, _abi.Bool):
        return (bool,)
    return (int,)


def _untagged_case(t: _abi.Variant, value: Any) -> int:
    """wasmtime-py returns a variant untagged when its cases lift to distinct
    Python types (``result<option<list<sink>>, policy-error>`` comes back as
    a list, None or a Record): the case is the one whose type the value has."""
    for index, case in enumerate(t.types):
        if isinstance(value, _python_types(case)):
            return index
    raise TypeError(f"{type(value).__name__} matches no case of the variant {t.names}")


def _policy_error(record: Any) -> PolicyError:
    location = getattr(record, "location")
    return PolicyError(ErrorCode(getattr(record, "code")), getattr(record, "message"),
                       getattr(record, "path"),
                       None if location is None else getattr(location, "line"),
                       None if location is None else getattr(location, "column"))


class ComponentClassifier:
    """One instance of the component; handles are the WIT's plain ``u32``."""

    def __init__(self) -> None:
        engine = wasmtime.Engine(_engine_config())
        component = wc.Component(engine, wasm_bytes(COMPONENT))
        self._store = wasmtime.Store(engine)
        instance = wc.Linker(engine).instantiate(self._store, component)
        iface = instance.get_export_index(self._store, _wit.CLASSIFIER)
        if iface is None:
            raise TypeError(f"the component does not export {_wit.CLASSIFIER}")

        def func(name: str) -> wc.Func:
            index = instance.get_export_index(self._store, name, iface)
            f = None if index is None else instance.get_func(self._store, index)
            if f is None:
                raise TypeError(f"the component does not export {name}")
            return f

        self._load, self._drop, self._classify = (
            func("load-policy"), func("drop-policy"), func("classify"))

        # The retry and alerts interfaces go through the generic value
        # conversion, with the same _wit signatures the core path uses.
        self._functions: dict[str, tuple[_abi.Function, wc.Func]] = {}
        for name, functions in ((_wit.RETRY, _wit.RETRY_FUNCTIONS), (_wit.ALERTS, _wit.ALERTS_FUNCTIONS),
                                (_wit.REDACTION, _wit.REDACTION_FUNCTIONS), (_wit.LOGS, _wit.LOGS_FUNCTIONS)):
            exported = instance.get_export_index(self._store, name)
            if exported is None:
                raise TypeError(f"the component does not export {name}")
            for f in functions:
                index = instance.get_export_index(self._store, f.name, exported)
                g = None if index is None else instance.get_func(self._store, index)
                if g is None:
                    raise TypeError(f"the component does not export {name}#{f.name}")
                self._functions[f.name] = (f, g)

    def _call(self, f: wc.Func, *args: Any) -> Any:
        result = f(self._store, *args)
        f.post_return(self._store)
        return result

    def load_policy(self, source: str, format: PolicyFormat = "toml") -> int:
        # wasmtime-py returns result<u32, list<..>> untagged: an int or a list.
        result = self._call(self._load, source, format)
        if isinstance(result, int):
            return result
        raise PolicyLoadError([_policy_error(e) for e in result])

    def drop_policy(self, handle: int) -> None:
        self._call(self._drop, handle)

    def classify(self, handle: int, failure: Failure) -> Classification:
        record = wc.Record()
        for name, value in (("http-status", failure.http_status), ("grpc-code", failure.grpc_code),
                            ("exit-code", failure.exit_code), ("signal", failure.signal),
                            ("error-types", list(failure.error_types)),
                            ("error-bases", list(failure.error_bases)),
                            ("error-code", failure.error_code), ("message", failure.message)):
            setattr(record, name, value)
        # Both cases are records, so wasmtime-py tags this result.
        result = self._call(self._classify, handle, record)
        if result.tag == "err":
            raise _policy_error(result.payload)
        value = result.payload
        return Classification(FailureClass(getattr(value, "class")), getattr(value, "rule"),
                              getattr(value, "reason"))

    # -- the retry and alerts interfaces, through the same value types as Policy

    def call(self, name: str, *args: Any) -> Any:
        """Call a retry- or alerts-interface function with arguments and
        result in :mod:`backstop._abi`'s Python form (as ``CoreInstance.call``)."""
        f, g = self._functions[name]
        lowered = [to_component(t, a) for t, a in zip(f.param_types, args)]
        result = self._call(g, *lowered)
        return None if f.result is None else from_component(f.result, result)

    def _plan(self, name: str, *args: Any) -> Any:
        case, value = self.call(name, *args)
        if case == "error":
            raise _tuple_policy_error(value)
        return value

    def begin_attempt(self, handle: int, state: RetryState, shared: SharedState, now_ms: int) -> Permit:
        return Permit._lift(self._plan("begin-attempt", handle, state._lower(), shared._lower(), now_ms))

    def after_failure(self, handle: int, state: RetryState, shared: SharedState,
                      outcome: AttemptFailure, now_ms: int) -> Decision:
        return Decision._lift(self._plan("after-failure", handle, state._lower(), shared._lower(),
                                         outcome._lower(), now_ms))

    def plan_failures(self, handle: int, state: RetryState, shared: SharedState,
                      outcome: AttemptFailure, now_ms: int, max_entries: int) -> tuple[PlannedFailure, ...]:
        raw = self._plan("plan-failures", handle, state._lower(), shared._lower(), outcome._lower(),
                         now_ms, max_entries)
        return tuple(PlannedFailure._lift(entry) for entry in raw)

    def after_success(self, handle: int, shared: SharedState) -> SharedState:
        return SharedState._lift(self._plan("after-success", handle, shared._lower()))

    def schedule(self, handle: int, seed: int, max_entries: int) -> Schedule:
        return Schedule._lift(self._plan("plan-schedule", handle, seed, max_entries))

    def evaluate_alerts(self, handle: int, event: Event, state: str, now_ms: int) -> Evaluation:
        return Evaluation._lift(self._plan("evaluate", handle, state, event._lower(), now_ms))

    def sinks(self, handle: int) -> Optional[tuple[Sink, ...]]:
        raw = self._plan("sinks", handle)
        return None if raw is None else tuple(Sink._lift(s) for s in raw)

    def redact(self, handle: int, text: str) -> RedactionReport:
        return RedactionReport._lift(self._plan("redact", handle, text))

    def read_log(self, text: str, exit_code: Optional[int] = None, signal: Optional[str] = None,
                 stream: Optional[str] = None) -> LogReport:
        raw_failure, readers, summary, pushback_ms = self._plan(
            "read-log", (text, exit_code, signal, stream))
        (http_status, grpc_code, code, sig, types, bases, error_code, message) = raw_failure
        failure = Failure(http_status=http_status, grpc_code=grpc_code, exit_code=code, signal=sig,
                          error_types=tuple(types), error_bases=tuple(bases),
                          error_code=error_code, message=message)
        return LogReport(failure, tuple(readers), summary, pushback_ms)

    def derive_seed(self, key: str) -> int:
        seed: int = self.call("derive-seed", key)
        return seed

