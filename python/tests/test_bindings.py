"""The generated bindings (``backstop._wit``) against the hand-written code.

``_wit`` is generated from ``wit/`` (``cargo run -p xtask -- gen-bindings``),
so its field and case orders are the WIT's. These tests check the two things
generation cannot: that :mod:`backstop._abi` computes the layouts and core
signatures wit-parser does, and that the glue's tuples (``_lower`` /
``_lift``) put every field where the WIT's field *name* says, so a reordered
record fails here instead of silently swapping two values.
"""

from __future__ import annotations

import enum
import itertools
import json
from typing import Any, Callable, Iterator

import pytest

from backstop import _abi, _wit
from backstop._alerts import Evaluation, Event, EventKind
from backstop._model import Failure
from backstop._planner import (AttemptFailure, BreakerState, BudgetState, Circuit, Decision,
                               Permit, RetryState, Schedule, SharedState)


def _expand(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for part in text.split():
        name, _, count = part.partition("*")
        out.extend([name] * int(count or 1))
    return tuple(out)


@pytest.mark.parametrize("wit, t, size, align, offsets, flat", _wit.LAYOUTS,
                         ids=[row[0] for row in _wit.LAYOUTS])
def test_abi_layout_matches_wit_parser(wit: str, t: _abi.ValType, size: int, align: int,
                                       offsets: tuple[int, ...], flat: str) -> None:
    assert (t.size, t.align, t.flat_types) == (size, align, _expand(flat))
    if isinstance(t, _abi.Record):
        assert t.offsets == offsets


@pytest.mark.parametrize("f, params, results", _wit.CORE_SIGNATURES,
                         ids=[row[0].name for row in _wit.CORE_SIGNATURES])
def test_core_signature_matches_wit_parser(f: _abi.Function, params: str, results: str) -> None:
    assert (f.core_param_types, f.core_result_types) == (_expand(params), _expand(results))


def test_every_function_is_exported_once() -> None:
    names = [f.name for functions in _wit.EXPORTS.values() for f in functions]
    assert len(names) == len(set(names)) == len(_wit.CORE_SIGNATURES)


# -- the glue's tuples, by field name ------------------------------------------

#: WIT field names the Python classes spell differently.
RENAMES = {"class": "failure_class"}


def _sample(t: _abi.ValType, counter: Iterator[int], name: str = "") -> Any:
    """A value of ``t`` with a different value in every field (and options
    present), so a field read from the wrong position shows."""
    n = next(counter)
    if name == "payload":
        return json.dumps({"n": n})
    if isinstance(t, _abi.Record):
        return tuple(_sample(ft, counter, fn) for fn, ft in zip(t.names, t.types))
    if isinstance(t, _abi.Option):
        return _sample(t._some, counter, name)
    if isinstance(t, _abi.List):
        return [_sample(t.elem, counter, name)]
    if isinstance(t, _abi.Enum):
        return t.names[n % len(t.names)]
    if t is _abi.BOOL:
        return n % 2 == 1
    if t is _abi.STRING:
        return f"s{n}"
    assert isinstance(t, _abi.Int)
    return n if t.name != "s32" else -n


def _raw(t: _abi.ValType, obj: Any, name: str = "") -> Any:
    """The WIT value a glue object stands for, read by field name."""
    if obj is None:
        return None
    if name == "payload" and isinstance(obj, dict):
        return json.dumps(obj)
    if isinstance(t, _abi.Record):
        if isinstance(obj, tuple) and len(obj) == len(t.names) and not hasattr(obj, "__dataclass_fields__"):
            return tuple(_raw(ft, v, fn) for fn, ft, v in zip(t.names, t.types, obj))
        return tuple(_raw(ft, getattr(obj, RENAMES.get(fn, fn.replace("-", "_"))), fn)
                     for fn, ft in zip(t.names, t.types))
    if isinstance(t, _abi.Option):
        return _raw(t._some, obj, name)
    if isinstance(t, _abi.List):
        items = obj.items() if isinstance(obj, dict) or hasattr(obj, "items") else obj
        return [_raw(t.elem, item, name) for item in items]
    if isinstance(obj, enum.Enum):
        return obj.value
    return obj


LIFTED: list[tuple[_abi.Record, Callable[[Any], Any]]] = [
    (_wit.RETRY_STATE, RetryState._lift),
    (_wit.SHARED_STATE, SharedState._lift),
    (_wit.PERMIT, Permit._lift),
    (_wit.DECISION, Decision._lift),
    (_wit.SCHEDULE, Schedule._lift),
    (_wit.EVALUATION, Evaluation._lift),
]


@pytest.mark.parametrize("t, lift", LIFTED, ids=[lift.__qualname__ for _, lift in LIFTED])
def test_lift_reads_fields_by_wit_name(t: _abi.Record, lift: Callable[[Any], Any]) -> None:
    raw = _sample(t, itertools.count(1))
    assert _raw(t, lift(raw)) == raw


def _lowered() -> list[tuple[_abi.Record, Any]]:
    failure = Failure(http_status=503, grpc_code="UNAVAILABLE", exit_code=-3, signal="KILL",
                      error_types=("E1", "E2"), error_code="SlowDown", message="m")
    shared = SharedState(BreakerState(Circuit.HALF_OPEN, 1, 2, 3, 4, 5, 6), BudgetState(7))
    return [
        (_wit.RETRY_STATE, RetryState(attempts=1, started_at_ms=2, last_delay_ms=3, seed=4)),
        (_wit.SHARED_STATE, shared),
        (_wit.ATTEMPT_FAILURE, AttemptFailure(failure, duration_ms=8, pushback_ms=9)),
        (_wit.EVENT, Event(kind=EventKind.RUN_LATE, pipeline="p", step="s", run_id="r",
                           failure=failure, attempt=10, late_minutes=11,
                           labels={"team": "ml"}, log_lines=("l1",), dedup_key="k")),
    ]


@pytest.mark.parametrize("t, obj", _lowered(), ids=lambda v: type(v).__name__)
def test_lower_writes_fields_by_wit_name(t: _abi.Record, obj: Any) -> None:
    lowered = obj._lower()
    assert _raw(t, lowered) == _raw(t, obj)
    # And the ABI accepts it as the WIT's type.
    t.lower_flat(_NoMemory(), lowered, [])


class _NoMemory:
    """Enough memory for lowering strings and lists into a scratch buffer."""

    def __init__(self) -> None:
        self.buf = bytearray(1 << 16)
        self.view = memoryview(self.buf)
        self.next = 8

    def alloc(self, align: int, size: int) -> int:
        ptr = _abi.align_to(self.next, align)
        self.next = ptr + size
        return ptr
