"""Writes the escalation-evaluator conformance suites (tests/vectors/alerts-*.json).

Each vector is one event sequence: the runner starts from the empty state,
evaluates each step's event at its `now_ms`, compares the result with the
step's expectation, and passes the returned state to the next step.
Expectations are written by hand from the seed guide's Example 3 and
Alertmanager's notification rules.
Run: python3 tests/gen/alert_vectors.py
"""
import json
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vectors")
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000

SEED = {"format": "json", "source": """{
"rules": [
{"condition": "run.failure_count==1", "severity": "info", "notify": ["mlops-room"], "dedup_window": "30m"},
{"condition": "run.consecutive_failures >= 3 or sla.late_minutes >= 60", "severity": "high", "notify": ["oncall"], "escalate_after": "15m"}
],
"payload": ["pipeline", "step", "run_id", "error_type", "last_log_lines"]
}"""}

FAIL = {"http_status": 503, "error_types": ["TransientError"], "message": "503 Service Unavailable"}

def ev(kind, run="", failure=None, pipeline="nightly", step="train", **kw):
    e = {"kind": kind, "pipeline": pipeline, "step": step, "run_id": run}
    if failure is not None:
        e["failure"] = failure
    e.update(kw)
    return e

def tick():
    return {"kind": "tick"}

def ack(key):
    return {"kind": "alert-acknowledged", "dedup_key": key}

def n(kind, severity, targets, rule, key, **extra):
    d = {"kind": kind, "severity": severity, "targets": targets, "rule": rule, "dedup_key": key}
    d.update(extra)
    return d

def s(rule, key, severity, reason):
    return {"rule": rule, "dedup_key": key, "severity": severity, "reason": reason}

def step(event, now, notifications=(), suppressed=(), wakeup=None, **extra):
    d = {"event": event, "now_ms": now}
    if "expect_error" not in extra:
        d["expect"] = {"notifications": list(notifications), "suppressed": list(suppressed), "next_wakeup_ms": wakeup}
    d.update(extra)
    return d

def seq(name, policy, steps):
    return {"name": name, "policy": policy, "alert_steps": steps}

def suite(name, description, vectors):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump({"description": description, "policy": None, "vectors": vectors}, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return sum(len(v.get("alert_steps", [None])) for v in vectors)

def k1(run, err="TransientError"):
    return f"backstop/rule-1/nightly/train/{run}/{err}"

def k2(run, err="TransientError"):
    return f"backstop/rule-2/nightly/train/{run}/{err}"

total = 0
N4 = T0 + 3 * DAY + 10 * MIN
seed_steps = [
    step(ev("attempt-failed", "r1", FAIL, attempt=1), T0,
         [n("trigger", "info", ["mlops-room"], "rule-1", k1("r1"),
            summary="[info] nightly/train run r1 failed: TransientError (rule-1; 1 failed attempt(s), 0 failed run(s) in a row)")]),
    step(ev("run-succeeded", "r1", attempt=2), T0 + 2 * MIN,
         [n("resolve", "info", ["mlops-room"], "rule-1", k1("r1"), summary="[resolved] nightly/train run r1 recovered (rule-1)")]),
    step(ev("attempt-failed", "r2", FAIL, attempt=1), T0 + DAY, [n("trigger", "info", ["mlops-room"], "rule-1", k1("r2"))]),
    step(ev("run-failed", "r2", FAIL, attempt=1), T0 + DAY + 10 * MIN, [], [s("rule-1", k1("r2"), "info", "duplicate")]),
    step(ev("attempt-failed", "r3", FAIL, attempt=1), T0 + 2 * DAY, [n("trigger", "info", ["mlops-room"], "rule-1", k1("r3"))]),
    step(ev("run-failed", "r3", FAIL, attempt=1), T0 + 2 * DAY + 10 * MIN, [], [s("rule-1", k1("r3"), "info", "duplicate")]),
    step(ev("attempt-failed", "r4", FAIL, attempt=1), T0 + 3 * DAY, [n("trigger", "info", ["mlops-room"], "rule-1", k1("r4"))]),
    step(ev("run-failed", "r4", FAIL, attempt=1), N4,
         [n("trigger", "high", ["oncall"], "rule-2", k2("r4"),
            payload={"pipeline": "nightly", "step": "train", "run_id": "r4", "error_type": "TransientError", "last_log_lines": [],
                     "runbook": {"what_failed": "nightly/train", "when": "2024-01-04T00:10:00Z", "correlation_id": "r4",
                                 "retry_safe": "yes: the failure is transient and runs are idempotent by run id",
                                 "how_to_retry": "backstop run --run-id r4 --step train -- <the step's command>",
                                 "escalation_path": [{"after": "0s", "notify": ["oncall"]}, {"after": "15m", "notify": ["oncall"]}]}})],
         [s("rule-1", k1("r4"), "info", "duplicate")], N4 + 15 * MIN),
    step(tick(), N4 + 10 * MIN, [], [], N4 + 15 * MIN),
    step(tick(), N4 + 16 * MIN, [n("escalate", "high", ["oncall"], "rule-2", k2("r4"))], [], None),
    step(ack(k2("r4")), N4 + 20 * MIN, [], [], None),
    step(ev("run-succeeded", "r5", attempt=1), T0 + 4 * DAY,
         [n("resolve", "info", ["mlops-room"], "rule-1", k1("r2")), n("resolve", "info", ["mlops-room"], "rule-1", k1("r3")),
          n("resolve", "info", ["mlops-room"], "rule-1", k1("r4")), n("resolve", "high", ["oncall"], "rule-2", k2("r4"))]),
]
late = [
    step(ev("run-late", "r9", late_minutes=45), T0, []),
    step(ev("run-late", "r9", late_minutes=75), T0 + 30 * MIN,
         [n("trigger", "high", ["oncall"], "rule-2", "backstop/rule-2/nightly/train/r9/")], [], T0 + 45 * MIN),
    step(ev("run-succeeded", "r9"), T0 + 40 * MIN, [n("resolve", "high", ["oncall"], "rule-2", "backstop/rule-2/nightly/train/r9/")]),
]
one_blip = [
    step(ev("attempt-failed", "r1", FAIL, attempt=1), T0, [n("trigger", "info", ["mlops-room"], "rule-1", k1("r1"))]),
    step(ev("attempt-failed", "r1", FAIL, attempt=2), T0 + MIN, []),
    step(ev("run-succeeded", "r1", attempt=3), T0 + 3 * MIN, [n("resolve", "info", ["mlops-room"], "rule-1", k1("r1"))]),
]
two_runs = [
    step(ev("run-failed", "a", FAIL), T0, [n("trigger", "info", ["mlops-room"], "rule-1", k1("a"))]),
    step(ev("run-failed", "b", FAIL), T0 + 5 * MIN, [n("trigger", "info", ["mlops-room"], "rule-1", k1("b"))]),
    step(ev("run-failed", "c", {"error_types": ["OSError"]}), T0 + 6 * MIN,
         [n("trigger", "info", ["mlops-room"], "rule-1", k1("c", "OSError")),
          n("trigger", "high", ["oncall"], "rule-2", k2("c", "OSError"))], [], T0 + 21 * MIN),
    step(ev("run-late", "c", late_minutes=90), T0 + 7 * MIN, [],
         [s("rule-1", k1("c", "OSError"), "info", "duplicate"), s("rule-2", k2("c", "OSError"), "high", "duplicate")], T0 + 21 * MIN),
    step(ev("run-succeeded", "d"), T0 + 8 * MIN,
         [n("resolve", "info", ["mlops-room"], "rule-1", k1("a")), n("resolve", "info", ["mlops-room"], "rule-1", k1("b")),
          n("resolve", "info", ["mlops-room"], "rule-1", k1("c", "OSError")), n("resolve", "high", ["oncall"], "rule-2", k2("c", "OSError"))]),
]
fresh_run = [
    step(ev("run-failed", "r1", FAIL), T0, [n("trigger", "info", ["mlops-room"], "rule-1", k1("r1"))]),
    step(ev("run-late", "r2", late_minutes=75), T0 + DAY,
         [n("trigger", "high", ["oncall"], "rule-2", "backstop/rule-2/nightly/train/r2/",
            summary="[high] nightly/train run r2 is late (rule-2; 0 failed attempt(s), 1 failed run(s) in a row, 75 min late)")],
         [], T0 + DAY + 15 * MIN),
]
total += suite("alerts-seed-example3.json", "The seed guide's Example 3 policy, exactly as written there, step by step", [
    seq("a transient blip informs, three failed nights page, escalation, ack and resolve", SEED, seed_steps),
    seq("data an hour late pages on-call", SEED, late),
    seq("one transient failure never pages; the next success resolves the info", SEED, one_blip),
    seq("a run-failed event alone counts one failed attempt; each run and root cause is its own alert", SEED, two_runs),
    seq("a new run does not inherit the last run's error", SEED, fresh_run),
])

# ---------------------------------------------------------------- Alertmanager dedup and repeat
REP = {"format": "toml", "source": """[[alerts.rules]]
id = "failing"
condition = "run.consecutive_failures >= 1"
severity = "warning"
notify = ["team"]
dedup_window = "10m"
repeat_interval = "1h"
repeat_limit = 2
group_by = ["pipeline", "step"]
"""}
KR = "backstop/failing/nightly/train"
rep_steps = [
    step(ev("run-failed", "r1", FAIL), T0, [n("trigger", "warning", ["team"], "failing", KR)], [], T0 + HOUR),
    step(ev("run-failed", "r2", FAIL), T0 + 5 * MIN, [], [s("failing", KR, "warning", "duplicate")], T0 + HOUR),
    step(ev("run-failed", "r3", FAIL), T0 + 20 * MIN, [n("repeat", "warning", ["team"], "failing", KR)], [], T0 + 80 * MIN),
    step(tick(), T0 + 79 * MIN, [], [], T0 + 80 * MIN),
    step(tick(), T0 + 81 * MIN, [n("repeat", "warning", ["team"], "failing", KR)], [], None),
    step(tick(), T0 + 5 * HOUR, [], [], None),
    step(ev("run-failed", "r4", FAIL), T0 + 5 * HOUR, [], [s("failing", KR, "warning", "repeat-limit")], None),
    step(ev("run-succeeded", "r5"), T0 + 6 * HOUR, [n("resolve", "warning", ["team"], "failing", KR)]),
    step(ev("run-failed", "r6", FAIL), T0 + 6 * HOUR + MIN, [n("trigger", "warning", ["team"], "failing", KR)], [], T0 + 7 * HOUR + MIN),
]
ZERO = {"format": "toml", "source": REP["source"].replace('dedup_window = "10m"', 'dedup_window = "0s"').replace('repeat_limit = 2', 'repeat_limit = 1')}
zero_steps = [
    step(ev("run-failed", "r1", FAIL), T0, [n("trigger", "warning", ["team"], "failing", KR)], [], T0 + HOUR),
    step(ev("run-failed", "r2", FAIL), T0 + 1, [n("repeat", "warning", ["team"], "failing", KR)], [], None),
    step(ev("run-failed", "r3", FAIL), T0 + 2, [], [s("failing", KR, "warning", "repeat-limit")], None),
]
other_step = [
    step(ev("run-failed", "r1", FAIL), T0, [n("trigger", "warning", ["team"], "failing", KR)], [], T0 + HOUR),
    step(ev("run-failed", "e1", FAIL, step="extract"), T0 + MIN,
         [n("trigger", "warning", ["team"], "failing", "backstop/failing/nightly/extract")], [], T0 + HOUR),
    step(ev("run-succeeded", "e2", step="extract"), T0 + 2 * MIN,
         [n("resolve", "warning", ["team"], "failing", "backstop/failing/nightly/extract")], [], T0 + HOUR),
    step(tick(), T0 + HOUR, [n("repeat", "warning", ["team"], "failing", KR)], [], T0 + 2 * HOUR),
]
total += suite("alerts-dedup-repeat.json", "Alertmanager's rules: dedup window, repeat interval and limit, a resolve for anything notified", [
    seq("duplicates, repeats by timer and by event, the repeat limit, resolve, re-trigger", REP, rep_steps),
    seq("a zero dedup window repeats at once, up to the limit", ZERO, zero_steps),
    seq("steps are tracked and resolved independently", REP, other_step),
])

# ---------------------------------------------------------------- escalation chains and acks
ESC = {"format": "toml", "source": """[[alerts.rules]]
id = "page"
condition = "run.status == 'failed'"
severity = "high"
notify = ["oncall-primary"]
group_by = ["pipeline", "step"]
escalation = [
  { after = "15m", notify = ["oncall-secondary"] },
  { after = "45m", notify = ["eng-manager"] },
]
"""}
KE = "backstop/page/nightly/train"
esc_steps = [
    step(ev("run-failed", "r1", FAIL), T0, [n("trigger", "high", ["oncall-primary"], "page", KE)], [], T0 + 15 * MIN),
    step(tick(), T0 + 16 * MIN, [n("escalate", "high", ["oncall-secondary"], "page", KE)], [], T0 + 45 * MIN),
    step(ack(KE), T0 + 20 * MIN, [], [], None),
    step(tick(), T0 + 50 * MIN, [], [], None),
    step(ev("run-failed", "r2", FAIL), T0 + DAY, [], [s("page", KE, "high", "acknowledged")], None),
    step(ev("run-succeeded", "r3"), T0 + 2 * DAY, [n("resolve", "high", ["oncall-primary", "oncall-secondary"], "page", KE)]),
]
downtime = [
    step(ev("run-failed", "r1", FAIL), T0, [n("trigger", "high", ["oncall-primary"], "page", KE)], [], T0 + 15 * MIN),
    step(tick(), T0 + 2 * HOUR, [n("escalate", "high", ["oncall-secondary", "eng-manager"], "page", KE)], [], None),
    step(tick(), T0 + 3 * HOUR, [], [], None),
    step(ev("run-succeeded", "r2"), T0 + 4 * HOUR,
         [n("resolve", "high", ["oncall-primary", "oncall-secondary", "eng-manager"], "page", KE)]),
]
ack_unknown = [
    step(ack("backstop/page/nope"), T0, [], [], None),
    step(tick(), T0, [], [], None),
]
total += suite("alerts-escalation.json", "Escalate-if-unacknowledged chains, acknowledgement, timers due during downtime", [
    seq("escalate, acknowledge, suppress, resolve to everyone told", ESC, esc_steps),
    seq("levels due during downtime are sent once, together", ESC, downtime),
    seq("acknowledging an unknown alert and ticking an empty state do nothing", ESC, ack_unknown),
])

# ---------------------------------------------------------------- inhibition, conditions, labels, redaction
INH = {"format": "toml", "source": """[alerts]
payload = ["error_message", "last_log_lines", "labels"]

[[alerts.rules]]
id = "late"
condition = "sla.late_minutes >= 30"
severity = "critical"
notify = ["pager"]
group_by = ["pipeline", "step"]

[[alerts.rules]]
id = "failed-attempt"
condition = "run.failure_count >= 1"
severity = "warning"
notify = ["chat"]
group_by = ["pipeline", "step"]
"""}
inh = [
    step(ev("run-late", "r1", late_minutes=45), T0, [n("trigger", "critical", ["pager"], "late", "backstop/late/nightly/train")]),
    step(ev("attempt-failed", "r1", FAIL), T0 + MIN, [],
         [s("late", "backstop/late/nightly/train", "critical", "duplicate"),
          s("failed-attempt", "backstop/failed-attempt/nightly/train", "warning", "inhibited")]),
    step(ev("run-succeeded", "r1"), T0 + 2 * MIN, [n("resolve", "critical", ["pager"], "late", "backstop/late/nightly/train")]),
]
SECRET = {"http_status": 500, "error_types": ["RuntimeError"], "message": "connect failed: password=hunter2"}
red = [
    step(ev("attempt-failed", "r1", SECRET,
            log_lines=["loading s3://bucket/part-0", "export AWS_SECRET_ACCESS_KEY=abc123xyz", "GET https://bob:pw123@db.internal/x",
                       "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig"],
            labels={"team": "ranking"}), T0,
         [n("trigger", "warning", ["chat"], "failed-attempt", "backstop/failed-attempt/nightly/train",
            payload={"error_message": "connect failed: password=[REDACTED]",
                     "last_log_lines": ["loading s3://bucket/part-0", "export AWS_SECRET_ACCESS_KEY=[REDACTED]",
                                        "GET https://bob:[REDACTED]@db.internal/x", "Authorization: Bearer [REDACTED]"],
                     "labels": {"team": "ranking"},
                     "runbook": {"error_snippet": "connect failed: password=[REDACTED]",
                                 "retry_safe": "yes: the failure is transient and runs are idempotent by run id"}})]),
]
COND = {"format": "toml", "source": """[[classify.rules]]
id = "schema"
class = "permanent"
message = "schema mismatch"

[[alerts.rules]]
id = "permanent-now"
condition = "error.class == 'permanent' && event.kind == 'attempt-failed'"
severity = "critical"
notify = ["oncall"]
group_by = ["pipeline", "step", "error_class"]

[[alerts.rules]]
id = "ranking-team"
condition = "has(labels.team) && labels.team == 'ranking' && run.status == 'failed'"
severity = "info"
notify = ["ranking-chat"]
group_by = ["pipeline", "step"]
auto_resolve = false
"""}
cond = [
    step(ev("attempt-failed", "r1", FAIL), T0, []),
    step(ev("attempt-failed", "r1", {"message": "schema mismatch in column user_id"}), T0 + MIN,
         [n("trigger", "critical", ["oncall"], "permanent-now", "backstop/permanent-now/nightly/train/permanent",
            payload={"runbook": {"retry_safe": "no: the failure is permanent; fix the cause before retrying"}})]),
    step(ev("run-failed", "r1", {"message": "schema mismatch in column user_id"}), T0 + 2 * MIN, []),
    # The critical alert from r1 is still firing, so the info is inhibited.
    step(ev("run-failed", "r2", FAIL, labels={"team": "ranking"}), T0 + DAY, [],
         [s("ranking-team", "backstop/ranking-team/nightly/train", "info", "inhibited")]),
    step(ev("run-succeeded", "r3"), T0 + 2 * DAY,
         [n("resolve", "critical", ["oncall"], "permanent-now", "backstop/permanent-now/nightly/train/permanent")]),
    # Labels stay with the step; nothing higher is firing now.
    step(ev("run-failed", "r4", FAIL), T0 + 3 * DAY, [n("trigger", "info", ["ranking-chat"], "ranking-team", "backstop/ranking-team/nightly/train")]),
    # auto_resolve = false: a success does not resolve it...
    step(ev("run-succeeded", "r5"), T0 + 4 * DAY, []),
    # ...so the next failure, past the dedup window, repeats it.
    step(ev("run-failed", "r6", FAIL), T0 + 5 * DAY, [n("repeat", "info", ["ranking-chat"], "ranking-team", "backstop/ranking-team/nightly/train")]),
]
total += suite("alerts-conditions.json", "Inhibition, CEL conditions over error class, event kind and labels, secret redaction, auto_resolve = false", [
    seq("a firing critical inhibits a new warning for the same step", INH, inh),
    seq("secrets in messages and log lines never leave the evaluator", INH, red),
    seq("conditions over the classification, the event and labels", COND, cond),
])

# ---------------------------------------------------------------- a matrix of timelines
# Each (severity, dedup window, repeat limit) gets the same five-event timeline;
# the expectations follow from the documented rules alone:
#   t0 trigger -> t0+D/2 duplicate -> t0+D+1s repeat (or repeat-limit when the
#   limit is 0) -> tick at t0+E escalates to the next level -> success resolves
#   to everyone told. Repeats happen every R = 4h, well after E.
R_MS = 4 * HOUR
matrix = []
for severity in ("info", "warning", "high", "critical"):
    for dedup_min in (5, 30):
        for limit in (0, 1, 3):
            D = dedup_min * MIN
            E = D + 10 * MIN
            pol = {"format": "toml", "source": f"""[[alerts.rules]]
id = "m"
condition = "run.consecutive_failures >= 1"
severity = "{severity}"
notify = ["team"]
dedup_window = "{dedup_min}m"
repeat_interval = "4h"
repeat_limit = {limit}
group_by = ["pipeline", "step"]
escalation = [{{ after = "{dedup_min + 10}m", notify = ["boss"] }}]
"""}
            K = "backstop/m/nightly/train"
            t3 = T0 + D + 1000
            third = ([n("repeat", severity, ["team"], "m", K)], []) if limit > 0 else ([], [s("m", K, severity, "repeat-limit")])
            after_escalate = T0 + E + R_MS if limit > 1 else None
            steps = [
                step(ev("run-failed", "r1", FAIL), T0, [n("trigger", severity, ["team"], "m", K)], [], T0 + E),
                step(ev("run-failed", "r2", FAIL), T0 + D // 2, [], [s("m", K, severity, "duplicate")], T0 + E),
                step(ev("run-failed", "r3", FAIL), t3, third[0], third[1], T0 + E),
                step(tick(), T0 + E, [n("escalate", severity, ["boss"], "m", K)], [], after_escalate),
                step(ev("run-succeeded", "r4"), T0 + E + MIN, [n("resolve", severity, ["team", "boss"], "m", K)]),
            ]
            matrix.append(seq(f"{severity}, dedup {dedup_min}m, repeat limit {limit}", pol, steps))
total += suite("alerts-matrix.json", "The same timeline across severities, dedup windows and repeat limits", matrix)

# ---------------------------------------------------------------- inhibition across severities
SEV = ["info", "warning", "high", "critical"]
inhibition = []
for a_sev in SEV:
    for b_sev in SEV:
        pol = {"format": "toml", "source": f"""[[alerts.rules]]
id = "late"
condition = "sla.late_minutes >= 30"
severity = "{a_sev}"
notify = ["a"]
group_by = ["pipeline", "step"]

[[alerts.rules]]
id = "failing"
condition = "run.failure_count >= 1"
severity = "{b_sev}"
notify = ["b"]
group_by = ["pipeline", "step"]
"""}
        KA, KB = "backstop/late/nightly/train", "backstop/failing/nightly/train"
        inhibited = SEV.index(a_sev) > SEV.index(b_sev)
        second = ([], [s("late", KA, a_sev, "duplicate"), s("failing", KB, b_sev, "inhibited")]) if inhibited else \
                 ([n("trigger", b_sev, ["b"], "failing", KB)], [s("late", KA, a_sev, "duplicate")])
        resolves = [n("resolve", a_sev, ["a"], "late", KA)] + ([] if inhibited else [n("resolve", b_sev, ["b"], "failing", KB)])
        inhibition.append(seq(f"a firing {a_sev} alert and a new {b_sev} one", pol, [
            step(ev("run-late", "r1", late_minutes=45), T0, [n("trigger", a_sev, ["a"], "late", KA)]),
            step(ev("attempt-failed", "r1", FAIL), T0 + MIN, second[0], second[1]),
            step(ev("run-succeeded", "r1"), T0 + 2 * MIN, resolves),
        ]))
total += suite("alerts-inhibition.json", "Inhibition: only a strictly higher severity firing for the same step suppresses a new trigger", inhibition)

# ---------------------------------------------------------------- redaction and thresholds
RED = {"format": "toml", "source": """[alerts]
payload = ["last_log_lines"]

[[alerts.rules]]
id = "any"
condition = "run.failure_count >= 1"
severity = "info"
notify = ["x"]
"""}
secrets = [
    ("password=hunter2", "password=[REDACTED]"),
    ("DB_PASSWORD: s3cret", "DB_PASSWORD: [REDACTED]"),
    ("fetch https://u:p4ss@h.example/x failed", "fetch https://u:[REDACTED]@h.example/x failed"),
    ("Authorization: Bearer abcdefgh12345", "Authorization: Bearer [REDACTED]"),
    ("key AKIAABCDEFGHIJKLMNOP in use", "key [REDACTED] in use"),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token [REDACTED]"),
    ("slack xoxb-1234567890-abcdef", "slack [REDACTED]"),
    ("api_key=\"zzz123\"", "api_key=\"[REDACTED]\""),
    ("nothing to hide: 503 from s3", "nothing to hide: 503 from s3"),
]
redaction = []
for i, (line, want) in enumerate(secrets):
    redaction.append(seq(f"redacts: {want}", RED, [
        step(ev("attempt-failed", f"r{i}", FAIL, log_lines=[line]), T0,
             [n("trigger", "info", ["x"], "any", f"backstop/any/nightly/train/r{i}/TransientError", payload={"last_log_lines": [want]})]),
    ]))
for late in (0, 59, 60, 61, 120):
    notes = [n("trigger", "high", ["oncall"], "rule-2", "backstop/rule-2/nightly/train/r1/")] if late >= 60 else []
    redaction.append(seq(f"the seed's lateness threshold at {late} minutes", SEED, [
        step(ev("run-late", "r1", late_minutes=late), T0, notes, [], T0 + 15 * MIN if late >= 60 else None),
    ]))
total += suite("alerts-redaction-thresholds.json", "Secret redaction in log lines, and the seed's 60-minute lateness threshold", redaction)

# ---------------------------------------------------------------- bad input
bad = [
    step(ev("attempt-failed", "", FAIL), T0, expect_error={"code": "invalid-value", "path": "event.run_id", "line": None, "column": None}),
    step({"kind": "alert-acknowledged"}, T0, expect_error={"code": "invalid-value", "path": "event.dedup_key", "line": None, "column": None}),
    step(ev("attempt-failed", "r1", {"signal": "SIGNOPE"}), T0, expect_error={"code": "invalid-failure", "path": "failure.signal", "line": None, "column": None}),
    step(tick(), T0, state="{not json", expect_error={"code": "invalid-state", "path": "state", "line": None, "column": None}),
    step(tick(), T0, state='{"version": 9}', expect_error={"code": "invalid-state", "path": "state.version", "line": None, "column": None}),
    step(ev("attempt-failed", "r1", FAIL), T0, [n("trigger", "info", ["mlops-room"], "rule-1", k1("r1"))]),
]
def lerr(name, source, errors, fmt="toml"):
    return {"name": name, "policy": {"format": fmt, "source": source},
            "expect_errors": [dict(zip(("code", "path", "line", "column", "message"), e)) for e in errors]}
R = '[[alerts.rules]]\n'
vectors = [
    seq("bad events and corrupted state are errors that change nothing", SEED, bad),
    lerr("a CEL syntax error", R + 'condition = "run.failure_count >="\nseverity = "info"\nnotify = ["x"]\n', [("invalid-value", "alerts.rules[0].condition", 2, 13)]),
    lerr("an unknown fact", R + 'condition = "run.failures >= 3"\nseverity = "info"\nnotify = ["x"]\n', [("invalid-value", "alerts.rules[0].condition", 2, 13)]),
    lerr("a condition that is not true or false", R + 'condition = "run.failure_count + 1"\nseverity = "info"\nnotify = ["x"]\n',
         [("invalid-value", "alerts.rules[0].condition", 2, 13)]),
    lerr("an unknown severity", R + 'condition = "true"\nseverity = "page"\nnotify = ["x"]\n',
         [("invalid-value", "alerts.rules[0].severity", 3, 12, "`page` is not a severity; expected info, warning, high or critical")]),
    lerr("no targets", R + 'condition = "true"\nseverity = "info"\n', [("missing-field", "alerts.rules[0].notify", 1, 1)]),
    lerr("an empty list of targets", R + 'condition = "true"\nseverity = "info"\nnotify = []\n',
         [("invalid-value", "alerts.rules[0].notify", 4, 10,
           "`notify` is empty: name at least one target (a sink's `target`), or nobody hears of this alert")]),
    lerr("escalation levels out of order", R + 'condition = "true"\nseverity = "high"\nnotify = ["a"]\nescalation = [{after = "30m", notify = ["b"]}, {after = "10m", notify = ["c"]}]\n',
         [("invalid-value", "alerts.rules[0].escalation[1].after", 5, 48)]),
    lerr("an unknown payload field", '[alerts]\npayload = ["run_idd"]\n', [("invalid-value", "alerts.payload[0]", 2, 12, "`run_idd` is not a payload field; did you mean `run_id`?")]),
    lerr("an unknown fact to group by", R + 'condition = "true"\nseverity = "info"\nnotify = ["a"]\ngroup_by = ["stepp"]\n',
         [("invalid-value", "alerts.rules[0].group_by[0]", 5, 13)]),
    lerr("an unknown rule field", R + 'condition = "true"\nseverity = "info"\nnotify = ["a"]\nescalate_afterr = "5m"\n',
         [("unknown-field", "alerts.rules[0].escalate_afterr", 5, 1, "unknown field `escalate_afterr`; did you mean `escalate_after`?")]),
    lerr("a rule id used twice", R + 'id = "a"\ncondition = "true"\nseverity = "info"\nnotify = ["x"]\n' + R + 'id = "a"\ncondition = "true"\nseverity = "info"\nnotify = ["y"]\n',
         [("duplicate-id", "alerts.rules[1].id", 6, 1, "alert rule id `a` is used twice")]),
    lerr("a repeat interval under a minute", R + 'condition = "true"\nseverity = "info"\nnotify = ["x"]\nrepeat_interval = "30s"\n',
         [("out-of-range", "alerts.rules[0].repeat_interval", 5, 19)]),
    lerr("a condition nested too deep", R + 'condition = "' + "(" * 40 + "true" + ")" * 40 + '"\nseverity = "info"\nnotify = ["x"]\n',
         [("invalid-value", "alerts.rules[0].condition", 2, 13, "the condition nests deeper than 32 brackets")]),
    lerr("a sink without its url", '[[alerts.sinks]]\ntarget = "oncall"\ntype = "webhook"\n', [("missing-field", "alerts.sinks[0].url", 1, 1, "a webhook sink needs `url`")]),
    lerr("an unknown sink type", '[[alerts.sinks]]\ntype = "email"\n', [("invalid-value", "alerts.sinks[0].type", 2, 8, "`email` is not a sink type; expected stdout, file, webhook or command")]),
    lerr("a webhook url that is not http", '[[alerts.sinks]]\ntype = "webhook"\nurl = "ftp://x"\n', [("invalid-value", "alerts.sinks[0].url", 3, 7)]),
    lerr("an alert rule id with a slash", R + 'id = "a/b"\ncondition = "true"\nseverity = "info"\nnotify = ["x"]\n',
         [("invalid-value", "alerts.rules[0].id", 2, 6)]),
    lerr("the seed format checks the version", '{"version": 99, "rules": []}', [("out-of-range", "version", 1, 13)], "json"),
    lerr("the seed format with an unknown top-level key", '{"rules": [], "payloads": []}',
         [("unknown-field", "payloads", 1, 15)], "json"),
]
total += suite("alerts-errors.json", "Bad events, corrupted state and invalid alert policies", vectors)

# ---------------------------------------------------------------- sinks
# `call: sinks`: the policy's validated sinks as the WIT's `sinks` returns
# them; `null` when the policy has no alert section at all.
def sink(kind, location=(), target="*", format="backstop", timeout_ms=10_000, dead_letter=None,
         routing_key_env=None, template=None):
    return {"target": target, "kind": kind, "location": list(location), "format": format,
            "timeout_ms": timeout_ms, "dead_letter": dead_letter, "routing_key_env": routing_key_env,
            "template": template}

def sinks_vector(name, source, expect, fmt="toml"):
    policy = None if source is None else {"format": fmt, "source": source}
    return {"name": name, "policy": policy, "call": "sinks", "input": {}, "expect": {"sinks": expect}}

RULE = R + 'condition = "true"\nseverity = "info"\nnotify = ["oncall"]\n'
sinks = [
    sinks_vector("the built-in rules alone have no alert section", None, None),
    sinks_vector("a retry policy has no alert section", '[retry]\nmax_attempts = 3\n', None),
    sinks_vector("alert rules without sinks: an empty list", RULE, []),
    sinks_vector("an empty alerts table is an alert section", '[alerts]\n', []),
    sinks_vector("every kind, with defaults filled in", RULE +
                 '[[alerts.sinks]]\ntype = "stdout"\n'
                 '[[alerts.sinks]]\ntarget = "mlops-room"\ntype = "file"\npath = "alerts.jsonl"\n'
                 '[[alerts.sinks]]\ntarget = "oncall"\ntype = "webhook"\nurl = "https://events.pagerduty.com/v2/enqueue"\n'
                 'format = "pagerduty"\nrouting_key_env = "PD_ROUTING_KEY"\ntimeout = "2s"\ndead_letter = "/var/lib/backstop/dead.jsonl"\n'
                 '[[alerts.sinks]]\ntarget = "ops"\ntype = "command"\ncommand = ["notify-send", "--urgency", "critical"]\ntimeout = "1m30s"\n',
                 [sink("stdout"),
                  sink("file", ["alerts.jsonl"], target="mlops-room"),
                  sink("webhook", ["https://events.pagerduty.com/v2/enqueue"], target="oncall", format="pagerduty",
                       timeout_ms=2_000, dead_letter="/var/lib/backstop/dead.jsonl", routing_key_env="PD_ROUTING_KEY"),
                  sink("command", ["notify-send", "--urgency", "critical"], target="ops", timeout_ms=90_000)]),
    sinks_vector("a command given as one string is a one-element argv", RULE +
                 '[[alerts.sinks]]\ntype = "command"\ncommand = "/usr/local/bin/page-me"\n',
                 [sink("command", ["/usr/local/bin/page-me"])]),
    sinks_vector("the timeout bounds: 1ms and 10m", RULE +
                 '[[alerts.sinks]]\ntype = "webhook"\nurl = "http://127.0.0.1:9/a"\ntimeout = "1ms"\n'
                 '[[alerts.sinks]]\ntype = "webhook"\nurl = "http://127.0.0.1:9/b"\ntimeout = "10m"\nformat = "backstop"\n',
                 [sink("webhook", ["http://127.0.0.1:9/a"], timeout_ms=1),
                  sink("webhook", ["http://127.0.0.1:9/b"], timeout_ms=600_000)]),
    sinks_vector("the seed's JSON format carries sinks beside its rules", """{
"rules": [{"condition": "run.failure_count==1", "severity": "info", "notify": ["mlops-room"]}],
"payload": ["pipeline"],
// JSON with comments, as every policy
"sinks": [{"target": "mlops-room", "type": "file", "path": "room.jsonl"}]
}""", [sink("file", ["room.jsonl"], target="mlops-room")], "json"),
    sinks_vector("the seed's JSON format without sinks", SEED["source"], [], "json"),
    sinks_vector("an alerts object in a JSON policy", '{"alerts": {"sinks": [{"type": "stdout", "target": "dev"}]}}',
                 [sink("stdout", target="dev")], "json"),
    sinks_vector("non-ASCII paths and targets pass through unchanged", RULE +
                 '[[alerts.sinks]]\ntarget = "équipe-données"\ntype = "file"\npath = "/tmp/alertes-été.jsonl"\n',
                 [sink("file", ["/tmp/alertes-été.jsonl"], target="équipe-données")]),
    # Slack and template bodies are rendered by the host that delivers; the
    # guest hands over the template as compact JSON text, keys in document order.
    sinks_vector("a slack sink and a template sink, its template in document order", RULE +
                 '[[alerts.sinks]]\ntarget = "mlops-room"\ntype = "webhook"\nurl = "https://hooks.slack.com/services/T0/B0/x"\nformat = "slack"\n'
                 '[[alerts.sinks]]\ntarget = "ops"\ntype = "webhook"\nurl = "https://alerts.example.com/hook"\nformat = "template"\n'
                 '[alerts.sinks.template]\ntitle = "[{{severity}}] {{summary}}"\nseverity = "{{severity}}"\n'
                 'links = ["{{runbook_url}}"]\nnested = { pipeline = "{{payload.pipeline}}", n = 3, on = true, x = 1.5 }\n'
                 'zeta = "z \\"quoted\\" \\u00e9"\n',
                 [sink("webhook", ["https://hooks.slack.com/services/T0/B0/x"], target="mlops-room", format="slack"),
                  sink("webhook", ["https://alerts.example.com/hook"], target="ops", format="template",
                       template='{"title":"[{{severity}}] {{summary}}","severity":"{{severity}}","links":["{{runbook_url}}"],'
                                '"nested":{"pipeline":"{{payload.pipeline}}","n":3,"on":true,"x":1.5},"zeta":"z \\"quoted\\" é"}')]),
    sinks_vector("a template in a JSON policy keeps null and its key order",
                 '{"alerts": {"sinks": [{"type": "command", "command": "notify", "format": "template", '
                 '"template": {"z": "{{ kind }}", "a": null, "m": ["{{targets}}", {"k": "{{payload.runbook.url}}"}]}}]}}',
                 [sink("command", ["notify"], format="template",
                       template='{"z":"{{ kind }}","a":null,"m":["{{targets}}",{"k":"{{payload.runbook.url}}"}]}')], "json"),
]
S = '[[alerts.sinks]]\n'
PD = S + 'target = "oncall"\ntype = "webhook"\nurl = "https://events.pagerduty.com/v2/enqueue"\nformat = "pagerduty"\n'
TPL = S + 'target = "ops"\ntype = "webhook"\nurl = "https://alerts.example.com/hook"\nformat = "template"\n'
def at(source, needle):
    """(line, column) of `needle`'s first character, one-based, in characters."""
    before = source[:source.index(needle)]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
def jat(source, needle):
    return at(source, needle)
JPD = ('{"alerts": {"sinks": [{"target": "oncall", "type": "webhook", "url": "https://events.pagerduty.com/v2/enqueue", '
       '"format": "pagerduty", "routing_key_env": "PD_ROUTING_KEY", "integration_key": "0123456789abcdef0123456789abcdef"}]}}')
TBAD = TPL + '[alerts.sinks.template]\ntitle = "{{sumary}}"\n'
TOPEN = TPL + 'template = { blocks = [{ text = "{{summary" }] }\n'
TDATE = TPL + 'template = { at = 1979-05-27T07:32:00Z }\n'
sinks += [
    lerr("a pagerduty sink names the variable that holds its routing key", PD,
         [("missing-field", "alerts.sinks[0].routing_key_env", 1, 1,
           "the pagerduty sink for `oncall` needs `routing_key_env`: the environment variable that holds the integration's routing key")]),
    lerr("a literal routing key is refused, naming the sink and never echoing the key",
         PD + 'routing_key = "R0123456789abcdef0123456789abcdef"\nrouting_key_env = "PD_ROUTING_KEY"\n',
         [("invalid-value", "alerts.sinks[0].routing_key", 6, 15,
           "the sink for `oncall` has a literal `routing_key`: a routing key is a secret and never goes in a policy file; "
           "put it in an environment variable and name that variable with `routing_key_env`")]),
    lerr("a literal integration key in a JSON policy is refused too", JPD,
         [("invalid-value", "alerts.sinks[0].integration_key", *jat(JPD, '"0123456789abcdef'),
           "the sink for `oncall` has a literal `integration_key`: a routing key is a secret and never goes in a policy file; "
           "put it in an environment variable and name that variable with `routing_key_env`")], "json"),
    lerr("routing_key_env is a variable name", PD + 'routing_key_env = "PD-KEY"\n',
         [("invalid-value", "alerts.sinks[0].routing_key_env", 6, 19,
           "`PD-KEY` is not an environment variable name (letters, digits and `_`, not starting with a digit)")]),
    lerr("routing_key_env belongs to a pagerduty sink",
         S + 'type = "webhook"\nurl = "https://hooks.slack.com/services/x"\nformat = "slack"\nrouting_key_env = "PD_ROUTING_KEY"\n',
         [("invalid-value", "alerts.sinks[0].routing_key_env", 5, 19, "`routing_key_env` is for a `format = \"pagerduty\"` sink")]),
    lerr("a template sink needs its template", TPL,
         [("missing-field", "alerts.sinks[0].template", 1, 1,
           "a `format = \"template\"` sink needs `template`: the JSON object to send, with `{{field}}` placeholders")]),
    lerr("a placeholder names a notification field", TBAD,
         [("invalid-value", "alerts.sinks[0].template.title", *at(TBAD, '"{{sumary}}"'),
           "`{{sumary}}` is not a notification field; did you mean `{{summary}}`?")]),
    lerr("an unclosed placeholder deep in the template", TOPEN,
         [("invalid-value", "alerts.sinks[0].template.blocks[0].text", *at(TOPEN, '"{{summary"'),
           "`{{` without a closing `}}` in \"{{summary\""),]),
    lerr("a template on a sink of another format", S + 'type = "stdout"\ntemplate = { a = "{{summary}}" }\n',
         [("invalid-value", "alerts.sinks[0].template", 3, 12, "`template` is for a `format = \"template\"` sink")]),
    lerr("a template is a table", TPL + 'template = "{{summary}}"\n',
         [("wrong-type", "alerts.sinks[0].template", 6, 12)]),
    lerr("a template holds JSON values only", TDATE,
         [("wrong-type", "alerts.sinks[0].template.at", *at(TDATE, "1979"))]),
    lerr("an unknown format lists the four", S + 'type = "stdout"\nformat = "teams"\n',
         [("invalid-value", "alerts.sinks[0].format", 3, 10, "`teams` is not a format; expected backstop, pagerduty, slack or template")]),
]
suite("alerts-sinks.json", "The sinks of a policy (the WIT's alerts.sinks): validated, defaults filled in, null without an alert section; invalid sinks (routing keys, templates)", sinks)
# ---------------------------------------------------------------- grouping
# `[alerts.grouping]`: Alertmanager's aggregation groups (dispatch/dispatch.go)
# and notification log (notify/dedup_stage.go needsUpdate). Expectations
# worked by hand from those rules; see docs/POLICY.md "Alert grouping".
SEC = 1_000
def gpolicy(grouping, rules, head=""):
    return {"format": "toml", "source": head + "[alerts.grouping]\n" + grouping + rules}
FAILING = ('[[alerts.rules]]\nid = "failing"\ncondition = "run.consecutive_failures >= 1"\n'
           'severity = "warning"\nnotify = ["team"]\ngroup_by = ["pipeline", "step"]\n')
GA = gpolicy('group_by = ["pipeline"]\ngroup_wait = "30s"\ngroup_interval = "5m"\nrepeat_interval = "1h"\n', FAILING)
KA = 'backstop-group/team:{pipeline="nightly"}'
def fk(step, rule="failing"):
    return f"backstop/{rule}/nightly/{step}"
def al(step, status="firing", rule="failing"):
    return {"status": status, "rule": rule, "dedup_key": fk(step, rule)}
def gn(kind, severity, target, rule, key, reason, alerts, **extra):
    payload = {"group_key": key, "reason": reason, "status": "resolved" if kind == "resolve" else "firing", "alerts": alerts}
    return n(kind, severity, [target], rule, key, payload=payload, **extra)
GF = {"error_types": ["RuntimeError"], "message": "CUDA error: an illegal memory access"}
H = HOUR
lifecycle = [
    # A new group waits group_wait before its first notification...
    step(ev("run-failed", "r1", GF, step="train"), T0, [], [], T0 + 30 * SEC),
    # ...and an alert arriving meanwhile goes out in that first notification.
    step(ev("run-failed", "r1", GF, step="eval"), T0 + 10 * SEC, [], [], T0 + 30 * SEC),
    step(tick(), T0 + 30 * SEC,
         [gn("trigger", "warning", "team", "failing", KA, "first-notification", [al("train"), al("eval")],
             summary='[warning] team {pipeline="nightly"}: 2 firing (failing)')],
         [], T0 + H + 5 * MIN + 30 * SEC),
    # A new alert after the first flush waits for the group_interval cadence.
    step(ev("run-failed", "r1", GF, step="export"), T0 + 2 * MIN, [], [], T0 + 5 * MIN + 30 * SEC),
    # An alert already in a group is a duplicate of itself: the group tells.
    step(ev("run-failed", "r2", GF, step="train"), T0 + 3 * MIN, [], [s("failing", fk("train"), "warning", "duplicate")],
         T0 + 5 * MIN + 30 * SEC),
    step(tick(), T0 + 5 * MIN + 30 * SEC,
         [gn("trigger", "warning", "team", "failing", KA, "new-alerts-in-group", [al("train"), al("eval"), al("export")])],
         [], T0 + H + 10 * MIN + 30 * SEC),
    # repeat_interval (1h) is checked at each group_interval: the flush exactly
    # an hour after the last notification does not repeat, the next one does.
    step(tick(), T0 + H + 5 * MIN + 30 * SEC, [], [], T0 + H + 10 * MIN + 30 * SEC),
    step(tick(), T0 + H + 10 * MIN + 30 * SEC,
         [gn("repeat", "warning", "team", "failing", KA, "repeat-interval-elapsed", [al("train"), al("eval"), al("export")])],
         [], T0 + 2 * H + 15 * MIN + 30 * SEC),
    # A resolution waits for the next flush too (the missed 1h15m30s flush is caught up first).
    step(ev("run-succeeded", "r3", step="train"), T0 + H + 20 * MIN, [], [], T0 + H + 20 * MIN + 30 * SEC),
    step(tick(), T0 + H + 20 * MIN + 30 * SEC,
         [gn("trigger", "warning", "team", "failing", KA, "new-resolved-alerts",
             [al("eval"), al("export"), al("train", "resolved")],
             summary='[warning] team {pipeline="nightly"}: 2 firing, 1 resolved (failing)')],
         [], T0 + 2 * H + 25 * MIN + 30 * SEC),
    step(ev("run-succeeded", "r3", step="eval"), T0 + H + 21 * MIN, [], [], T0 + H + 25 * MIN + 30 * SEC),
    step(ev("run-succeeded", "r3", step="export"), T0 + H + 22 * MIN, [], [], T0 + H + 25 * MIN + 30 * SEC),
    # The group's resolve: once all its alerts are resolved.
    step(tick(), T0 + H + 25 * MIN + 30 * SEC,
         [gn("resolve", "warning", "team", "failing", KA, "all-alerts-resolved",
             [al("eval", "resolved"), al("export", "resolved")],
             summary='[resolved] team {pipeline="nightly"}: 2 alert(s) resolved (failing)')]),
    step(tick(), T0 + 2 * H),
]
SPLIT = gpolicy('group_by = ["pipeline", "rule"]\n',
                '[[alerts.rules]]\nid = "retrying"\ncondition = "run.failure_count >= 1"\nseverity = "info"\n'
                'notify = ["room"]\ngroup_by = ["pipeline", "step"]\n'
                '[[alerts.rules]]\nid = "failed"\ncondition = "run.consecutive_failures >= 1"\nseverity = "high"\n'
                'notify = ["room"]\ngroup_by = ["pipeline", "step"]\n', '[alerts]\ninhibit_lower_severity = false\n')
KR = 'backstop-group/room:{pipeline="nightly",rule="retrying"}'
KF = 'backstop-group/room:{pipeline="nightly",rule="failed"}'
by_rule = [
    step(ev("attempt-failed", "r1", GF, step="train", attempt=1), T0, [], [], T0 + 30 * SEC),
    step(ev("attempt-failed", "r1", GF, step="eval", attempt=1), T0 + 5 * SEC, [], [], T0 + 30 * SEC),
    # The run fails: a second rule, so a second group with its own group_wait.
    step(ev("run-failed", "r1", GF, step="train", attempt=3), T0 + 10 * SEC, [],
         [s("retrying", fk("train", "retrying"), "info", "duplicate")], T0 + 30 * SEC),
    step(tick(), T0 + 30 * SEC,
         [gn("trigger", "info", "room", "retrying", KR, "first-notification",
             [al("train", rule="retrying"), al("eval", rule="retrying")])], [], T0 + 40 * SEC),
    # Defaults: group_interval 5m, repeat_interval 4h (rounded up to the cadence).
    step(tick(), T0 + 40 * SEC,
         [gn("trigger", "high", "room", "failed", KF, "first-notification", [al("train", rule="failed")])],
         [], T0 + 4 * H + 5 * MIN + 30 * SEC),
]
BY_STEP = gpolicy('group_by = ["step"]\n', FAILING)
by_step = [
    step(ev("run-failed", "r1", GF, step="train"), T0, [], [], T0 + 30 * SEC),
    step(ev("run-failed", "r1", GF, step="eval"), T0, [], [], T0 + 30 * SEC),
    step(tick(), T0 + 30 * SEC,
         [gn("trigger", "warning", "team", "failing", 'backstop-group/team:{step="train"}', "first-notification", [al("train")]),
          gn("trigger", "warning", "team", "failing", 'backstop-group/team:{step="eval"}', "first-notification", [al("eval")])],
         [], T0 + 4 * H + 5 * MIN + 30 * SEC),
]
flapping = [
    step(ev("run-failed", "r1", GF, step="train"), T0, [], [], T0 + 30 * SEC),
    # Resolved within group_wait: nobody is told, ever.
    step(ev("run-succeeded", "r2", step="train"), T0 + 10 * SEC, [], [], T0 + 30 * SEC),
    step(tick(), T0 + 30 * SEC),
    step(ev("run-failed", "r3", GF, step="train"), T0 + MIN, [], [], T0 + MIN + 30 * SEC),
    step(tick(), T0 + MIN + 30 * SEC,
         [gn("trigger", "warning", "team", "failing", KA, "first-notification", [al("train")])], [], T0 + H + 6 * MIN + 30 * SEC),
]
QUIET = gpolicy('group_by = ["pipeline"]\nrepeat_interval = "1h"\nsend_resolved = false\n', FAILING)
quiet = [
    step(ev("run-failed", "r1", GF, step="train"), T0, [], [], T0 + 30 * SEC),
    step(tick(), T0 + 30 * SEC, [gn("trigger", "warning", "team", "failing", KA, "first-notification", [al("train")])],
         [], T0 + H + 5 * MIN + 30 * SEC),
    # send_resolved = false: the group's resolution is logged, not sent.
    step(ev("run-succeeded", "r2", step="train"), T0 + MIN, [], [], T0 + 5 * MIN + 30 * SEC),
    step(tick(), T0 + 5 * MIN + 30 * SEC),
    step(ev("run-failed", "r3", GF, step="train"), T0 + 6 * MIN, [], [], T0 + 6 * MIN + 30 * SEC),
    step(tick(), T0 + 6 * MIN + 30 * SEC, [gn("trigger", "warning", "team", "failing", KA, "first-notification", [al("train")])],
         [], T0 + H + 11 * MIN + 30 * SEC),
]
ESC = gpolicy('group_by = []\ngroup_wait = "1m"\nrepeat_interval = "30m"\n',
              '[[alerts.rules]]\nid = "down"\ncondition = "run.consecutive_failures >= 1"\nseverity = "critical"\n'
              'notify = ["team"]\ngroup_by = ["pipeline", "step"]\nescalation = [{after = "15m", notify = ["oncall"]}]\n')
KT, KO = "backstop-group/team:{}", "backstop-group/oncall:{}"
def dn(status="firing"):
    return {"status": status, "rule": "down", "dedup_key": "backstop/down/nightly/train"}
escalated = [
    step(ev("run-failed", "r1", GF, step="train"), T0, [], [], T0 + MIN),
    step(tick(), T0 + MIN, [gn("trigger", "critical", "team", "down", KT, "first-notification", [dn()])], [], T0 + 15 * MIN),
    # The escalation adds a target: the alert is older than group_wait, so
    # the new target's group flushes at once.
    step(tick(), T0 + 15 * MIN, [gn("trigger", "critical", "oncall", "down", KO, "first-notification", [dn()])],
         [], T0 + 36 * MIN),
    # A group's key acknowledges its alerts: their groups stop repeating.
    step(ack(KO), T0 + 20 * MIN, [], [], None),
    step(ev("run-failed", "r2", GF, step="train"), T0 + 40 * MIN, [],
         [s("down", "backstop/down/nightly/train", "critical", "acknowledged")], None),
    # A resolution still reaches every group that told of the alert.
    step(ev("run-succeeded", "r3", step="train"), T0 + 50 * MIN, [], [], T0 + 51 * MIN),
    step(tick(), T0 + 51 * MIN, [gn("resolve", "critical", "team", "down", KT, "all-alerts-resolved", [dn("resolved")])],
         [], T0 + 55 * MIN),
    step(tick(), T0 + 55 * MIN, [gn("resolve", "critical", "oncall", "down", KO, "all-alerts-resolved", [dn("resolved")])]),
]
G = '[alerts.grouping]\n'
vectors = [
    seq("group_wait batches the first notification, group_interval the changes, repeat_interval the repeats; resolve per group", GA, lifecycle),
    seq("group_by rule: two rules on one pipeline are two groups, each with its own timers", SPLIT, by_rule),
    seq("group_by step: two steps are two groups, notified separately", BY_STEP, by_step),
    seq("an alert resolved within group_wait is never notified", GA, flapping),
    seq("send_resolved = false: no resolve notification; the next alert starts the group over", QUIET, quiet),
    seq("escalation joins the new target's group at once; ack by group key; resolve per group", ESC, escalated),
    lerr("an unknown label to group by", G + 'group_by = ["stepp"]\n',
         [("invalid-value", "alerts.grouping.group_by[0]", 2, 13, "`stepp` is not a label to group by; did you mean `step`?")]),
    lerr("a label listed twice", G + 'group_by = ["step", "step"]\n',
         [("invalid-value", "alerts.grouping.group_by[1]", 2, 21, "`step` is listed twice in group_by")]),
    lerr("a zero group_interval", G + 'group_interval = "0s"\n', [("out-of-range", "alerts.grouping.group_interval", 2, 18)]),
    lerr("a zero repeat_interval", G + 'repeat_interval = "0s"\n', [("out-of-range", "alerts.grouping.repeat_interval", 2, 19)]),
    lerr("a group_wait without a unit", G + 'group_wait = 30\n', [("wrong-type", "alerts.grouping.group_wait", 2, 14)]),
    lerr("an unknown grouping key", G + 'group_waits = "30s"\n',
         [("unknown-field", "alerts.grouping.group_waits", 2, 1, "unknown field `group_waits`; did you mean `group_wait`?")]),
    lerr("send_resolved is true or false", G + 'send_resolved = "yes"\n', [("wrong-type", "alerts.grouping.send_resolved", 2, 17)]),
    lerr("grouping is a table", '[alerts]\ngrouping = ["pipeline"]\n', [("wrong-type", "alerts.grouping", 2, 12)]),
]
total += suite("alerts-grouping.json", "Alert grouping with Alertmanager's semantics: group_by, group_wait, group_interval, repeat_interval, send_resolved", vectors)

print("sink vectors:", len(sinks))
print("alert vectors (steps and load errors):", total)
