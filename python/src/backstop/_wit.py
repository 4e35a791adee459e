"""Backstop's WIT contract (``wit/backstop.wit``), spelled in :mod:`backstop._abi` types.

Keep in step with the WIT: :class:`backstop._core.CoreInstance` refuses to bind
if a function's core signature disagrees, and the conformance vectors catch
any layout mistake.
"""

from ._abi import STRING, U16, U32, S32, Enum, Function, List, Option, Record, Result

INTERFACE = "backstop:policy/classifier@0.1.0"

POLICY_FORMAT = Enum(["toml", "json"])
ERROR_CODE = Enum([
    "syntax", "unknown-field", "missing-field", "wrong-type", "invalid-value", "out-of-range",
    "duplicate-id", "invalid-regex", "too-large", "unknown-policy", "invalid-failure",
])
LOCATION = Record([("line", U32), ("column", U32)])
POLICY_ERROR = Record([
    ("code", ERROR_CODE),
    ("message", STRING),
    ("path", STRING),
    ("location", Option(LOCATION)),
])
FAILURE_CLASS = Enum(["transient", "permanent", "unknown"])
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
