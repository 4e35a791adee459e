//! The error classifier: ordered rules, first match wins.

use regex::Regex;

use crate::error::{ErrorCode, PolicyError};
use crate::names;

/// At most this many cause-chain entries are examined (outermost first).
pub const MAX_CAUSE_DEPTH: usize = 64;
/// At most this many base-class names are examined (most derived first).
pub const MAX_BASES: usize = 256;
/// Message patterns see at most the last this-many bytes of a message
/// (the end of a log is where the error usually is).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureClass {
    Transient,
    Permanent,
    Unknown,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Transient => "transient",
            FailureClass::Permanent => "permanent",
            FailureClass::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<FailureClass> {
        match text {
            "transient" => Some(FailureClass::Transient),
            "permanent" => Some(FailureClass::Permanent),
            "unknown" => Some(FailureClass::Unknown),
            _ => None,
        }
    }
}

/// A failed attempt as the host observed it; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failure {
    pub http_status: Option<u16>,
    pub grpc_code: Option<String>,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    /// Type names along the cause chain, outermost first.
    pub error_types: Vec<String>,
    /// Base classes of those types (most derived first); a rule naming a base
    /// matches every subclass.
    pub error_bases: Vec<String>,
    pub error_code: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub class: FailureClass,
    /// The id of the rule that matched, or `None` when nothing did.
    pub rule: Option<String>,
    pub reason: String,
}

/// An inclusive range of integers (a single value is `lo == hi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntRange {
    pub lo: i64,
    pub hi: i64,
}

impl IntRange {
    fn contains(&self, n: i64) -> bool {
        self.lo <= n && n <= self.hi
    }
}

/// One classification rule. Every selector that is present must match
/// (selectors are AND-ed); any value within a selector may match (values are OR-ed).
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub class: FailureClass,
    pub reason: Option<String>,
    pub http_status: Vec<IntRange>,
    pub grpc_code: Vec<u8>,
    pub exit_code: Vec<IntRange>,
    pub signal: Vec<u8>,
    pub error_type: Vec<String>,
    pub error_code: Vec<String>,
    pub message: Vec<Regex>,
}

impl Rule {
    pub fn has_selectors(&self) -> bool {
        !(self.http_status.is_empty()
            && self.grpc_code.is_empty()
            && self.exit_code.is_empty()
            && self.signal.is_empty()
            && self.error_type.is_empty()
            && self.error_code.is_empty()
            && self.message.is_empty())
    }

    /// If every selector matches, describe what matched.
    fn matches(&self, failure: &Observed<'_>) -> Option<Vec<String>> {
        let mut why = Vec::new();
        if !self.http_status.is_empty() {
            let status = failure.http_status?;
            if !self
                .http_status
                .iter()
                .any(|r| r.contains(i64::from(status)))
            {
                return None;
            }
            why.push(format!("HTTP status {status}"));
        }
        if !self.grpc_code.is_empty() {
            let code = failure.grpc_code?;
            if !self.grpc_code.contains(&code) {
                return None;
            }
            why.push(format!("gRPC status {}", names::grpc_name(code)));
        }
        if !self.exit_code.is_empty() {
            let code = failure.exit_code?;
            if !self.exit_code.iter().any(|r| r.contains(i64::from(code))) {
                return None;
            }
            why.push(format!("exit code {code}"));
        }
        if !self.signal.is_empty() {
            let signal = failure.signal?;
            if !self.signal.contains(&signal) {
                return None;
            }
            why.push(format!("signal {}", names::signal_name(signal)));
        }
        if !self.error_type.is_empty() {
            let named = |name: &&String| {
                self.error_type
                    .iter()
                    .any(|pattern| type_name_matches(name, pattern))
            };
            // A type in the chain first; only then a base class of one.
            match failure
                .error_types
                .iter()
                .enumerate()
                .find(|(_, n)| named(n))
            {
                Some((0, name)) => why.push(format!("error type `{name}`")),
                Some((depth, name)) => {
                    why.push(format!("error type `{name}` (cause {depth} in the chain)"))
                }
                None => {
                    let base = failure.error_bases.iter().find(named)?;
                    why.push(format!("error base class `{base}`"));
                }
            }
        }
        if !self.error_code.is_empty() {
            let code = failure.error_code?;
            if !self.error_code.iter().any(|c| c == code) {
                return None;
            }
            why.push(format!("error code `{code}`"));
        }
        if !self.message.is_empty() {
            let message = failure.message?;
            let pattern = self.message.iter().find(|re| re.is_match(message))?;
            why.push(format!("message pattern /{}/", pattern.as_str()));
        }
        Some(why)
    }
}

/// `pattern` names `name` exactly, or names its last segment after a
/// `.`, `::` or `/` separator: `ConnectionError` matches
/// `requests.exceptions.ConnectionError` but not `MyConnectionError`.
pub fn type_name_matches(name: &str, pattern: &str) -> bool {
    if name == pattern {
        return true;
    }
    name.strip_suffix(pattern).is_some_and(|prefix| {
        !pattern.is_empty()
            && (prefix.ends_with('.') || prefix.ends_with("::") || prefix.ends_with('/'))
    })
}

/// A failure after validation and normalisation (names resolved, sizes bounded).
struct Observed<'f> {
    http_status: Option<u16>,
    grpc_code: Option<u8>,
    exit_code: Option<i32>,
    signal: Option<u8>,
    error_types: &'f [String],
    error_bases: &'f [String],
    error_code: Option<&'f str>,
    message: Option<&'f str>,
}

fn invalid(field: &str, message: String) -> PolicyError {
    PolicyError::new(
        ErrorCode::InvalidFailure,
        format!("failure.{field}"),
        message,
    )
}

impl<'f> Observed<'f> {
    fn new(failure: &'f Failure) -> Result<Self, PolicyError> {
        if let Some(status) = failure.http_status
            && !(100..=599).contains(&status)
        {
            return Err(invalid(
                "http_status",
                format!("{status} is not an HTTP status code (100-599)"),
            ));
        }
        let grpc_code = match &failure.grpc_code {
            None => None,
            Some(text) => Some(names::grpc_code(text).ok_or_else(|| {
                invalid(
                    "grpc_code",
                    format!(
                        "`{}` is not a gRPC status name or number (0-16)",
                        truncate_for_display(text)
                    ),
                )
            })?),
        };
        let signal = match &failure.signal {
            None => None,
            Some(text) => Some(names::signal(text).ok_or_else(|| {
                invalid(
                    "signal",
                    format!(
                        "`{}` is not a signal name or number (1-{})",
                        truncate_for_display(text),
                        names::MAX_SIGNAL
                    ),
                )
            })?),
        };
        let chain = &failure.error_types;
        Ok(Observed {
            http_status: failure.http_status,
            grpc_code,
            exit_code: failure.exit_code,
            signal,
            error_types: &chain[..chain.len().min(MAX_CAUSE_DEPTH)],
            error_bases: &failure.error_bases[..failure.error_bases.len().min(MAX_BASES)],
            error_code: failure.error_code.as_deref(),
            message: failure.message.as_deref().map(message_tail),
        })
    }
}

/// The last [`MAX_MESSAGE_BYTES`] of a message, cut on a character boundary.
fn message_tail(message: &str) -> &str {
    if message.len() <= MAX_MESSAGE_BYTES {
        return message;
    }
    let mut start = message.len() - MAX_MESSAGE_BYTES;
    while !message.is_char_boundary(start) {
        start += 1;
    }
    &message[start..]
}

fn truncate_for_display(text: &str) -> String {
    const LIMIT: usize = 64;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// Classify `failure` with `rules` in order; the first rule that matches wins.
pub fn classify<'r>(
    rules: impl IntoIterator<Item = &'r Rule>,
    failure: &Failure,
) -> Result<Classification, PolicyError> {
    let observed = Observed::new(failure)?;
    for rule in rules {
        if let Some(why) = rule.matches(&observed) {
            let reason = match &rule.reason {
                Some(reason) => reason.clone(),
                None => format!("{} matched rule `{}`", why.join(" and "), rule.id),
            };
            return Ok(Classification {
                class: rule.class,
                rule: Some(rule.id.clone()),
                reason,
            });
        }
    }
    Ok(Classification {
        class: FailureClass::Unknown,
        rule: None,
        reason: "no rule matched this failure".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_match_whole_segments() {
        assert!(type_name_matches("TimeoutError", "TimeoutError"));
        assert!(type_name_matches(
            "requests.exceptions.ConnectionError",
            "ConnectionError"
        ));
        assert!(type_name_matches("std::io::Error", "io::Error"));
        assert!(type_name_matches("*net.OpError", "*net.OpError"));
        assert!(!type_name_matches("MyConnectionError", "ConnectionError"));
        assert!(!type_name_matches("ConnectionError", ""));
    }

    #[test]
    fn message_tail_keeps_the_end_on_a_char_boundary() {
        let long = format!("{}é{}", "a".repeat(10), "b".repeat(MAX_MESSAGE_BYTES - 1));
        let tail = message_tail(&long);
        assert!(tail.len() <= MAX_MESSAGE_BYTES);
        assert!(tail.ends_with('b'));
    }
}
