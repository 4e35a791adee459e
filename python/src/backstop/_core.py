"""Calling a core WebAssembly module's exports fast, through wasmtime's C API.

wasmtime-py's ``Func.__call__`` re-reads the function type and boxes every
argument on each call (about 30 microseconds); ``wasmtime_func_call_unchecked``
with a preallocated argument buffer costs about 1. That is safe here because
:class:`CoreInstance` checks every export's core signature against the WIT
signature once, when it binds the instance.
"""

from __future__ import annotations

import ctypes
import functools
import struct
from typing import Any, Mapping, Optional, Sequence

import wasmtime
from wasmtime import _bindings as _capi  # the pinned wasmtime's own ctypes declarations
from wasmtime._ffi import dll as _dll

from ._abi import I32, I64, AbiError, Function

# Private prototypes (``dll[name]`` makes a fresh function object, leaving
# wasmtime-py's own untouched) returning plain addresses. They declare no
# argtypes: every call passes the same prebuilt ctypes address objects (bound
# with functools.partial), which ctypes hands to C as they are, about twice
# as fast as converting integers through declared argtypes on every call.
# The signatures, for the record:
#   wasmtime_error_t *wasmtime_func_call_unchecked(wasmtime_context_t *,
#       const wasmtime_func_t *, wasmtime_val_raw_t *args_and_results,
#       size_t args_and_results_len, wasm_trap_t **trap_ret)
#   uint8_t *wasmtime_memory_data(const wasmtime_context_t *, const wasmtime_memory_t *)
#   size_t wasmtime_memory_data_size(const wasmtime_context_t *, const wasmtime_memory_t *)
_call_unchecked = _dll["wasmtime_func_call_unchecked"]
_call_unchecked.restype = ctypes.c_void_p
_call_unchecked.argtypes = None
_memory_data = _dll["wasmtime_memory_data"]
_memory_data.restype = ctypes.c_void_p
_memory_data.argtypes = None
_memory_size = _dll["wasmtime_memory_data_size"]
_memory_size.restype = ctypes.c_size_t
_memory_size.argtypes = None
_addr = ctypes.c_void_p

_CORE_TYPES = {I32: wasmtime.ValType.i32(), I64: wasmtime.ValType.i64()}
_SLOT = ctypes.sizeof(_capi.wasmtime_val_raw_t) // 8
assert ctypes.sizeof(_capi.wasmtime_val_raw_t) % 8 == 0
_MASKS = {I32: 0xFFFFFFFF, I64: (1 << 64) - 1}
#: cabi_realloc's arguments (0, 0, align, size) in their slots, in one pack.
_REALLOC_ARGS = struct.Struct(f"<{_SLOT * 16}xI{_SLOT * 8 - 4}xI{_SLOT * 8 - 4}x")


class _RawFunc:
    """One core export taking and returning ``i32`` / ``i64`` values."""

    __slots__ = ("_ctx", "_func", "_func_addr", "_buf", "_buf_addr", "_len", "_words",
                 "_nparams", "_nresults", "_result_mask", "_trap", "_trap_addr", "_invoke")

    def __init__(self, store: wasmtime.Store, func: wasmtime.Func, params: Sequence[str],
                 results: Sequence[str]) -> None:
        nparams, nresults = len(params), len(results)
        # Raw addresses; the owning CoreInstance keeps the store (and so the
        # context) alive, and we keep the func and buffers.
        self._ctx = ctypes.cast(store._context(), ctypes.c_void_p).value
        self._func = func
        self._func_addr = ctypes.addressof(func._func)
        self._len = max(nparams, nresults, 1)
        self._buf = (_capi.wasmtime_val_raw_t * self._len)()
        self._buf_addr = ctypes.addressof(self._buf)
        # Each slot is a 16-byte union whose first bytes are the i32 or i64,
        # little-endian; a u64 view over the buffer avoids building a union
        # object per argument. Writing 64 bits suits both widths: an i32
        # argument is already a u32 bit pattern, and its slot's upper half is
        # ignored.
        self._words = (ctypes.c_uint64 * (self._len * _SLOT)).from_buffer(self._buf)
        self._nparams = nparams
        self._nresults = nresults
        # An i32 result fills only the low half of its slot.
        self._result_mask = _MASKS[results[0]] if results else 0
        self._new_trap_slot()

    def _new_trap_slot(self) -> None:
        self._trap = ctypes.POINTER(_capi.wasm_trap_t)()
        self._trap_addr = ctypes.addressof(self._trap)
        self._invoke = functools.partial(_call_unchecked, _addr(self._ctx), _addr(self._func_addr),
                                         _addr(self._buf_addr), ctypes.c_size_t(self._len),
                                         _addr(self._trap_addr))

    def __call__(self, args: Sequence[int]) -> Optional[int]:
        n = len(args)
        if n != self._nparams:
            raise TypeError(f"core function takes {self._nparams} arguments, got {n}")
        words = self._words
        if n:
            # One strided slice assignment (half the cost of a loop); ctypes
            # keeps each value's low 64 bits.
            words[0:n * _SLOT:_SLOT] = args
        error = self._invoke()
        if error or self._trap:
            self._fail(error)
        return words[0] & self._result_mask if self._nresults else None

    def _fail(self, error: Optional[int]) -> None:
        if error:
            raise wasmtime.WasmtimeError._from_ptr(ctypes.cast(error, ctypes.POINTER(_capi.wasmtime_error_t)))
        trap = self._trap
        self._new_trap_slot()  # the Trap object takes ownership of the pointer
        raise wasmtime.Trap._from_ptr(trap)


class CoreInstance:
    """A fresh instance of a core module in its own store, with canonical-ABI calls.

    Implements the :class:`backstop._abi.Memory` protocol over the instance's
    exported ``memory`` and ``cabi_realloc``. Not thread-safe: callers serialise.
    """

    def __init__(self, engine: wasmtime.Engine, module: wasmtime.Module,
                 interfaces: Mapping[str, Sequence[Function]], fixed_memory: bool = False) -> None:
        """``fixed_memory``: the engine keeps linear memory in place
        (``memory_may_move = False``), so growing it only lengthens the view."""
        self._fixed_memory = fixed_memory
        # The store owns the instance; keep it alive as long as we are.
        self._store = store = wasmtime.Store(engine)
        exports = wasmtime.Instance(store, module, []).exports(store)
        memory = exports["memory"]
        if not isinstance(memory, wasmtime.Memory):
            raise TypeError("the module's `memory` export is not a memory")
        self._ctx = ctypes.cast(store._context(), ctypes.c_void_p).value
        self._memory = memory  # keeps the address below valid
        self._memory_ref = ctypes.addressof(memory._memory)
        self._memory_size = functools.partial(_memory_size, _addr(self._ctx), _addr(self._memory_ref))
        self._memory_data = functools.partial(_memory_data, _addr(self._ctx), _addr(self._memory_ref))
        self._addr = self._size = -1
        self.view = memoryview(b"")
        self.refresh()
        self._realloc = self._bind(exports, "cabi_realloc", (I32,) * 4, (I32,))
        # WIT function names are unique across Backstop's interfaces, so calls
        # name the function alone.
        #: Each WIT function's signature, core export and post-return, by name.
        self.functions: dict[str, tuple[Function, _RawFunc, Optional[_RawFunc]]] = {}
        for interface, functions in interfaces.items():
            for f in functions:
                if f.name in self.functions:
                    raise ValueError(f"two interfaces export `{f.name}`")
                core = self._bind(exports, f"{interface}#{f.name}", f.core_param_types,
                                  f.core_result_types)
                post = None
                if f"cabi_post_{interface}#{f.name}" in exports:
                    post = self._bind(exports, f"cabi_post_{interface}#{f.name}",
                                      f.core_result_types, ())
                self.functions[f.name] = (f, core, post)

    def _bind(self, exports: Any, name: str, params: Sequence[str], results: Sequence[str]) -> _RawFunc:
        try:
            func = exports[name]
        except KeyError:
            raise TypeError(f"the module does not export `{name}`") from None
        if not isinstance(func, wasmtime.Func):
            raise TypeError(f"`{name}` is not a function")
        ty = func.type(self._store)
        if (list(ty.params) != [_CORE_TYPES[p] for p in params]
                or list(ty.results) != [_CORE_TYPES[r] for r in results]):
            raise TypeError(f"`{name}` has core type {ty.params} -> {ty.results}; "
                            f"the WIT signature needs ({', '.join(params)}) -> ({', '.join(results)})")
        return _RawFunc(self._store, func, params, results)

    def refresh(self) -> None:
        """Look linear memory up again: any guest call may grow (and so move)
        it. It only moves when it grows, so the size alone says whether to look."""
        size = self._memory_size()
        if size != self._size:
            addr = self._memory_data() or 0
            if self._fixed_memory and self._size > 0 and addr != self._addr:
                raise AbiError("linear memory moved, though the engine keeps it in place")
            self._addr, self._size = addr, size
            if size:
                self.view = memoryview((ctypes.c_ubyte * size).from_address(addr)).cast("B")
            else:
                self.view = memoryview(b"")

    def alloc(self, align: int, size: int) -> int:
        # cabi_realloc(0, 0, align, size), with the view kept current for
        # the generic lowering, which writes right after each allocation.
        ptr = self.alloc_deferred(align, size)
        if self._memory_size() != self._size:
            self.refresh()
        return ptr

    def view_to(self, end: int) -> memoryview:
        """The view of linear memory after a guest call, for data up to
        ``end`` (bounds-check against it). With ``fixed_memory`` it is looked
        up again only if it ends before ``end``; otherwise always."""
        if end > len(self.view) or not self._fixed_memory:
            self.refresh()
        return self.view

    def alloc_deferred(self, align: int, size: int) -> int:
        """``cabi_realloc(0, 0, align, size)`` without looking linear memory
        up again: for a call's several allocations, after which the caller
        gets the view from :meth:`view_to` (and checks the pointers)."""
        realloc = self._realloc
        _REALLOC_ARGS.pack_into(realloc._buf, 0, align, size)
        error = realloc._invoke()
        if error or realloc._trap:
            realloc._fail(error)
        ptr: int = realloc._words[0] & 0xFFFFFFFF
        return ptr

    def call(self, name: str, *args: Any) -> Any:
        """Call WIT function ``name``: lower ``args``, run, lift the result, post-return."""
        f, core, post = self.functions[name]
        flat = f.lower_params(self, args)
        raw = core(flat)
        self.refresh()
        value = f.lift_result(self, raw)
        if post is not None:
            post(() if raw is None else (raw,))
        return value

    def call_flat(self, name: str, flat: Sequence[int]) -> Any:
        """Call WIT function ``name`` with its parameters already flattened to
        core values (see :meth:`backstop._abi.Function.lower_params`): run,
        lift the result, post-return."""
        f, core, post = self.functions[name]
        raw = core(flat)
        self.refresh()
        value = f.lift_result(self, raw)
        if post is not None:
            post(() if raw is None else (raw,))
        return value

    def call_core(self, export: str, *args: int) -> Optional[int]:
        """Call a bound core export with raw core values (for tests and diagnostics)."""
        if export == "cabi_realloc":
            return self._realloc(args)
        _, core, _ = self.functions[export]
        return core(args)
