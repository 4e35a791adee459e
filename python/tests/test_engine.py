"""The shipped bytes, the engine binding, trap recovery and fork safety."""

from __future__ import annotations

import hashlib
import os

import pytest
import wasmtime
import wasmtime.component as wc

from backstop import EngineError, Failure, default_policy, load_policy
from backstop import _abi, _wit
from backstop._core import CoreInstance
from backstop._policy import COMPONENT, CORE_MODULE, _compiled_module, _runtime, wasm_bytes

from conftest import REPO


def committed_sums() -> dict[str, str]:
    sums = {}
    for line in (REPO / "host" / "wasm" / "SHA256SUMS").read_text().splitlines():
        if line.strip():
            digest, name = line.split()
            sums[name.lstrip("*")] = digest
    return sums


@pytest.mark.parametrize("name", [COMPONENT, CORE_MODULE])
def test_shipped_wasm_is_the_committed_artifact(name: str) -> None:
    # wasm_bytes reads the *installed* package data, i.e. what users get.
    assert hashlib.sha256(wasm_bytes(name)).hexdigest() == committed_sums()[name]


def test_the_wasm_imports_nothing() -> None:
    engine, module = _compiled_module()
    assert list(module.imports) == []
    component = wc.Component(engine, wasm_bytes(COMPONENT))
    assert list(component.type.imports(engine)) == []


def test_binding_checks_core_signatures() -> None:
    engine, module = _compiled_module()
    wrong = _abi.Function("drop-policy", [("policy", _abi.U32)], _abi.U32)  # really returns nothing
    with pytest.raises(TypeError, match="drop-policy"):
        CoreInstance(engine, module, {_wit.CLASSIFIER: [wrong]})
    with pytest.raises(TypeError, match="does not export"):
        CoreInstance(engine, module, {_wit.CLASSIFIER: [_abi.Function("nope", [])]})
    # i64 positions are checked too: derive-seed returns a u64 (i64), not a u32.
    narrow = _abi.Function("derive-seed", [("key", _abi.STRING)], _abi.U32)
    with pytest.raises(TypeError, match=r"derive-seed.*\(i32, i32\) -> \(i32\)"):
        CoreInstance(engine, module, {_wit.RETRY: [narrow]})
    # A retry function under the wrong interface is not found.
    with pytest.raises(TypeError, match="does not export"):
        CoreInstance(engine, module, {_wit.CLASSIFIER: [_wit.DERIVE_SEED]})
    # evaluate returns its result through a return area (an i32): a WIT
    # spelling without the result is refused.
    resultless = _abi.Function("evaluate", list(zip(_wit.EVALUATE.param_names,
                                                    _wit.EVALUATE.param_types)))
    with pytest.raises(TypeError, match=r"evaluate.*\(i32\) -> \(\)"):
        CoreInstance(engine, module, {_wit.ALERTS: [resultless]})
    with pytest.raises(TypeError, match="does not export"):
        CoreInstance(engine, module, {_wit.RETRY: [_wit.EVALUATE]})
    # The real contract binds.
    CoreInstance(engine, module, _wit.EXPORTS)


def test_a_trap_restarts_the_engine_and_policies_reload() -> None:
    policy = load_policy('[[classify.rules]]\nid = "x"\nclass = "permanent"\nhttp_status = [503]\n')
    assert policy.classify(Failure(http_status=503)).rule == "x"
    generation = _runtime.generation
    with _runtime.lock, pytest.raises(EngineError) as info:
        # A parameter pointer far outside linear memory: the guest's load traps.
        _runtime.call_core("classify", 0xFFFFFFF0)
    assert isinstance(info.value.__cause__, wasmtime.Trap)
    assert _runtime.generation == generation + 1
    # Same decision from the fresh instance, the policy reloaded transparently.
    assert policy.classify(Failure(http_status=503)).rule == "x"
    assert policy._state.generation == _runtime.generation
    assert default_policy().classify(Failure(http_status=503)).rule == "builtin.http-transient"
    policy.close()


def test_an_abi_violation_is_treated_like_a_trap(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = default_policy()
    generation = _runtime.generation

    def corrupt(self: CoreInstance, name: str, *args: object) -> object:
        raise _abi.AbiError("discriminant 9 is out of range")

    with monkeypatch.context() as m:
        m.setattr(CoreInstance, "call", corrupt)
        with pytest.raises(EngineError, match="discriminant"):
            policy.classify(Failure(http_status=503))
    assert _runtime.generation == generation + 1
    assert policy.classify(Failure(http_status=503)).is_transient


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_can_classify() -> None:
    policy = default_policy()
    policy.classify(Failure(http_status=503))
    pid = os.fork()
    if pid == 0:  # child: report through the exit status only
        try:
            ok = policy.classify(Failure(http_status=503)).rule == "builtin.http-transient"
        except BaseException:  # noqa: BLE001
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
