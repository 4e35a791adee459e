//! The error classifier: ordered rules, first match wins.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use regex::{Regex, RegexBuilder};

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

    /// Whether every selector matches. `message_may_match` answers, once per
    /// classification, whether any message pattern of the policy could match
    /// (false lets a rule skip its own patterns).
    fn matches(
        &self,
        failure: &Observed<'_>,
        message_may_match: &mut impl FnMut() -> bool,
    ) -> bool {
        if !self.http_status.is_empty()
            && !failure
                .http_status
                .is_some_and(|s| self.http_status.iter().any(|r| r.contains(i64::from(s))))
        {
            return false;
        }
        if !self.grpc_code.is_empty()
            && !failure
                .grpc_code
                .is_some_and(|c| self.grpc_code.contains(&c))
        {
            return false;
        }
        if !self.exit_code.is_empty()
            && !failure
                .exit_code
                .is_some_and(|c| self.exit_code.iter().any(|r| r.contains(i64::from(c))))
        {
            return false;
        }
        if !self.signal.is_empty() && !failure.signal.is_some_and(|s| self.signal.contains(&s)) {
            return false;
        }
        if !self.error_type.is_empty() && self.matched_type(failure).is_none() {
            return false;
        }
        if !self.error_code.is_empty()
            && !failure
                .error_code
                .is_some_and(|code| self.error_code.iter().any(|c| c == code))
        {
            return false;
        }
        if !self.message.is_empty() {
            let Some(message) = failure.message else {
                return false;
            };
            if !message_may_match() || !self.message.iter().any(|re| re.is_match(message)) {
                return false;
            }
        }
        true
    }

    /// The matching type name: in the chain first (with its depth), then a base class.
    fn matched_type<'f>(&self, failure: &Observed<'f>) -> Option<(Option<usize>, &'f str)> {
        let named = |name: &&String| {
            self.error_type
                .iter()
                .any(|pattern| type_name_matches(name, pattern))
        };
        if let Some((depth, name)) = failure
            .error_types
            .iter()
            .enumerate()
            .find(|(_, n)| named(n))
        {
            return Some((Some(depth), name));
        }
        let base = failure.error_bases.iter().find(named)?;
        Some((None, base))
    }

    /// What matched, for a rule that [`Rule::matches`]: one phrase per selector.
    fn describe(&self, failure: &Observed<'_>) -> Vec<String> {
        let mut why = Vec::new();
        if let (false, Some(status)) = (self.http_status.is_empty(), failure.http_status) {
            why.push(format!("HTTP status {status}"));
        }
        if let (false, Some(code)) = (self.grpc_code.is_empty(), failure.grpc_code) {
            why.push(format!("gRPC status {}", names::grpc_name(code)));
        }
        if let (false, Some(code)) = (self.exit_code.is_empty(), failure.exit_code) {
            why.push(format!("exit code {code}"));
        }
        if let (false, Some(signal)) = (self.signal.is_empty(), failure.signal) {
            why.push(format!("signal {}", names::signal_name(signal)));
        }
        if !self.error_type.is_empty() {
            match self.matched_type(failure) {
                Some((Some(0), name)) => why.push(format!("error type `{name}`")),
                Some((Some(depth), name)) => {
                    why.push(format!("error type `{name}` (cause {depth} in the chain)"))
                }
                Some((None, base)) => why.push(format!("error base class `{base}`")),
                None => {}
            }
        }
        if let (false, Some(code)) = (self.error_code.is_empty(), failure.error_code) {
            why.push(format!("error code `{code}`"));
        }
        if let Some(message) = failure.message
            && let Some(pattern) = self.message.iter().find(|re| re.is_match(message))
        {
            why.push(format!("message pattern /{}/", pattern.as_str()));
        }
        why
    }
}

/// One regex search answering "could any message pattern of the policy
/// match?", so that a message none matches (the common "HTTP 503 Service
/// Unavailable") costs one search instead of one per pattern: the built-in
/// rules have 40 patterns, 32 of them before the first status rule, and
/// searching them one by one was most of a classification (1 µs of 1.2
/// natively). It is the alternation of every pattern, so a miss is exact.
/// It is built once the policy has searched its patterns one by one
/// [`PREFILTER_AFTER`] times: a one-shot process (`backstop run`, `backstop
/// classify`) classifies a few times (each failed attempt, and again for its
/// alert) and would spend more compiling it (about 1.3 ms natively for the
/// built-in rules) than it saves (about 0.6 µs a classification).
#[derive(Debug, Default)]
pub struct MessagePrefilter {
    uses: AtomicU32,
    compiled: OnceLock<Option<Regex>>,
}

/// Classifications that search the patterns one by one before the prefilter is built.
pub const PREFILTER_AFTER: u32 = 8;

impl Clone for MessagePrefilter {
    /// A copy starts cold: the compiled search is cheap to rebuild and a
    /// policy is cloned rarely (never on a decision's path).
    fn clone(&self) -> Self {
        MessagePrefilter::default()
    }
}

impl MessagePrefilter {
    /// Whether `message` could match a pattern of `rules`: the prefilter's
    /// answer once built, `true` (search each pattern) until then or when
    /// the alternation is too large to compile.
    fn may_match<'r>(&self, rules: impl Iterator<Item = &'r Rule>, message: &str) -> bool {
        let compiled = match self.compiled.get() {
            Some(compiled) => compiled,
            None if self.uses.fetch_add(1, Ordering::Relaxed) < PREFILTER_AFTER => return true,
            None => self.compiled.get_or_init(|| alternation(rules)),
        };
        compiled.as_ref().is_none_or(|re| re.is_match(message))
    }
}

/// The last failure a policy classified, with its classification. The
/// attempts of one retried operation usually fail the same way, and a
/// classification is a pure function of the policy and the failure, so an
/// identical failure is answered from here (through wazero or jco a
/// classification costs several µs; comparing the failure, well under one).
#[derive(Debug, Default)]
pub struct LastClassified(Mutex<Option<(Failure, Classification)>>);

impl Clone for LastClassified {
    /// A copy starts empty, as [`MessagePrefilter`]'s does.
    fn clone(&self) -> Self {
        LastClassified::default()
    }
}

impl LastClassified {
    /// `classify(failure)`, or the answer kept for an identical failure.
    /// Errors are never kept.
    pub fn get_or_classify(
        &self,
        failure: &Failure,
        classify: impl FnOnce() -> Result<Classification, PolicyError>,
    ) -> Result<Classification, PolicyError> {
        let lock = || self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((kept, classification)) = lock().as_ref()
            && kept == failure
        {
            return Ok(classification.clone());
        }
        // Not held while classifying: a native policy may be shared by threads.
        let classification = classify()?;
        if text_bytes(failure) <= LAST_CLASSIFIED_MAX_BYTES {
            *lock() = Some((failure.clone(), classification.clone()));
        }
        Ok(classification)
    }
}

/// The largest failure (its strings' bytes) [`LastClassified`] keeps: a copy
/// of a hostile multi-megabyte message would double what the call needs.
const LAST_CLASSIFIED_MAX_BYTES: usize = 16 * 1024;

fn text_bytes(failure: &Failure) -> usize {
    let optional = [
        &failure.grpc_code,
        &failure.signal,
        &failure.error_code,
        &failure.message,
    ];
    optional
        .iter()
        .map(|s| s.as_ref().map_or(0, String::len))
        .sum::<usize>()
        + failure
            .error_types
            .iter()
            .chain(&failure.error_bases)
            .map(String::len)
            .sum::<usize>()
}

/// `(?:p1)|(?:p2)|...` over every message pattern; inline flags such as
/// `(?i)` stay scoped to their own group.
fn alternation<'r>(rules: impl Iterator<Item = &'r Rule>) -> Option<Regex> {
    let patterns: Vec<String> = rules
        .flat_map(|rule| rule.message.iter())
        .map(|re| format!("(?:{})", re.as_str()))
        .collect();
    if patterns.is_empty() {
        return None;
    }
    // Each pattern was compiled within MAX_REGEX_BYTES; a policy whose
    // alternation is larger still classifies, pattern by pattern.
    RegexBuilder::new(&patterns.join("|"))
        .size_limit(PREFILTER_MAX_BYTES)
        .dfa_size_limit(PREFILTER_MAX_BYTES)
        .build()
        .ok()
}

/// Compiled size limit of the prefilter.
const PREFILTER_MAX_BYTES: usize = 4 * 1024 * 1024;

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
pub fn classify<'r, I>(
    rules: I,
    prefilter: &MessagePrefilter,
    failure: &Failure,
) -> Result<Classification, PolicyError>
where
    I: Iterator<Item = &'r Rule> + Clone,
{
    let observed = Observed::new(failure)?;
    let mut may_match = None;
    let mut message_may_match = || {
        *may_match.get_or_insert_with(|| {
            let message = observed.message.unwrap_or_default();
            prefilter.may_match(rules.clone(), message)
        })
    };
    let winner = rules
        .clone()
        .find(|rule| rule.matches(&observed, &mut message_may_match));
    Ok(match winner {
        Some(rule) => Classification {
            class: rule.class,
            rule: Some(rule.id.clone()),
            reason: match &rule.reason {
                Some(reason) => reason.clone(),
                None => format!(
                    "{} matched rule `{}`",
                    rule.describe(&observed).join(" and "),
                    rule.id
                ),
            },
        },
        None => Classification {
            class: FailureClass::Unknown,
            rule: None,
            reason: "no rule matched this failure".to_string(),
        },
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
    fn only_a_small_failure_is_kept_as_the_last_classified() {
        let last = LastClassified::default();
        let classifications = std::cell::Cell::new(0);
        let classify = || {
            classifications.set(classifications.get() + 1);
            Ok(Classification {
                class: FailureClass::Transient,
                rule: None,
                reason: "test".into(),
            })
        };
        let small = Failure {
            message: Some("503".into()),
            ..Failure::default()
        };
        let large = Failure {
            message: Some("x".repeat(LAST_CLASSIFIED_MAX_BYTES + 1)),
            ..Failure::default()
        };
        for failure in [&small, &small, &large, &large] {
            last.get_or_classify(failure, classify).unwrap();
        }
        // `small` once (then kept), `large` each time (never kept).
        assert_eq!(classifications.get(), 3);
    }

    #[test]
    fn message_tail_keeps_the_end_on_a_char_boundary() {
        let long = format!("{}é{}", "a".repeat(10), "b".repeat(MAX_MESSAGE_BYTES - 1));
        let tail = message_tail(&long);
        assert!(tail.len() <= MAX_MESSAGE_BYTES);
        assert!(tail.ends_with('b'));
    }
}
