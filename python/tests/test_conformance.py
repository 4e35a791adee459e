"""Every vector in tests/vectors/, through the core-module path (what Policy
uses) and through wasmtime-py's component API (the committed component), and
both must reproduce the vector exactly (tests/README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

import backstop
from backstop import Classification, Failure, PolicyError, PolicyLoadError
from backstop._component import ComponentClassifier

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors"
FAILURE_KEYS = {"http_status", "grpc_code", "exit_code", "signal", "error_types", "error_code", "message"}


def load_cases() -> list[Any]:
    files = sorted(VECTORS.glob("*.json"))
    assert files, f"no vectors in {VECTORS}"
    cases = []
    for path in files:
        suite = json.loads(path.read_text(encoding="utf-8"))
        for vector in suite["vectors"]:
            policy = vector.get("policy", suite["policy"])
            cases.append(pytest.param(policy, vector, id=f"{path.stem}/{vector['name']}"))
    return cases


CASES = load_cases()


def test_every_vector_file_is_read() -> None:
    # Guards the parametrisation: 135 vectors in the corpus as committed.
    total = sum(len(json.loads(p.read_text())["vectors"]) for p in VECTORS.glob("*.json"))
    assert len(CASES) == total >= 135


def canonical_error(error: PolicyError) -> dict[str, Any]:
    return {"code": error.code.value, "message": error.message, "path": error.path,
            "line": error.line, "column": error.column}


def canonical_classification(c: Classification) -> dict[str, Any]:
    return {"class": c.failure_class.value, "rule": c.rule, "reason": c.reason}


def to_failure(raw: dict[str, Any]) -> Failure:
    assert set(raw) <= FAILURE_KEYS, f"unknown failure keys {set(raw) - FAILURE_KEYS}"
    return Failure(**raw)


def assert_matches(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    # Every key the vector gives must match exactly; reason/message may be omitted.
    assert {k: actual.get(k, "<missing>") for k in expected} == expected


class Host:
    """Loads and classifies through one path, in canonical JSON terms."""

    def __init__(self, load: Callable[[str, str], Any], classify: Callable[[Any, Failure], Classification]):
        self.load, self.classify = load, classify


def core_host() -> Host:
    return Host(lambda source, fmt: backstop.load_policy(source, fmt),  # type: ignore[arg-type]
                lambda policy, failure: policy.classify(failure))


_component: Optional[ComponentClassifier] = None


def component_host() -> Host:
    global _component
    if _component is None:
        _component = ComponentClassifier()
    c = _component
    return Host(c.load_policy, c.classify)


def run_vector(host: Host, policy: Optional[dict[str, Any]], vector: dict[str, Any]) -> Any:
    source, fmt = ("", "toml") if policy is None else (policy["source"], policy["format"])
    if "expect_errors" in vector:
        with pytest.raises(PolicyLoadError) as info:
            host.load(source, fmt)
        actual = [canonical_error(e) for e in info.value.errors]
        expected = vector["expect_errors"]
        assert len(actual) == len(expected), actual
        for a, e in zip(actual, expected):
            assert_matches(a, e)
        return actual
    loaded = host.load(source, fmt)
    failure = to_failure(vector["failure"])
    if "expect_error" in vector:
        with pytest.raises(PolicyError) as err:
            host.classify(loaded, failure)
        actual = canonical_error(err.value)
        assert_matches(actual, vector["expect_error"])
        return actual
    actual = canonical_classification(host.classify(loaded, failure))
    assert_matches(actual, vector["expect"])
    return actual


@pytest.mark.parametrize("policy, vector", CASES)
def test_vector(policy: Optional[dict[str, Any]], vector: dict[str, Any]) -> None:
    core = run_vector(core_host(), policy, vector)
    # The committed component, through wasmtime.component, must say exactly the same.
    component = run_vector(component_host(), policy, vector)
    assert core == component
