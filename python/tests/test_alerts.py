"""The escalation evaluator's Python surface: Policy.evaluate_alerts, the
Event / Evaluation types and their errors. (Every rule's exact behaviour is
the conformance vectors' job; these test the host.)"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

import backstop
from backstop import (ErrorCode, Evaluation, Event, EventKind, Failure, Notification,
                      NotificationKind, PolicyError, Severity, Suppressed, SuppressionReason,
                      load_policy)

# The seed's Example 3, exactly as written there.
SEED_POLICY = """{
"rules": [
{"condition": "run.failure_count==1", "severity": "info", "notify": ["mlops-room"], "dedup_window": "30m"},
{"condition": "run.consecutive_failures >= 3 or sla.late_minutes >= 60", "severity": "high", "notify": ["oncall"], "escalate_after": "15m"}
],
"payload": ["pipeline", "step", "run_id", "error_type", "last_log_lines"]
}"""

NIGHT = 86_400_000
MINUTE = 60_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
UNAVAILABLE = Failure(http_status=503, error_types=["TransientError"], message="503 Service Unavailable")


@pytest.fixture(scope="module")
def policy() -> backstop.Policy:
    return load_policy(SEED_POLICY, "json")


class Pipeline:
    """The host's side of the contract: keep the state, pass it back."""

    def __init__(self, policy: backstop.Policy) -> None:
        self.policy, self.state = policy, ""

    def __call__(self, event: Event, now_ms: int) -> Evaluation:
        evaluation = self.policy.evaluate_alerts(event, state=self.state, now_ms=now_ms)
        self.state = evaluation.state
        return evaluation

    def fail(self, run_id: str, now_ms: int, kind: EventKind = EventKind.ATTEMPT_FAILED) -> Evaluation:
        return self(Event(kind, "nightly", "train", run_id, UNAVAILABLE, attempt=1,
                          log_lines=["epoch 3: reading shard 17", "503 Service Unavailable"]), now_ms)

    def succeed(self, run_id: str, now_ms: int) -> Evaluation:
        return self(Event(EventKind.RUN_SUCCEEDED, "nightly", "train", run_id, attempt=2), now_ms)


def sent(evaluation: Evaluation) -> list[tuple[str, str, str]]:
    return [(n.kind.value, n.rule, n.severity.value) for n in evaluation.notifications]


def test_seed_example_3_step_by_step(policy: backstop.Policy) -> None:
    p = Pipeline(policy)

    # One transient failure informs the team channel; it never pages.
    first = p.fail("r1", T0)
    assert sent(first) == [("trigger", "rule-1", "info")]
    info = first.notifications[0]
    assert isinstance(info, Notification) and info.targets == ("mlops-room",)
    assert info.dedup_key == "backstop/rule-1/nightly/train/r1/TransientError"
    assert first.next_wakeup_ms is None
    # ...and the next success resolves it.
    resolved = p.succeed("r1", T0 + 2 * MINUTE)
    assert sent(resolved) == [("resolve", "rule-1", "info")]
    assert resolved.notifications[0].is_resolve and not info.is_resolve
    assert resolved.notifications[0].dedup_key == info.dedup_key

    # Three failed nights in a row: the third run's failure pages on-call.
    for night, run in enumerate(("r2", "r3", "r4"), start=1):
        start = T0 + night * NIGHT
        assert sent(p.fail(run, start)) == [("trigger", "rule-1", "info")]
        ended = p.fail(run, start + 10 * MINUTE, EventKind.RUN_FAILED)
        # The run's own info alert is a duplicate within its 30-minute window.
        assert [(s.rule, s.reason) for s in ended.suppressed] == [("rule-1", SuppressionReason.DUPLICATE)]
    assert sent(ended) == [("trigger", "rule-2", "high")]
    page = ended.notifications[0]
    assert page.targets == ("oncall",)
    assert page.payload["run_id"] == "r4" and page.payload["error_type"] == "TransientError"
    assert page.payload["last_log_lines"] == ["epoch 3: reading shard 17", "503 Service Unavailable"]
    runbook = page.payload["runbook"]
    assert runbook["correlation_id"] == "r4" and runbook["when"] == "2024-01-04T00:10:00Z"
    assert runbook["escalation_path"] == [{"after": "0s", "notify": ["oncall"]},
                                          {"after": "15m", "notify": ["oncall"]}]
    paged_at = T0 + 3 * NIGHT + 10 * MINUTE
    assert ended.next_wakeup_ms == paged_at + 15 * MINUTE

    # A tick before the escalation is due sends nothing and keeps the timer.
    early = p(Event.tick(), paged_at + 10 * MINUTE)
    assert (early.notifications, early.next_wakeup_ms) == ((), paged_at + 15 * MINUTE)
    # Unacknowledged after 15 minutes: it escalates.
    escalated = p(Event.tick(), paged_at + 16 * MINUTE)
    assert sent(escalated) == [("escalate", "rule-2", "high")]
    assert escalated.notifications[0].dedup_key == page.dedup_key

    # Acknowledged: no more escalation or repeats, however long it fires.
    acked = p(Event.acknowledge(page.dedup_key), paged_at + 20 * MINUTE)
    assert (acked.notifications, acked.next_wakeup_ms) == ((), None)
    assert p(Event.tick(), paged_at + 600 * MINUTE).notifications == ()

    # The next night's success resolves everything that was notified.
    recovered = p.succeed("r5", T0 + 4 * NIGHT)
    assert sent(recovered) == [("resolve", "rule-1", "info")] * 3 + [("resolve", "rule-2", "high")]
    assert p(Event.tick(), T0 + 5 * NIGHT).notifications == ()


def test_data_an_hour_late_pages(policy: backstop.Policy) -> None:
    p = Pipeline(policy)
    late = Event(EventKind.RUN_LATE, "nightly", "train", "r9", late_minutes=30)
    assert p(late, T0).notifications == ()
    paged = p(dataclasses.replace(late, late_minutes=60), T0 + 30 * MINUTE)
    assert sent(paged) == [("trigger", "rule-2", "high")]


def test_labels_reach_conditions_and_payload() -> None:
    policy = load_policy("""
[alerts]
payload = ["labels"]
[[alerts.rules]]
id = "ranking"
condition = "has(labels.team) && labels.team == 'ranking'"
severity = "warning"
notify = ["ranking-chat"]
""")
    event = Event(EventKind.RUN_FAILED, "nightly", "train", "r1", UNAVAILABLE,
                  labels={"team": "ranking", "region": "eu"})
    evaluation = policy.evaluate_alerts(event, now_ms=T0)
    assert sent(evaluation) == [("trigger", "ranking", "warning")]
    assert evaluation.notifications[0].payload["labels"] == {"team": "ranking", "region": "eu"}
    other = dataclasses.replace(event, labels={"team": "search"})
    assert policy.evaluate_alerts(other, now_ms=T0).notifications == ()


def test_secrets_in_log_lines_are_redacted(policy: backstop.Policy) -> None:
    p = Pipeline(policy)
    for run in ("a", "b"):
        p(Event(EventKind.RUN_FAILED, "nightly", "train", run, UNAVAILABLE), T0)
    evaluation = p(Event(EventKind.RUN_FAILED, "nightly", "train", "c", UNAVAILABLE,
                         log_lines=["GET https://bob:pw123@db.internal/x", "token=abc123"]), T0)
    page = next(n for n in evaluation.notifications if n.severity is Severity.HIGH)
    text = json.dumps(page.payload)
    assert "pw123" not in text and "abc123" not in text and "[REDACTED]" in text


def test_bad_events_are_refused_with_the_field(policy: backstop.Policy) -> None:
    def error(event: Event, state: str = "") -> PolicyError:
        with pytest.raises(PolicyError) as info:
            policy.evaluate_alerts(event, state=state, now_ms=T0)
        return info.value

    no_run = error(Event(EventKind.ATTEMPT_FAILED, "nightly", "train", "", UNAVAILABLE))
    assert (no_run.code, no_run.path, no_run.line) == (ErrorCode.INVALID_VALUE, "event.run_id", None)
    no_key = error(Event(EventKind.ALERT_ACKNOWLEDGED))
    assert (no_key.code, no_key.path) == (ErrorCode.INVALID_VALUE, "event.dedup_key")
    bad_signal = error(Event(EventKind.ATTEMPT_FAILED, "nightly", "train", "r1", Failure(signal="SIGNOPE")))
    assert (bad_signal.code, bad_signal.path) == (ErrorCode.INVALID_FAILURE, "failure.signal")


@pytest.mark.parametrize("state, path", [
    ("{not json", "state"),
    ('{"version": 9}', "state.version"),
    ("[]", "state"),
])
def test_corrupted_state_is_refused_and_changes_nothing(policy: backstop.Policy, state: str,
                                                        path: str) -> None:
    p = Pipeline(policy)
    before = p.fail("r1", T0).state
    with pytest.raises(PolicyError) as info:
        policy.evaluate_alerts(Event.tick(), state=state, now_ms=T0 + MINUTE)
    assert (info.value.code, info.value.path) == (ErrorCode.INVALID_STATE, path)
    # The host keeps its old state: the alert is still known and resolves.
    assert p.state == before
    assert sent(p.succeed("r1", T0 + 2 * MINUTE)) == [("resolve", "rule-1", "info")]


def test_state_survives_an_engine_restart(policy: backstop.Policy) -> None:
    # The state is a plain document: a restarted engine (or another process)
    # continues from it without paging twice.
    p = Pipeline(policy)
    p.fail("r1", T0)
    with backstop._policy._runtime.lock:
        backstop._policy._runtime.discard_instance()
    again = p.fail("r1", T0 + MINUTE, EventKind.RUN_FAILED)
    assert again.notifications == ()
    assert [s.reason for s in again.suppressed] == [SuppressionReason.DUPLICATE]


def test_argument_errors(policy: backstop.Policy) -> None:
    tick = Event.tick()
    with pytest.raises(TypeError, match="event must be a Event"):
        policy.evaluate_alerts({"kind": "tick"}, now_ms=T0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="state must be str"):
        policy.evaluate_alerts(tick, state=None, now_ms=T0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="now_ms must be int"):
        policy.evaluate_alerts(tick, now_ms=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="now_ms -1"):
        policy.evaluate_alerts(tick, now_ms=-1)
    with pytest.raises(TypeError):
        policy.evaluate_alerts(tick, "", T0)  # type: ignore[call-arg]
    closed = load_policy(SEED_POLICY, "json")
    closed.close()
    with pytest.raises(ValueError, match="closed"):
        closed.evaluate_alerts(tick, now_ms=T0)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"kind": "page"}, ValueError, "Event.kind 'page' is not one of"),
    ({"kind": "tick", "pipeline": None}, TypeError, "Event.pipeline must be str"),
    ({"kind": "tick", "dedup_key": 3}, TypeError, "Event.dedup_key must be str or None"),
    ({"kind": "tick", "failure": {"http_status": 503}}, TypeError, "Event.failure must be a Failure"),
    ({"kind": "tick", "attempt": -1}, ValueError, "Event.attempt -1 is outside"),
    ({"kind": "tick", "attempt": True}, TypeError, "Event.attempt must be int"),
    ({"kind": "tick", "late_minutes": 1 << 32}, ValueError, "Event.late_minutes"),
    ({"kind": "tick", "labels": [("a", "b")]}, TypeError, "Event.labels must be a mapping"),
    ({"kind": "tick", "labels": {"a": 1}}, TypeError, "Event.labels must map str to str"),
    ({"kind": "tick", "log_lines": "one line"}, TypeError, "not a single string"),
    ({"kind": "tick", "log_lines": [b"bytes"]}, TypeError, "only str"),
])
def test_event_checks_its_fields(kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        Event(**kwargs)


def test_event_values() -> None:
    labels = {"team": "ml"}
    event = Event("run-failed", "nightly", "train", "r1", UNAVAILABLE, attempt=3,  # type: ignore[arg-type]
                  labels=labels, log_lines=["x"])
    assert event.kind is EventKind.RUN_FAILED and event.log_lines == ("x",)
    labels["team"] = "changed"  # the event took a copy
    assert event.labels == {"team": "ml"}
    with pytest.raises(TypeError):
        event.labels["team"] = "x"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.run_id = "r2"  # type: ignore[misc]
    assert Event.tick() == Event(EventKind.TICK)
    assert Event.acknowledge("k") == Event(EventKind.ALERT_ACKNOWLEDGED, dedup_key="k")
    with pytest.raises(TypeError):
        Event.acknowledge(None)  # type: ignore[arg-type]
    assert str(EventKind.RUN_LATE) == "run-late" and str(Severity.HIGH) == "high"
    assert str(NotificationKind.ESCALATE) == "escalate" and str(SuppressionReason.REPEAT_LIMIT) == "repeat-limit"


def test_event_canonical_json_round_trip() -> None:
    event = Event(EventKind.ATTEMPT_FAILED, "nightly", "train", "r1", UNAVAILABLE, attempt=2,
                  late_minutes=0, labels={"team": "ml"}, log_lines=["a"], dedup_key=None)
    data = event.to_dict()
    assert data["failure"] == {"http_status": 503, "error_types": ["TransientError"],
                               "message": "503 Service Unavailable"}
    assert Event.from_dict(json.loads(json.dumps(data))) == event
    assert Event.from_dict({"kind": "tick"}) == Event.tick()
    with pytest.raises(ValueError, match="unknown keys \\['runid'\\]"):
        Event.from_dict({"kind": "tick", "runid": "r1"})
    with pytest.raises(ValueError, match="`kind` is required"):
        Event.from_dict({})
    with pytest.raises(ValueError, match="Event.failure: unknown keys"):
        Event.from_dict({"kind": "run-failed", "failure": {"status": 503}})
    with pytest.raises(TypeError, match="expects a mapping"):
        Event.from_dict("tick")  # type: ignore[arg-type]


def test_evaluation_values(policy: backstop.Policy) -> None:
    p = Pipeline(policy)
    for run in ("a", "b"):
        p(Event(EventKind.RUN_FAILED, "nightly", "train", run, UNAVAILABLE), T0)
    evaluation = p(Event(EventKind.RUN_FAILED, "nightly", "train", "c", UNAVAILABLE), T0 + MINUTE)
    assert isinstance(evaluation.notifications, tuple) and isinstance(evaluation.suppressed, tuple)
    assert all(isinstance(s, Suppressed) for s in evaluation.suppressed)
    page = evaluation.notifications[-1]
    assert (page.kind, page.severity) == (NotificationKind.TRIGGER, Severity.HIGH)
    assert page.summary.startswith("[high] nightly/train run c failed")
    data = evaluation.to_dict()
    assert data["next_wakeup_ms"] == T0 + MINUTE + 15 * MINUTE
    assert data["notifications"][-1]["payload"] == page.payload
    assert data["state"] == evaluation.state
    json.dumps(data)  # plain JSON all the way down
    with pytest.raises(dataclasses.FrozenInstanceError):
        evaluation.state = ""  # type: ignore[misc]


def test_the_alert_rules_live_in_a_toml_policy_too() -> None:
    policy = load_policy("""
[[alerts.rules]]
id = "page"
condition = "run.consecutive_failures >= 1"
severity = "critical"
notify = ["oncall"]
escalation = [{after = "10m", notify = ["secondary"]}]
""")
    evaluation = policy.evaluate_alerts(
        Event(EventKind.RUN_FAILED, "etl", "load", "r1", Failure(exit_code=1)), now_ms=0)
    assert sent(evaluation) == [("trigger", "page", "critical")]
    assert evaluation.next_wakeup_ms == 10 * MINUTE
    escalated = policy.evaluate_alerts(Event.tick(), state=evaluation.state, now_ms=10 * MINUTE)
    assert [(n.kind, n.targets) for n in escalated.notifications] == [
        (NotificationKind.ESCALATE, ("secondary",))]
