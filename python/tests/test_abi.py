"""Unit tests of the canonical-ABI glue against hand-computed layouts
(CanonicalABI.md's alignment / elem_size / flatten rules), on a fake memory."""

from __future__ import annotations

import pytest

from backstop import _abi, _wit
from backstop._abi import (BOOL, I32, I64, S32, S64, STRING, U8, U16, U32, U64, AbiError, Enum,
                           Function, List, Option, Record, Result, Variant, align_to)


class FakeMemory:
    """A bytearray with a bump allocator that records every cabi_realloc call."""

    def __init__(self, size: int = 4096) -> None:
        self.buf = bytearray(size)
        self.view = memoryview(self.buf)
        self.next = 16
        self.allocs: list[tuple[int, int, int]] = []

    def alloc(self, align: int, size: int) -> int:
        ptr = align_to(self.next, align)
        self.next = ptr + size
        self.allocs.append((ptr, align, size))
        return ptr


@pytest.mark.parametrize("t, align, size, flat", [
    (U8, 1, 1, 1), (U16, 2, 2, 1), (U32, 4, 4, 1), (S32, 4, 4, 1), (BOOL, 1, 1, 1),
    (STRING, 4, 8, 2), (List(STRING), 4, 8, 2),
    (Option(U16), 2, 4, 2),          # u8 discriminant, payload at 2
    (Option(STRING), 4, 12, 3),      # discriminant, pad to 4, (ptr, len)
    (Option(S32), 4, 8, 2),
    (Enum(["a", "b", "c"]), 1, 1, 1),
    (Enum([str(i) for i in range(257)]), 2, 2, 1),  # more than 256 cases: u16 discriminant
    (_wit.LOCATION, 4, 8, 2),
    (_wit.FAILURE, 4, 76, 20),
    (_wit.CLASSIFICATION, 4, 24, 6),
    (_wit.POLICY_ERROR, 4, 32, 8),
    (Result(_wit.CLASSIFICATION, _wit.POLICY_ERROR), 4, 36, 9),
    (Result(U32, List(_wit.POLICY_ERROR)), 4, 12, 3),
    (Result(None, None), 1, 1, 1),
    (U64, 8, 8, 1), (S64, 8, 8, 1),
    (Option(U64), 8, 16, 2),         # discriminant, pad to 8, u64
    (_wit.RETRY_STATE, 8, 40, 5),
    (_wit.BREAKER_STATE, 8, 40, 7),
    (_wit.SHARED_STATE, 8, 48, 8),
    (_wit.PERMIT, 8, 128, 20),            # probe (bool) at 32, state at 40
    (_wit.ATTEMPT_FAILURE, 8, 104, 23),   # failure (76), u64 at 80, option<u64> at 88
    (_wit.PLANNED_ATTEMPT, 8, 40, 5),
    (_wit.LABEL, 4, 16, 4),
    (_wit.EVENT, 4, 144, 37),             # option<failure> (80) at 28, two lists, option<string>
    (_wit.NOTIFICATION, 4, 44, 12),       # two enums, then a list and 4 strings from 4
    (_wit.SUPPRESSED, 4, 20, 6),
    (_wit.EVALUATION, 8, 40, 8),          # option<u64> at 24
])
def test_layouts(t: _abi.ValType, align: int, size: int, flat: int) -> None:
    assert (t.align, t.size, t.flat) == (align, size, flat)


def test_record_field_offsets_follow_alignment() -> None:
    assert _wit.FAILURE.offsets == (0, 4, 16, 24, 36, 44, 52, 64)
    assert Record([("a", U8), ("b", U32), ("c", U16)]).offsets == (0, 4, 8)
    assert Record([("a", U8), ("b", U32), ("c", U16)]).size == 12


def test_flat_types_of_64_bit_values() -> None:
    assert U64.flat_types == S64.flat_types == (I64,)
    assert Option(U64).flat_types == (I32, I64)
    assert _wit.RETRY_STATE.flat_types == (I32, I32, I64, I64, I64)
    assert _wit.RETRY_STATE.offsets == (0, 8, 24, 32)
    assert _wit.BREAKER_STATE.offsets == (0, 4, 8, 16, 24, 32, 36)
    # flatten_variant joins case types per position: i32 with i64 is i64.
    assert Variant([("a", U32), ("b", U64)]).flat_types == (I32, I64)
    assert Variant([("a", STRING), ("b", U64)]).flat_types == (I32, I64, I32)


def test_function_core_types_match_the_wit() -> None:
    # The core module's own signatures (checked again at instantiation).
    assert _wit.BEGIN_ATTEMPT.core_param_types == (
        I32, I32, I32, I64, I64, I64, I32, I32, I64, I32, I64, I32, I32, I32, I64)
    assert (_wit.BEGIN_ATTEMPT.params_in_memory, _wit.BEGIN_ATTEMPT.core_result_types) == (False, (I32,))
    assert _wit.AFTER_FAILURE.params_in_memory and _wit.AFTER_FAILURE.core_param_types == (I32,)
    assert _wit.AFTER_SUCCESS.core_param_types == (I32, I32, I32, I64, I32, I64, I32, I32, I32)
    assert _wit.PLAN_SCHEDULE.core_param_types == (I32, I64, I32)
    assert (_wit.DERIVE_SEED.core_param_types, _wit.DERIVE_SEED.core_result_types) == ((I32, I32), (I64,))
    # evaluate: 1 + 2 + 35 + 1 flat params, and a return area.
    assert _wit.EVALUATE.params_in_memory and _wit.EVALUATE.result_in_memory
    assert (_wit.EVALUATE.core_param_types, _wit.EVALUATE.core_result_types) == ((I32,), (I32,))
    assert _wit.EVENT.offsets == (0, 4, 12, 20, 28, 108, 112, 116, 124, 132)


def test_an_i32_case_in_a_joined_i64_slot_is_wrapped_when_lifted() -> None:
    t = Variant([("small", U32), ("big", U64)])
    flat: list[int] = []
    t.lower_flat(FakeMemory(), ("small", 7), flat)
    assert flat == [0, 7]
    # The spec's wrap_i64_to_i32: high bits of the joined slot are dropped.
    assert t.lift_flat(FakeMemory(), iter([0, (5 << 32) | 7])) == ("small", 7)
    assert t.lift_flat(FakeMemory(), iter([1, (5 << 32) | 7])) == ("big", (5 << 32) | 7)
    assert Variant([("f", BOOL), ("g", U64)]).lift_flat(FakeMemory(), iter([0, 1 << 32])) == ("f", False)


def test_function_flattening_decisions() -> None:
    # 3 flat params (ptr, len, enum), result through a return area.
    assert (_wit.LOAD_POLICY.params_in_memory, _wit.LOAD_POLICY.core_params) == (False, 3)
    assert (_wit.LOAD_POLICY.result_in_memory, _wit.LOAD_POLICY.core_results) == (True, 1)
    # 1 + 18 flat params > 16: the caller passes one pointer to the tuple.
    assert (_wit.CLASSIFY.params_in_memory, _wit.CLASSIFY.core_params) == (True, 1)
    assert (_wit.DROP_POLICY.core_params, _wit.DROP_POLICY.core_results) == (1, 0)
    assert Function("f", [("x", U32)], U32).core_results == 1


FAILURE_VALUE = (503, None, -1, "SIGKILL", ["a.B", "ü"], ["b.Base"], None, "m")


@pytest.mark.parametrize("t, value", [
    (U8, 255), (U16, 65535), (U32, 0xFFFFFFFF), (S32, -(1 << 31)), (BOOL, True),
    (STRING, ""), (STRING, "héllo ✓"), (List(STRING), []), (List(U16), [1, 2, 3]),
    (Option(U16), None), (Option(U16), 7), (Enum(["x", "y"]), "y"),
    (Result(U32, STRING), ("ok", 9)), (Result(U32, STRING), ("error", "bad")),
    (Variant([("a", None), ("b", U8)]), ("a", None)),
    (_wit.FAILURE, FAILURE_VALUE),
    (_wit.POLICY_ERROR, ("syntax", "msg", "a.b", (1, 2))),
    (_wit.POLICY_ERROR, ("too-large", "", "", None)),
    (_wit.POLICY_ERROR, ("invalid-state", "m", "state.attempts", None)),
    (U64, 0), (U64, (1 << 64) - 1), (S64, -(1 << 63)), (S64, -1),
    (Option(U64), None), (Option(U64), 1 << 40),
    (_wit.RETRY_STATE, (3, None, 0, (1 << 64) - 1)),
    (_wit.RETRY_STATE, (1, 1700000000000, 250, 14695981039346656037)),
    (_wit.SHARED_STATE, (("half-open", 2, (1 << 64) - 1, 64, 99, 1, 0), (1500,))),
    (_wit.PERMIT, (None, 2, 3000, 0, True, (2, 5, 1, 9),
                   (("closed", 0, 0, 0, 0, 0, 0), (0,)))),
    (_wit.SCHEDULE, ([(1, 0, None, 0), (2, 1000, 5000, 1000)], "attempts-exhausted")),
    (Result(_wit.DECISION, _wit.POLICY_ERROR),
     ("ok", ("deadline", 0, 4, None, ("transient", "r", "why"), "gave up", (4, 0, 8, 1),
             (("open", 0, 0, 0, 7000, 0, 0), (0,))))),
])
def test_store_load_and_flat_round_trip(t: _abi.ValType, value: object) -> None:
    mem = FakeMemory()
    ptr = mem.alloc(t.align, t.size)
    t.store(mem, ptr, value)
    assert t.load(mem, ptr) == value
    flat: list[int] = []
    t.lower_flat(mem, value, flat)
    assert len(flat) == t.flat
    # Core values are unsigned bit patterns of their slot's width.
    assert all(0 <= v < 1 << (32 if ft == I32 else 64) for v, ft in zip(flat, t.flat_types))
    assert t.lift_flat(mem, iter(flat)) == value


EVENT_VALUE = ("run-failed", "nightly", "train", "r1", FAILURE_VALUE, 3, 0,
               [("team", "ml"), ("région", "eu")], ["line 1", ""], None)


@pytest.mark.parametrize("t, value", [
    (_wit.EVENT, EVENT_VALUE),
    (_wit.EVENT, ("tick", "", "", "", None, 0, 0, [], [], "backstop/r/p/s")),
    (Result(_wit.EVALUATION, _wit.POLICY_ERROR),
     ("ok", ([("escalate", "critical", ["a", "b"], "r", "k", "s", "{}")],
             [("r", "k", "info", "repeat-limit")], '{"version":1}', 1 << 41))),
    (Result(_wit.EVALUATION, _wit.POLICY_ERROR), ("ok", ([], [], "", None))),
    (Result(_wit.EVALUATION, _wit.POLICY_ERROR), ("error", ("invalid-state", "m", "state", None))),
])
def test_alert_values_round_trip(t: _abi.ValType, value: object) -> None:
    test_store_load_and_flat_round_trip(t, value)


def test_each_string_gets_its_own_allocation() -> None:
    mem = FakeMemory()
    STRING.store(mem, 0, "ab")
    STRING.store(mem, 8, "c")
    assert [(align, size) for _, align, size in mem.allocs] == [(1, 2), (1, 1)]
    begin, length = mem.view.cast("I")[0:2]
    assert bytes(mem.buf[begin:begin + length]) == b"ab"


def test_empty_strings_and_lists_need_no_allocation() -> None:
    mem = FakeMemory()
    STRING.store(mem, 0, "")
    List(U32).store(mem, 8, [])
    assert mem.allocs == []
    assert list(mem.view.cast("I")[0:4]) == [1, 0, 4, 0]  # aligned, zero-length, in bounds


def test_params_in_memory_are_allocated_with_the_tuple_layout() -> None:
    mem = FakeMemory()
    flat = _wit.CLASSIFY.lower_params(mem, (7, FAILURE_VALUE))
    assert mem.allocs[0] == (flat[0], 4, 80)  # (u32, failure): failure at offset 4
    assert U32.load(mem, flat[0]) == 7
    assert _wit.FAILURE.load(mem, flat[0] + 4) == FAILURE_VALUE


def test_result_is_lifted_from_the_return_area() -> None:
    mem = FakeMemory()
    t = _wit.LOAD_POLICY.result
    assert t is not None
    ptr = mem.alloc(4, t.size)
    t.store(mem, ptr, ("ok", 42))
    assert _wit.LOAD_POLICY.lift_result(mem, ptr) == ("ok", 42)


@pytest.mark.parametrize("t, value, error", [
    (U16, 65536, ValueError), (U8, -1, ValueError), (S32, 1 << 31, ValueError),
    (U32, "1", TypeError), (U32, True, TypeError), (STRING, b"x", TypeError),
    (STRING, "\ud800", ValueError), (List(STRING), "abc", TypeError),
    (Enum(["x"]), "z", ValueError), (Result(U8, U8), ("maybe", 1), ValueError),
    (Record([("a", U8), ("b", U8)]), (1,), ValueError),
    (U64, 1 << 64, ValueError), (U64, -1, ValueError), (S64, 1 << 63, ValueError),
    (U64, 1.0, TypeError),
])
def test_bad_host_values_are_rejected(t: _abi.ValType, value: object, error: type) -> None:
    mem = FakeMemory()
    with pytest.raises(error):
        t.store(mem, 0, value)


def test_bad_guest_values_raise_abi_error() -> None:
    mem = FakeMemory()
    mem.buf[0] = 3  # discriminant 3 of a 2-case enum, or of an option
    with pytest.raises(AbiError, match="discriminant"):
        Enum(["a", "b"]).load(mem, 0)
    with pytest.raises(AbiError, match="discriminant"):
        Option(U8).load(mem, 0)
    U32.store(mem, 8, len(mem.buf) - 2)  # string running off the end of memory
    U32.store(mem, 12, 10)
    with pytest.raises(AbiError, match="outside"):
        STRING.load(mem, 8)
    mem.buf[100:102] = b"\xff\xfe"
    U32.store(mem, 8, 100)
    U32.store(mem, 12, 2)
    with pytest.raises(AbiError, match="UTF-8"):
        STRING.load(mem, 8)
    U32.store(mem, 8, 101)  # a list of u32 must be 4-aligned
    U32.store(mem, 12, 1)
    with pytest.raises(AbiError, match="aligned"):
        List(U32).load(mem, 8)
    with pytest.raises(AbiError, match="outside"):
        _wit.CLASSIFY.lift_result(mem, len(mem.buf) - 4)


def test_unrepresentable_types_are_refused() -> None:
    with pytest.raises(ValueError):
        Option(Option(U8))
    with pytest.raises(ValueError):
        Record([])
    with pytest.raises(TypeError):
        _wit.DROP_POLICY.lower_params(FakeMemory(), ())


# -- compiled (fixed-layout) records -------------------------------------------

RETRY_STATE_VALUE = (3, 1_700_000_000_000, 250, (1 << 64) - 1)
SHARED_VALUE = (("half-open", 2, (1 << 64) - 1, 64, 99, 1, 0), (1500,))


@pytest.mark.parametrize("t, value", [
    (_wit.RETRY_STATE, RETRY_STATE_VALUE), (_wit.RETRY_STATE, (0, None, 0, 0)),
    (_wit.SHARED_STATE, SHARED_VALUE),
    (_wit.PERMIT, ("circuit-open", 1, None, 5, False, (0, None, 0, 0), SHARED_VALUE)),
    (Record([("s", S64), ("b", BOOL), ("o", Option(S32))]), (-5, True, -7)),
])
def test_compiled_records_match_the_generic_layout(t: Record, value: object) -> None:
    assert t._pod is not None
    compiled, generic = FakeMemory(), FakeMemory()
    t.store(compiled, 64, value)
    Record.store(t, generic, 64, value)
    assert compiled.buf == generic.buf
    assert t.load(compiled, 64) == Record.load(t, generic, 64) == value
    flat_compiled: list[int] = []
    flat_generic: list[int] = []
    t.lower_flat(compiled, value, flat_compiled)
    Record.lower_flat(t, generic, value, flat_generic)
    assert flat_compiled == flat_generic
    assert t.lift_flat(compiled, iter(flat_compiled)) == value


def test_records_with_strings_have_no_compiled_lower_flat() -> None:
    assert _wit.FAILURE._pod is None and _wit.DECISION._pod is None
    assert _wit.DECISION.types[-1]._pod is not None  # but its shared-state field is
    assert _wit.FAILURE._compiled and _wit.DECISION._compiled and _wit.EVENT._compiled


FAILURE_VALUE = (503, "UNAVAILABLE", -3, None, ["a.B", "Ç"], [], "SlowDown", "m\u00e9ssage")
CLASSIFICATION_VALUE = ("transient", None, "no rule matched")


@pytest.mark.parametrize("t, value", [
    (_wit.FAILURE, FAILURE_VALUE),
    (_wit.FAILURE, (None, None, None, None, [], [], None, None)),
    (_wit.ATTEMPT_FAILURE, (FAILURE_VALUE, 150, None)),
    (_wit.DECISION, (None, 1200, 2, 30_000, ("permanent", "rule-1", "because"), "why",
                     RETRY_STATE_VALUE, SHARED_VALUE)),
    (_wit.POLICY_ERROR, ("syntax", "bad", "retry.x", (3, 4))),
    (_wit.POLICY_ERROR, ("too-large", "big", "", None)),
    (_wit.EVENT, ("tick", "", "", "", None, 0, 0, [], [], None)),
    (_wit.EVENT, ("run-failed", "p", "s", "r", FAILURE_VALUE, 3, 0, [("team", "ml")],
                  ["l1", "l2"], "k")),
    (_wit.NOTIFICATION, ("trigger", "high", ["oncall"], "r", "k", "sum", "{}")),
])
def test_compiled_records_with_strings_match_the_generic_path(t: Record, value: object) -> None:
    assert t._compiled
    compiled, generic = FakeMemory(), FakeMemory()
    ptr = compiled.alloc(t.align, t.size)
    assert generic.alloc(t.align, t.size) == ptr
    t.store(compiled, ptr, value)
    Record.store(t, generic, ptr, value)
    assert compiled.allocs == generic.allocs  # the same allocations, in the same order
    # The same bytes, except where an absent option's payload lies (compiled
    # code writes zeros there, the generic path leaves the bytes alone; both
    # zero on a fresh memory).
    assert compiled.buf == generic.buf
    assert t.load(compiled, ptr) == Record.load(t, generic, ptr) == _as_loaded(value)


def _as_loaded(value: object) -> object:
    """Lists load as lists, records as tuples."""
    if isinstance(value, tuple):
        return tuple(_as_loaded(v) for v in value)
    if isinstance(value, list):
        return [_as_loaded(v) for v in value]
    return value


def test_compiled_records_with_strings_report_bad_host_values_precisely() -> None:
    with pytest.raises(TypeError, match="string expects a str"):
        _wit.FAILURE.store(FakeMemory(), 0, (None, 14, None, None, [], [], None, None))
    with pytest.raises(ValueError, match="does not fit in u16"):
        _wit.FAILURE.store(FakeMemory(), 0, (70_000, None, None, None, [], [], None, None))
    with pytest.raises(TypeError, match="list expects a sequence"):
        _wit.FAILURE.store(FakeMemory(), 0, (None, None, None, None, "ab", [], None, None))


def test_compiled_records_with_strings_check_guest_strings() -> None:
    mem = FakeMemory()
    ptr = mem.alloc(4, 24)
    _wit.CLASSIFICATION.store(mem, ptr, ("unknown", "r", "why"))
    mem.buf[ptr + 16:ptr + 20] = (1 << 20).to_bytes(4, "little")  # reason's offset, past the memory
    with pytest.raises(AbiError, match="outside linear memory"):
        _wit.CLASSIFICATION.load(mem, ptr)


@pytest.mark.parametrize("t, value, error, match", [
    (_wit.RETRY_STATE, (1, None, -1, 0), ValueError, "u64"),
    (_wit.RETRY_STATE, (1, None, 0), ValueError, "record expects"),
    (_wit.RETRY_STATE, (1, "0", 0, 0), TypeError, "u64 expects an int"),
    (_wit.SHARED_STATE, (("ajar", 0, 0, 0, 0, 0, 0), (0,)), ValueError, "not one of the cases"),
])
def test_compiled_records_report_bad_host_values_precisely(t: Record, value: object, error: type,
                                                           match: str) -> None:
    with pytest.raises(error, match=match):
        t.store(FakeMemory(), 0, value)
    with pytest.raises(error, match=match):
        t.lower_flat(FakeMemory(), value, [])


def test_compiled_records_reject_bad_guest_values() -> None:
    t = _wit.PERMIT
    mem = FakeMemory()
    t.store(mem, 0, ("deadline", 1, None, 0, False, (0, None, 0, 0), SHARED_VALUE))
    mem.buf[1] = 200  # the refusal reason's enum index
    with pytest.raises(AbiError, match="discriminant"):
        t.load(mem, 0)
    mem.buf[0] = 0  # none: the payload byte is not looked at
    assert t.load(mem, 0)[0] is None
    mem.buf[0] = 2
    with pytest.raises(AbiError, match="option discriminant 2"):
        t.load(mem, 0)


@pytest.mark.parametrize("t, value", [
    (_wit.RETRY_STATE, RETRY_STATE_VALUE),
    (_wit.PERMIT, ("circuit-open", 1, None, 5, False, (0, None, 0, 0), SHARED_VALUE)),
    (_wit.PERMIT, (None, 3, 2500, 0, True, RETRY_STATE_VALUE, SHARED_VALUE)),
    (_wit.DECISION, (None, 1200, 2, 30_000, ("permanent", "rule-1", "because"), "why",
                     RETRY_STATE_VALUE, SHARED_VALUE)),
    (_wit.DECISION, ("deadline", 0, 2, None, CLASSIFICATION_VALUE, "", RETRY_STATE_VALUE,
                     SHARED_VALUE)),
    (_wit.AFTER_FAILURE.params_tuple, (7, RETRY_STATE_VALUE, SHARED_VALUE,
                                       (FAILURE_VALUE, 150, None), 99)),
    (_wit.AFTER_FAILURE.params_tuple, (7, RETRY_STATE_VALUE, SHARED_VALUE,
                                       ((None,) * 4 + ([], ["x"]) + (None, None), 0, 5), 99)),
])
def test_flat_struct_stores_flat_values_in_the_memory_layout(t: Record, value: object) -> None:
    # The same allocations in the same order on both sides, so equal pointers.
    stored, packed = FakeMemory(), FakeMemory()
    Record.store(t, stored, 1024, value)
    flat: list[int] = []
    Record.lower_flat(t, packed, value, flat)
    s = _abi.flat_struct(t)
    assert s.size == t.size and len(flat) == t.flat
    s.pack_into(packed.view, 1024, *flat)
    assert packed.buf == stored.buf
    assert list(s.unpack_from(stored.view, 1024)) == flat


def test_flat_struct_refuses_variants() -> None:
    with pytest.raises(TypeError, match="no flat-order memory layout"):
        _abi.flat_struct(_wit.AFTER_FAILURE.result)  # type: ignore[arg-type]
