"""The retry planner's per-attempt calls, ``begin-attempt`` and
``after-failure``, lowered and lifted by hand.

A retry loop makes them on every attempt, so their glue is what a failed
attempt costs besides the engine's own work. The generic path
(:mod:`backstop._abi`) walks the types value by value; here each record is
one ``struct`` pack or unpack over a layout computed once from the WIT types
(:func:`backstop._abi.flat_struct`), the states' flat forms travel with the
state objects, an exception class's names are encoded once, and linear
memory is looked up once after all of a call's allocations rather than after
each. Every check the generic lifting makes on the guest's values is made
here too; anything but the ``ok`` case goes the generic way.
"""

from __future__ import annotations

import struct
from typing import Any, Callable, Optional, Sequence

from . import _wit
from ._abi import AbiError, flat_struct, utf8
from ._core import CoreInstance
from ._model import Classification, FailureClass
from ._planner import (_SHARED_INTERNED, Decision, GiveUpReason, Permit, PlannedFailure, RetryState,
                       SharedState, _new_classification, _new_decision, _new_permit, _new_planned,
                       _new_retry_state)

_U32 = 0xFFFFFFFF

_AFTER_FAILURE = _wit.AFTER_FAILURE.name
_PLAN_FAILURES = _wit.PLAN_FAILURES.name
_BEGIN_ATTEMPT = _wit.BEGIN_ATTEMPT.name


def _params_layout(f: Any) -> tuple[Any, struct.Struct]:
    """A function's parameters tuple (passed in linear memory) and its struct."""
    params = f.params_tuple
    assert params is not None and f.params_in_memory
    return params, flat_struct(params)


_AFTER_FAILURE_PARAMS = _params_layout(_wit.AFTER_FAILURE)
_PLAN_FAILURES_PARAMS = _params_layout(_wit.PLAN_FAILURES)
_DECISION_RESULT = _wit.AFTER_FAILURE.result
_PERMIT_RESULT = _wit.BEGIN_ATTEMPT.result
assert _DECISION_RESULT is not None and _PERMIT_RESULT is not None
_DECISION_STRUCT = flat_struct(_wit.DECISION)
_PERMIT_STRUCT = flat_struct(_wit.PERMIT)
_DECISION_AT = _DECISION_RESULT._payload_offset  # type: ignore[attr-defined]
_PLANNED_RESULT = _wit.PLAN_FAILURES.result
assert _PLANNED_RESULT is not None
_PLANNED_AT = _PLANNED_RESULT._payload_offset  # type: ignore[attr-defined]
_PLANNED = _wit.PLANNED_FAILURE
_PLANNED_DECISION_AT, _PLANNED_PERMIT_AT = _PLANNED.offsets
_NEXT_PERMIT = _PLANNED.types[1]
_NEXT_PERMIT_AT = _PLANNED_PERMIT_AT + _NEXT_PERMIT._payload_offset  # type: ignore[attr-defined]
#: The most entries plan-failures answers with (the guest's MAX_PLANNED_FAILURES).
MAX_PLANNED = 64
_PERMIT_AT = _PERMIT_RESULT._payload_offset  # type: ignore[attr-defined]

_REASONS = tuple(GiveUpReason)
_CLASSES = tuple(FailureClass)
assert [r.value for r in _REASONS] == list(_wit.GIVE_UP_REASON.names)
assert [c.value for c in _CLASSES] == list(_wit.FAILURE_CLASS.names)
_CIRCUITS = len(_wit.CIRCUIT.names)


#: list<string> values by their strings: (each one encoded, a struct packing
#: their (offset, length) pairs). The error types and bases of an exception
#: chain are a pure function of its classes, so a retry loop passes the same
#: tuples again and again. Bounded; only tuples are kept.
_NAME_LISTS: dict[tuple[str, ...], tuple[tuple[bytes, ...], struct.Struct]] = {}
_NAME_LISTS_MAX = 512


def _name_list(names: Sequence[str]) -> tuple[tuple[bytes, ...], struct.Struct]:
    encoded = _NAME_LISTS.get(names) if type(names) is tuple else None  # type: ignore[call-overload]
    if encoded is None:
        if isinstance(names, (str, bytes)):
            raise TypeError(f"list expects a sequence, got {type(names).__name__}")
        encoded = (tuple(utf8(name) for name in names), struct.Struct("<" + "II" * len(names)))
        if type(names) is tuple:
            if len(_NAME_LISTS) >= _NAME_LISTS_MAX:
                _NAME_LISTS.clear()
            _NAME_LISTS[names] = encoded  # type: ignore[index]
    return encoded


def _string(alloc: Callable[[int, int], int], writes: list[tuple[int, bytes]],
            value: str) -> tuple[int, int, int]:
    """A present ``option<string>``'s flat values (discriminant, offset,
    length); its bytes are queued in ``writes``."""
    data = utf8(value)
    if not data:
        return 1, 1, 0  # no allocation for nothing (see _abi._EMPTY)
    ptr = alloc(1, len(data))
    writes.append((ptr, data))
    return 1, ptr, len(data)


def _names(alloc: Callable[[int, int], int], writes: list[tuple[int, bytes]],
           lists: list[tuple[int, struct.Struct, list[int]]], names: Sequence[str]) -> tuple[int, int]:
    """A ``list<string>``'s flat values (offset, count); its strings are
    queued in ``writes``, its (offset, length) pairs in ``lists``."""
    encoded, pairs = _name_list(names)
    if not encoded:
        return 4, 0  # see _abi._EMPTY
    ptr = alloc(4, 8 * len(encoded))
    flat: list[int] = []
    for data in encoded:
        if data:
            at = alloc(1, len(data))
            writes.append((at, data))
            flat += (at, len(data))
        else:
            flat += (1, 0)
    lists.append((ptr, pairs, flat))
    return ptr, len(encoded)


_ABSENT = (0, 0, 0)  # an absent option<string>'s flat values
_NO_NAMES = (4, 0)  # an empty list<string>'s (see _abi._EMPTY)


def after_failure(instance: CoreInstance, handle: int, state: tuple[int, ...],
                  shared: tuple[int, ...], failure: tuple[Any, ...], duration_ms: int,
                  pushback_ms: Optional[int], now_ms: int) -> tuple[str, Any]:
    """Call ``after-failure``: ``state`` and ``shared`` are the flat forms of
    the states, ``failure`` the WIT ``failure`` record's fields in order (as
    :meth:`backstop.AttemptFailure._failure_fields` gives them; its values
    checked by the caller). Returns ``("ok", Decision)`` or the generic
    lifting's ``("error", raw policy error)``."""
    params = _lower_outcome(instance, _AFTER_FAILURE_PARAMS, "after-failure",
                            (handle, *state, *shared), failure, (duration_ms, pushback_ms, now_ms))
    return _call(instance, _AFTER_FAILURE, (params,), _DECISION_RESULT.size,
                 lambda view, ptr: _decision(instance, view, ptr + _DECISION_AT))


def plan_failures(instance: CoreInstance, handle: int, state: tuple[int, ...],
                  shared: tuple[int, ...], failure: tuple[Any, ...], duration_ms: int,
                  pushback_ms: Optional[int], now_ms: int, max_entries: int) -> tuple[str, Any]:
    """Call ``plan-failures`` (arguments as :func:`after_failure`'s, plus
    ``max_entries``). Returns ``("ok", tuple of PlannedFailure)`` or the
    generic lifting's ``("error", raw policy error)``."""
    params = _lower_outcome(instance, _PLAN_FAILURES_PARAMS, "plan-failures",
                            (handle, *state, *shared), failure,
                            (duration_ms, pushback_ms, now_ms, max_entries))
    return _call(instance, _PLAN_FAILURES, (params,), _PLANNED_RESULT.size,
                 lambda view, ptr: _planned_failures(instance, view, ptr + _PLANNED_AT))


def _lower_outcome(instance: CoreInstance, params_layout: tuple[Any, struct.Struct], name: str,
                   head: tuple[int, ...], failure: tuple[Any, ...],
                   tail: tuple[Any, ...]) -> int:
    """Lower a call whose parameters (in linear memory) are ``head``'s flat
    values, an ``attempt-failure`` (``failure``'s fields, then the duration
    and pushback that start ``tail``) and the rest of ``tail``; returns the
    parameters' address."""
    params_type, params_struct = params_layout
    http_status, grpc_code, exit_code, signal, types, bases, error_code, message = failure
    duration_ms, pushback_ms, *rest = tail
    # Allocate everything first (in the order the generic path does), then
    # look linear memory up once (an allocation may grow it) and write.
    alloc = instance.alloc_deferred
    writes: list[tuple[int, bytes]] = []
    lists: list[tuple[int, struct.Struct, list[int]]] = []
    params = alloc(params_type.align, params_type.size)
    flat = (*head,
            0 if http_status is None else 1, http_status or 0,
            *(_ABSENT if grpc_code is None else _string(alloc, writes, grpc_code)),
            0 if exit_code is None else 1, 0 if exit_code is None else exit_code & _U32,
            *(_ABSENT if signal is None else _string(alloc, writes, signal)),
            *(_names(alloc, writes, lists, types) if types else _NO_NAMES),
            *(_names(alloc, writes, lists, bases) if bases else _NO_NAMES),
            *(_ABSENT if error_code is None else _string(alloc, writes, error_code)),
            *(_ABSENT if message is None else _string(alloc, writes, message)),
            duration_ms, 0 if pushback_ms is None else 1, pushback_ms or 0, *rest)
    # Linear memory may have grown; see CoreInstance.view_to.
    view = instance.view_to(params + params_type.size)
    if params & (params_type.align - 1) or params + params_type.size > len(view):
        raise AbiError(f"parameters at {params:#x} are misaligned or outside linear memory")
    for ptr, data in writes:
        end = ptr + len(data)
        if end > len(view):
            view = instance.view_to(end)
            if end > len(view):
                raise AbiError(f"range {ptr:#x}+{len(data)} is outside linear memory ({len(view)} bytes)")
        view[ptr:end] = data
    for ptr, pairs, pair_values in lists:
        end = ptr + pairs.size
        if end > len(view):
            view = instance.view_to(end)
        if ptr & 3 or end > len(view):
            raise AbiError(f"list at {ptr:#x} is misaligned or outside linear memory")
        pairs.pack_into(view, ptr, *pair_values)
    try:
        params_struct.pack_into(view, params, *flat)
    except struct.error as exc:  # an integer out of its field's range
        raise ValueError(f"{name}: {exc}") from None
    return params


def _call(instance: CoreInstance, index: int, args: tuple[int, ...], size: int,
          lift_ok: Callable[[memoryview, int], Any]) -> tuple[str, Any]:
    """One call returning ``result<T, policy-error>`` through a return area of
    ``size`` bytes: ``("ok", lift_ok(view, area))``, or the generic lifting's
    ``("error", ...)``; the post-return runs either way."""
    f, core, post = instance.functions[index]
    raw = core(args)
    assert raw is not None
    try:
        ptr = raw & _U32
        view = instance.view_to(ptr + size)
        if ptr & 7 or ptr + size > len(view):
            raise AbiError(f"return area {ptr:#x} is misaligned or outside linear memory")
        if view[ptr] == 0:
            return "ok", lift_ok(view, ptr)
        instance.refresh()
        result: tuple[str, Any] = f.lift_result(instance, raw)
        return result
    finally:
        if post is not None:
            post((raw,))


def _decision(instance: CoreInstance, view: memoryview, at: int) -> Decision:
    u = _DECISION_STRUCT.unpack_from(view, at)
    (give_up_set, give_up, delay_ms, attempt, timeout_set, timeout_ms, failure_class,
     rule_set, rule_ptr, rule_len, reason_ptr, reason_len, explanation_ptr, explanation_len) = u[:14]
    if give_up_set > 1 or timeout_set > 1 or rule_set > 1:
        raise AbiError("option discriminant is out of range")
    if (give_up_set and give_up >= len(_REASONS)) or failure_class >= len(_CLASSES):
        raise AbiError("enum discriminant is out of range")
    # The strings may lie past the view (memory grown by the call).
    end = max(reason_ptr + reason_len, explanation_ptr + explanation_len,
              rule_ptr + rule_len if rule_set else 0)
    if end > len(view):
        view = instance.view_to(end)
        if end > len(view):
            raise AbiError(f"a string ending at {end:#x} is outside linear memory ({len(view)} bytes)")
    try:
        rule = str(view[rule_ptr:rule_ptr + rule_len], "utf-8") if rule_set else None
        reason = str(view[reason_ptr:reason_ptr + reason_len], "utf-8")
        explanation = str(view[explanation_ptr:explanation_ptr + explanation_len], "utf-8")
    except UnicodeDecodeError as exc:
        raise AbiError(f"guest string is not valid UTF-8: {exc}") from None
    # Classifications repeat (one per rule and reason) and are immutable.
    key = (failure_class, rule, reason)
    classification = _CLASSIFICATIONS.get(key)
    if classification is None:
        classification = _new_classification(_CLASSES[failure_class], rule, reason)
        if len(_CLASSIFICATIONS) >= _INTERN_MAX:
            _CLASSIFICATIONS.clear()
        _CLASSIFICATIONS[key] = classification
    decision: Decision = _new_decision(
        _REASONS[give_up] if give_up_set else None, delay_ms, attempt,
        timeout_ms if timeout_set else None, classification, explanation, _state(u[14:19]),
        _shared(u[19:]))
    return decision


def _planned_failures(instance: CoreInstance, view: memoryview, at: int) -> tuple[PlannedFailure, ...]:
    ptr, count = _LIST.unpack_from(view, at)
    size = _PLANNED.size
    if count > MAX_PLANNED or ptr & (_PLANNED.align - 1):
        raise AbiError(f"plan-failures answered {count} entries at {ptr:#x}")
    end = ptr + count * size
    if end > len(view):
        view = instance.view_to(end)
        if end > len(view):
            raise AbiError(f"a list ending at {end:#x} is outside linear memory ({len(view)} bytes)")
    entries = []
    for entry in range(ptr, end, size):
        decision = _decision(instance, view, entry + _PLANNED_DECISION_AT)
        present = view[entry + _PLANNED_PERMIT_AT]
        if present > 1:
            raise AbiError("option discriminant is out of range")
        permit = _permit(view, entry + _NEXT_PERMIT_AT) if present else None
        entries.append(_new_planned(decision, permit))
    return tuple(entries)


_LIST = struct.Struct("<II")


#: Lifted classifications by (class index, rule, reason); bounded.
_CLASSIFICATIONS: dict[tuple[int, Optional[str], str], Classification] = {}
_INTERN_MAX = 256


def begin_attempt(instance: CoreInstance, handle: int, state: tuple[int, ...],
                  shared: tuple[int, ...], now_ms: int) -> tuple[str, Any]:
    """Call ``begin-attempt`` with the states' flat forms. Returns
    ``("ok", Permit)`` or the generic lifting's ``("error", raw policy error)``."""
    return _call(instance, _BEGIN_ATTEMPT, (handle, *state, *shared, now_ms),
                 _PERMIT_RESULT.size, lambda view, ptr: _permit(view, ptr + _PERMIT_AT))


def _permit(view: memoryview, at: int) -> Permit:
    u = _PERMIT_STRUCT.unpack_from(view, at)
    refused_set, refused, attempt, timeout_set, timeout_ms, retry_after_ms, probe = u[:7]
    if refused_set > 1 or timeout_set > 1:
        raise AbiError("option discriminant is out of range")
    if refused_set and refused >= len(_REASONS):
        raise AbiError("enum discriminant is out of range")
    permit: Permit = _new_permit(_REASONS[refused] if refused_set else None, attempt,
                                 timeout_ms if timeout_set else None, retry_after_ms, probe != 0,
                                 _state(u[7:12]), _shared(u[12:]))
    return permit


def _state(flat: tuple[int, ...]) -> RetryState:
    """A retry state from its flat values, keeping them for the next call."""
    attempts, started_set, started_at_ms, last_delay_ms, seed = flat
    if started_set > 1:
        raise AbiError("option discriminant is out of range")
    if not started_set:
        # An absent option's payload bytes are unspecified.
        started_at_ms = None
        flat = (attempts, 0, 0, last_delay_ms, seed)
    state: RetryState = _new_retry_state(attempts, started_at_ms, last_delay_ms, seed)
    state.__dict__["_flat"] = flat
    return state


def _shared(flat: tuple[int, ...]) -> SharedState:
    if flat[0] >= _CIRCUITS:
        raise AbiError("enum discriminant is out of range")
    return _SHARED_INTERNED.get(flat) or SharedState._from_flat(flat)
