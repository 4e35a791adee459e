"""Backstop's WIT contract (``wit/backstop.wit``), spelled in :mod:`backstop._abi` types.

Keep in step with the WIT: :class:`backstop._core.CoreInstance` refuses to bind
if a function's core signature disagrees, and the conformance vectors catch
any layout mistake.
"""

from ._abi import (BOOL, STRING, U16, U32, U64, S32, Enum, Function, List, Option, Record,
                   Result)

CLASSIFIER = "backstop:policy/classifier@0.1.0"
RETRY = "backstop:policy/retry@0.1.0"
ALERTS = "backstop:policy/alerts@0.1.0"
#: Kept for callers that predate the retry interface.
INTERFACE = CLASSIFIER

# -- types ------------------------------------------------------------------

POLICY_FORMAT = Enum(["toml", "json"])
ERROR_CODE = Enum([
    "syntax", "unknown-field", "missing-field", "wrong-type", "invalid-value", "out-of-range",
    "duplicate-id", "invalid-regex", "too-large", "unknown-policy", "invalid-failure",
    "invalid-state",
])
LOCATION = Record([("line", U32), ("column", U32)])
POLICY_ERROR = Record([
    ("code", ERROR_CODE),
    ("message", STRING),
    ("path", STRING),
    ("location", Option(LOCATION)),
])
FAILURE_CLASS = Enum(["transient", "permanent", "unknown"])

# -- classifier -------------------------------------------------------------

FAILURE = Record([
    ("http-status", Option(U16)),
    ("grpc-code", Option(STRING)),
    ("exit-code", Option(S32)),
    ("signal", Option(STRING)),
    ("error-types", List(STRING)),
    ("error-code", Option(STRING)),
    ("message", Option(STRING)),
])
CLASSIFICATION = Record([
    ("class", FAILURE_CLASS),
    ("rule", Option(STRING)),
    ("reason", STRING),
])

LOAD_POLICY = Function("load-policy", [("source", STRING), ("format", POLICY_FORMAT)],
                       Result(U32, List(POLICY_ERROR)))
DROP_POLICY = Function("drop-policy", [("policy", U32)])
CLASSIFY = Function("classify", [("policy", U32), ("failure", FAILURE)],
                    Result(CLASSIFICATION, POLICY_ERROR))

FUNCTIONS = (LOAD_POLICY, DROP_POLICY, CLASSIFY)

# -- retry ------------------------------------------------------------------

RETRY_STATE = Record([
    ("attempts", U32),
    ("started-at-ms", Option(U64)),
    ("last-delay-ms", U64),
    ("seed", U64),
])
CIRCUIT = Enum(["closed", "open", "half-open"])
BREAKER_STATE = Record([
    ("circuit", CIRCUIT),
    ("consecutive-failures", U32),
    ("recent-outcomes", U64),
    ("recent-count", U32),
    ("opened-at-ms", U64),
    ("probes-started", U32),
    ("probes-succeeded", U32),
])
BUDGET_STATE = Record([("spent-milli", U32)])
SHARED_STATE = Record([("breaker", BREAKER_STATE), ("budget", BUDGET_STATE)])
GIVE_UP_REASON = Enum([
    "permanent", "attempts-exhausted", "deadline", "pushback-beyond-deadline", "circuit-open",
    "budget-exhausted",
])
PERMIT = Record([
    ("refused", Option(GIVE_UP_REASON)),
    ("attempt", U32),
    ("timeout-ms", Option(U64)),
    ("retry-after-ms", U64),
    ("probe", BOOL),
    ("state", RETRY_STATE),
    ("shared", SHARED_STATE),
])
ATTEMPT_FAILURE = Record([
    ("failure", FAILURE),
    ("duration-ms", U64),
    ("pushback-ms", Option(U64)),
])
DECISION = Record([
    ("give-up", Option(GIVE_UP_REASON)),
    ("delay-ms", U64),
    ("attempt", U32),
    ("next-timeout-ms", Option(U64)),
    ("classification", CLASSIFICATION),
    ("explanation", STRING),
    ("state", RETRY_STATE),
    ("shared", SHARED_STATE),
])
PLANNED_ATTEMPT = Record([
    ("attempt", U32),
    ("delay-ms", U64),
    ("timeout-ms", Option(U64)),
    ("start-ms", U64),
])
SCHEDULE = Record([
    ("attempts", List(PLANNED_ATTEMPT)),
    ("ends-with", Option(GIVE_UP_REASON)),
])

BEGIN_ATTEMPT = Function(
    "begin-attempt",
    [("policy", U32), ("state", RETRY_STATE), ("shared", SHARED_STATE), ("now-ms", U64)],
    Result(PERMIT, POLICY_ERROR))
AFTER_FAILURE = Function(
    "after-failure",
    [("policy", U32), ("state", RETRY_STATE), ("shared", SHARED_STATE),
     ("outcome", ATTEMPT_FAILURE), ("now-ms", U64)],
    Result(DECISION, POLICY_ERROR))
AFTER_SUCCESS = Function("after-success", [("policy", U32), ("shared", SHARED_STATE)],
                         Result(SHARED_STATE, POLICY_ERROR))
PLAN_SCHEDULE = Function("plan-schedule", [("policy", U32), ("seed", U64), ("max-entries", U32)],
                         Result(SCHEDULE, POLICY_ERROR))
DERIVE_SEED = Function("derive-seed", [("key", STRING)], U64)

RETRY_FUNCTIONS = (BEGIN_ATTEMPT, AFTER_FAILURE, AFTER_SUCCESS, PLAN_SCHEDULE, DERIVE_SEED)

# -- alerts -----------------------------------------------------------------

EVENT_KIND = Enum([
    "attempt-failed", "run-failed", "run-succeeded", "run-late", "alert-acknowledged", "tick",
])
LABEL = Record([("key", STRING), ("value", STRING)])
EVENT = Record([
    ("kind", EVENT_KIND),
    ("pipeline", STRING),
    ("step", STRING),
    ("run-id", STRING),
    ("failure", Option(FAILURE)),
    ("attempt", U32),
    ("late-minutes", U32),
    ("labels", List(LABEL)),
    ("log-lines", List(STRING)),
    ("dedup-key", Option(STRING)),
])
SEVERITY = Enum(["info", "warning", "high", "critical"])
NOTIFICATION_KIND = Enum(["trigger", "escalate", "repeat", "resolve"])
NOTIFICATION = Record([
    ("kind", NOTIFICATION_KIND),
    ("severity", SEVERITY),
    ("targets", List(STRING)),
    ("rule", STRING),
    ("dedup-key", STRING),
    ("summary", STRING),
    ("payload", STRING),
])
SUPPRESSION_REASON = Enum(["duplicate", "inhibited", "acknowledged", "repeat-limit"])
SUPPRESSED = Record([
    ("rule", STRING),
    ("dedup-key", STRING),
    ("severity", SEVERITY),
    ("reason", SUPPRESSION_REASON),
])
EVALUATION = Record([
    ("notifications", List(NOTIFICATION)),
    ("suppressed", List(SUPPRESSED)),
    ("state", STRING),
    ("next-wakeup-ms", Option(U64)),
])

EVALUATE = Function(
    "evaluate",
    [("policy", U32), ("state", STRING), ("event", EVENT), ("now-ms", U64)],
    Result(EVALUATION, POLICY_ERROR))

SINK_KIND = Enum(["stdout", "file", "webhook", "command"])
SINK_FORMAT = Enum(["backstop", "pagerduty"])
SINK = Record([
    ("target", STRING),
    ("kind", SINK_KIND),
    ("location", List(STRING)),
    ("format", SINK_FORMAT),
    ("timeout-ms", U64),
    ("dead-letter", Option(STRING)),
])

SINKS = Function("sinks", [("policy", U32)], Result(Option(List(SINK)), POLICY_ERROR))

ALERT_FUNCTIONS = (EVALUATE, SINKS)

#: Every export the hosts bind, by interface.
EXPORTS = {CLASSIFIER: FUNCTIONS, RETRY: RETRY_FUNCTIONS, ALERTS: ALERT_FUNCTIONS}
