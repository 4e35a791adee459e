"""The same WIT calls through wasmtime-py's component API (``wasmtime.component``).

Not used by :class:`backstop.Policy`: at 100+ microseconds per call it misses
the latency budget (see README). Kept so the tests can prove the committed
component and the core-module path decide identically, and so the benchmark
can measure both.
"""

from __future__ import annotations

from typing import Any

import wasmtime
import wasmtime.component as wc

from . import _wit
from ._model import Classification, ErrorCode, Failure, FailureClass, PolicyError, PolicyLoadError
from ._policy import COMPONENT, PolicyFormat, _engine_config, wasm_bytes


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
        iface = instance.get_export_index(self._store, _wit.INTERFACE)
        if iface is None:
            raise TypeError(f"the component does not export {_wit.INTERFACE}")

        def func(name: str) -> wc.Func:
            index = instance.get_export_index(self._store, name, iface)
            f = None if index is None else instance.get_func(self._store, index)
            if f is None:
                raise TypeError(f"the component does not export {name}")
            return f

        self._load, self._drop, self._classify = (
            func("load-policy"), func("drop-policy"), func("classify"))

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
                            ("error-code", failure.error_code), ("message", failure.message)):
            setattr(record, name, value)
        # Both cases are records, so wasmtime-py tags this result.
        result = self._call(self._classify, handle, record)
        if result.tag == "err":
            raise _policy_error(result.payload)
        value = result.payload
        return Classification(FailureClass(getattr(value, "class")), getattr(value, "rule"),
                              getattr(value, "reason"))
