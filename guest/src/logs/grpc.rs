//! gRPC status codes inside messages:
//! - grpcio (Python): `status = StatusCode.UNAVAILABLE` in `_InactiveRpcError`
//!   (grpc/_channel.py `_rpc_state.__str__`), and `StatusCode.X` anywhere;
//! - grpc-go: `rpc error: code = Unavailable desc = ...` (status.Error's text);
//! - grpc-java: `io.grpc.StatusRuntimeException: UNAVAILABLE: io exception`;
//! - @grpc/grpc-js: `14 UNAVAILABLE: No connection established`;
//! - `grpc_status:14` / `grpc-status: 14` in debug strings and headers;
//! - status-carrying exception types whose message starts with a code name:
//!   jaxlib `XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory ...`, and the
//!   TensorFlow and google-api-core classes named after codes.

use std::sync::LazyLock;

use regex::Regex;

use super::merge::Fields;

pub const READER: &str = "grpc-status";

static FORMS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:StatusCode\.([A-Z_]{2,20})\b",
        r"|rpc error: code = ([A-Za-z]{2,20}) desc",
        r"|\b(1[0-6]|[0-9]) ([A-Z_]{2,20}): ",
        r"|grpc[_-]status[\x22']?\s*[:=]\s*[\x22']?(1[0-6]|[0-9])\b",
        r")"
    ))
    .unwrap()
});

static LEADING_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Z][A-Z_]{1,19}): ").unwrap());

/// Exception classes named after a status (TensorFlow's errors_impl, the
/// google-api-core gRPC-mapped ones).
const TYPE_CODES: &[(&str, &str)] = &[
    ("CancelledError", "CANCELLED"),
    ("UnknownError", "UNKNOWN"),
    ("InvalidArgumentError", "INVALID_ARGUMENT"),
    ("DeadlineExceededError", "DEADLINE_EXCEEDED"),
    ("NotFoundError", "NOT_FOUND"),
    ("AlreadyExistsError", "ALREADY_EXISTS"),
    ("PermissionDeniedError", "PERMISSION_DENIED"),
    ("UnauthenticatedError", "UNAUTHENTICATED"),
    ("ResourceExhaustedError", "RESOURCE_EXHAUSTED"),
    ("FailedPreconditionError", "FAILED_PRECONDITION"),
    ("AbortedError", "ABORTED"),
    ("OutOfRangeError", "OUT_OF_RANGE"),
    ("UnimplementedError", "UNIMPLEMENTED"),
    ("InternalError", "INTERNAL"),
    ("UnavailableError", "UNAVAILABLE"),
    ("DataLossError", "DATA_LOSS"),
];

/// Types whose message starts with a status name (`CODE: details`).
fn carries_leading_code(type_name: &str) -> bool {
    let last = type_name.rsplit(['.', ':']).next().unwrap_or(type_name);
    matches!(
        last,
        "XlaRuntimeError" | "StatusRuntimeException" | "StatusException" | "JaxRuntimeError"
    )
}

pub fn scan(type_name: &str, text: &str, fields: &mut Fields) {
    if fields.grpc_code.is_some() {
        return;
    }
    if type_name.starts_with("tensorflow.")
        && let Some(last) = type_name.rsplit('.').next()
        && let Some((_, code)) = TYPE_CODES.iter().find(|(t, _)| *t == last)
    {
        fields.set_grpc(code, READER);
        return;
    }
    if carries_leading_code(type_name)
        && let Some(c) = LEADING_NAME.captures(text.trim_start())
    {
        fields.set_grpc(&c[1], READER);
        if fields.grpc_code.is_some() {
            return;
        }
    }
    for c in FORMS.captures_iter(text) {
        if let Some(m) = c.get(1).or_else(|| c.get(2)).or_else(|| c.get(5)) {
            fields.set_grpc(m.as_str(), READER);
        } else if let (Some(n), Some(name)) = (c.get(3), c.get(4)) {
            // `14 UNAVAILABLE:` only when the number and the name agree.
            if crate::names::grpc_code(n.as_str()) == crate::names::grpc_code(name.as_str()) {
                fields.set_grpc(name.as_str(), READER);
            }
        }
        if fields.grpc_code.is_some() {
            return;
        }
    }
}
