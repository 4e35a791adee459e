//! A policy document, parsed and validated once, then reused for every decision.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use regex::RegexBuilder;

use crate::alerts::{self, AlertConfig, Evaluation, Event};
use crate::classify::{
    self, Classification, Failure, FailureClass, IntRange, LastClassified, MessagePrefilter, Rule,
};
use crate::document::{self, Format, Node, Value};
use crate::error::{ErrorCode, PolicyError};
use crate::names;
use crate::redaction::{self, Redactor};
use crate::retry::{
    AttemptFailure, Decision, Permit, RetryConfig, RetryState, Schedule, SharedState,
};
use crate::schema::{Table, Validator, join};

/// Most rules a policy may declare.
pub const MAX_RULES: usize = 1024;
/// Compiled size limit for one message pattern, in bytes.
pub const MAX_REGEX_BYTES: usize = 256 * 1024;
/// Longest rule id.
pub const MAX_ID_CHARS: usize = 128;

const BUILTIN_RULES_TOML: &str = include_str!("builtin_rules.toml");
const BUILTIN_PREFIX: &str = "builtin.";

/// A loaded policy.
#[derive(Debug, Clone)]
pub struct Policy {
    retry: RetryConfig,
    alerts: AlertConfig,
    /// The built-in redaction rules plus the policy's `[redaction]` table;
    /// `None`: the built-in redactor alone, compiled on first use.
    redaction: Option<Arc<Redactor>>,
    rules: Vec<Rule>,
    /// Whether the built-in rules are consulted after `rules` (shared, and
    /// compiled on the first classification, not at load).
    builtin: bool,
    /// One search over every message pattern of `rules()`, built once the
    /// policy classifies repeatedly.
    message_prefilter: MessagePrefilter,
    last_classified: LastClassified,
}

impl Policy {
    /// Parse and validate a policy document. Returns every diagnostic on failure.
    pub fn load(source: &str, format: Format) -> Result<Policy, Vec<PolicyError>> {
        let root = document::parse(source, format).map_err(|e| vec![e])?;
        let mut v = Validator::new(source);
        let (rules, use_builtin, retry, alerts) = if is_seed_alert_policy(&root) {
            // The seed guide's alert policy: top-level `rules` and `payload`.
            let alerts = AlertConfig::read(&mut v, "", &root);
            (Vec::new(), true, RetryConfig::default(), alerts)
        } else {
            let (rules, use_builtin) = read_policy(&mut v, &root, false);
            let retry = read_retry(&mut v, &root);
            let alerts = match section(&root, "alerts") {
                Some(node) => AlertConfig::read(&mut v, "alerts", node),
                None => AlertConfig::default(),
            };
            (rules, use_builtin, retry, alerts)
        };
        let redaction =
            section(&root, "redaction").map(|node| Redactor::read(&mut v, "redaction", node));
        let mut alerts = alerts;
        alerts.redactor = alerts::SharedRedactor(redaction.clone());
        if !v.errors.is_empty() {
            // Document order reads best, whatever order the checks ran in.
            let mut errors = v.errors;
            errors.sort_by_key(|e| e.location.map(|l| (l.line, l.column)));
            return Err(errors);
        }
        Ok(Policy {
            retry,
            alerts,
            redaction,
            rules,
            builtin: use_builtin,
            message_prefilter: MessagePrefilter::default(),
            last_classified: LastClassified::default(),
        })
    }

    /// The policy used when none is given: the built-in rules alone.
    pub fn builtin() -> Policy {
        Policy {
            retry: RetryConfig::default(),
            alerts: AlertConfig::default(),
            redaction: None,
            rules: Vec::new(),
            builtin: true,
            message_prefilter: MessagePrefilter::default(),
            last_classified: LastClassified::default(),
        }
    }

    /// Every rule in the order it is consulted.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> + Clone {
        self.rules
            .iter()
            .chain(self.builtin.then(builtin_rules_ref).into_iter().flatten())
    }

    pub fn classify(&self, failure: &Failure) -> Result<Classification, PolicyError> {
        self.last_classified.get_or_classify(failure, || {
            classify::classify(self.rules(), &self.message_prefilter, failure)
        })
    }

    pub fn retry(&self) -> &RetryConfig {
        &self.retry
    }

    /// Before an attempt: may it start, and with what timeout?
    pub fn begin_attempt(
        &self,
        state: &RetryState,
        shared: &SharedState,
        now_ms: u64,
    ) -> Result<Permit, PolicyError> {
        self.retry.begin_attempt(state, shared, now_ms)
    }

    /// After a failed attempt: classify it, then retry after how long or give up.
    pub fn after_failure(
        &self,
        state: &RetryState,
        shared: &SharedState,
        outcome: &AttemptFailure,
        now_ms: u64,
    ) -> Result<Decision, PolicyError> {
        let classification = self.classify(&outcome.failure)?;
        self.retry
            .after_failure(classification, state, shared, outcome, now_ms)
    }

    /// `after_failure`, then what the same failure decides when it repeats
    /// (see [`crate::retry::repeats`]).
    pub fn plan_failures(
        &self,
        state: &RetryState,
        shared: &SharedState,
        outcome: &AttemptFailure,
        now_ms: u64,
        max_entries: u32,
    ) -> Result<Vec<crate::PlannedFailure>, PolicyError> {
        let classification = self.classify(&outcome.failure)?;
        self.retry
            .plan_failures(classification, state, shared, outcome, now_ms, max_entries)
    }

    pub fn after_success(&self, shared: &SharedState) -> Result<SharedState, PolicyError> {
        self.retry.after_success(shared)
    }

    /// What a host may skip for `shared` (see [`crate::FastPath`]).
    pub fn fast_path(&self, shared: &SharedState) -> Result<crate::FastPath, PolicyError> {
        self.retry.fast_path(shared)
    }

    pub fn schedule(&self, seed: u64, max_entries: u32) -> Schedule {
        self.retry.schedule(seed, max_entries)
    }

    /// Redact secrets from `text` with the built-in rules and this policy's
    /// patterns and allow-list.
    pub fn redact(&self, text: &str) -> Result<redaction::Report, PolicyError> {
        if text.len() > redaction::MAX_REDACT_BYTES {
            return Err(PolicyError::new(
                ErrorCode::TooLarge,
                "text",
                format!(
                    "{} bytes to redact; the limit is {} (pass the tail, not the whole log)",
                    text.len(),
                    redaction::MAX_REDACT_BYTES
                ),
            ));
        }
        Ok(self.redactor().redact(text))
    }

    pub fn redactor(&self) -> &Redactor {
        match &self.redaction {
            Some(redactor) => redactor,
            None => Redactor::builtin_ref(),
        }
    }

    pub fn alerts(&self) -> &AlertConfig {
        &self.alerts
    }

    /// Evaluate one pipeline event against the alert rules (failures in the
    /// event are classified by this policy's classifier).
    pub fn evaluate_alerts(
        &self,
        state: &str,
        event: &Event,
        now_ms: u64,
    ) -> Result<Evaluation, PolicyError> {
        alerts::evaluate(&self.alerts, |f| self.classify(f), state, event, now_ms)
    }

    /// The alert state keys `event` needs (see `alerts/keyed.rs`).
    pub fn alert_state_keys(&self, event: &Event) -> alerts::NeededKeys {
        alerts::needed_keys(&self.alerts, event)
    }

    /// Evaluate one event over the keyed shards the host loaded.
    pub fn evaluate_alerts_keyed(
        &self,
        shards: &[alerts::KeyedState],
        event: &Event,
        now_ms: u64,
    ) -> Result<alerts::KeyedEvaluation, PolicyError> {
        alerts::evaluate_keyed(&self.alerts, |f| self.classify(f), shards, event, now_ms)
    }
}

fn section<'n>(root: &'n Node, key: &str) -> Option<&'n Node> {
    match &root.value {
        Value::Table(entries) => entries.iter().find(|e| e.key == key).map(|e| &e.node),
        _ => None,
    }
}

/// The seed guide's alert policy has top-level `rules` (and `payload`).
fn is_seed_alert_policy(root: &Node) -> bool {
    section(root, "rules").is_some()
}

fn read_retry(v: &mut Validator<'_>, root: &Node) -> RetryConfig {
    match section(root, "retry") {
        Some(node) => RetryConfig::read(v, node),
        None => RetryConfig::default(),
    }
}

/// The built-in rule set, parsed from `builtin_rules.toml` on first use.
fn builtin_rules_ref() -> &'static [Rule] {
    static BUILTIN: OnceLock<Vec<Rule>> = OnceLock::new();
    BUILTIN.get_or_init(|| {
        let root = document::parse(BUILTIN_RULES_TOML, Format::Toml)
            .expect("builtin_rules.toml is valid TOML (checked by tests)");
        let mut v = Validator::new(BUILTIN_RULES_TOML);
        let (rules, _) = read_policy(&mut v, &root, true);
        // A broken built-in file must never take a host down: tests assert it is clean.
        debug_assert!(v.errors.is_empty(), "{:?}", v.errors);
        rules
    })
}

const TOP_FIELDS: &[&str] = &["version", "classify", "retry", "alerts", "redaction"];
const CLASSIFY_FIELDS: &[&str] = &["builtin_rules", "rules"];
const RULE_FIELDS: &[&str] = &[
    "id",
    "class",
    "reason",
    "http_status",
    "grpc_code",
    "exit_code",
    "signal",
    "error_type",
    "error_code",
    "message",
];

fn read_policy(v: &mut Validator<'_>, root: &Node, builtin: bool) -> (Vec<Rule>, bool) {
    let Some(top) = v.table("", root, TOP_FIELDS) else {
        return (Vec::new(), true);
    };
    if let Some(version) = top.get("version") {
        match version.value {
            Value::Integer(1) => {}
            Value::Integer(n) => v.report(
                ErrorCode::OutOfRange,
                "version",
                version.offset,
                format!("unsupported policy version {n}; this engine reads version 1"),
            ),
            _ => v.wrong_type("version", version, "an integer"),
        }
    }
    let Some(classify) = top.get("classify") else {
        return (Vec::new(), true);
    };
    let Some(classify) = v.table("classify", classify, CLASSIFY_FIELDS) else {
        return (Vec::new(), true);
    };
    let use_builtin = classify
        .get("builtin_rules")
        .and_then(|node| v.bool("classify.builtin_rules", node))
        .unwrap_or(true);
    let rules = match classify.get("rules") {
        None => Vec::new(),
        Some(node) => read_rules(v, node, builtin),
    };
    (rules, use_builtin)
}

fn read_rules(v: &mut Validator<'_>, node: &Node, builtin: bool) -> Vec<Rule> {
    let Value::Array(items) = &node.value else {
        v.wrong_type("classify.rules", node, "an array of tables");
        return Vec::new();
    };
    if items.len() > MAX_RULES {
        v.report(
            ErrorCode::TooLarge,
            "classify.rules",
            node.offset,
            format!("{} rules; the limit is {MAX_RULES}", items.len()),
        );
        return Vec::new();
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut rules = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("classify.rules[{i}]");
        let errors_before = v.errors.len();
        let Some(table) = v.table(&path, item, RULE_FIELDS) else {
            continue;
        };
        // Checked on the raw id, so a duplicate is reported even when either
        // rule has other problems.
        if let Some(id_node) = table.get("id")
            && let Value::String(id) = &id_node.value
            && let Some(first) = seen.insert(id, i)
        {
            v.report(
                ErrorCode::DuplicateId,
                &join(&path, "id"),
                id_node.offset,
                format!("rule id `{id}` is already used by classify.rules[{first}]"),
            );
        }
        if let Some(rule) = read_rule(v, &path, &table, builtin, errors_before) {
            rules.push(rule);
        }
    }
    rules
}

/// `errors_before` counts diagnostics from before this rule was read, so that
/// a rule with a misspelt selector is not also reported as having none.
fn read_rule(
    v: &mut Validator<'_>,
    path: &str,
    table: &Table<'_>,
    builtin: bool,
    errors_before: usize,
) -> Option<Rule> {
    let id = match table.get("id") {
        None => {
            v.report(
                ErrorCode::MissingField,
                &join(path, "id"),
                table.offset,
                "every rule needs an `id`, which classifications report",
            );
            None
        }
        Some(node) => read_id(v, &join(path, "id"), node, builtin),
    };
    let class = match table.get("class") {
        None => {
            v.report(
                ErrorCode::MissingField,
                &join(path, "class"),
                table.offset,
                "every rule needs a `class`: transient, permanent or unknown",
            );
            None
        }
        Some(node) => {
            let field = join(path, "class");
            v.string(&field, node).and_then(|text| {
                let class = FailureClass::parse(text);
                if class.is_none() {
                    v.report(
                        ErrorCode::InvalidValue,
                        &field,
                        node.offset,
                        format!(
                            "`{text}` is not a class; expected transient, permanent or unknown"
                        ),
                    );
                }
                class
            })
        }
    };
    let reason = table
        .get("reason")
        .and_then(|node| read_nonempty(v, &join(path, "reason"), node));

    let mut rule = Rule {
        id: id.unwrap_or_default(),
        class: class.unwrap_or(FailureClass::Unknown),
        reason,
        http_status: Vec::new(),
        grpc_code: Vec::new(),
        exit_code: Vec::new(),
        signal: Vec::new(),
        error_type: Vec::new(),
        error_code: Vec::new(),
        message: Vec::new(),
    };
    let mut selector = |key: &str, read: &mut dyn FnMut(&mut Validator<'_>, &str, &Node)| {
        if let Some(node) = table.get(key) {
            for (item_path, item) in v.one_or_many(&join(path, key), node) {
                read(v, &item_path, item);
            }
        }
    };
    selector("http_status", &mut |v, p, n| {
        if let Some(r) = read_int_range(v, p, n, 100, 599, "an HTTP status", true) {
            rule.http_status.push(r);
        }
    });
    selector("exit_code", &mut |v, p, n| {
        if let Some(r) = read_int_range(v, p, n, 0, 255, "an exit code", false) {
            rule.exit_code.push(r);
        }
    });
    selector("grpc_code", &mut |v, p, n| {
        if let Some(code) = read_named(
            v,
            p,
            n,
            names::grpc_code,
            "a gRPC status (0-16 or a name such as UNAVAILABLE)",
        ) {
            rule.grpc_code.push(code);
        }
    });
    selector("signal", &mut |v, p, n| {
        if let Some(sig) = read_named(
            v,
            p,
            n,
            names::signal,
            "a signal (1-64 or a name such as SIGKILL)",
        ) {
            rule.signal.push(sig);
        }
    });
    selector("error_type", &mut |v, p, n| {
        if let Some(text) = read_name(v, p, n) {
            rule.error_type.push(text);
        }
    });
    selector("error_code", &mut |v, p, n| {
        if let Some(text) = read_name(v, p, n) {
            rule.error_code.push(text);
        }
    });
    selector("message", &mut |v, p, n| {
        let Some(pattern) = v.string(p, n) else {
            return;
        };
        match RegexBuilder::new(pattern)
            .size_limit(MAX_REGEX_BYTES)
            .dfa_size_limit(MAX_REGEX_BYTES)
            .build()
        {
            Ok(re) => rule.message.push(re),
            Err(err) => v.report(
                ErrorCode::InvalidRegex,
                p,
                n.offset,
                format!("not a valid pattern: {}", regex_problem(&err)),
            ),
        }
    });

    if v.errors.len() == errors_before && !rule.has_selectors() {
        v.report(
            ErrorCode::MissingField,
            path,
            table.offset,
            format!(
                "rule `{}` has no selector; give at least one of http_status, grpc_code, exit_code, signal, error_type, error_code, message",
                rule.id
            ),
        );
    }
    (v.errors.len() == errors_before).then_some(rule)
}

fn read_id(v: &mut Validator<'_>, path: &str, node: &Node, builtin: bool) -> Option<String> {
    let id = v.string(path, node)?;
    let valid_chars = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/'));
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS || !valid_chars {
        v.report(
            ErrorCode::InvalidValue,
            path,
            node.offset,
            format!("rule id must be 1-{MAX_ID_CHARS} characters of letters, digits and - _ . : /"),
        );
        return None;
    }
    if !builtin && id.starts_with(BUILTIN_PREFIX) {
        v.report(
            ErrorCode::InvalidValue,
            path,
            node.offset,
            format!(
                "rule ids starting with `{BUILTIN_PREFIX}` are reserved for the built-in rules"
            ),
        );
        return None;
    }
    Some(id.to_string())
}

fn read_nonempty(v: &mut Validator<'_>, path: &str, node: &Node) -> Option<String> {
    let text = v.string(path, node)?;
    if text.trim().is_empty() {
        v.report(
            ErrorCode::InvalidValue,
            path,
            node.offset,
            "must not be empty",
        );
        return None;
    }
    Some(text.to_string())
}

/// A name compared exactly (error types and codes): surrounding whitespace
/// would make it silently match nothing, so it is refused.
fn read_name(v: &mut Validator<'_>, path: &str, node: &Node) -> Option<String> {
    let text = read_nonempty(v, path, node)?;
    if text.trim() != text {
        v.report(
            ErrorCode::InvalidValue,
            path,
            node.offset,
            format!("`{text}` has leading or trailing whitespace, so it would never match"),
        );
        return None;
    }
    Some(text)
}

fn read_named(
    v: &mut Validator<'_>,
    path: &str,
    node: &Node,
    lookup: fn(&str) -> Option<u8>,
    what: &str,
) -> Option<u8> {
    let text = match &node.value {
        Value::Integer(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => {
            v.wrong_type(path, node, "a name or a number");
            return None;
        }
    };
    let found = lookup(&text);
    if found.is_none() {
        let code = if matches!(node.value, Value::Integer(_)) {
            ErrorCode::OutOfRange
        } else {
            ErrorCode::InvalidValue
        };
        v.report(code, path, node.offset, format!("`{text}` is not {what}"));
    }
    found
}

/// An integer, a range string `"500-504"`, or (when `classes`) a class `"5xx"`.
fn read_int_range(
    v: &mut Validator<'_>,
    path: &str,
    node: &Node,
    min: i64,
    max: i64,
    what: &str,
    classes: bool,
) -> Option<IntRange> {
    let range = match &node.value {
        Value::Integer(n) => IntRange { lo: *n, hi: *n },
        Value::String(text) => {
            let text = text.trim();
            // Compared as bytes: `text` may hold any characters (slicing a
            // string at byte 1 would split a multi-byte one).
            let bytes = text.as_bytes();
            let parsed = if classes
                && bytes.len() == 3
                && bytes[1..].eq_ignore_ascii_case(b"xx")
                && bytes[0].is_ascii_digit()
            {
                let hundreds = i64::from(text.as_bytes()[0] - b'0') * 100;
                Some(IntRange {
                    lo: hundreds,
                    hi: hundreds + 99,
                })
            } else if let Some((lo, hi)) = text.split_once('-') {
                lo.trim()
                    .parse()
                    .ok()
                    .zip(hi.trim().parse().ok())
                    .map(|(lo, hi)| IntRange { lo, hi })
            } else {
                text.parse().ok().map(|n| IntRange { lo: n, hi: n })
            };
            let Some(range) = parsed else {
                let forms = if classes {
                    "a number, a range such as \"500-504\" or a class such as \"5xx\""
                } else {
                    "a number or a range such as \"64-78\""
                };
                v.report(
                    ErrorCode::InvalidValue,
                    path,
                    node.offset,
                    format!("`{text}` is not {what}; expected {forms}"),
                );
                return None;
            };
            if range.lo > range.hi {
                v.report(
                    ErrorCode::InvalidValue,
                    path,
                    node.offset,
                    format!("range `{text}` is empty (start is after end)"),
                );
                return None;
            }
            range
        }
        _ => {
            v.wrong_type(path, node, "an integer or a string");
            return None;
        }
    };
    if range.lo < min || range.hi > max {
        v.report(
            ErrorCode::OutOfRange,
            path,
            node.offset,
            format!("{what} must be within {min}-{max}"),
        );
        return None;
    }
    Some(range)
}

/// regex's message draws a caret under the pattern over several lines; keep
/// its final `error: ...` line, which says what is wrong.
pub(crate) fn regex_problem(err: &regex::Error) -> String {
    let text = err.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    last.trim().trim_start_matches("error: ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_file_is_valid() {
        let root = document::parse(BUILTIN_RULES_TOML, Format::Toml).unwrap();
        let mut v = Validator::new(BUILTIN_RULES_TOML);
        let (rules, _) = read_policy(&mut v, &root, true);
        assert!(v.errors.is_empty(), "{:#?}", v.errors);
        assert!(rules.len() >= 8);
        assert!(rules.iter().all(|r| r.id.starts_with(BUILTIN_PREFIX)));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let doc = "[[classify.rules]]\nid = \"a\"\nclass = \"sometimes\"\nhttp_statu = 503\n\n[[classify.rules]]\nid = \"a\"\nclass = \"transient\"\nexit_code = 300\n";
        let errors = Policy::load(doc, Format::Toml).unwrap_err();
        let codes: Vec<_> = errors.iter().map(|e| (e.code, e.path.as_str())).collect();
        assert!(
            codes.contains(&(ErrorCode::InvalidValue, "classify.rules[0].class")),
            "{codes:?}"
        );
        assert!(
            codes.contains(&(ErrorCode::UnknownField, "classify.rules[0].http_statu")),
            "{codes:?}"
        );
        assert!(
            codes.contains(&(ErrorCode::OutOfRange, "classify.rules[1].exit_code")),
            "{codes:?}"
        );
    }
}
