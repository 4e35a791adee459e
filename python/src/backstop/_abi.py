"""A small, generic implementation of the component model's canonical ABI.

wasmtime-py's component API converts every value through generic C structures
and costs 100+ microseconds per call, so the package runs the component's *core
module* (the same code, committed next to the component) and lowers and lifts
values itself, following ``design/mvp/CanonicalABI.md`` and
``design/mvp/canonical-abi/definitions.py`` of WebAssembly/component-model.

Only what Backstop's WIT uses is supported: bool, u8/u16/u32/u64,
s8/s16/s32/s64, string (UTF-8), list, record, enum, option, result and
variant. They flatten to ``i32`` and ``i64`` core values (a variant joins its
cases' flat types position by position, ``i32`` with ``i64`` giving ``i64``);
floats, flags, tuples-as-such, chars and resources are deliberately absent
(the WIT avoids them).

Python representations: integers and strings as themselves, a ``list`` as a
Python sequence, a ``record`` as a tuple in field order, an ``enum`` as its case
name, an ``option`` as ``None`` or the value (so ``option<option<T>>`` is not
supported), and a ``result`` or ``variant`` as a ``(case_name, payload)`` pair.
"""

from __future__ import annotations

import collections.abc
import functools
import struct
from typing import Any, Iterator, Optional, Protocol, Sequence

MAX_FLAT_PARAMS = 16
MAX_FLAT_RESULTS = 1
I32, I64 = "i32", "i64"
# The canonical ABI traps on strings of 2^31 bytes or more.
MAX_STRING_BYTES = (1 << 31) - 1
_U32 = 0xFFFFFFFF
_U64 = (1 << 64) - 1


class AbiError(Exception):
    """The guest produced something the canonical ABI forbids.

    The specification traps in these cases; callers must treat the instance
    as poisoned, exactly like a WebAssembly trap.
    """


class Memory(Protocol):
    """What lowering and lifting need from a guest's linear memory.

    ``view`` must be re-read after every ``alloc`` (an allocation may grow,
    and so move, the memory).
    """

    view: memoryview

    def alloc(self, align: int, size: int) -> int: ...


def align_to(offset: int, alignment: int) -> int:
    return (offset + alignment - 1) & ~(alignment - 1)


def _checked_range(mem: Memory, ptr: int, length: int, align: int) -> None:
    if ptr & (align - 1):
        raise AbiError(f"pointer {ptr:#x} is not aligned to {align}")
    if ptr + length > len(mem.view):
        raise AbiError(f"range {ptr:#x}+{length} is outside linear memory ({len(mem.view)} bytes)")


def alloc_checked(mem: Memory, align: int, size: int) -> int:
    """``cabi_realloc(0, 0, align, size)``, with the checks the spec makes."""
    ptr = mem.alloc(align, size)
    _checked_range(mem, ptr, size, align)
    return ptr


class ValType:
    """A component value type: its memory layout and its flat (core) form."""

    align: int
    size: int
    #: The core value types (``"i32"`` / ``"i64"``) the type flattens to.
    flat_types: tuple[str, ...]
    #: How many core values that is.
    flat: int

    def store(self, mem: Memory, ptr: int, value: Any) -> None:
        raise NotImplementedError

    def load(self, mem: Memory, ptr: int) -> Any:
        raise NotImplementedError

    def lower_flat(self, mem: Memory, value: Any, out: list[int]) -> None:
        raise NotImplementedError

    def lift_flat(self, mem: Memory, values: Iterator[int]) -> Any:
        raise NotImplementedError


class Int(ValType):
    """A fixed-width integer: ``u8`` ... ``u64``, ``s8`` ... ``s64``."""

    def __init__(self, bits: int, signed: bool) -> None:
        self.name = f"{'s' if signed else 'u'}{bits}"
        self.align = self.size = bits // 8
        self.flat_types = (I64 if bits == 64 else I32,)
        self.flat = 1
        self._bits = bits
        self._signed = signed
        self._lo = -(1 << (bits - 1)) if signed else 0
        self._hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
        self._core_mask = _U64 if bits == 64 else _U32
        code = {8: "b", 16: "h", 32: "i", 64: "q"}[bits]
        self._struct = struct.Struct("<" + (code if signed else code.upper()))

    def _check(self, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{self.name} expects an int, got {type(value).__name__}")
        if not self._lo <= value <= self._hi:
            raise ValueError(f"{value} does not fit in {self.name} ({self._lo}..{self._hi})")
        return value

    def store(self, mem: Memory, ptr: int, value: Any) -> None:
        self._struct.pack_into(mem.view, ptr, self._check(value))

    def load(self, mem: Memory, ptr: int) -> int:
        value: int = self._struct.unpack_from(mem.view, ptr)[0]
        return value

    def lower_flat(self, mem: Memory, value: Any, out: list[int]) -> None:
        # Core values travel as unsigned bit patterns of their width.
        out.append(self._check(value) & self._core_mask)

    def lift_flat(self, mem: Memory, values: Iterator[int]) -> int:
        # Like the spec's lift_flat_unsigned/signed: keep the low bits, then sign.
        value = next(values) & ((1 << self._bits) - 1)
        if self._signed and value > self._hi:
            value -= 1 << self._bits
        return value


U8, U16, U32, U64 = Int(8, False), Int(16, False), Int(32, False), Int(64, False)
S8, S16, S32, S64 = Int(8, True), Int(16, True), Int(32, True), Int(64, True)


class Bool(ValType):
    align = size = flat = 1
    flat_types = (I32,)

    def store(self, mem: Memory, ptr: int, value: Any) -> None:
        mem.view[ptr] = 1 if value else 0

    def load(self, mem: Memory, ptr: int) -> bool:
        return mem.view[ptr] != 0

    def lower_flat(self, mem: Memory, value: Any, out: list[int]) -> None:
        out.append(1 if value else 0)

    def lift_flat(self, mem: Memory, values: Iterator[int]) -> bool:
        return next(values) != 0


BOOL = Bool()

_PAIR = struct.Struct("<II")

# _EMPTY: a zero-length string or list is lowered as (its alignment, 0) without
# calling cabi_realloc for zero bytes. The pair is in bounds and aligned, which
# is all the spec's lifting checks, and it is exactly what wit-bindgen's own
# callers pass for an empty Vec; it saves a guest call per empty value.


def utf8(value: Any) -> bytes:
    """A ``string`` value's UTF-8 bytes, checked as the canonical ABI requires."""
    if not isinstance(value, str):
        raise TypeError(f"string expects a str, got {type(value).__name__}")
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"string is not valid Unicode ({exc.reason})") from None
    if len(data) > MAX_STRING_BYTES:
        raise ValueError(f"string of {len(data)} bytes exceeds the canonical ABI limit")
    return data


class String(ValType):
    """A UTF-8 string: an ``(offset, byte length)`` pair pointing at guest memory."""

    align, size, flat = 4, 8, 2
    flat_types = (I32, I32)

    @staticmethod
    def lower_range(mem: Memory, value: Any) -> tuple[int, int]:
        data = utf8(value)
        if not data:
            return 1, 0  # see _EMPTY
        ptr = alloc_checked(mem, 1, len(data))
        mem.view[ptr:ptr + len(data)] = data
        return ptr, len(data)

    def store(self, mem: Memory, ptr: int, value: Any) -> None:
        begin, length = self.lower_range(mem, value)
        _PAIR.pack_into(mem.view, ptr, begin, length)

    @staticmethod
    def lift_range(mem: Memory, begin: int, length: int) -> str:
        _checked_range(mem, begin, length, 1)
        try:
            return str(mem.view[begin:begin + length], "utf-8")
        except UnicodeDecodeError as exc:
            raise AbiError(f"guest string is not valid UTF-8: {exc}") from None

    def load(self, mem: Memory, ptr: int) -> str:
        return self.lift_range(mem, *_PAIR.unpack_from(mem.view, ptr))

    def lower_flat(self, mem: Memory, value: Any, out: list[int]) -> None:
        out.extend(self.lower_range(mem, value))

    def lift_flat(self, mem: Memory, values: Iterator[int]) -> str:
        begin = next(values) & _U32
        return self.lift_range(mem, begin, next(values) & _U32)


STRING = String()


class List(ValType):
    """``list<T>``: an ``(offset, element count)`` pair."""

    align, size, flat = 4, 8, 2
    flat_types = (I32, I32)

    def __init__(self, elem: ValType) -> None:
        self.elem = elem

    def lower_range(self, mem: Memory, value: Any) -> tuple[int, int]:
        # Lists and tuples first: an ABC check costs a microsecond.
        if type(value) not in (list, tuple) and (isinstance(value, (str, bytes)) or not isinstance(
                value, collections.abc.Sequence)):
            raise TypeError(f"list expects a sequence, got {type(value).__name__}")
        elem, count = self.elem, len(value)
        if not count:
            return elem.align, 0  # see _EMPTY
        if count * elem.size >= 1 << 32:
            raise ValueError(f"list of {count} elements exceeds the canonical ABI limit")
        ptr = alloc_checked(mem, elem.align, count * elem.size)
        for i, item in enumerate(value):
            elem.store(mem, ptr + i * elem.size, item)
        return ptr, count

    def store(self, mem: Memory, ptr: int, value: Any) -> None:
        begin, count = self.lower_range(mem, value)
        _PAIR.pack_into(mem.view, ptr, begin, count)

    def lift_range(self, mem: Memory, begin: int, count: int) -> list[Any]:
        elem = self.elem
        _checked_range(mem, begin, count * elem.size, elem.align)
        return [elem.load(mem, begin + i * elem.size) for i in range(count)]

    def load(self, mem: Memory, ptr: int) -> list[Any]:
        return self.lift_range(mem, *_PAIR.unpack_from(mem.view, ptr))

    def lower_flat(self, mem: Memory, value: Any, out: list[int]) -> None:
        out.extend(self.lower_range(mem, value))

    def lift_flat(self, mem: Memory, values: Iterator[int]) -> list[Any]:
        begin = next(values) & _U32
        return self.lift_range(mem, begin, next(values) & _U32)


class Record(ValType):
    """``record``: fields laid out in order, each at its own alignment."""

    def __init__(self, fields: Sequence[tuple[str, ValType]]) -> None:
        if not fields:
            raise ValueError("a record needs at least one field")
        self.names = tuple(name for name, _ in fields)
        self.types = tuple(t for _, t in fields)
        self.align = max(t.align for t in self.types)
        offsets, size = [], 0
        for t in self.types:
            size = align_to(size, t.align)
            offsets.append(size)
            size += t.size
        self.offsets = tuple(offsets)
        self.size = align_to(size, self.align)
        self.flat_types = tuple(ft for t in self.types for ft in t.flat_types)
        self.flat = len(self.flat_types)
        self._fields = tuple(zip(self.offsets, self.types))
        # One struct.pack per record instead of a call per field (see
        # _compile_pod); ``_pod`` is set for records of fixed-size fields only.
        compiled = _compile_pod(self)
        self._compiled = compiled is not None
        self._pod = compiled if compiled is not None and compiled[2] is not None else None
        if compiled is not None:
            self.store, self.load = compiled[0], compiled[1]  # type: ignore[method-assign]
            if compiled[2] is not None:
                self.lower_flat = compiled[2]  # type: ignore[method-assign]

    def _values(self, value: Any) -> Sequence[Any]:
        values: Sequence[Any] = value
        if len(values) != len(self.types):
            raise ValueError(f"record expects {len(self.types)} fields {self.names}, got {len(values)}")
        return values

    def store(self, mem: Memory, ptr: int, value: Any) -> None:
        for (offset, t), item in zip(self._fields, self._values(value)):
            t.store(mem, ptr + offset, item)

    def load(self, mem: Memory, ptr: int) -> tuple[Any, ...]:
        return tuple(t.load(mem, ptr + offset) for offset, t in self._fields)

    def lower_flat(self, mem: Memory, value: Any, out: list[int]) -> None:
        for t, item in zip(self.types, self._values(value)):
            t.lower_flat(mem, item, out)

    def lift_flat(self, mem: Memory, values: Iterator[int]) -> tuple[Any, ...]:
        return tuple(t.lift_flat(mem, values) for t in self.types)


def Tuple(*types: ValType) -> Record:  # noqa: N802 (reads like a type constructor)
    """A tuple has a record's layout; used for a function's parameter list."""
    return Record([(str(i), t) for i, t in enumerate(types)])


class Variant(ValType):
    """``variant``: a discriminant, then the case payload at the largest alignment.

    Values are ``(case_name, payload)``; ``payload`` is ``None`` for a case
    without one.
    """

    def __init__(self, cases: Sequence[tuple[str, Optional[ValType]]]) -> None:
        if not cases:
            raise ValueError("a variant needs at least one case")
        self.names = tuple(name for name, _ in cases)
        self.types = tuple(t for _, t in cases)
        self._index = {name: i for i, name in enumerate(self.names)}
        n = len(cases)
        self._disc = U8 if n <= 1 << 8 else U16 if n <= 1 << 16 else U32
        payloads = [t for t in self.types if t is not None]
        case_align = max((t.align for t in payloads), default=1)
        self.align = max(self._disc.size, case_align)
        self._payload_offset = align_to(self._disc.size, case_align)
        self.size = align_to(self._payload_offset + max((t.size for t in payloads), default=0),
                             self.align)
        # flatten_variant: join the cases' flat types position by position.
        joined: list[str] = []
        for t in payloads:
            for i, ft in enumerate(t.flat_types):
                if i == len(joined):
                    joined.append(ft)
                elif joined[i] != ft:
                    joined[i] = I64  # i32 joined with i64 (no floats here)
        self._payload_flat = len(joined)
        self.flat_types = (I32, *joined)
        self.flat = len(self.flat_types)
        # Per case: the positions where its i32 travels in a joined i64 slot and
        # must be wrapped back to 32 bits when lifted (the spec's wrap_i64_to_i32).
        self._narrowed = tuple(
            () if t is None else tuple(i for i, ft in enumerate(t.flat_types) if joined[i] != ft)
            for t in self.types)

    # Subclasses map their Python form to and from (case index, payload).
    def _split(self, value: Any) -> tuple[int, Any]:
        name, payload = value
        try:
            return self._index[name], payload
        except KeyError:
            raise ValueError(f"{name!r} is not one of the cases {self.names}") from None

    def _join(self, index: int, payload: Any) -> Any:
        return self.names[index], payload

    def _case(self, index: int) -> Optional[ValType]:
        if index >= len(self.types):
            raise AbiError(f"discriminant {index} is out of range for cases {self.names}")
        return self.types[index]

    def store(self, mem: Memory, ptr: int, value: Any) -> None:
        index, payload = self._split(value)
        if self._disc is U8:
            mem.view[ptr] = index
        else:
            self._disc.store(mem, ptr, index)
        t = self.types[index]
        if t is not None:
            t.store(mem, ptr + self._payload_offset, payload)

    def load(self, mem: Memory, ptr: int) -> Any:
        index = mem.view[ptr] if self._disc is U8 else self._disc.load(mem, ptr)
        t = self._case(index)
        return self._join(index, None if t is None else t.load(mem, ptr + self._payload_offset))

    def lower_flat(self, mem: Memory, value: Any, out: list[int]) -> None:
        index, payload = self._split(value)
        out.append(index)
        start = len(out)
        t = self.types[index]
        if t is not None:
            t.lower_flat(mem, payload, out)
        out.extend([0] * (self._payload_flat - (len(out) - start)))

    def lift_flat(self, mem: Memory, values: Iterator[int]) -> Any:
        index = next(values) & _U32
        payload = [next(values) for _ in range(self._payload_flat)]
        t = self._case(index)
        if t is None:
            return self._join(index, None)
        for i in self._narrowed[index]:
            payload[i] &= _U32
        return self._join(index, t.lift_flat(mem, iter(payload)))


class Enum(Variant):
    """``enum``: a variant without payloads, represented by its case name."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__([(name, None) for name in names])

    def _split(self, value: Any) -> tuple[int, Any]:
        return super()._split((value, None))

    def _join(self, index: int, payload: Any) -> str:
        return self.names[index]


class Option(Variant):
    """``option<T>``: ``None`` or the value itself."""

    def __init__(self, t: ValType) -> None:
        if isinstance(t, Option):
            raise ValueError("option<option<T>> cannot be represented with None")
        super().__init__([("none", None), ("some", t)])
        self._some = t

    def _split(self, value: Any) -> tuple[int, Any]:
        return (0, None) if value is None else (1, value)

    def _join(self, index: int, payload: Any) -> Any:
        return payload

    # The hot path of every call (seven options per failure): skip the generic detour.
    def store(self, mem: Memory, ptr: int, value: Any) -> None:
        if value is None:
            mem.view[ptr] = 0
        else:
            mem.view[ptr] = 1
            self._some.store(mem, ptr + self._payload_offset, value)

    def load(self, mem: Memory, ptr: int) -> Any:
        flag = mem.view[ptr]
        if flag == 0:
            return None
        if flag != 1:
            raise AbiError(f"option discriminant {flag} is out of range")
        return self._some.load(mem, ptr + self._payload_offset)


def Result(ok: Optional[ValType], error: Optional[ValType]) -> Variant:  # noqa: N802
    """``result<T, E>``: values are ``("ok", T)`` or ``("error", E)``."""
    return Variant([("ok", ok), ("error", error)])


class Function:
    """A WIT function's signature and how its core export is called.

    Follows ``flatten_functype`` for a lifted (exported) function: more than
    ``MAX_FLAT_PARAMS`` flat parameters go through memory the caller allocates
    with ``cabi_realloc``; more than ``MAX_FLAT_RESULTS`` flat results come back
    through a return area whose address the function returns.
    """

    def __init__(self, name: str, params: Sequence[tuple[str, ValType]],
                 result: Optional[ValType] = None) -> None:
        self.name = name
        self.param_names = tuple(n for n, _ in params)
        self.param_types = tuple(t for _, t in params)
        self.result = result
        flat_params = tuple(ft for t in self.param_types for ft in t.flat_types)
        self.params_in_memory = len(flat_params) > MAX_FLAT_PARAMS
        self.params_tuple = Tuple(*self.param_types) if self.param_types else None
        #: The core function's parameter and result types.
        self.core_param_types: tuple[str, ...] = (I32,) if self.params_in_memory else flat_params
        flat_results = result.flat_types if result is not None else ()
        self.result_in_memory = len(flat_results) > MAX_FLAT_RESULTS
        self.core_result_types: tuple[str, ...] = (I32,) if self.result_in_memory else flat_results
        self.core_params = len(self.core_param_types)
        self.core_results = len(self.core_result_types)

    def lower_params(self, mem: Memory, args: Sequence[Any]) -> list[int]:
        if len(args) != len(self.param_types):
            raise TypeError(f"{self.name} takes {len(self.param_types)} arguments, got {len(args)}")
        if self.params_in_memory:
            tup = self.params_tuple
            assert tup is not None
            ptr = alloc_checked(mem, tup.align, tup.size)
            tup.store(mem, ptr, args)
            return [ptr]
        out: list[int] = []
        for t, arg in zip(self.param_types, args):
            t.lower_flat(mem, arg, out)
        return out

    def lift_result(self, mem: Memory, core_result: Optional[int]) -> Any:
        if self.result is None:
            return None
        assert core_result is not None
        if self.result_in_memory:
            ptr = core_result & _U32
            _checked_range(mem, ptr, self.result.size, self.result.align)
            return self.result.load(mem, ptr)
        return self.result.lift_flat(mem, iter([core_result]))


# -- compiled records ----------------------------------------------------------
#
# A record whose fields are integers, bools, small enums, options of those,
# strings, lists or such records again has a fixed byte layout for its own
# bytes, so it can be stored and loaded with one precompiled struct.Struct;
# strings and lists are lowered into their own allocations first (in field
# order, as the generic path does) and only their (offset, length) pairs go
# into the struct. _compile_record generates those functions as Python source
# (the way namedtuple does). A record without strings or lists ("plain old
# data": the retry states) also gets a compiled lower_flat. On any bad host
# value the compiled code falls back to the generic path, which raises the
# precise error (struct's own range checks find it; only a bool where an int
# belongs slips through as 0 / 1, and the public dataclasses refuse those
# first). The public types check every string field before lowering, so the
# fallback never runs after a string was allocated for a valid call.


def _is_pod(t: ValType) -> bool:
    return _compilable(t, pointers=False)


def _compilable(t: ValType, pointers: bool) -> bool:
    if isinstance(t, (Int, Bool)):
        return True
    if isinstance(t, (String, List)):
        return pointers
    if isinstance(t, Enum):
        return t._disc is U8
    if isinstance(t, Option):
        return _compilable(t._some, pointers)
    if isinstance(t, Record):
        return all(_compilable(ft, pointers) for ft in t.types)
    return False


_INT_CODES = {(8, False): "B", (16, False): "H", (32, False): "I", (64, False): "Q",
              (8, True): "b", (16, True): "h", (32, True): "i", (64, True): "q"}


def _bad_option(tag: int) -> Any:
    raise AbiError(f"option discriminant {tag} is out of range")


class _RecordCompiler:
    def __init__(self) -> None:
        self.codes: list[str] = []
        self.pos = 0
        self.slots = 0          # unpacked-tuple index of the next field
        self.names = 0          # fresh variable counter
        self.env: dict[str, Any] = {"_bad_option": _bad_option}
        # store: destructuring statements and out-of-line lowerings, in
        # field order, as (variable or pattern, expression) pairs
        self.stmts: list[tuple[str, str]] = []
        self.pack: list[str] = []     # store: pack_into arguments
        self.flat: list[str] = []     # lower_flat: flat values (plain data only)

    def var(self) -> str:
        self.names += 1
        return f"v{self.names}"

    def field(self, offset: int, code: str, size: int) -> int:
        if offset > self.pos:
            self.codes.append(f"{offset - self.pos}x")
        self.codes.append(code)
        self.pos = offset + size
        self.slots += 1
        return self.slots - 1

    def visit(self, t: ValType, offset: int, expr: str) -> str:
        """Emit ``t`` at ``offset`` holding Python value ``expr``; returns the
        load expression over the unpacked tuple ``u``."""
        if isinstance(t, Int):
            i = self.field(offset, _INT_CODES[(t._bits, t._signed)], t.size)
            self.pack.append(expr)
            self.flat.append(f"{expr} & {t._core_mask}")
            return f"u[{i}]"
        if isinstance(t, Bool):
            i = self.field(offset, "B", 1)
            self.pack.append(f"(1 if {expr} else 0)")
            self.flat.append(f"(1 if {expr} else 0)")
            return f"(u[{i}] != 0)"
        if isinstance(t, (String, List)):
            # (offset, length) of data lowered into its own allocation.
            i = self.field(offset, "I", 4)
            self.field(offset + 4, "I", 4)
            pair, lower, lift = self.var(), self.var(), self.var()
            self.env[lower], self.env[lift] = t.lower_range, t.lift_range
            self.stmts.append((pair, f"{lower}(mem, {expr})"))
            self.pack.extend((f"{pair}[0]", f"{pair}[1]"))
            return f"{lift}(mem, u[{i}], u[{i + 1}])"
        if isinstance(t, Enum):
            names = self.var()
            self.env[names] = t.names
            self.env[names + "_index"] = t._index
            i = self.field(offset, "B", 1)
            self.pack.append(f"{names}_index[{expr}]")
            self.flat.append(f"{names}_index[{expr}]")
            return f"{names}[u[{i}]]"
        if isinstance(t, Option):
            tag = self.field(offset, "B", 1)
            self.pack.append(f"(0 if {expr} is None else 1)")
            self.flat.append(f"(0 if {expr} is None else 1)")
            # The payload of None is stored as zeros (any value is valid
            # there), and nothing of it is destructured or allocated.
            pack_at, flat_at, stmts_at = len(self.pack), len(self.flat), len(self.stmts)
            inner = self.visit(t._some, offset + t._payload_offset, expr)
            self.pack[pack_at:] = [f"(0 if {expr} is None else {e})" for e in self.pack[pack_at:]]
            self.flat[flat_at:] = [f"(0 if {expr} is None else {e})" for e in self.flat[flat_at:]]
            self.stmts[stmts_at:] = [
                (target, f"({none} if {expr} is None else {e})")
                for target, e in self.stmts[stmts_at:]
                for none in [self.nones(target)]]
            # Lazily: a None's payload bytes are unspecified (an enum index there may be garbage).
            return f"(None if u[{tag}] == 0 else {inner} if u[{tag}] == 1 else _bad_option(u[{tag}]))"
        assert isinstance(t, Record)
        items = [self.var() for _ in t.types]
        self.stmts.append((f"({', '.join(items)},)", expr))
        loads = [self.visit(ft, offset + fo, item) for ft, fo, item in zip(t.types, t.offsets, items)]
        return f"({', '.join(loads)},)"

    @staticmethod
    def nones(target: str) -> str:
        """What a statement's target gets under an absent option."""
        if target.startswith("("):
            return f"({'None, ' * (target.count(',') )})"
        return "None"


def _compile_pod(record: Record) -> Optional[tuple[Any, Any, Any]]:
    """Compiled (store, load, lower_flat) for a record (see above); lower_flat
    is None for a record with strings or lists, None for one the compiler
    does not handle."""
    if not _compilable(record, pointers=True):
        return None
    pod = _is_pod(record)
    c = _RecordCompiler()
    load_expr = c.visit(record, 0, "value")
    if record.size > c.pos:
        c.codes.append(f"{record.size - c.pos}x")
    c.env["S"] = struct.Struct("<" + "".join(c.codes))
    c.env["AbiError"] = AbiError
    c.env["_generic_store"] = functools.partial(_generic_store, record)
    c.env["_generic_lower"] = functools.partial(_generic_lower, record)
    body = "\n        ".join(f"{target} = {e}" for target, e in c.stmts) or "pass"
    source = f"""
def store(mem, ptr, value):
    try:
        {body}
        S.pack_into(mem.view, ptr, {", ".join(c.pack)})
    except (TypeError, ValueError, KeyError, struct.error):
        _generic_store(mem, ptr, value)  # raises the precise error

def load(mem, ptr):
    u = S.unpack_from(mem.view, ptr)
    try:
        return {load_expr}
    except IndexError:
        raise AbiError("enum discriminant is out of range") from None
"""
    if pod:
        source += f"""
def lower_flat(mem, value, out):
    try:
        {body}
        S.pack({", ".join(c.pack)})  # the range checks store makes
        flat = ({", ".join(c.flat)},)
    except (TypeError, ValueError, KeyError, struct.error):
        _generic_lower(mem, value, out)  # raises the precise error
        return
    out.extend(flat)
"""
    c.env["struct"] = struct
    exec(compile(source, f"<backstop._abi record {record.names}>", "exec"), c.env)
    return c.env["store"], c.env["load"], c.env.get("lower_flat")


def _generic_store(record: Record, mem: Memory, ptr: int, value: Any) -> None:
    Record.store(record, mem, ptr, value)


def _generic_lower(record: Record, mem: Memory, value: Any, out: list[int]) -> None:
    Record.lower_flat(record, mem, value, out)


# -- flat-order memory layouts -------------------------------------------------


def flat_struct(t: ValType) -> struct.Struct:
    """A ``struct.Struct`` between ``t``'s flat core values, in flat order,
    and its memory layout: ``pack_into(view, ptr, *flat)`` stores a value
    given its flat form, ``unpack_from`` loads one as (unchecked) flat values.

    For records of integers, bools, small enums, strings, lists and options
    of those, and such records again, the flat order is the memory order
    (an option's discriminant, then its payload; a string's or list's offset,
    then its length), so one struct does it. Integers travel as unsigned bit
    patterns of their memory width, as flat values do; a string or list's
    pair points at data lowered separately. For the hand-written hot calls
    (``backstop._retrycalls``), which must check lifted values themselves.
    """
    codes: list[str] = []
    pos = 0

    def field(offset: int, code: str, size: int) -> None:
        nonlocal pos
        if offset > pos:
            codes.append(f"{offset - pos}x")
        codes.append(code)
        pos = offset + size

    def visit(t: ValType, offset: int) -> None:
        if isinstance(t, Int):
            field(offset, _INT_CODES[(t._bits, False)], t.size)
        elif isinstance(t, (Bool, Enum)) and t.size == 1:
            field(offset, "B", 1)
        elif isinstance(t, (String, List)):
            field(offset, "I", 4)
            field(offset + 4, "I", 4)
        elif isinstance(t, Option) and t._payload_flat == t._some.flat:
            field(offset, "B", 1)
            visit(t._some, offset + t._payload_offset)
        elif isinstance(t, Record):
            for ft, fo in zip(t.types, t.offsets):
                visit(ft, offset + fo)
        else:
            raise TypeError(f"{type(t).__name__} has no flat-order memory layout")

    visit(t, 0)
    if t.size > pos:
        codes.append(f"{t.size - pos}x")
    return struct.Struct("<" + "".join(codes))
