"""Every vector in tests/vectors/, through the core-module path (what Policy
uses) and through wasmtime-py's component API (the committed component), and
both must reproduce the vector exactly (tests/README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

import backstop
from backstop import (AttemptFailure, Classification, Evaluation, Event, Failure, PolicyError,
                      PolicyLoadError, RetryState, SharedState)
from backstop._component import ComponentClassifier

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors"
FAILURE_KEYS = {"http_status", "grpc_code", "exit_code", "signal", "error_types", "error_bases",
                "error_code", "message"}


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
    # Guards the parametrisation: 135 classifier vectors, then the planner's
    # and the alert sequences (floors: the corpus when each was added).
    suites = [json.loads(p.read_text()) for p in VECTORS.glob("*.json")]
    total = sum(len(s["vectors"]) for s in suites)
    planner = sum(1 for s in suites for v in s["vectors"] if "call" in v)
    alerts = [v for s in suites for v in s["vectors"] if "alert_steps" in v]
    assert len(CASES) == total >= 135 + planner + len(alerts)
    assert planner >= 100
    assert len(alerts) >= 14
    assert sum(len(v["alert_steps"]) for v in alerts) >= 69
    redaction = [v for p in VECTORS.glob("redaction-*.json") for v in json.loads(p.read_text())["vectors"]]
    assert len(redaction) >= 200


def canonical_error(error: PolicyError) -> dict[str, Any]:
    return {"code": error.code.value, "message": error.message, "path": error.path,
            "line": error.line, "column": error.column}


def canonical_classification(c: Classification) -> dict[str, Any]:
    return {"class": c.failure_class.value, "rule": c.rule, "reason": c.reason}


def to_failure(raw: dict[str, Any]) -> Failure:
    assert set(raw) <= FAILURE_KEYS, f"unknown failure keys {set(raw) - FAILURE_KEYS}"
    return Failure(**raw)


def subset(actual: Any, expected: Any) -> Any:
    """``actual`` cut down to the keys ``expected`` gives, at every depth: a
    vector may leave out human wording (reason, message, explanation) anywhere."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {k: subset(actual[k], v) if k in actual else "<missing>" for k, v in expected.items()}
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [subset(a, e) for a, e in zip(actual, expected)]
    return actual


def assert_matches(actual: Any, expected: Any) -> None:
    # Every key the vector gives must match exactly; reason/message may be omitted.
    assert subset(actual, expected) == expected


Evaluate = Callable[[Any, Event, str, int], Evaluation]


class Host:
    """Loads, classifies, plans and evaluates alerts through one path;
    ``plan(loaded, call, input)`` returns the call's canonical JSON result,
    ``evaluate(loaded, event, state, now_ms)`` an :class:`Evaluation`."""

    def __init__(self, load: Callable[..., Any], classify: Callable[[Any, Failure], Classification],
                 plan: Callable[[Any, str, dict[str, Any]], Any], evaluate: Evaluate,
                 redact: Callable[[Any, str], Any]):
        self.load, self.classify, self.plan, self.evaluate = load, classify, plan, evaluate
        self.redact = redact
        self.read_log: Callable[..., backstop.LogReport] = lambda text, exit_code, signal, stream: (
            backstop.read_log(text, exit_code=exit_code, signal=signal, stream=stream))


def state_input(raw: dict[str, Any]) -> RetryState:
    return RetryState.from_dict(raw)


def outcome_input(raw: dict[str, Any]) -> AttemptFailure:
    assert set(raw) <= {"failure", "duration_ms", "pushback_ms"}, raw
    return AttemptFailure(to_failure(raw["failure"]), raw.get("duration_ms", 0), raw.get("pushback_ms"))


def canonical_sinks(sinks: Optional[tuple[backstop.Sink, ...]]) -> dict[str, Any]:
    return {"sinks": None if sinks is None else [s.to_dict() for s in sinks]}


def planned(entries: tuple[backstop.PlannedFailure, ...]) -> dict[str, Any]:
    return {"entries": [e.to_dict() for e in entries]}


def core_plan(policy: backstop.Policy, call: str, raw: dict[str, Any]) -> Any:
    if call == "begin_attempt":
        return policy.begin_attempt(state_input(raw.get("state", {})),
                                    SharedState.from_dict(raw.get("shared", {})), raw["now_ms"]).to_dict()
    if call == "after_failure":
        return policy.after_failure(state_input(raw.get("state", {})),
                                    SharedState.from_dict(raw.get("shared", {})),
                                    outcome_input(raw["outcome"]), raw["now_ms"]).to_dict()
    if call == "plan_failures":
        return planned(policy.plan_failures(state_input(raw.get("state", {})),
                                            SharedState.from_dict(raw.get("shared", {})),
                                            outcome_input(raw["outcome"]), raw["now_ms"],
                                            raw["max_entries"]))
    if call == "after_success":
        return policy.after_success(SharedState.from_dict(raw.get("shared", {}))).to_dict()
    if call == "plan_schedule":
        return policy.schedule(int(raw["seed"]), max_entries=raw["max_entries"]).to_dict()
    if call == "derive_seed":
        return {"seed": str(backstop.derive_seed(raw["key"]))}
    if call == "sinks":
        assert raw == {}, raw
        return canonical_sinks(policy.sinks())
    raise AssertionError(f"unknown call {call!r}")


def core_host() -> Host:
    return Host(lambda source, fmt: backstop.load_policy(source, fmt),
                lambda policy, failure: policy.classify(failure), core_plan,
                lambda policy, event, state, now_ms: policy.evaluate_alerts(event, state=state,
                                                                            now_ms=now_ms),
                lambda policy, text: policy.redact(text))


_component: Optional[ComponentClassifier] = None


def component_host() -> Host:
    global _component
    if _component is None:
        _component = ComponentClassifier()
    c = _component

    def plan(handle: int, call: str, raw: dict[str, Any]) -> Any:
        if call == "begin_attempt":
            return c.begin_attempt(handle, state_input(raw.get("state", {})),
                                   SharedState.from_dict(raw.get("shared", {})), raw["now_ms"]).to_dict()
        if call == "after_failure":
            return c.after_failure(handle, state_input(raw.get("state", {})),
                                   SharedState.from_dict(raw.get("shared", {})),
                                   outcome_input(raw["outcome"]), raw["now_ms"]).to_dict()
        if call == "plan_failures":
            return planned(c.plan_failures(handle, state_input(raw.get("state", {})),
                                           SharedState.from_dict(raw.get("shared", {})),
                                           outcome_input(raw["outcome"]), raw["now_ms"],
                                           raw["max_entries"]))
        if call == "after_success":
            return c.after_success(handle, SharedState.from_dict(raw.get("shared", {}))).to_dict()
        if call == "plan_schedule":
            return c.schedule(handle, int(raw["seed"]), raw["max_entries"]).to_dict()
        if call == "derive_seed":
            return {"seed": str(c.derive_seed(raw["key"]))}
        if call == "sinks":
            assert raw == {}, raw
            return canonical_sinks(c.sinks(handle))
        raise AssertionError(f"unknown call {call!r}")

    host = Host(c.load_policy, c.classify, plan, c.evaluate_alerts, c.redact)
    host.read_log = c.read_log
    return host


def run_alert_steps(host: Host, loaded: Any, steps: list[dict[str, Any]]) -> list[Any]:
    """tests/README.md's alert sequences (common to every host): thread the
    state from step to step unless a step gives its own; a refused step keeps
    the state it was given."""
    state, results = "", []
    for i, step in enumerate(steps):
        assert set(step) <= {"event", "now_ms", "state", "expect", "expect_error"}, step
        input_state = step.get("state", state)
        event = Event.from_dict(step["event"])
        if "expect_error" in step:
            with pytest.raises(PolicyError) as err:
                host.evaluate(loaded, event, input_state, step["now_ms"])
            actual: Any = canonical_error(err.value)
            assert subset(actual, step["expect_error"]) == step["expect_error"], f"step {i}"
        else:
            evaluation = host.evaluate(loaded, event, input_state, step["now_ms"])
            state = evaluation.state
            actual = evaluation.to_dict()
            if "expect" in step:
                assert subset(actual, step["expect"]) == step["expect"], f"step {i}"
        results.append(actual)
    return results


def run_alert_steps_keyed(policy: backstop.Policy, steps: list[dict[str, Any]]) -> list[Any]:
    """:func:`run_alert_steps` as a keyed store runs it: load the needed keys,
    the due ones and a whole-document state (key ""), store what comes back;
    the wakeup compared is the soonest of all stored shards."""
    store: dict[str, backstop.KeyedState] = {}
    results: list[Any] = []
    for step in steps:
        trial = dict(store)
        if "state" in step:
            trial = {"": backstop.KeyedState("", step["state"], None)}
        event = Event.from_dict(step["event"])
        now = step["now_ms"]
        try:
            needed = policy.alert_state_keys(event)
            loaded = [s for s in trial.values()
                      if needed.every_key or s.key in needed.keys or s.key == ""
                      or (s.next_wakeup_ms is not None and s.next_wakeup_ms <= now)]
            e = policy.evaluate_alerts_keyed(event, states=loaded, now_ms=now)
        except PolicyError as err:
            results.append(canonical_error(err))
            continue
        for shard in e.states:
            if shard.state == "":
                trial.pop(shard.key, None)
            else:
                trial[shard.key] = shard
        store = trial
        wakeups = [s.next_wakeup_ms for s in store.values() if s.next_wakeup_ms is not None]
        results.append({"notifications": [n.to_dict() for n in e.notifications],
                        "suppressed": [x.to_dict() for x in e.suppressed],
                        "next_wakeup_ms": min(wakeups) if wakeups else None})
    return results


def canonical_log(report: backstop.LogReport, classification: Classification) -> dict[str, Any]:
    """A log vector's result: the report's failure with every key present
    (``None`` / ``[]`` when absent), and its classification."""
    f = report.failure
    return {
        "failure": {"http_status": f.http_status, "grpc_code": f.grpc_code, "exit_code": f.exit_code,
                    "signal": f.signal, "error_types": list(f.error_types),
                    "error_bases": list(f.error_bases), "error_code": f.error_code,
                    "message": f.message},
        "readers": list(report.readers), "summary": report.summary,
        "pushback_ms": report.pushback_ms,
        "classification": canonical_classification(classification),
    }


def run_log(host: Host, loaded: Any, vector: dict[str, Any]) -> Any:
    log = vector["log"]
    assert set(log) <= {"text", "exit_code", "signal", "stream"}, log
    args = (log["text"], log.get("exit_code"), log.get("signal"), log.get("stream"))
    if "expect_error" in vector:
        with pytest.raises(PolicyError) as err:
            host.read_log(*args)
        actual: Any = canonical_error(err.value)
        assert_matches(actual, vector["expect_error"])
        return actual
    report = host.read_log(*args)
    actual = canonical_log(report, host.classify(loaded, report.failure))
    assert_matches(actual, vector["expect"])
    return actual


def run_vector(host: Host, policy: Optional[dict[str, Any]], vector: dict[str, Any]) -> Any:
    source, fmt = ("", "toml") if policy is None else (policy["source"], policy["format"])
    if "expect_errors" in vector:
        with pytest.raises(PolicyLoadError) as info:
            host.load(source, fmt)
        actual: Any = [canonical_error(e) for e in info.value.errors]
        expected = vector["expect_errors"]
        assert len(actual) == len(expected), actual
        for a, e in zip(actual, expected):
            assert_matches(a, e)
        return actual
    loaded = host.load(source, fmt)
    if "log" in vector:
        return run_log(host, loaded, vector)
    if "alert_steps" in vector:
        results = run_alert_steps(host, loaded, vector["alert_steps"])
        if isinstance(loaded, backstop.Policy):
            # The same sequence over keyed shards answers the same, step by step.
            keyed = run_alert_steps_keyed(loaded, vector["alert_steps"])
            whole = [{k: v for k, v in r.items() if k != "state"} if "notifications" in r else r
                     for r in results]
            assert keyed == whole
        return results
    if "redact" in vector:
        actual = host.redact(loaded, vector["redact"]).to_dict()
        assert_matches(actual, vector["expect"])
        return actual
    if "call" in vector:
        if "expect_error" in vector:
            with pytest.raises(PolicyError) as err:
                host.plan(loaded, vector["call"], vector["input"])
            actual = canonical_error(err.value)
            assert_matches(actual, vector["expect_error"])
            return actual
        actual = host.plan(loaded, vector["call"], vector["input"])
        assert_matches(actual, vector["expect"])
        return actual
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
