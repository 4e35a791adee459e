"""The public API: loading, classifying, errors, lifecycle."""

from __future__ import annotations

import gc
import pickle
import threading
from pathlib import Path

import pytest

import backstop
from backstop import (Classification, ErrorCode, Failure, FailureClass, Policy, PolicyError,
                      PolicyLoadError, default_policy, load_policy, load_policy_file)
from backstop._policy import _runtime

STORAGE_TOML = """
[[classify.rules]]
id = "server-errors"
class = "transient"
http_status = [500, 502, 503, 504]
reason = "object storage hiccup; safe to retry"
"""
STORAGE_JSON = """{"classify": {"rules": [
  {"id": "server-errors", "class": "transient", "http_status": [503],
   "reason": "object storage hiccup; safe to retry"}]}}"""


def test_public_names() -> None:
    for name in ("load_policy", "load_policy_file", "default_policy", "FailureClass", "Failure",
                 "Classification", "PolicyError", "PolicyLoadError"):
        assert name in backstop.__all__ and hasattr(backstop, name)


def test_default_policy_uses_the_builtin_rules() -> None:
    with default_policy() as policy:
        verdict = policy.classify(Failure(http_status=503))
    assert verdict == Classification(FailureClass.TRANSIENT, "builtin.http-transient",
                                     "HTTP status 503 matched rule `builtin.http-transient`")
    assert verdict.is_transient and not verdict.is_permanent


def test_unmatched_failure_is_unknown() -> None:
    verdict = default_policy().classify(Failure(message="odd"))
    assert (verdict.failure_class, verdict.rule) == (FailureClass.UNKNOWN, None)
    assert not verdict.is_transient and not verdict.is_permanent


@pytest.mark.parametrize("source, fmt", [(STORAGE_TOML, "toml"), (STORAGE_JSON, "json")])
def test_user_rules_come_first(source: str, fmt: str) -> None:
    policy = load_policy(source, fmt)  # type: ignore[arg-type]
    assert policy.format == fmt and policy.source == source
    verdict = policy.classify(Failure(http_status=503))
    assert (verdict.rule, verdict.reason) == ("server-errors", "object storage hiccup; safe to retry")
    assert policy.classify(Failure(http_status=404)).is_permanent


def test_failure_class_is_a_str_enum() -> None:
    assert FailureClass("transient") is FailureClass.TRANSIENT
    assert FailureClass.PERMANENT == "permanent" and str(FailureClass.UNKNOWN) == "unknown"
    assert [c.value for c in FailureClass] == ["transient", "permanent", "unknown"]


def test_load_errors_carry_every_diagnostic() -> None:
    source = '[[classify.rules]]\nid = "a"\nclass = "sometimes"\nhttp_status = [503]\n'
    with pytest.raises(PolicyLoadError) as info:
        load_policy(source)
    err = info.value
    assert isinstance(err, PolicyError) and len(err.errors) >= 1
    first = err.errors[0]
    assert (err.code, err.path, err.line) == (first.code, first.path, first.line)
    assert first.code is ErrorCode.INVALID_VALUE and first.path == "classify.rules[0].class"
    assert (first.line, first.column) is not None and first.line == 3
    assert "classify.rules[0].class" in str(err) and "line 3" in str(err)


def test_several_diagnostics_come_in_document_order() -> None:
    source = '[classify]\nrulez = []\nbuiltin_rulez = true\n'
    with pytest.raises(PolicyLoadError) as info:
        load_policy(source)
    errors = info.value.errors
    assert [e.code for e in errors] == [ErrorCode.UNKNOWN_FIELD, ErrorCode.UNKNOWN_FIELD]
    assert [e.line for e in errors] == [2, 3]
    assert "2 errors" in str(info.value)


def test_syntax_error_in_json() -> None:
    with pytest.raises(PolicyLoadError) as info:
        load_policy("{", "json")
    assert info.value.code is ErrorCode.SYNTAX and info.value.line == 1


def test_invalid_failure_raises_policy_error() -> None:
    with pytest.raises(PolicyError) as info:
        default_policy().classify(Failure(grpc_code="NOPE"))
    err = info.value
    assert not isinstance(err, PolicyLoadError)
    assert (err.code, err.path, err.line, err.column) == (
        ErrorCode.INVALID_FAILURE, "failure.grpc_code", None, None)
    assert "failure.grpc_code" in str(err) and "invalid-failure" in str(err)


def test_policy_errors_pickle() -> None:
    err = PolicyError(ErrorCode.SYNTAX, "bad", "", 1, 2)
    assert pickle.loads(pickle.dumps(err)) == err
    load_err = PolicyLoadError([err, PolicyError(ErrorCode.TOO_LARGE, "big")], filename="p.toml")
    back = pickle.loads(pickle.dumps(load_err))
    assert back.errors == load_err.errors and back.filename == "p.toml"
    with pytest.raises(ValueError):
        PolicyLoadError([])


@pytest.mark.parametrize("kwargs, error", [
    ({"http_status": "503"}, TypeError), ({"http_status": True}, TypeError),
    ({"http_status": 70000}, ValueError), ({"exit_code": 1 << 31}, ValueError),
    ({"grpc_code": 14}, TypeError), ({"error_types": "ValueError"}, TypeError),
    ({"error_types": ["ok", 3]}, TypeError), ({"message": b"bytes"}, TypeError),
])
def test_failure_rejects_bad_fields(kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        Failure(**kwargs)


def test_failure_is_a_frozen_value() -> None:
    failure = Failure(error_types=["a", "b"])
    assert failure.error_types == ("a", "b") and failure == Failure(error_types=("a", "b"))
    with pytest.raises(AttributeError):
        failure.http_status = 1  # type: ignore[misc]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="format"):
        load_policy("", "yaml")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        load_policy(b"")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Failure"):
        default_policy().classify({"http_status": 503})  # type: ignore[arg-type]


def test_load_policy_file_infers_the_format(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(STORAGE_TOML, encoding="utf-8")
    (tmp_path / "p.JSON").write_text(STORAGE_JSON, encoding="utf-8")
    (tmp_path / "p.txt").write_text(STORAGE_JSON, encoding="utf-8")
    for name in ("p.toml", "p.JSON"):
        assert load_policy_file(tmp_path / name).classify(Failure(http_status=503)).rule == "server-errors"
    assert load_policy_file(str(tmp_path / "p.txt"), format="json").format == "json"
    with pytest.raises(ValueError, match="suffix"):
        load_policy_file(tmp_path / "p.txt")
    with pytest.raises(FileNotFoundError):
        load_policy_file(tmp_path / "missing.toml")


def test_load_policy_file_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[classify\n", encoding="utf-8")
    with pytest.raises(PolicyLoadError) as info:
        load_policy_file(path)
    assert info.value.filename == str(path) and str(path) in str(info.value)


def test_close_is_idempotent_and_final() -> None:
    policy = load_policy(STORAGE_TOML)
    with policy as entered:
        assert entered is policy and not policy.closed
    assert policy.closed
    policy.close()
    with pytest.raises(ValueError, match="closed"):
        policy.classify(Failure(http_status=503))
    assert "closed" in repr(policy)


def _handle_is_live(handle: int) -> bool:
    with _runtime.lock:
        case, value = _runtime.call("classify", handle, (None, None, None, None, (), (), None, None))
    return case == "ok" or value[0] != "unknown-policy"


def test_close_and_garbage_collection_free_the_guest_handle() -> None:
    policy = load_policy(STORAGE_TOML)
    handle = policy._state.handle
    assert _handle_is_live(handle)
    policy.close()
    assert not _handle_is_live(handle)

    policy = load_policy(STORAGE_TOML)
    handle = policy._state.handle
    del policy
    gc.collect()
    assert not _handle_is_live(handle)  # dropped on the next call into the engine


def test_unclosed_policies_do_not_exhaust_the_engine() -> None:
    # The guest holds at most 4096 policies; dropped Policy objects must free theirs.
    for _ in range(4200):
        load_policy("")
    default_policy().classify(Failure(http_status=503))


def test_concurrent_classification() -> None:
    policy = load_policy(STORAGE_TOML)
    failures = [Failure(http_status=s) for s in (503, 404, 200, 429)]
    expected = [policy.classify(f) for f in failures]
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(200):
                assert [policy.classify(f) for f in failures] == expected
                with load_policy(STORAGE_JSON, "json") as other:
                    other.classify(failures[0])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_policy_constructor_is_load_policy() -> None:
    assert Policy("").classify(Failure(exit_code=75)).rule == "builtin.exit-tempfail"


def test_policies_pickle_by_document() -> None:
    policy = load_policy(STORAGE_JSON, "json")
    copy = pickle.loads(pickle.dumps(policy))
    assert copy is not policy and (copy.source, copy.format) == (STORAGE_JSON, "json")
    assert copy.classify(Failure(http_status=503)).rule == "server-errors"
    policy.close()
    with pytest.raises(ValueError, match="closed"):
        pickle.dumps(policy)
