"""Writes the retry-helper conformance suites (tests/helpers/*.json).

These vectors drive each host's retry *loop* (Rust `Retry`, Node `retry()`,
Python `Retrying`/`AsyncRetrying`, Go `Do`) on a scripted fake clock; see
tests/README.md, "Helper vectors". Expectations are written by hand from the
documented behaviour (docs/ARCHITECTURE.md, "Retry helpers: one behaviour in
every host"); jittered waits come from the reference model of
planner_vectors.py, written independently of the Rust core.
Run: python3 tests/gen/helper_vectors.py
"""
import json
import os

# The reference model is the first part of planner_vectors.py (the rest of that
# script writes its own suites, so it is not imported as a whole).
_MODEL = {"__file__": os.path.join(os.path.dirname(os.path.abspath(__file__)), "planner_vectors.py")}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "planner_vectors.py")) as _f:
    exec(_f.read().split("# ---------------------------------------------------------------- policy text")[0], _MODEL)
Cfg, fnv1a = _MODEL["Cfg"], _MODEL["fnv1a"]

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers")
# The fake clock's origin: 2026-01-01T00:00:00Z (a Thursday), in Unix ms, so
# HTTP-date pushback has a wall-clock reference. Every time below is relative to it.
ORIGIN_MS = 1767225600000

T503 = {"http_status": 503}
T404 = {"http_status": 404}
UNKNOWN = {"error_code": "EWHATEVER"}  # no built-in rule names it
TRANSIENT = ("transient", "builtin.http-transient")
PERMANENT = ("permanent", "builtin.http-permanent")
TIMEOUT = ("transient", "builtin.attempt-timeout")


def fail(failure=T503, duration=0, **pushback):
    o = {"error": failure}
    if duration:
        o["duration_ms"] = duration
    o.update(pushback)
    return o


def ok(value="done", duration=0):
    o = {"ok": value}
    if duration:
        o["duration_ms"] = duration
    return o


HANG = {"hang": True}


def att(n, start, timeout=None):
    return {"attempt": n, "start_ms": start, "timeout_ms": timeout}


def cb(n, delay, cls=TRANSIENT, error=None):
    return {"error": error or f"attempt-{n}", "attempt": n, "delay_ms": delay,
            "class": cls[0], "rule": cls[1]}


def gave_up(reason, attempts, cls=None, cause=None):
    return {"give_up": reason, "attempts": attempts, "class": cls, "cause": cause}


def call(outcomes, attempts, result, end, callbacks=(), **opts):
    c = dict(opts)
    c["outcomes"] = outcomes
    c["expect"] = {"attempts": attempts, "callbacks": list(callbacks), "result": result, "end_ms": end}
    return c


def vec(name, policy, *calls):
    return {"name": name, "policy": policy, "calls": list(calls)}


NOJIT = 'jitter = "none"\nbase_delay = "100ms"\n'
P4 = "[retry]\nmax_attempts = 4\n" + NOJIT


def suite(name, description, vectors):
    doc = {"description": description, "origin_ms": ORIGIN_MS, "vectors": vectors}
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return len(vectors)


def basics():
    dflt = Cfg()  # the built-in defaults: 5 attempts, 1s doubling, additive 25%
    seed = 7
    d = [dflt.delay(n, seed, 0) for n in range(1, 5)]
    starts = [0]
    for x in d:
        starts.append(starts[-1] + x)
    return [
        vec("success on the first attempt: no wait, no callback", P4,
            call([ok("v1")], [att(1, 0)], {"value": "v1"}, 0)),
        vec("transient failures are retried after the planned waits; the callback gets error, attempt, decision", P4,
            call([fail(), fail(), ok("third")], [att(1, 0), att(2, 100), att(3, 300)],
                 {"value": "third"}, 300, [cb(1, 100), cb(2, 200)])),
        vec("attempts run out: a RetryError with the last error as its cause", P4,
            call([fail()] * 4, [att(1, 0), att(2, 100), att(3, 300), att(4, 700)],
                 gave_up("attempts-exhausted", 4, "transient", "attempt-4"), 700,
                 [cb(1, 100), cb(2, 200), cb(3, 400)])),
        vec("a permanent failure fails fast, surfaced like every other give-up", P4,
            call([fail(T404)], [att(1, 0)], gave_up("permanent", 1, "permanent", "attempt-1"), 0)),
        vec("a permanent failure after transient ones", P4,
            call([fail(), fail(T404)], [att(1, 0), att(2, 100)],
                 gave_up("permanent", 2, "permanent", "attempt-2"), 100, [cb(1, 100)])),
        vec("unknown failures get unknown_max_attempts", "[retry]\nmax_attempts = 5\nunknown_max_attempts = 2\n" + NOJIT,
            call([fail(UNKNOWN)] * 2, [att(1, 0), att(2, 100)],
                 gave_up("attempts-exhausted", 2, "unknown", "attempt-2"), 100,
                 [cb(1, 100, ("unknown", None))])),
        vec("attempt durations move the clock: the wait starts when the attempt ends", P4,
            call([fail(duration=50), fail(duration=30), ok(duration=20)], [att(1, 0), att(2, 150), att(3, 380)],
                 {"value": "done"}, 400, [cb(1, 100), cb(2, 200)])),
        vec("the built-in defaults (5 attempts, 1s doubling, additive jitter) with a fixed seed", "",
            call([fail()] * 5, [att(i + 1, s) for i, s in enumerate(starts)],
                 gave_up("attempts-exhausted", 5, "transient", "attempt-5"), starts[-1],
                 [cb(i + 1, x) for i, x in enumerate(d)], seed=str(seed))),
        vec("multiplier and max_delay shape the waits",
            '[retry]\nmax_attempts = 5\njitter = "none"\nbase_delay = "100ms"\nmultiplier = 3\nmax_delay = "500ms"\n',
            call([fail()] * 4 + [ok()], [att(1, 0), att(2, 100), att(3, 400), att(4, 900), att(5, 1400)],
                 {"value": "done"}, 1400, [cb(1, 100), cb(2, 300), cb(3, 500), cb(4, 500)])),
        vec("the attempt timeout is passed to every attempt",
            "[retry]\nmax_attempts = 3\nattempt_timeout = \"50ms\"\n" + NOJIT,
            call([fail(duration=10), ok(duration=10)], [att(1, 0, 50), att(2, 110, 50)],
                 {"value": "done"}, 120, [cb(1, 100)])),
        vec("the policy deadline clamps the attempt timeout to what remains",
            "[retry]\nmax_attempts = 5\nattempt_timeout = \"200ms\"\ndeadline = \"350ms\"\n" + NOJIT,
            call([fail(duration=100), ok(duration=10)], [att(1, 0, 200), att(2, 200, 150)],
                 {"value": "done"}, 210, [cb(1, 100)])),
        vec("the policy deadline: a wait that would start the next attempt past it gives up",
            "[retry]\nmax_attempts = 5\ndeadline = \"250ms\"\n" + NOJIT,
            call([fail(), fail(), fail()], [att(1, 0, 250), att(2, 100, 150)],
                 gave_up("deadline", 2, "transient", "attempt-2"), 100, [cb(1, 100)])),
    ]


def seeds():
    full = "[retry]\nmax_attempts = 4\njitter = \"full\"\nbase_delay = \"1s\"\n"
    cfg = Cfg(max_attempts=4, jitter="full", base=1000)

    def run(seed):
        waits = [cfg.delay(n, seed, 0) for n in range(1, 4)]
        starts = [0]
        for x in waits:
            starts.append(starts[-1] + x)
        return waits, starts

    def seeded(name, value, **opts):
        waits, starts = run(value)
        return vec(name, full, call([fail()] * 4, [att(i + 1, s) for i, s in enumerate(starts)],
                                    gave_up("attempts-exhausted", 4, "transient", "attempt-4"), starts[-1],
                                    [dict(cb(i + 1, w), seed=str(value)) for i, w in enumerate(waits)], **opts))

    key = "nightly-2026-01-01/extract"
    return [
        seeded("an explicit seed fixes the jittered waits", 42, seed="42"),
        seeded("an explicit seed of 0 is honoured (it is only never the default)", 0, seed="0"),
        seeded("a seed near 2^64 survives every host", 2**64 - 2, seed=str(2**64 - 2)),
        seeded("the idempotency key seeds the jitter with FNV-1a", fnv1a(key), idempotency_key=key),
        seeded("an explicit seed wins over the idempotency key", 5, seed="5", idempotency_key=key),
        vec("without a key or seed the seed comes from the OS's randomness: never 0, different per call", full,
            call([fail(), ok()], [att(1, 0), {"attempt": 2}], {"value": "done"}, None,
                 [{"attempt": 1, "seed": "random"}]),
            call([fail(), ok()], [{"attempt": 1}, {"attempt": 2}], {"value": "done"}, None,
                 [{"attempt": 1, "seed": "random"}])),
        vec("without jitter a random seed changes nothing", P4,
            call([fail(), ok()], [att(1, 0), att(2, 100)], {"value": "done"}, 100, [cb(1, 100)])),
    ]


def pushback():
    p = "[retry]\nmax_attempts = 3\n" + NOJIT
    pd = "[retry]\nmax_attempts = 3\ndeadline = \"10s\"\n" + NOJIT

    def after(header, value, wait, failure=T503):
        return call([fail(failure, **{header: value}), ok()], [att(1, 0), att(2, wait)],
                    {"value": "done"}, wait, [cb(1, wait)])

    def refused(header, value, failure=T503, cls=TRANSIENT):
        return call([fail(failure, **{header: value})], [att(1, 0)],
                    gave_up("pushback-beyond-deadline", 1, cls[0], "attempt-1"), 0)

    return [
        vec("Retry-After delay-seconds replaces the backoff", p, after("retry_after", "2", 2000)),
        vec("Retry-After with surrounding whitespace", p, after("retry_after", " 3 ", 3000)),
        vec("Retry-After 0 retries at once", p, after("retry_after", "0", 0)),
        vec("Retry-After as an IMF-fixdate, measured from the clock", p,
            call([fail(duration=1000, retry_after="Thu, 01 Jan 2026 00:00:05 GMT"), ok()],
                 [att(1, 0), att(2, 5000)], {"value": "done"}, 5000, [cb(1, 4000)])),
        vec("Retry-After as an obsolete RFC 850 date", p, after("retry_after", "Thursday, 01-Jan-26 00:00:05 GMT", 5000)),
        vec("Retry-After as an obsolete asctime date", p, after("retry_after", "Thu Jan  1 00:00:07 2026", 7000)),
        vec("Retry-After in the past means now", p, after("retry_after", "Wed, 31 Dec 2025 23:00:00 GMT", 0)),
        vec("Retry-After with a fraction is not RFC 9110: the backoff applies", p, after("retry_after", "1.5", 100)),
        vec("Retry-After with a sign is not RFC 9110: the backoff applies", p, after("retry_after", "-3", 100)),
        vec("Retry-After as RFC 3339 is not an HTTP-date: the backoff applies", p,
            after("retry_after", "2026-01-01T00:00:05Z", 100)),
        vec("Retry-After with a numeric zone is not an HTTP-date: the backoff applies", p,
            after("retry_after", "Thu, 01 Jan 2026 00:00:05 +0000", 100)),
        vec("Retry-After as an asctime date with a zero-padded day", p,
            after("retry_after", "Thu Jan 01 00:00:07 2026", 7000)),
        vec("Retry-After names are case-sensitive: the backoff applies", p,
            after("retry_after", "thu, 01 jan 2026 00:00:05 GMT", 100)),
        vec("Retry-After with the wrong weekday is not a date: the backoff applies", p,
            after("retry_after", "Fri, 01 Jan 2026 00:00:05 GMT", 100)),
        vec("Retry-After on a day that does not exist: the backoff applies", p,
            after("retry_after", "Tue, 31 Feb 2026 00:00:05 GMT", 100)),
        vec("Retry-After with second 60: the backoff applies", p,
            after("retry_after", "Thu, 01 Jan 2026 00:00:60 GMT", 100)),
        vec("Retry-After is capped at max_pushback", "[retry]\nmax_attempts = 3\nmax_pushback = \"1s\"\n" + NOJIT,
            after("retry_after", "120", 1000)),
        vec("Retry-After beyond the policy deadline gives up now", pd,
            call([fail(retry_after="60")], [att(1, 0, 10000)],
                 gave_up("pushback-beyond-deadline", 1, "transient", "attempt-1"), 0)),
        vec("grpc-retry-pushback-ms replaces the backoff", p, after("grpc_retry_pushback_ms", "250", 250)),
        vec("grpc-retry-pushback-ms negative: do not retry (gRPC A6)", p, refused("grpc_retry_pushback_ms", "-1")),
        vec("grpc-retry-pushback-ms unparseable: do not retry (gRPC A6)", p, refused("grpc_retry_pushback_ms", "soon")),
        vec("grpc-retry-pushback-ms with a fraction: do not retry", p, refused("grpc_retry_pushback_ms", "1.5")),
        vec("the planner's own give-up wins over a do-not-retry pushback", p,
            call([fail(T404, grpc_retry_pushback_ms="-1")], [att(1, 0)],
                 gave_up("permanent", 1, "permanent", "attempt-1"), 0)),
        vec("a do-not-retry pushback on the last attempt: attempts-exhausted", "[retry]\nmax_attempts = 2\n" + NOJIT,
            call([fail(), fail(grpc_retry_pushback_ms="-1")], [att(1, 0), att(2, 100)],
                 gave_up("attempts-exhausted", 2, "transient", "attempt-2"), 100, [cb(1, 100)])),
    ]


def breaker():
    b = ("[retry]\nmax_attempts = 2\n" + NOJIT +
         "[retry.circuit_breaker]\nconsecutive_failures = 3\nopen_for = \"10s\"\n")
    return [
        vec("the breaker is shared by calls with one policy: it trips across calls, then refuses", b,
            call([fail(), fail()], [att(1, 0), att(2, 100)],
                 gave_up("attempts-exhausted", 2, "transient", "attempt-2"), 100, [cb(1, 100)]),
            call([fail()], [att(1, 100)], gave_up("circuit-open", 1, "transient", "attempt-1"), 100),
            call([], [], gave_up("circuit-open", 0), 100)),
        vec("an open circuit half-opens after open_for; a successful probe closes it", b,
            call([fail(), fail()], [att(1, 0), att(2, 100)],
                 gave_up("attempts-exhausted", 2, "transient", "attempt-2"), 100, [cb(1, 100)]),
            call([fail()], [att(1, 100)], gave_up("circuit-open", 1, "transient", "attempt-1"), 100),
            call([ok("probe")], [att(1, 10100)], {"value": "probe"}, 10100, advance_ms=10000),
            call([fail(), ok()], [att(1, 10100), att(2, 10200)], {"value": "done"}, 10200, [cb(1, 100)])),
        vec("a failed probe opens the circuit again", b,
            call([fail(), fail()], [att(1, 0), att(2, 100)],
                 gave_up("attempts-exhausted", 2, "transient", "attempt-2"), 100, [cb(1, 100)]),
            call([fail()], [att(1, 100)], gave_up("circuit-open", 1, "transient", "attempt-1"), 100),
            call([fail()], [att(1, 10100)], gave_up("circuit-open", 1, "transient", "attempt-1"), 10100,
                 advance_ms=10000),
            call([], [], gave_up("circuit-open", 0), 10100)),
        vec("a cancelled half-open probe is reported as a failure: the circuit opens again from the cancel",
            b,
            call([fail(), fail()], [att(1, 0), att(2, 100)],
                 gave_up("attempts-exhausted", 2, "transient", "attempt-2"), 100, [cb(1, 100)]),
            call([fail()], [att(1, 100)], gave_up("circuit-open", 1, "transient", "attempt-1"), 100),
            call([HANG], [att(1, 10100)], {"cancelled": True, "attempts": 1}, 12100,
                 advance_ms=10000, cancel_at_ms=12100),
            # Unreported, the probe's lease would end at 20100 and this call would probe.
            call([ok()], [], gave_up("circuit-open", 0), 20100, advance_ms=8000),
            call([ok("closed")], [att(1, 22100)], {"value": "closed"}, 22100, advance_ms=2000)),
        vec("permanent failures prove the dependency answers: they do not trip the breaker", b,
            call([fail(T404)], [att(1, 0)], gave_up("permanent", 1, "permanent", "attempt-1"), 0),
            call([fail(), fail()], [att(1, 0), att(2, 100)],
                 gave_up("attempts-exhausted", 2, "transient", "attempt-2"), 100, [cb(1, 100)]),
            call([fail(T404)], [att(1, 100)], gave_up("permanent", 1, "permanent", "attempt-1"), 100),
            call([fail(), ok()], [att(1, 100), att(2, 200)], {"value": "done"}, 200, [cb(1, 100)])),
        vec("a success resets the consecutive failures across calls", b,
            call([fail(), ok()], [att(1, 0), att(2, 100)], {"value": "done"}, 100, [cb(1, 100)]),
            call([fail(), ok()], [att(1, 100), att(2, 200)], {"value": "done"}, 200, [cb(1, 100)]),
            call([fail(), ok()], [att(1, 200), att(2, 300)], {"value": "done"}, 300, [cb(1, 100)])),
    ]


def budget():
    b = "[retry]\nmax_attempts = 5\n" + NOJIT + "[retry.budget]\nmax_tokens = 4\ntoken_ratio = 0.5\n"
    return [
        vec("the retry budget is shared across calls and runs out", b,
            # 4 tokens; a retry needs more than 2 left; each failure spends 1.
            call([fail(), ok()], [att(1, 0), att(2, 100)], {"value": "done"}, 100, [cb(1, 100)]),
            call([fail(), fail()], [att(1, 100), att(2, 200)],
                 gave_up("budget-exhausted", 2, "transient", "attempt-2"), 200, [cb(1, 100)]),
            call([fail()], [att(1, 200)], gave_up("budget-exhausted", 1, "transient", "attempt-1"), 200)),
        vec("successes refill the budget", b,
            call([fail(), fail()], [att(1, 0), att(2, 100)],
                 gave_up("budget-exhausted", 2, "transient", "attempt-2"), 100, [cb(1, 100)]),
            # Each success puts back half a token: three bring 2 spent tokens down to 0.5.
            call([ok()], [att(1, 100)], {"value": "done"}, 100),
            call([ok()], [att(1, 100)], {"value": "done"}, 100),
            call([ok()], [att(1, 100)], {"value": "done"}, 100),
            call([fail(), ok()], [att(1, 100), att(2, 200)], {"value": "done"}, 200, [cb(1, 100)])),
    ]


def cancel_deadline():
    t = "[retry]\nmax_attempts = 3\nattempt_timeout = \"50ms\"\n" + NOJIT
    b1 = "[retry]\nmax_attempts = 3\n" + NOJIT + "[retry.circuit_breaker]\nconsecutive_failures = 1\n"
    return [
        vec("an attempt that hangs past its timeout fails as backstop.AttemptTimeout (transient)", t,
            call([HANG, ok()], [att(1, 0, 50), att(2, 150, 50)], {"value": "done"}, 150,
                 [cb(1, 100, TIMEOUT, "timeout-1")])),
        vec("every attempt hangs: the give-up's cause is the last timeout", t,
            call([HANG, HANG, HANG], [att(1, 0, 50), att(2, 150, 50), att(3, 400, 50)],
                 gave_up("attempts-exhausted", 3, "transient", "timeout-3"), 450,
                 [cb(1, 100, TIMEOUT, "timeout-1"), cb(2, 200, TIMEOUT, "timeout-2")])),
        vec("cancelled during a wait: stop at once, no further attempt", P4,
            call([fail(), ok()], [att(1, 0)], {"cancelled": True, "attempts": 1}, 60, [cb(1, 100)],
                 cancel_at_ms=60)),
        vec("cancelled during an attempt: stop at once, and the failure is not recorded", b1,
            call([HANG], [att(1, 0)], {"cancelled": True, "attempts": 1}, 30, cancel_at_ms=30),
            # A recorded failure would have opened the circuit (consecutive_failures = 1).
            call([ok()], [att(1, 30)], {"value": "done"}, 30)),
        vec("cancelled during the second attempt: the first failure stays the last recorded", P4,
            call([fail(), HANG], [att(1, 0), att(2, 100)], {"cancelled": True, "attempts": 2}, 120,
                 [cb(1, 100)], cancel_at_ms=120)),
        vec("the caller's deadline: give up with `deadline` when the next wait would end past it", P4,
            call([fail(), fail(), ok()], [att(1, 0), att(2, 100)],
                 gave_up("deadline", 2, "transient", "attempt-2"), 100, [cb(1, 100)], deadline_ms=250)),
        vec("the caller's deadline: a wait ending exactly at it gives up too", P4,
            call([fail(), ok()], [att(1, 0)], gave_up("deadline", 1, "transient", "attempt-1"), 0,
                 deadline_ms=100)),
        vec("the caller's deadline: waits that end before it are taken", P4,
            call([fail(), fail(), ok()], [att(1, 0), att(2, 100), att(3, 300)], {"value": "done"}, 300,
                 [cb(1, 100), cb(2, 200)], deadline_ms=301)),
        vec("the caller's deadline with pushback: the server's wait counts", P4,
            call([fail(retry_after="5"), ok()], [att(1, 0)], gave_up("deadline", 1, "transient", "attempt-1"), 0,
                 deadline_ms=4000)),
    ]


def fast_path():
    """Successes against a shared state the engine says a success leaves as it
    is let the hosts skip the engine (fast-path-for, issue 14). Each vector is
    built so that a state recorded wrongly, or a permit filled in wrongly,
    changes a later wait, timeout or give-up."""
    rate = ("[retry]\nmax_attempts = 2\n" + NOJIT +
            "[retry.circuit_breaker]\nconsecutive_failures = 100\nfailure_rate = 0.5\n"
            "window = 4\nminimum_calls = 4\nopen_for = \"10s\"\n")
    b = "[retry]\nmax_attempts = 5\n" + NOJIT + "[retry.budget]\nmax_tokens = 4\ntoken_ratio = 0.5\n"
    dl = "[retry]\nmax_attempts = 5\nattempt_timeout = \"200ms\"\ndeadline = \"350ms\"\n" + NOJIT
    cb3 = ("[retry]\nmax_attempts = 2\n" + NOJIT +
           "[retry.circuit_breaker]\nconsecutive_failures = 3\nopen_for = \"10s\"\n")
    dflt, seed = Cfg(), 7
    d = [dflt.delay(n, seed, 0) for n in range(1, 3)]
    return [
        vec("successes fill the breaker's window, the steady ones skip the engine, and the window still trips",
            rate,
            *[call([ok()], [att(1, 0)], {"value": "done"}, 0) for _ in range(6)],
            # Four successes then two failures: 2 of 4 = the 0.5 failure rate.
            call([fail(), fail()], [att(1, 0), att(2, 100)],
                 gave_up("attempts-exhausted", 2, "transient", "attempt-2"), 100, [cb(1, 100)]),
            call([], [], gave_up("circuit-open", 0), 100)),
        vec("a full budget records nothing on success; a drained one is refilled by every success", b,
            *[call([ok()], [att(1, 0)], {"value": "done"}, 0) for _ in range(3)],
            call([fail(), fail()], [att(1, 0), att(2, 100)],
                 gave_up("budget-exhausted", 2, "transient", "attempt-2"), 100, [cb(1, 100)]),
            call([ok()], [att(1, 100)], {"value": "done"}, 100),
            call([ok()], [att(1, 100)], {"value": "done"}, 100),
            call([ok()], [att(1, 100)], {"value": "done"}, 100),
            call([fail(), ok()], [att(1, 100), att(2, 200)], {"value": "done"}, 200, [cb(1, 100)])),
        vec("a skipped begin-attempt starts the deadline at the attempt's start", dl,
            call([ok(duration=10)], [att(1, 0, 200)], {"value": "done"}, 10),
            call([ok(duration=10)], [att(1, 10, 200)], {"value": "done"}, 20),
            call([fail(duration=100), ok(duration=10)], [att(1, 20, 200), att(2, 220, 150)],
                 {"value": "done"}, 230, [cb(1, 100)])),
        vec("a skipped begin-attempt keeps the call's jitter seed", "",
            call([ok()], [att(1, 0)], {"value": "done"}, 0),
            call([ok()], [att(1, 0)], {"value": "done"}, 0, seed=str(seed)),
            call([fail(), fail(), ok()], [att(1, 0), att(2, d[0]), att(3, d[0] + d[1])], {"value": "done"},
                 d[0] + d[1], [cb(1, d[0]), cb(2, d[1])], seed=str(seed))),
        vec("after a probe closes the circuit, successes skip the engine and failures trip it again", cb3,
            call([fail(), fail()], [att(1, 0), att(2, 100)],
                 gave_up("attempts-exhausted", 2, "transient", "attempt-2"), 100, [cb(1, 100)]),
            call([fail()], [att(1, 100)], gave_up("circuit-open", 1, "transient", "attempt-1"), 100),
            call([ok("probe")], [att(1, 10100)], {"value": "probe"}, 10100, advance_ms=10000),
            call([ok()], [att(1, 10100)], {"value": "done"}, 10100),
            call([ok()], [att(1, 10100)], {"value": "done"}, 10100),
            call([fail(), fail()], [att(1, 10100), att(2, 10200)],
                 gave_up("attempts-exhausted", 2, "transient", "attempt-2"), 10200, [cb(1, 100)]),
            call([fail()], [att(1, 10200)], gave_up("circuit-open", 1, "transient", "attempt-1"), 10200)),
    ]


def main():
    os.makedirs(OUT, exist_ok=True)
    total = 0
    total += suite("helpers-basics", "The retry loop's waits, give-ups and callbacks.", basics())
    total += suite("helpers-seeds", "Where the jitter seed comes from.", seeds())
    total += suite("helpers-pushback", "Retry-After (RFC 9110) and grpc-retry-pushback-ms (gRPC A6).", pushback())
    total += suite("helpers-breaker", "The circuit breaker, shared per policy object across calls.", breaker())
    total += suite("helpers-budget", "The retry budget, shared per policy object across calls.", budget())
    total += suite("helpers-cancel-deadline", "Attempt timeouts, cancellation and the caller's deadline.",
                   cancel_deadline())
    total += suite("helpers-fast-path", "Steady successes skip the engine; every wait, timeout and recorded "
                   "state stays the engine's (issue 14).", fast_path())
    print(f"{total} helper vectors written to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
