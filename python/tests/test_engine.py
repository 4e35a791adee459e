"""The shipped bytes, the engine binding, trap recovery and fork safety."""

from __future__ import annotations

import hashlib
import os

import pytest
import wasmtime
import wasmtime.component as wc

from backstop import EngineError, Failure, default_policy, load_policy
from backstop import RetryState, SharedState, _abi, _retrycalls, _wit
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


def test_an_abi_violation_in_a_hand_written_call_is_treated_like_a_trap(
        monkeypatch: pytest.MonkeyPatch) -> None:
    policy = default_policy()
    generation = _runtime.generation

    def corrupt(*args: object) -> object:
        raise _abi.AbiError("option discriminant is out of range")

    state = RetryState(attempts=1, started_at_ms=0, seed=1)
    with monkeypatch.context() as m:
        m.setattr(_retrycalls, "_permit", corrupt)
        with pytest.raises(EngineError, match="begin-attempt.*discriminant"):
            policy.begin_attempt(state, SharedState(), 10)
    assert _runtime.generation == generation + 1
    assert policy.begin_attempt(state, SharedState(), 10).attempt == 2


class Memory:
    def __init__(self, data: bytes) -> None:
        self.view = memoryview(bytearray(data) + bytes(256))

    def view_to(self, end: int) -> memoryview:
        return self.view


def permit_bytes(**fields: int) -> bytes:
    values = dict(refused_set=0, refused=0, attempt=1, timeout_set=0, timeout=0, retry_after=0,
                  probe=0, attempts=1, started_set=0, started=0, last=0, seed=0, circuit=0)
    values.update(fields)
    return _retrycalls._PERMIT_STRUCT.pack(*values.values(), *[0] * 7)


@pytest.mark.parametrize("fields", [
    dict(refused_set=2), dict(refused_set=1, refused=6), dict(timeout_set=7),
    dict(started_set=2), dict(circuit=3),
])
def test_hand_written_lifting_checks_the_guests_values(fields: dict[str, int]) -> None:
    assert _retrycalls._permit(Memory(permit_bytes()).view, 0).attempt == 1
    with pytest.raises(_abi.AbiError, match="out of range"):
        _retrycalls._permit(Memory(permit_bytes(**fields)).view, 0)


@pytest.mark.parametrize("fields, error", [
    (dict(), None), (dict(failure_class=3), "out of range"), (dict(give_up_set=2), "out of range"),
    (dict(reason_len=1 << 20), "outside linear memory"), (dict(reason_ptr=256, reason_len=1), "UTF-8"),
])
def test_hand_written_decision_lifting_checks_the_guests_values(
        fields: dict[str, int], error: str) -> None:
    values = dict(give_up_set=0, give_up=0, delay=5, attempt=1, timeout_set=0, timeout=0,
                  failure_class=0, rule_set=0, rule_ptr=0, rule_len=0, reason_ptr=240,
                  reason_len=2, explanation_ptr=240, explanation_len=1)
    values.update(fields)
    data = bytearray(300)
    _retrycalls._DECISION_STRUCT.pack_into(data, 0, *values.values(), *[0] * 13)
    data[240:242] = b"ok"
    data[256] = 0xFF  # not UTF-8
    memory = Memory(bytes(data))
    if error is None:
        decision = _retrycalls._decision(memory, memory.view, 0)  # type: ignore[arg-type]
        assert (decision.delay_ms, decision.classification.reason, decision.explanation) == (5, "ok", "o")
    else:
        with pytest.raises(_abi.AbiError, match=error):
            _retrycalls._decision(memory, memory.view, 0)  # type: ignore[arg-type]


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


def test_hand_written_calls_follow_linear_memory_as_it_grows() -> None:
    policy = default_policy()
    state = RetryState(attempts=1, started_at_ms=0, seed=1)
    policy.after_failure(state, SharedState(), Failure(message="x"), 10)
    with _runtime.lock:
        instance = _runtime.instance()
        size, addr = len(instance.view), instance._addr
    # Megabytes of message: the allocations and the call grow the memory.
    decision = policy.after_failure(state, SharedState(), Failure(message="x" * (size + (1 << 20))), 10)
    assert decision.attempt == 1 and decision.explanation
    assert policy.begin_attempt(decision.state, decision.shared, 20).attempt == 2
    with _runtime.lock:
        assert _runtime.instance() is instance
        instance.refresh()
        assert len(instance.view) > size and instance._addr == addr  # grown in place
