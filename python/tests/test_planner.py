"""The planner's public API: Policy methods, state dataclasses and their
canonical JSON, pushback extraction. (Exact delays per policy are the
conformance vectors' job; these test the Python surface.)"""

from __future__ import annotations

import email.utils
import json
import math
import urllib.error
from datetime import timedelta
from email.message import Message
from typing import Any

import pytest

import backstop
from backstop import (AttemptFailure, AttemptTimeout, BreakerState, BudgetState, Circuit, Decision,
                      ErrorCode, Failure, FailureClass, GiveUpReason, Permit, PolicyError,
                      RetryState, Schedule, SharedState, default_policy, derive_seed, load_policy,
                      pushback_from_exception)

POLICY = """
[retry]
jitter = "none"
base_delay = "1s"
max_attempts = 3
attempt_timeout = "10s"
deadline = "1m"
[retry.circuit_breaker]
consecutive_failures = 2
open_for = "30s"
"""


@pytest.fixture(scope="module")
def policy() -> backstop.Policy:
    return load_policy(POLICY)


def test_a_whole_operation_step_by_step(policy: backstop.Policy) -> None:
    shared = SharedState()
    permit = policy.begin_attempt(RetryState(seed=7), shared, now_ms=1_000)
    assert isinstance(permit, Permit) and permit.allowed and permit.attempt == 1
    assert (permit.timeout_ms, permit.timeout, permit.probe) == (10_000, 10.0, False)
    assert permit.state == RetryState(attempts=1, started_at_ms=1_000, last_delay_ms=0, seed=7)

    decision = policy.after_failure(permit.state, permit.shared,
                                    AttemptFailure(Failure(http_status=503), duration_ms=500), 1_500)
    assert isinstance(decision, Decision) and decision.should_retry
    assert (decision.give_up, decision.delay_ms, decision.delay, decision.attempt) == (None, 1_000, 1.0, 1)
    assert (decision.next_timeout_ms, decision.next_timeout) == (10_000, 10.0)
    assert decision.classification.failure_class is FailureClass.TRANSIENT
    assert decision.explanation == "attempt 1 failed (transient); retry in 1s"
    assert decision.state.last_delay_ms == 1_000
    assert decision.shared.breaker.consecutive_failures == 1

    shared = policy.after_success(decision.shared)
    assert shared.breaker == BreakerState(recent_outcomes=0b10, recent_count=2)


def test_a_bare_failure_is_an_outcome_without_duration(policy: backstop.Policy) -> None:
    decision = policy.after_failure(RetryState(), SharedState(), Failure(http_status=404), 0)
    assert decision.give_up is GiveUpReason.PERMANENT and not decision.should_retry
    assert decision.delay_ms == 0 and decision.next_timeout_ms is None


def test_an_open_circuit_refuses_with_its_retry_after(policy: backstop.Policy) -> None:
    shared = SharedState(BreakerState(circuit="open", opened_at_ms=10_000))
    permit = policy.begin_attempt(RetryState(), shared, 25_000)
    assert permit.refused is GiveUpReason.CIRCUIT_OPEN and not permit.allowed
    assert (permit.retry_after_ms, permit.retry_after) == (15_000, 15.0)
    assert permit.state == RetryState()  # nothing counted
    probe = policy.begin_attempt(RetryState(), shared, 40_000)
    assert probe.allowed and probe.probe and probe.shared.breaker.circuit is Circuit.HALF_OPEN


def test_schedule(policy: backstop.Policy) -> None:
    schedule = policy.schedule(seed=1)
    assert isinstance(schedule, Schedule)
    assert [(a.attempt, a.delay_ms, a.timeout_ms, a.start_ms) for a in schedule.attempts] == [
        (1, 0, 10_000, 0), (2, 1_000, 10_000, 11_000), (3, 2_000, 10_000, 23_000)]
    assert schedule.ends_with is GiveUpReason.ATTEMPTS_EXHAUSTED
    assert schedule.to_dict()["attempts"][1] == {"attempt": 2, "delay_ms": 1_000,
                                                 "timeout_ms": 10_000, "start_ms": 11_000}
    cut = policy.schedule(seed=1, max_entries=0)  # clamped to one entry
    assert len(cut.attempts) == 1 and cut.ends_with is None
    assert len(load_policy("[retry]\nmax_attempts = 100000\n").schedule(max_entries=10**9).attempts) == 10_000


def test_derive_seed_is_fnv1a_from_the_engine() -> None:
    assert derive_seed("") == 14695981039346656037  # FNV-1a's offset basis
    assert derive_seed("a") == 12638187200555641996
    assert default_policy().derive_seed("run-42/train") == derive_seed("run-42/train")
    with pytest.raises(TypeError):
        derive_seed(42)  # type: ignore[arg-type]


def test_the_engine_rejects_impossible_states(policy: backstop.Policy) -> None:
    with pytest.raises(PolicyError) as info:
        policy.begin_attempt(RetryState(), SharedState(BreakerState(recent_count=65)), 0)
    assert info.value.code is ErrorCode.INVALID_STATE
    assert info.value.path == "shared.breaker.recent_count"


@pytest.mark.parametrize("call, error", [
    (lambda p: p.begin_attempt(RetryState(), SharedState(), -1), ValueError),
    (lambda p: p.begin_attempt(RetryState(), SharedState(), 1 << 64), ValueError),
    (lambda p: p.begin_attempt(RetryState(), SharedState(), 1.5), TypeError),
    (lambda p: p.begin_attempt({}, SharedState(), 0), TypeError),
    (lambda p: p.after_failure(RetryState(), SharedState(), "503", 0), TypeError),
    (lambda p: p.after_success(BreakerState()), TypeError),
    (lambda p: p.schedule(seed=-1), ValueError),
    (lambda p: p.schedule(max_entries="3"), TypeError),
])
def test_bad_arguments_are_clear_errors(policy: backstop.Policy, call: Any, error: type) -> None:
    with pytest.raises(error):
        call(policy)


@pytest.mark.parametrize("make, error", [
    (lambda: RetryState(attempts=-1), ValueError),
    (lambda: RetryState(attempts=1 << 32), ValueError),
    (lambda: RetryState(seed=1 << 64), ValueError),
    (lambda: RetryState(started_at_ms="0"), TypeError),
    (lambda: RetryState(last_delay_ms=True), TypeError),
    (lambda: BreakerState(circuit="ajar"), ValueError),
    (lambda: BudgetState(spent_milli=-5), ValueError),
    (lambda: SharedState(breaker={}), TypeError),
    (lambda: AttemptFailure("boom"), TypeError),
    (lambda: AttemptFailure(Failure(), pushback_ms=-1), ValueError),
])
def test_state_values_are_checked_at_construction(make: Any, error: type) -> None:
    with pytest.raises(error):
        make()


def test_states_round_trip_through_canonical_json() -> None:
    state = RetryState(attempts=3, started_at_ms=1_700_000_000_000, last_delay_ms=2_000,
                       seed=(1 << 64) - 1)
    shared = SharedState(BreakerState(Circuit.HALF_OPEN, 0, (1 << 64) - 1, 64, 5, 1, 0), BudgetState(1500))
    assert state.to_dict() == {"attempts": 3, "started_at_ms": 1_700_000_000_000,
                               "last_delay_ms": 2_000, "seed": "18446744073709551615"}
    assert shared.to_dict() == {
        "breaker": {"circuit": "half-open", "consecutive_failures": 0,
                    "recent_outcomes": "18446744073709551615", "recent_count": 64,
                    "opened_at_ms": 5, "probes_started": 1, "probes_succeeded": 0},
        "budget": {"spent_milli": 1500}}
    assert RetryState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    assert SharedState.from_dict(json.loads(json.dumps(shared.to_dict()))) == shared


def test_absent_keys_mean_fresh_state() -> None:
    assert RetryState.from_dict({}) == RetryState()
    assert SharedState.from_dict({"breaker": {"circuit": "open"}}) == SharedState(BreakerState(Circuit.OPEN))
    assert RetryState.from_dict({"seed": 12}).seed == 12  # an int is accepted too


@pytest.mark.parametrize("cls, data, error", [
    (RetryState, {"atempts": 1}, ValueError),
    (RetryState, {"seed": "-3"}, ValueError),
    (RetryState, {"seed": "0x10"}, ValueError),
    (RetryState, {"seed": 1.0}, TypeError),
    (RetryState, [], TypeError),
    (SharedState, {"breaker": {"recent_outcomes": "many"}}, ValueError),
    (SharedState, {"budget": {"spent": 1}}, ValueError),
])
def test_from_dict_refuses_bad_documents(cls: Any, data: Any, error: type) -> None:
    with pytest.raises(error):
        cls.from_dict(data)


def test_decision_and_permit_to_dict_are_canonical(policy: backstop.Policy) -> None:
    decision = policy.after_failure(RetryState(), SharedState(), Failure(http_status=503), 0)
    d = decision.to_dict()
    assert d["give_up"] is None and d["classification"]["rule"] == "builtin.http-transient"
    assert d["state"]["seed"] == "0" and json.loads(json.dumps(d)) == d
    assert policy.begin_attempt(RetryState(), SharedState(), 0).to_dict()["refused"] is None


def test_enums_are_str_enums() -> None:
    assert GiveUpReason("pushback-beyond-deadline") is GiveUpReason.PUSHBACK_BEYOND_DEADLINE
    assert str(GiveUpReason.CIRCUIT_OPEN) == "circuit-open" and Circuit.HALF_OPEN == "half-open"


# -- pushback ---------------------------------------------------------------


class Response:
    def __init__(self, headers: Any) -> None:
        self.headers = headers
        self.status_code = 429


class HTTPError(Exception):
    def __init__(self, headers: Any) -> None:
        super().__init__("429 Too Many Requests")
        self.response = Response(headers)


class RateLimited(Exception):
    def __init__(self, retry_after: Any) -> None:
        super().__init__("slow down")
        self.retry_after = retry_after


class GrpcError(Exception):
    def __init__(self, trailers: Any) -> None:
        super().__init__("unavailable")
        self._trailers = trailers

    def trailing_metadata(self) -> Any:
        return self._trailers


NOW = 1_700_000_000.0


@pytest.mark.parametrize("exc, expected", [
    (RateLimited(7), 7_000),
    (RateLimited(0.25), 250),
    (RateLimited(0.0001), 1),  # rounded up: never wait less than asked
    (RateLimited(timedelta(minutes=2)), 120_000),
    (RateLimited(-1), None),
    (RateLimited(float("nan")), None),
    (RateLimited("7"), None),
    (HTTPError({"Retry-After": "3"}), 3_000),
    (HTTPError({"retry-after": "3"}), 3_000),
    (HTTPError({"Retry-After": "1.5"}), None),  # delay-seconds is 1*DIGIT
    (HTTPError({"Retry-After": "Sunday, 06-Nov-94 08:49:37 GMT"}), 0),  # RFC 850, in the past
    (HTTPError({"Retry-After": "Tue Nov 14 22:14:50 2023"}), 90_000),  # asctime
    (HTTPError({"Retry-After": "Tue, 14 Nov 2023 22:14:50 +0000"}), None),  # not an HTTP-date
    (HTTPError({"Retry-After": email.utils.formatdate(NOW + 90, usegmt=True)}), 90_000),
    (HTTPError({"Retry-After": email.utils.formatdate(NOW - 90, usegmt=True)}), 0),
    (HTTPError({"Retry-After": "soon"}), None),
    (HTTPError({"Retry-After": "-4"}), None),
    (HTTPError({"retry-after-ms": "1234"}), 1_234),
    (HTTPError({}), None),
    (GrpcError((("grpc-retry-pushback-ms", "500"),)), 500),
    (GrpcError((("grpc-retry-pushback-ms", b"750"),)), 750),
    (GrpcError((("grpc-retry-pushback-ms", "-1"),)), math.inf),  # gRPC A6: do not retry
    (GrpcError((("grpc-retry-pushback-ms", "soon"),)), math.inf),
    (GrpcError(None), None),
    (ValueError("no pushback here"), None),
])
def test_pushback_from_exception(exc: BaseException, expected: Any) -> None:
    assert pushback_from_exception(exc, now=NOW) == expected


def test_pushback_from_urllib_headers_and_the_cause_chain() -> None:
    headers = Message()
    headers["Retry-After"] = "12"
    err = urllib.error.HTTPError("http://x", 503, "Service Unavailable", headers, None)
    assert pushback_from_exception(err) == 12_000
    try:
        try:
            raise RateLimited(2)
        except RateLimited as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert pushback_from_exception(outer) == 2_000
    with pytest.raises(TypeError):
        pushback_from_exception("nope")  # type: ignore[arg-type]


def test_attempt_failure_from_exception() -> None:
    outcome = AttemptFailure.from_exception(HTTPError({"Retry-After": "3"}), duration_ms=40)
    assert outcome.failure.http_status == 429 and outcome.duration_ms == 40 and outcome.pushback_ms == 3_000


def test_attempt_timeout_is_classified_by_its_builtin_rule() -> None:
    exc = AttemptTimeout(2, 0.5)
    assert isinstance(exc, TimeoutError) and str(exc) == "attempt 2 timed out after 0.5s"
    assert backstop.exception_type_name(exc) == "backstop.AttemptTimeout"
    verdict = default_policy().classify_exception(exc)
    assert (verdict.failure_class, verdict.rule) == (FailureClass.TRANSIENT, "builtin.attempt-timeout")


def test_plan_failures_chains_the_planners_answers_and_checks_max_entries() -> None:
    policy = backstop.load_policy('[retry]\nmax_attempts = 4\njitter = "none"\n')
    state = backstop.RetryState(attempts=1, started_at_ms=0, seed=9)
    failure = backstop.Failure(http_status=503)
    entries = policy.plan_failures(state, backstop.SharedState(), failure, 1_000)
    assert [e.decision.delay_ms for e in entries] == [1000, 2000, 4000, 0]
    assert entries[-1].decision.give_up is backstop.GiveUpReason.ATTEMPTS_EXHAUSTED
    assert entries[-1].next_permit is None
    for entry, following in zip(entries, entries[1:]):
        permit = entry.next_permit
        assert permit == policy.begin_attempt(entry.decision.state, entry.decision.shared, 123_456)
        assert following.decision == policy.after_failure(permit.state, permit.shared, failure, 777_777)
    assert len(policy.plan_failures(state, backstop.SharedState(), failure, 1_000, max_entries=0)) == 1
    assert len(policy.plan_failures(state, backstop.SharedState(), failure, 1_000, max_entries=10**9)) == 4
    with pytest.raises(TypeError, match="max_entries"):
        policy.plan_failures(state, backstop.SharedState(), failure, 1_000, max_entries=True)
