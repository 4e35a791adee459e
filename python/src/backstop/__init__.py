"""Backstop: one failure-handling policy, the same decision in every language.

>>> from backstop import default_policy, Failure
>>> default_policy().classify(Failure(http_status=503)).failure_class
<FailureClass.TRANSIENT: 'transient'>

The policy engine is Backstop's WebAssembly core, run by wasmtime.
"""

from ._alerts import (Evaluation, Event, EventKind, KeyedEvaluation, KeyedState, NeededKeys,
                      Notification, NotificationKind, Severity, Sink, SinkFormat, SinkKind,
                      Suppressed, SuppressionReason)
from ._exceptions import (exception_bases, exception_chain, exception_type_name,
                          failure_from_exception, parse_grpc_pushback, parse_retry_after,
                          pushback_from_exception)
from ._logs import LogReport, read_log
from ._model import (Classification, EngineError, ErrorCode, Failure, FailureClass, PolicyError,
                     PolicyLoadError)
from ._planner import (AttemptFailure, BreakerState, BudgetState, Circuit, Decision, GiveUpReason,
                       Permit, PlannedAttempt, PlannedFailure, RetryState, Schedule,
                       SharedState)
from ._policy import Policy, PolicyFormat, default_policy, derive_seed, load_policy, load_policy_file
from ._recording import RecordedAttempt, RecordedRun, Recorder, RecorderError, SqliteRecorder
from ._redaction import REDACTED, RedactionReport, RuleCount
from ._report import FAILURE_FILE_ENV, failure_report, install_excepthook, report_failure
from ._retrying import (Attempt, AsyncRetrying, AttemptTimeout, InMemoryStateStore, RetryError,
                        Retrying, SharedStateStore, current_attempt, retry)

__all__ = [
    "RecordedAttempt",
    "RecordedRun",
    "Recorder",
    "RecorderError",
    "SqliteRecorder",
    "REDACTED",
    "RedactionReport",
    "RuleCount",
    "Evaluation",
    "KeyedEvaluation",
    "KeyedState",
    "NeededKeys",
    "Event",
    "EventKind",
    "FAILURE_FILE_ENV",
    "Notification",
    "NotificationKind",
    "Severity",
    "Sink",
    "SinkFormat",
    "SinkKind",
    "Suppressed",
    "SuppressionReason",
    "Attempt",
    "AttemptFailure",
    "AttemptTimeout",
    "AsyncRetrying",
    "BreakerState",
    "BudgetState",
    "Circuit",
    "Classification",
    "Decision",
    "EngineError",
    "ErrorCode",
    "Failure",
    "FailureClass",
    "GiveUpReason",
    "InMemoryStateStore",
    "LogReport",
    "Permit",
    "PlannedAttempt",
    "PlannedFailure",
    "Policy",
    "PolicyError",
    "PolicyFormat",
    "PolicyLoadError",
    "RetryError",
    "RetryState",
    "Retrying",
    "Schedule",
    "SharedState",
    "SharedStateStore",
    "current_attempt",
    "default_policy",
    "derive_seed",
    "exception_bases",
    "exception_chain",
    "exception_type_name",
    "failure_from_exception",
    "failure_report",
    "install_excepthook",
    "load_policy",
    "load_policy_file",
    "parse_grpc_pushback",
    "parse_retry_after",
    "pushback_from_exception",
    "report_failure",
    "read_log",
    "retry",
]
