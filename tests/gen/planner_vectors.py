"""Writes the retry-planner conformance suites (tests/vectors/planner-*.json).

Expected values are computed by the small reference model below, written from
the formulas documented in docs/POLICY.md and guest/src/jitter.rs, independently
of the Rust core: if the two ever disagree, a host runner fails.
Run: python3 tests/gen/planner_vectors.py
"""
import json
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vectors")
M = 2**64
GOLDEN = 0x9E3779B97F4A7C15

# ---------------------------------------------------------------- reference model

def splitmix64(x):
    z = (x + GOLDEN) % M
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % M
    return z ^ (z >> 31)

def unit(seed, attempt):
    return (splitmix64(seed ^ ((attempt * GOLDEN) % M)) >> 11) / 2**53

def below(u, n):
    return 0 if n == 0 else min(int(u * n), n - 1)

def powi(a, b):
    """Binary exponentiation, as Rust's `f64::powi` computes it (compiler-rt's
    __powidf2): the rounding differs from `a ** b` for fractional bases."""
    r = 1.0
    while True:
        if b & 1:
            r *= a
        b >>= 1
        if b == 0:
            return r
        a *= a

def fnv1a(key):
    h = 0xCBF29CE484222325
    for b in key.encode():
        h = ((h ^ b) * 0x100000001B3) % M
    return h

class Cfg:
    def __init__(self, **kw):
        self.max_attempts = 5
        self.unknown_max_attempts = None
        self.base = 1000
        self.mult = 2.0
        self.max_delay = None
        self.jitter = "additive"
        self.fraction = 0.25
        self.attempt_timeout = None
        self.deadline = None
        self.max_pushback = 300_000
        for k, v in kw.items():
            setattr(self, k, v)
        if self.max_delay is None:
            self.max_delay = max(30_000, self.base)
        if self.unknown_max_attempts is None:
            self.unknown_max_attempts = min(3, self.max_attempts)

    def backoff(self, n):
        if self.base == 0:
            return 0
        try:
            raw = self.base * powi(self.mult, min(n - 1, 1100))
        except OverflowError:  # Rust's powi gives +inf here, which the cap absorbs
            return self.max_delay
        return self.max_delay if raw >= self.max_delay else int(raw)

    def delay(self, n, seed, last):
        u, d = unit(seed, n), self.backoff(n)
        if self.jitter == "none":
            return d
        if self.jitter == "full":
            return below(u, d)
        if self.jitter == "equal":
            return d // 2 + below(u, d - d // 2)
        if self.jitter == "decorrelated":
            prev = last or self.base
            upper = max(min(prev * 3, M - 1), self.base)
            return min(self.base + below(u, upper - self.base), max(self.max_delay, self.base))
        if self.jitter == "additive":
            return d + below(u, int(self.fraction * d))
        raise ValueError(self.jitter)

    def clamp(self, remaining):
        t = self.attempt_timeout
        if t is not None and remaining is not None:
            return min(t, remaining)
        return t if t is not None else remaining

def fmt_ms(ms):
    for size, unit_ in ((86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1_000, "s")):
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit_}"
    if ms >= 1000 and ms % 100 == 0:
        return f"{ms // 1000}.{(ms % 1000) // 100}s"
    return f"{ms}ms"

def fresh_shared():
    return {"breaker": {"circuit": "closed", "consecutive_failures": 0, "recent_outcomes": "0",
                        "recent_count": 0, "opened_at_ms": 0, "probes_started": 0, "probes_succeeded": 0},
            "budget": {"spent_milli": 0}}

def after_failure(cfg, cls, state, now, duration=0, pushback=None):
    """Decision for a policy without breaker or budget (those vectors are hand-written)."""
    attempts = max(state.get("attempts", 0), 1)
    seed = int(state.get("seed", "0"))
    last = state.get("last_delay_ms", 0)
    started = state.get("started_at_ms")
    if started is None:
        started = max(now - duration, 0)
    remaining = None if cfg.deadline is None else max(cfg.deadline - max(now - started, 0), 0)
    limit = cfg.unknown_max_attempts if cls == "unknown" else cfg.max_attempts
    give_up, delay, detail = None, 0, ""
    if cls == "permanent":
        give_up = "permanent"
    elif attempts >= limit:
        give_up = "attempts-exhausted"
        detail = f"{attempts} of {limit} attempts used for {cls} failures"
    elif pushback is not None:
        delay = min(pushback, cfg.max_pushback)
        if remaining is not None and delay >= remaining:
            give_up = "pushback-beyond-deadline"
            detail = f"the server asked for {fmt_ms(delay)} but only {fmt_ms(remaining)} of the deadline remain"
        else:
            detail = f"server pushback of {fmt_ms(delay)}"
    else:
        delay = cfg.delay(attempts, seed, last)
        if remaining is not None and delay >= remaining:
            give_up = "deadline"
            detail = (f"a wait of {fmt_ms(delay)} would start attempt {attempts + 1} past the deadline "
                      f"({fmt_ms(remaining)} remain)")
    suffix = f" ({detail})" if detail else ""
    if give_up is None:
        explanation = f"attempt {attempts} failed ({cls}); retry in {fmt_ms(delay)}{suffix}"
        next_timeout = cfg.clamp(None if remaining is None else remaining - delay)
    else:
        explanation = f"attempt {attempts} failed ({cls}); give up: {give_up}{suffix}"
        next_timeout = None
    return {
        "give_up": give_up,
        "delay_ms": 0 if give_up else delay,
        "attempt": attempts,
        "next_timeout_ms": next_timeout,
        "explanation": explanation,
        "state": {"attempts": attempts, "started_at_ms": started,
                  "last_delay_ms": last if give_up else delay, "seed": str(seed)},
    }

def begin(cfg, state, now):
    attempts = state.get("attempts", 0) + 1
    started = state.get("started_at_ms")
    if started is None:
        started = now
    remaining = None if cfg.deadline is None else max(cfg.deadline - max(now - started, 0), 0)
    if remaining == 0:
        return {"refused": "deadline", "attempt": attempts, "timeout_ms": None, "retry_after_ms": 0, "probe": False}
    return {"refused": None, "attempt": attempts, "timeout_ms": cfg.clamp(remaining), "retry_after_ms": 0,
            "probe": False,
            "state": {"attempts": attempts, "started_at_ms": started,
                      "last_delay_ms": state.get("last_delay_ms", 0), "seed": str(state.get("seed", "0"))}}

def schedule(cfg, seed, max_entries):
    state = {"seed": str(seed)}
    p = begin(cfg, state, 0)
    state = p["state"]
    rows = [{"attempt": 1, "delay_ms": 0, "timeout_ms": p["timeout_ms"], "start_ms": 0}]
    while True:
        cur = rows[-1]
        if cur["attempt"] >= max_entries:
            return {"attempts": rows, "ends_with": None}
        duration = cur["timeout_ms"] or 0
        now = cur["start_ms"] + duration
        d = after_failure(cfg, "transient", state, now, duration)
        if d["give_up"]:
            return {"attempts": rows, "ends_with": d["give_up"]}
        start = now + d["delay_ms"]
        p = begin(cfg, d["state"], start)
        state = p["state"]
        rows.append({"attempt": p["attempt"], "delay_ms": d["delay_ms"], "timeout_ms": p["timeout_ms"], "start_ms": start})

# ---------------------------------------------------------------- policy text

def policy(cfg_toml, classify=""):
    return {"format": "toml", "source": classify + "[retry]\n" + cfg_toml}

T503 = {"http_status": 503}
T503_CLASS = {"class": "transient", "rule": "builtin.http-transient"}
UNKNOWN = {"exit_code": 1}
PERM = {"http_status": 404}

def fail(name, cfg, pol, state, now, failure=T503, cls="transient", duration=0, pushback=None, shared=None, full=True):
    exp = after_failure(cfg, cls, state, now, duration, pushback)
    if not full:
        exp.pop("explanation")
    outcome = {"failure": failure, "duration_ms": duration}
    if pushback is not None:
        outcome["pushback_ms"] = pushback
    v = {"name": name, "call": "after_failure", "policy": pol,
         "input": {"state": state, "shared": shared or {}, "outcome": outcome, "now_ms": now},
         "expect": exp}
    return v

def suite(name, description, vectors, policy_=None):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump({"description": description, "policy": policy_, "vectors": vectors}, f, indent=2)
        f.write("\n")
    return len(vectors)

total = 0

# ---------------------------------------------------------------- backoff (no jitter)
cfg = Cfg(max_attempts=10, jitter="none", max_delay=20_000)
pol = policy('max_attempts = 10\njitter = "none"\nmax_delay = "20s"\n')
vs = []
for n in range(1, 10):
    vs.append(fail(f"attempt {n} waits min(20s, 1s x 2^{n-1})", cfg, pol,
                   {"attempts": n, "started_at_ms": 0, "seed": "0"}, 1000 * n))
vs.append(fail("attempt 10 of 10 gives up", cfg, pol, {"attempts": 10, "started_at_ms": 0}, 50_000))
vs.append(fail("a fresh state counts the failure as attempt 1", cfg, pol, {}, 5_000, duration=2_000))
cfg1 = Cfg(jitter="none", mult=1.0, max_attempts=100)
pol1 = policy('max_attempts = 100\njitter = "none"\nmultiplier = 1\n')
for n in (1, 2, 50):
    vs.append(fail(f"multiplier 1: attempt {n} waits the base", cfg1, pol1, {"attempts": n, "started_at_ms": 0}, 10))
cfgf = Cfg(jitter="none", base=125, mult=1.2, max_attempts=40, max_delay=2_592_000_000)
polf = policy('max_attempts = 40\njitter = "none"\nbase_delay = "125ms"\nmultiplier = 1.2\nmax_delay = "30d"\n')
for n in (4, 7, 13, 29):
    vs.append(fail(f"a fractional multiplier: attempt {n} (binary exponentiation)", cfgf, polf, {"attempts": n, "started_at_ms": 0}, 10))
cfg0 = Cfg(jitter="full", base=0, max_attempts=10)
pol0 = policy('max_attempts = 10\njitter = "full"\nbase_delay = "0s"\n')
vs.append(fail("a zero base delay retries immediately", cfg0, pol0, {"attempts": 3, "started_at_ms": 0, "seed": "9"}, 10))
cfgbig = Cfg(jitter="none", max_attempts=4294967295, max_delay=60_000)
polbig = policy('max_attempts = 4294967295\njitter = "none"\nmax_delay = "60s"\n')
for n in (1_000_000, 4_000_000_000, 4294967294):
    vs.append(fail(f"attempt {n}: the backoff is capped, not overflowed", cfgbig, polbig,
                   {"attempts": n, "started_at_ms": 0}, 10**12))
vs.append({"name": "a state at the largest count is refused", "call": "after_failure", "policy": polbig,
           "input": {"state": {"attempts": 4294967295}, "shared": {}, "outcome": {"failure": T503, "duration_ms": 0}, "now_ms": 0},
           "expect_error": {"code": "invalid-state", "path": "state.attempts", "line": None, "column": None}})
cfgmax = Cfg(jitter="none", base=2_592_000_000, max_attempts=3)
polmax = policy('max_attempts = 3\njitter = "none"\nbase_delay = "30d"\n')
vs.append(fail("the longest base delay (30 days)", cfgmax, polmax, {"attempts": 1, "started_at_ms": 0}, 0))
total += suite("planner-backoff.json", "Exponential backoff without jitter: base, multiplier, cap, huge attempt counts", vs)

# ---------------------------------------------------------------- jitter modes
vs = []
for mode in ("full", "equal", "decorrelated", "additive"):
    cfg = Cfg(jitter=mode, max_attempts=20, max_delay=20_000)
    pol = policy(f'max_attempts = 20\njitter = "{mode}"\nmax_delay = "20s"\n')
    for seed in (0, 42, 18446744073709551615):
        last = 0
        for n in (1, 2, 3, 6):
            st = {"attempts": n, "started_at_ms": 0, "seed": str(seed), "last_delay_ms": last}
            vs.append(fail(f"{mode} jitter, seed {seed}, attempt {n}", cfg, pol, st, 100, full=(n == 1)))
            last = after_failure(cfg, "transient", st, 100)["state"]["last_delay_ms"]
cfgd = Cfg(jitter="decorrelated", max_attempts=4294967295, max_delay=20_000)
pold = policy('max_attempts = 4294967295\njitter = "decorrelated"\nmax_delay = "20s"\n')
for prev in (20_000, 18_446_744_073_709 * 1000):
    vs.append(fail(f"decorrelated after 10,000 attempts stays finite (previous {prev} ms)", cfgd, pold,
                   {"attempts": 10_000, "started_at_ms": 0, "seed": "7", "last_delay_ms": min(prev, 2**53 - 1)}, 5))
cfga = Cfg(jitter="additive", fraction=1.0, max_attempts=5)
pola = policy('jitter = "additive"\njitter_fraction = 1.0\n')
vs.append(fail("additive jitter with fraction 1 may double the wait", cfga, pola, {"attempts": 2, "started_at_ms": 0, "seed": "5"}, 0))
total += suite("planner-jitter.json", "The five jitter modes as exact functions of (seed, attempt); see docs/POLICY.md", vs)

# ---------------------------------------------------------------- class limits
cfg = Cfg(max_attempts=5, unknown_max_attempts=2, jitter="none")
pol = policy('max_attempts = 5\nunknown_max_attempts = 2\njitter = "none"\n')
vs = [
    fail("permanent gives up after the first attempt", cfg, pol, {"attempts": 1, "started_at_ms": 0}, 10, failure=PERM, cls="permanent"),
    fail("permanent gives up even with attempts left", cfg, pol, {"attempts": 3, "started_at_ms": 0}, 10, failure=PERM, cls="permanent"),
    fail("unknown retries within its own limit", cfg, pol, {"attempts": 1, "started_at_ms": 0}, 10, failure=UNKNOWN, cls="unknown"),
    fail("unknown stops at its own limit", cfg, pol, {"attempts": 2, "started_at_ms": 0}, 10, failure=UNKNOWN, cls="unknown"),
    fail("transient continues past the unknown limit", cfg, pol, {"attempts": 2, "started_at_ms": 0}, 10),
    fail("transient stops at max_attempts", cfg, pol, {"attempts": 5, "started_at_ms": 0}, 10),
    fail("an attempt timeout is transient", cfg, pol, {"attempts": 1, "started_at_ms": 0}, 10,
         failure={"error_types": ["backstop.AttemptTimeout"]}),
]
vs[-1]["expect"]["classification"] = {"class": "transient", "rule": "builtin.attempt-timeout"}
for v in vs[:2]:
    v["expect"]["classification"] = {"class": "permanent", "rule": "builtin.http-permanent"}
vs[0]["expect"]["classification"]["reason"] = "HTTP status 404 matched rule `builtin.http-permanent`"
vs.append({"name": "a failure the classifier refuses is an error", "call": "after_failure", "policy": pol,
           "input": {"state": {}, "shared": {}, "outcome": {"failure": {"signal": "SIGNOPE"}, "duration_ms": 0}, "now_ms": 0},
           "expect_error": {"code": "invalid-failure", "path": "failure.signal", "line": None, "column": None}})
cfg_one = Cfg(max_attempts=1)
vs.append(fail("max_attempts 1 never retries", cfg_one, policy("max_attempts = 1\n"), {"attempts": 1, "started_at_ms": 0}, 10))
cfg_def = Cfg()
vs.append(fail("defaults: 1s base with 25% additive jitter", cfg_def, None, {"attempts": 1, "started_at_ms": 0, "seed": "3"}, 10))
vs.append(fail("defaults: unknown gets 3 attempts", cfg_def, None, {"attempts": 3, "started_at_ms": 0}, 10, failure=UNKNOWN, cls="unknown"))
total += suite("planner-limits.json", "Per-class attempt limits: permanent never retries, unknown has its own limit", vs)

# ---------------------------------------------------------------- deadline and timeouts
cfg = Cfg(jitter="none", max_attempts=10, attempt_timeout=60_000, deadline=360_000, max_delay=20_000)
pol = policy('max_attempts = 10\njitter = "none"\nmax_delay = "20s"\nattempt_timeout = "60s"\ndeadline = "6m"\n')
vs = [
    fail("the next timeout is the attempt timeout when time remains", cfg, pol, {"attempts": 1, "started_at_ms": 0}, 5_000, duration=5_000),
    fail("the next timeout is clamped to what remains after the wait", cfg, pol, {"attempts": 3, "started_at_ms": 0}, 320_000, duration=60_000),
    fail("a wait that would start past the deadline gives up", cfg, pol, {"attempts": 5, "started_at_ms": 0}, 350_000, duration=60_000),
    fail("a wait ending exactly at the deadline gives up", cfg, pol, {"attempts": 2, "started_at_ms": 0}, 358_000, duration=1_000),
    fail("a clock that went backwards counts as no time passed", cfg, pol, {"attempts": 1, "started_at_ms": 100_000}, 50_000),
    fail("a missing start time is taken as now minus the duration", cfg, pol, {"attempts": 1}, 70_000, duration=60_000),
]
bvs = []
for name, st, now in (("the first attempt gets the attempt timeout", {}, 1_000),
                      ("a later attempt's timeout is clamped to the deadline", {"attempts": 6, "started_at_ms": 0}, 330_000),
                      ("past the deadline an attempt is refused", {"attempts": 6, "started_at_ms": 0}, 360_000),
                      ("a clock that went backwards does not refuse", {"attempts": 2, "started_at_ms": 500_000}, 10)):
    exp = begin(cfg, st, now)
    bvs.append({"name": name, "call": "begin_attempt", "policy": pol, "input": {"state": st, "shared": {}, "now_ms": now}, "expect": exp})
cfg_nt = Cfg(jitter="none", deadline=10_000)
pol_nt = policy('jitter = "none"\ndeadline = "10s"\n')
exp = begin(cfg_nt, {}, 0)
bvs.append({"name": "with only a deadline the timeout is what remains", "call": "begin_attempt", "policy": pol_nt,
            "input": {"state": {}, "shared": {}, "now_ms": 0}, "expect": exp})
cfg_none = Cfg()
bvs.append({"name": "with neither there is no timeout", "call": "begin_attempt", "policy": None,
            "input": {"state": {}, "shared": {}, "now_ms": 123}, "expect": begin(cfg_none, {}, 123)})
total += suite("planner-deadline.json", "Overall deadline and per-attempt timeout: never start past the deadline, clamp the timeout", vs + bvs)

# ---------------------------------------------------------------- pushback
cfg = Cfg(jitter="none", max_attempts=10, deadline=600_000, max_pushback=120_000)
pol = policy('max_attempts = 10\njitter = "none"\ndeadline = "10m"\nmax_pushback = "2m"\n')
vs = [
    fail("Retry-After replaces the backoff", cfg, pol, {"attempts": 1, "started_at_ms": 0}, 1_000, pushback=30_000),
    fail("a pushback of zero retries at once", cfg, pol, {"attempts": 1, "started_at_ms": 0}, 1_000, pushback=0),
    fail("a pushback above max_pushback is clamped", cfg, pol, {"attempts": 1, "started_at_ms": 0}, 1_000, pushback=3_600_000),
    fail("a pushback beyond the remaining deadline gives up now", cfg, pol, {"attempts": 1, "started_at_ms": 0}, 550_000, pushback=60_000),
    fail("a pushback far beyond the deadline gives up now", cfg, pol, {"attempts": 1, "started_at_ms": 0}, 590_000, pushback=2**53 - 1),
    fail("pushback does not override a permanent failure", cfg, pol, {"attempts": 1, "started_at_ms": 0}, 1_000, failure=PERM, cls="permanent", pushback=1_000),
    fail("pushback does not add attempts", cfg, pol, {"attempts": 10, "started_at_ms": 0}, 1_000, pushback=1_000),
]
cfg_nd = Cfg(jitter="none")
vs.append(fail("without a deadline any pushback up to the cap is honoured", cfg_nd, policy('jitter = "none"\n'), {"attempts": 1, "started_at_ms": 0}, 0, pushback=299_999))
total += suite("planner-pushback.json", "Server pushback (Retry-After, grpc-retry-pushback-ms) bounded by max_pushback and the deadline", vs)

# ---------------------------------------------------------------- breaker (hand-written expectations)
BR = '[retry.circuit_breaker]\nconsecutive_failures = 3\nopen_for = "30s"\nhalf_open_probes = 1\n'
polb = policy('jitter = "none"\nmax_attempts = 10\n' + BR)
def shared_b(**b):
    s = fresh_shared(); s["breaker"].update(b); return s
vs = [
    {"name": "a failure below the threshold counts and retries", "call": "after_failure", "policy": polb,
     "input": {"state": {"attempts": 1, "started_at_ms": 0}, "shared": shared_b(consecutive_failures=1, recent_outcomes="1", recent_count=1),
               "outcome": {"failure": T503, "duration_ms": 0}, "now_ms": 1_000},
     "expect": {"give_up": None, "delay_ms": 1000, "shared": shared_b(consecutive_failures=2, recent_outcomes="3", recent_count=2)}},
    {"name": "the third consecutive failure opens the circuit and gives up", "call": "after_failure", "policy": polb,
     "input": {"state": {"attempts": 3, "started_at_ms": 0}, "shared": shared_b(consecutive_failures=2, recent_outcomes="3", recent_count=2),
               "outcome": {"failure": T503, "duration_ms": 0}, "now_ms": 7_000},
     "expect": {"give_up": "circuit-open", "delay_ms": 0, "shared": shared_b(circuit="open", opened_at_ms=7_000),
                "explanation": "attempt 3 failed (transient); give up: circuit-open"}},
    {"name": "a permanent failure counts as the dependency answering", "call": "after_failure", "policy": polb,
     "input": {"state": {"attempts": 1, "started_at_ms": 0}, "shared": shared_b(consecutive_failures=2, recent_outcomes="3", recent_count=2),
               "outcome": {"failure": PERM, "duration_ms": 0}, "now_ms": 7_000},
     "expect": {"give_up": "permanent", "shared": shared_b(consecutive_failures=0, recent_outcomes="6", recent_count=3)}},
    {"name": "an open circuit refuses the next attempt", "call": "begin_attempt", "policy": polb,
     "input": {"state": {}, "shared": shared_b(circuit="open", opened_at_ms=7_000), "now_ms": 20_000},
     "expect": {"refused": "circuit-open", "attempt": 1, "timeout_ms": None, "retry_after_ms": 17_000, "probe": False,
                "state": {"attempts": 0, "started_at_ms": None, "last_delay_ms": 0, "seed": "0"},
                "shared": shared_b(circuit="open", opened_at_ms=7_000)}},
    {"name": "after open_for the circuit half-opens for one probe", "call": "begin_attempt", "policy": polb,
     "input": {"state": {}, "shared": shared_b(circuit="open", opened_at_ms=7_000), "now_ms": 37_000},
     "expect": {"refused": None, "attempt": 1, "probe": True, "retry_after_ms": 0,
                "state": {"attempts": 1, "started_at_ms": 37_000, "last_delay_ms": 0, "seed": "0"},
                "shared": shared_b(circuit="half-open", probes_started=1, opened_at_ms=37_000)}},
    {"name": "while the probe runs other attempts are refused", "call": "begin_attempt", "policy": polb,
     "input": {"state": {}, "shared": shared_b(circuit="half-open", probes_started=1, opened_at_ms=37_000), "now_ms": 38_000},
     "expect": {"refused": "circuit-open", "retry_after_ms": 29_000, "probe": False,
                "shared": shared_b(circuit="half-open", probes_started=1, opened_at_ms=37_000)}},
    {"name": "a probe with no verdict after open_for is replaced", "call": "begin_attempt", "policy": polb,
     "input": {"state": {}, "shared": shared_b(circuit="half-open", probes_started=1, opened_at_ms=37_000), "now_ms": 67_000},
     "expect": {"refused": None, "probe": True, "shared": shared_b(circuit="half-open", probes_started=1, opened_at_ms=67_000)}},
    {"name": "a probe failing permanently closes the circuit: the dependency answered", "call": "after_failure", "policy": polb,
     "input": {"state": {"attempts": 1, "started_at_ms": 37_000}, "shared": shared_b(circuit="half-open", probes_started=1, opened_at_ms=37_000),
               "outcome": {"failure": PERM, "duration_ms": 0}, "now_ms": 38_000},
     "expect": {"give_up": "permanent", "shared": fresh_shared()}},
    {"name": "a successful probe closes the circuit", "call": "after_success", "policy": polb,
     "input": {"shared": shared_b(circuit="half-open", probes_started=1)}, "expect": fresh_shared()},
    {"name": "a failed probe reopens it", "call": "after_failure", "policy": polb,
     "input": {"state": {"attempts": 1, "started_at_ms": 37_000}, "shared": shared_b(circuit="half-open", probes_started=1),
               "outcome": {"failure": T503, "duration_ms": 0}, "now_ms": 39_000},
     "expect": {"give_up": "circuit-open", "shared": shared_b(circuit="open", opened_at_ms=39_000)}},
    {"name": "a late success while half-open with the probe out does not close it", "call": "after_success",
     "policy": policy('jitter = "none"\n[retry.circuit_breaker]\nconsecutive_failures = 3\nhalf_open_probes = 3\n'),
     "input": {"shared": shared_b(circuit="half-open", probes_started=1, probes_succeeded=1, opened_at_ms=5)},
     "expect": shared_b(circuit="half-open", probes_started=1, probes_succeeded=1, opened_at_ms=5)},
    {"name": "a success while closed resets the consecutive count", "call": "after_success", "policy": polb,
     "input": {"shared": shared_b(consecutive_failures=2, recent_outcomes="3", recent_count=2)},
     "expect": shared_b(consecutive_failures=0, recent_outcomes="6", recent_count=3)},
    {"name": "a clock that went backwards keeps it open at most open_for", "call": "begin_attempt", "policy": polb,
     "input": {"state": {}, "shared": shared_b(circuit="open", opened_at_ms=1_000_000), "now_ms": 5},
     "expect": {"refused": "circuit-open", "retry_after_ms": 30_000, "shared": shared_b(circuit="open", opened_at_ms=1_000_000)}},
    {"name": "a window larger than 64 is a corrupted state", "call": "begin_attempt", "policy": polb,
     "input": {"state": {}, "shared": shared_b(recent_count=65), "now_ms": 0},
     "expect_error": {"code": "invalid-state", "path": "shared.breaker.recent_count", "line": None, "column": None}},
    {"name": "more probe successes than probes is a corrupted state", "call": "after_success", "policy": polb,
     "input": {"shared": shared_b(circuit="half-open", probes_started=1, probes_succeeded=2)},
     "expect_error": {"code": "invalid-state", "path": "shared.breaker.probes_succeeded", "line": None, "column": None}},
    {"name": "without a breaker configured the shared state passes through", "call": "after_failure", "policy": policy('jitter = "none"\n'),
     "input": {"state": {"attempts": 1, "started_at_ms": 0}, "shared": shared_b(circuit="open", opened_at_ms=5),
               "outcome": {"failure": T503, "duration_ms": 0}, "now_ms": 10},
     "expect": {"give_up": None, "delay_ms": 1000, "shared": shared_b(circuit="open", opened_at_ms=5)}},
]
polr = policy('jitter = "none"\nmax_attempts = 10\n[retry.circuit_breaker]\nconsecutive_failures = 100\nfailure_rate = 0.5\nwindow = 4\nminimum_calls = 4\n')
vs += [
    {"name": "failure rate below minimum_calls does not open", "call": "after_failure", "policy": polr,
     "input": {"state": {"attempts": 1, "started_at_ms": 0}, "shared": shared_b(consecutive_failures=0, recent_outcomes="2", recent_count=2),
               "outcome": {"failure": T503, "duration_ms": 0}, "now_ms": 10},
     "expect": {"give_up": None, "shared": shared_b(consecutive_failures=1, recent_outcomes="5", recent_count=3)}},
    {"name": "half the window failing opens it", "call": "after_failure", "policy": polr,
     "input": {"state": {"attempts": 1, "started_at_ms": 0}, "shared": shared_b(consecutive_failures=0, recent_outcomes="2", recent_count=3),
               "outcome": {"failure": T503, "duration_ms": 0}, "now_ms": 10},
     "expect": {"give_up": "circuit-open", "shared": shared_b(circuit="open", opened_at_ms=10)}},
]
total += suite("planner-breaker.json", "Circuit breaker: consecutive failures, failure rate, open, half-open probes, corrupted state", vs)

# ---------------------------------------------------------------- budget
polg = policy('jitter = "none"\nmax_attempts = 100\n[retry.budget]\nmax_tokens = 10\ntoken_ratio = 0.1\n')
def shared_g(spent):
    s = fresh_shared(); s["budget"]["spent_milli"] = spent; return s
def bfail(name, spent_in, spent_out, give_up):
    exp = {"give_up": give_up, "shared": shared_g(spent_out)}
    if give_up is None:
        exp["delay_ms"] = 1000
    return {"name": name, "call": "after_failure", "policy": polg,
            "input": {"state": {"attempts": 1, "started_at_ms": 0}, "shared": shared_g(spent_in),
                      "outcome": {"failure": T503, "duration_ms": 0}, "now_ms": 10}, "expect": exp}
vs = [
    bfail("a failure spends one token", 0, 1000, None),
    bfail("retries continue while more than half the tokens remain", 3000, 4000, None),
    bfail("at half the budget retries stop", 4000, 5000, "budget-exhausted"),
    bfail("an empty budget stays empty", 10000, 10000, "budget-exhausted"),
    bfail("a corrupted spend beyond the maximum reads as empty", 4294967295, 10000, "budget-exhausted"),
    {"name": "a success refills token_ratio tokens", "call": "after_success", "policy": polg,
     "input": {"shared": shared_g(5000)}, "expect": shared_g(4900)},
    {"name": "a success never overfills", "call": "after_success", "policy": polg,
     "input": {"shared": shared_g(50)}, "expect": shared_g(0)},
    {"name": "permanent failures do not spend the budget", "call": "after_failure", "policy": polg,
     "input": {"state": {"attempts": 1, "started_at_ms": 0}, "shared": shared_g(2000),
               "outcome": {"failure": PERM, "duration_ms": 0}, "now_ms": 10},
     "expect": {"give_up": "permanent", "shared": shared_g(2000)}},
    {"name": "unknown failures spend the budget", "call": "after_failure", "policy": polg,
     "input": {"state": {"attempts": 1, "started_at_ms": 0}, "shared": shared_g(2000),
               "outcome": {"failure": UNKNOWN, "duration_ms": 0}, "now_ms": 10},
     "expect": {"give_up": None, "shared": shared_g(3000)}},
]
total += suite("planner-budget.json", "Retry budget (gRPC retry throttling): tokens, the half-full threshold, refills", vs)

# ---------------------------------------------------------------- schedules and seeds
storage = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "storage-read.toml")).read()
cfg_storage = Cfg(max_attempts=5, base=1000, mult=2, max_delay=20_000, jitter="additive", fraction=0.25,
                  attempt_timeout=60_000, deadline=360_000)
vs = []
for key in ("", "a", "nightly-2024-01-01/train", "run-7/extract-features"):
    vs.append({"name": f"derive_seed({key!r})", "call": "derive_seed", "policy": None,
               "input": {"key": key}, "expect": {"seed": str(fnv1a(key))}})
for key in ("nightly-2024-01-01/extract", "nightly-2024-01-02/extract"):
    seed = fnv1a(key)
    vs.append({"name": f"the seed's storage-read schedule for {key}", "call": "plan_schedule",
               "policy": {"format": "toml", "source": storage},
               "input": {"seed": str(seed), "max_entries": 100}, "expect": schedule(cfg_storage, seed, 100)})
cfg_dl = Cfg(max_attempts=50, jitter="none", attempt_timeout=60_000, deadline=200_000)
vs.append({"name": "a deadline ends the schedule early", "call": "plan_schedule",
           "policy": policy('max_attempts = 50\njitter = "none"\nattempt_timeout = "60s"\ndeadline = "200s"\n'),
           "input": {"seed": "0", "max_entries": 100}, "expect": schedule(cfg_dl, 0, 100)})
cfg_many = Cfg(max_attempts=1_000_000, jitter="full", max_delay=5_000)
vs.append({"name": "a long schedule is cut at max_entries", "call": "plan_schedule",
           "policy": policy('max_attempts = 1000000\njitter = "full"\nmax_delay = "5s"\n'),
           "input": {"seed": "99", "max_entries": 12}, "expect": schedule(cfg_many, 99, 12)})
vs.append({"name": "the default policy's schedule", "call": "plan_schedule", "policy": None,
           "input": {"seed": "1", "max_entries": 100}, "expect": schedule(Cfg(), 1, 100)})
vs.append({"name": "max_entries 0 still lists the first attempt", "call": "plan_schedule", "policy": None,
           "input": {"seed": "1", "max_entries": 0}, "expect": {"attempts": [{"attempt": 1, "delay_ms": 0, "timeout_ms": None, "start_ms": 0}], "ends_with": None}})
total += suite("planner-schedule.json", "Dry-run schedules and seeds derived from idempotency keys", vs)

# ---------------------------------------------------------------- repeated failures (plan_failures)
def repeats(cfg, cls, state, now, failure=T503, pushback=None, max_entries=64, duration=0):
    """plan_failures by chaining the model's after_failure and begin: every
    entry's answer would be the same at any later time (no deadline, no breaker)."""
    entries = []
    d = after_failure(cfg, cls, state, now, duration, pushback)
    while True:
        permit = None
        if d["give_up"] is None and cfg.deadline is None:
            permit = begin(cfg, d["state"], 10**9)
        entries.append({"decision": d, "next_permit": permit})
        if permit is None or len(entries) >= max(1, min(max_entries, 64)):
            break
        d = after_failure(cfg, cls, permit["state"], 3 * 10**9, 5, pushback)
    return {"entries": entries}

def rep(name, cfg, pol, state, now, max_entries=64, failure=T503, cls="transient", pushback=None, shared=None):
    outcome = {"failure": failure, "duration_ms": 250}
    if pushback is not None:
        outcome["pushback_ms"] = pushback
    return {"name": name, "call": "plan_failures", "policy": pol,
            "input": {"state": state, "shared": shared or {}, "outcome": outcome, "now_ms": now,
                      "max_entries": max_entries},
            "expect": repeats(cfg, cls, state, now, failure, pushback, max_entries, 250)}

started = {"attempts": 1, "started_at_ms": 4_000, "seed": "8071289"}
vs = [
    rep("defaults: each repeat of a 503 until the attempts run out", Cfg(), None, started, 5_000),
    rep("a fresh state: the first failure counts as attempt 1", Cfg(), None, {"seed": "77"}, 5_000),
    rep("max_entries cuts the answer; its last entry keeps its permit", Cfg(max_attempts=10),
        policy("max_attempts = 10\n"), started, 5_000, max_entries=2),
    rep("max_entries 0 still answers after-failure", Cfg(), None, started, 5_000, max_entries=0),
    rep("more than 64 entries are never planned", Cfg(max_attempts=100, jitter="none", max_delay=2_000),
        policy('max_attempts = 100\njitter = "none"\nmax_delay = "2s"\n'), started, 5_000, max_entries=1000),
    rep("unknown failures stop at their own limit", Cfg(), None, started, 5_000, failure=UNKNOWN, cls="unknown"),
    rep("a permanent failure has one answer", Cfg(), None, started, 5_000, failure=PERM, cls="permanent"),
    rep("the same pushback on every repeat", Cfg(), None, started, 5_000, pushback=2_500),
    rep("pushback above max_pushback is capped on every repeat", Cfg(max_pushback=60_000),
        policy('max_pushback = "1m"\n'), started, 5_000, pushback=600_000),
    rep("an attempt timeout rides on every permit", Cfg(attempt_timeout=20_000, jitter="decorrelated"),
        policy('attempt_timeout = "20s"\njitter = "decorrelated"\n'), started, 5_000),
    rep("a deadline makes every later answer depend on the clock: one entry, no permit",
        Cfg(deadline=600_000), policy('deadline = "10m"\n'), started, 5_000),
    rep("past the deadline: give up at once", Cfg(deadline=1_000, jitter="none"),
        policy('deadline = "1s"\njitter = "none"\n'), started, 5_000),
]
# The breaker (hand-written): consecutive_failures = 3 opens on the third
# failure, which stamps its own time, so the answer stops before it.
vs.append({"name": "the failure that would open the circuit is not planned", "call": "plan_failures", "policy": polb,
           "input": {"state": {"attempts": 1, "started_at_ms": 0}, "shared": {}, "outcome": {"failure": T503, "duration_ms": 0},
                     "now_ms": 1_000, "max_entries": 64},
           "expect": {"entries": [
               {"decision": {"give_up": None, "delay_ms": 1000, "attempt": 1,
                             "shared": shared_b(consecutive_failures=1, recent_outcomes="1", recent_count=1)},
                "next_permit": {"refused": None, "attempt": 2, "probe": False,
                                "state": {"attempts": 2, "started_at_ms": 0, "last_delay_ms": 1000, "seed": "0"},
                                "shared": shared_b(consecutive_failures=1, recent_outcomes="1", recent_count=1)}},
               {"decision": {"give_up": None, "delay_ms": 2000, "attempt": 2,
                             "shared": shared_b(consecutive_failures=2, recent_outcomes="3", recent_count=2)},
                "next_permit": {"refused": None, "attempt": 3, "probe": False,
                                "state": {"attempts": 3, "started_at_ms": 0, "last_delay_ms": 2000, "seed": "0"},
                                "shared": shared_b(consecutive_failures=2, recent_outcomes="3", recent_count=2)}}]}})
vs.append({"name": "a half-open circuit: the probe's failure reopens it, no permit", "call": "plan_failures", "policy": polb,
           "input": {"state": {"attempts": 1, "started_at_ms": 37_000}, "shared": shared_b(circuit="half-open", probes_started=1, opened_at_ms=37_000),
                     "outcome": {"failure": T503, "duration_ms": 0}, "now_ms": 39_000, "max_entries": 64},
           "expect": {"entries": [
               {"decision": {"give_up": "circuit-open", "shared": shared_b(circuit="open", opened_at_ms=39_000)},
                "next_permit": None}]}})
vs.append({"name": "an impossible state is refused as after-failure refuses it", "call": "plan_failures", "policy": None,
           "input": {"state": {"attempts": 4294967295, "started_at_ms": 0}, "shared": {}, "outcome": {"failure": T503, "duration_ms": 0},
                     "now_ms": 0, "max_entries": 64},
           "expect_error": {"code": "invalid-state", "path": "state.attempts", "line": None, "column": None}})
total += suite("planner-repeats.json", "plan_failures: what a failure decides when it repeats, while no answer can depend on the clock", vs)

# ---------------------------------------------------------------- policy errors in [retry]
def lerr(name, source, errors):
    return {"name": name, "policy": {"format": "toml", "source": source},
            "expect_errors": [dict(zip(("code", "path", "line", "column", "message"), e)) for e in errors]}
vs = [
    lerr("unknown retry field", "[retry]\nmax_atempts = 3\n", [("unknown-field", "retry.max_atempts", 2, 1, "unknown field `max_atempts`; did you mean `max_attempts`?")]),
    lerr("a duration given as a number", "[retry]\nbase_delay = 1000\n",
         [("wrong-type", "retry.base_delay", 2, 14, "expected a duration, found an integer; durations are strings with a unit, such as \"30s\" or \"250ms\"")]),
    lerr("a duration without a unit", '[retry]\ndeadline = "6"\n', [("invalid-value", "retry.deadline", 2, 12)]),
    lerr("a duration beyond 30 days", '[retry]\ndeadline = "31d"\n', [("out-of-range", "retry.deadline", 2, 12, "31d is out of range; expected 1ms to 30d")]),
    lerr("a zero attempt timeout", '[retry]\nattempt_timeout = "0s"\n', [("out-of-range", "retry.attempt_timeout", 2, 19)]),
    lerr("max_delay below base_delay", '[retry]\nbase_delay = "2s"\nmax_delay = "1s"\n', [("out-of-range", "retry.max_delay", 3, 13, "max_delay (1s) is below base_delay (2s)")]),
    lerr("zero attempts", "[retry]\nmax_attempts = 0\n", [("out-of-range", "retry.max_attempts", 2, 16, "0 is out of range; expected 1 to 4294967295")]),
    lerr("attempts beyond u32", "[retry]\nmax_attempts = 4294967296\n", [("out-of-range", "retry.max_attempts", 2, 16)]),
    lerr("unknown limit above the total", "[retry]\nmax_attempts = 3\nunknown_max_attempts = 4\n",
         [("out-of-range", "retry.unknown_max_attempts", 3, 24, "unknown_max_attempts (4) exceeds max_attempts (3)")]),
    lerr("a multiplier below 1", "[retry]\nmultiplier = 0.5\n", [("out-of-range", "retry.multiplier", 2, 14)]),
    lerr("an unknown jitter mode", '[retry]\njitter = "random"\n',
         [("invalid-value", "retry.jitter", 2, 10, "`random` is not a jitter mode; expected none, full, equal, decorrelated or additive")]),
    lerr("a jitter fraction above 1", "[retry]\njitter_fraction = 1.5\n", [("out-of-range", "retry.jitter_fraction", 2, 19)]),
    lerr("breaker minimum_calls above its window", "[retry.circuit_breaker]\nwindow = 10\nminimum_calls = 20\n",
         [("out-of-range", "retry.circuit_breaker.minimum_calls", 3, 17)]),
    lerr("breaker window above 64", "[retry.circuit_breaker]\nwindow = 100\n", [("out-of-range", "retry.circuit_breaker.window", 2, 10)]),
    lerr("every breaker problem is reported", "[retry.circuit_breaker]\nconsecutive_failures = 0\nwindow = 100\nopen_for = 5\n",
         [("out-of-range", "retry.circuit_breaker.consecutive_failures", 2, 24), ("out-of-range", "retry.circuit_breaker.window", 3, 10),
          ("wrong-type", "retry.circuit_breaker.open_for", 4, 12)]),
    lerr("unknown breaker field", "[retry.circuit_breaker]\nthreshold = 5\n", [("unknown-field", "retry.circuit_breaker.threshold", 2, 1)]),
    lerr("a zero-token budget", "[retry.budget]\nmax_tokens = 0\n", [("out-of-range", "retry.budget.max_tokens", 2, 14)]),
    lerr("retry must be a table", 'retry = "yes"\n', [("wrong-type", "retry", 1, 9, "expected a table, found a string")]),
    lerr("every retry problem at once", '[retry]\nmax_attempts = 0\njitter = "x"\ndeadline = 5\n',
         [("out-of-range", "retry.max_attempts", 2, 16), ("invalid-value", "retry.jitter", 3, 10), ("wrong-type", "retry.deadline", 4, 12)]),
    {"name": "JSON retry settings load", "policy": {"format": "json", "source": '{"retry": {"max_attempts": 2, "base_delay": "250ms", "jitter": "none"}}'},
     "call": "after_failure", "input": {"state": {"attempts": 1, "started_at_ms": 0}, "shared": {}, "outcome": {"failure": T503, "duration_ms": 0}, "now_ms": 0},
     "expect": after_failure(Cfg(max_attempts=2, base=250, jitter="none"), "transient", {"attempts": 1, "started_at_ms": 0}, 0)},
]
total += suite("planner-policy-errors.json", "Invalid [retry] sections, with the field path and location", vs)
print("planner vectors:", total)
