//! The escalation evaluator: given an alert policy, the alert state so far,
//! one pipeline event and `now`, decide which notifications to send, which to
//! suppress and why, the next state, and when the host must call back.
//! Dedup and repeat follow Alertmanager's notification rules; dedup keys and
//! trigger / resolve follow PagerDuty Events v2.

mod condition;
mod evaluate;
mod group;
mod keyed;
mod redact;
mod render;
pub mod runbook;
mod state;
pub mod template;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use condition::Condition;
pub use evaluate::{
    Evaluation, Event, EventKind, Notification, NotificationKind, Suppressed, SuppressionReason,
    Verdict, dedup_verdict, evaluate,
};
pub use group::{NotifyReason, needs_update};
pub use keyed::{
    KeyedEvaluation, KeyedState, LEGACY_KEY, NeededKeys, evaluate_keyed, needed_keys, step_key,
};
pub use redact::{SharedRedactor, clip, redact, redact_lines, redact_message};
pub use render::rfc3339;
pub use state::AlertState;

use crate::document::{Node, Value};
use crate::error::ErrorCode;
use crate::retry::MAX_DURATION_MS;
use crate::schema::{Validator, join};

/// Ordered: a higher severity inhibits lower ones. Stored in the alert state
/// by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        [
            Severity::Info,
            Severity::Warning,
            Severity::High,
            Severity::Critical,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One level of an escalation chain: who is told once the alert has gone
/// unacknowledged for `after_ms` since it first fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationLevel {
    pub after_ms: u64,
    pub notify: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct AlertRule {
    pub id: String,
    pub condition: Arc<Condition>,
    pub severity: Severity,
    pub notify: Vec<String>,
    /// Identical notifications within this window are suppressed as duplicates.
    pub dedup_window_ms: u64,
    /// Unacknowledged firing alerts are re-sent this often (Alertmanager `repeat_interval`).
    pub repeat_interval_ms: Option<u64>,
    /// At most this many repeats per alert.
    pub repeat_limit: u32,
    pub escalation: Vec<EscalationLevel>,
    pub auto_resolve: bool,
    /// Facts whose values, with the rule id, make the dedup key.
    pub group_by: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Runbook {
    pub url: Option<String>,
    pub retry_command: Option<String>,
    /// `retry_command`, parsed (placeholders outside quotes, checked at load).
    pub retry_template: Option<runbook::Template>,
}

/// Where notifications for a target go. The evaluator never delivers; it
/// validates these so a bad sink is a load error with a location, and hosts
/// (`backstop run`) get them through the WIT's `sinks` to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sink {
    /// The notification target it serves, or `*` for every target.
    pub target: String,
    pub kind: SinkKind,
    /// `file`: the JSON-lines file; `webhook`: the URL; `command`: argv.
    pub location: Vec<String>,
    pub format: SinkFormat,
    pub timeout_ms: u64,
    /// `webhook`: where undeliverable notifications are appended.
    pub dead_letter: Option<String>,
    /// `pagerduty`: the environment variable holding the routing key (the key
    /// itself never appears in a policy).
    pub routing_key_env: Option<String>,
    /// `template`: the body template as compact JSON text (see `template`).
    pub template: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    Stdout,
    File,
    Webhook,
    Command,
}

impl SinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Stdout => "stdout",
            SinkKind::File => "file",
            SinkKind::Webhook => "webhook",
            SinkKind::Command => "command",
        }
    }
}

/// The shape of a delivered body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkFormat {
    /// The notification as is.
    Backstop,
    /// A PagerDuty Events v2 event.
    Pagerduty,
    /// A Slack-compatible incoming-webhook message.
    Slack,
    /// The sink's own JSON template, filled from the notification.
    Template,
}

impl SinkFormat {
    const ALL: [SinkFormat; 4] = [
        SinkFormat::Backstop,
        SinkFormat::Pagerduty,
        SinkFormat::Slack,
        SinkFormat::Template,
    ];
}

impl SinkFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            SinkFormat::Backstop => "backstop",
            SinkFormat::Pagerduty => "pagerduty",
            SinkFormat::Slack => "slack",
            SinkFormat::Template => "template",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct AlertConfig {
    /// The document has an alert section (`[alerts]`, or the seed's format).
    pub present: bool,
    pub sinks: Vec<Sink>,
    pub rules: Vec<AlertRule>,
    /// Extra fields each notification's payload carries.
    pub payload: Vec<String>,
    pub runbook: Runbook,
    /// A firing alert of higher severity for the same pipeline and step
    /// suppresses new lower-severity triggers (Alertmanager inhibition).
    pub inhibit_lower_severity: bool,
    /// Redacts error messages, log lines and labels (the policy's `[redaction]`).
    pub redactor: SharedRedactor,
    /// `[alerts.grouping]`: notify per group of alerts (Alertmanager's
    /// aggregation groups) instead of per alert; `None` keeps per-alert notifications.
    pub grouping: Option<Grouping>,
}

/// Alertmanager's route grouping: alerts with the same values of `group_by`
/// for the same target form a group, notified together after `group_wait`,
/// then at most every `group_interval`, repeated after `repeat_interval`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    pub group_by: Vec<String>,
    pub group_wait_ms: u64,
    pub group_interval_ms: u64,
    pub repeat_interval_ms: u64,
    /// Tell a group's targets when its alerts resolve (Alertmanager `send_resolved`).
    pub send_resolved: bool,
}

/// Labels a group may be keyed by.
pub const GROUPING_LABELS: &[&str] = &[
    "pipeline",
    "step",
    "run_id",
    "rule",
    "severity",
    "error_type",
    "error_class",
];
const GROUPING_FIELDS: &[&str] = &[
    "group_by",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "send_resolved",
];

/// Fields a payload may name.
pub const PAYLOAD_FIELDS: &[&str] = &[
    "pipeline",
    "step",
    "run_id",
    "error_type",
    "error_code",
    "error_class",
    "error_message",
    "last_log_lines",
    "attempts",
    "failure_count",
    "consecutive_failures",
    "late_minutes",
    "labels",
];

/// Facts a rule may group by.
pub const GROUP_FIELDS: &[&str] = &["pipeline", "step", "run_id", "error_type", "error_class"];

const DEFAULT_GROUP_BY: &[&str] = &["pipeline", "step", "run_id", "error_type"];
const DEFAULT_DEDUP_MS: u64 = 30 * 60_000;
const MAX_ALERT_RULES: usize = 256;

const ALERT_FIELDS: &[&str] = &[
    "rules",
    "payload",
    "runbook",
    "inhibit_lower_severity",
    "sinks",
    "grouping",
];
const SINK_FIELDS: &[&str] = &[
    "target",
    "type",
    "path",
    "url",
    "command",
    "format",
    "timeout",
    "dead_letter",
    "routing_key_env",
    "template",
    // Accepted by the reader only to refuse them with a better message than
    // "unknown field": a routing key is a secret and never sits in a policy.
    "routing_key",
    "integration_key",
    "service_key",
];
const RULE_FIELDS: &[&str] = &[
    "id",
    "condition",
    "severity",
    "notify",
    "dedup_window",
    "repeat_interval",
    "repeat_limit",
    "escalate_after",
    "escalation",
    "auto_resolve",
    "group_by",
];

impl AlertConfig {
    /// Read an `alerts` table, or (for the seed guide's format) the whole
    /// document when it has top-level `rules` and `payload`; `path` is `alerts`
    /// or empty accordingly.
    pub fn read(v: &mut Validator<'_>, path: &str, node: &Node) -> AlertConfig {
        let mut config = AlertConfig {
            present: true,
            inhibit_lower_severity: true,
            ..AlertConfig::default()
        };
        let known: Vec<&str> = if path.is_empty() {
            // The seed format shares the document with nothing else but `version`.
            ALERT_FIELDS
                .iter()
                .copied()
                .chain(["version", "redaction"])
                .collect()
        } else {
            ALERT_FIELDS.to_vec()
        };
        let Some(table) = v.table(path, node, &known) else {
            return config;
        };
        if path.is_empty()
            && let Some(n) = table.get("version")
            && !matches!(n.value, Value::Integer(1))
        {
            v.report(
                ErrorCode::OutOfRange,
                "version",
                n.offset,
                "unsupported policy version; this engine reads version 1",
            );
        }
        if let Some(n) = table.get("inhibit_lower_severity") {
            config.inhibit_lower_severity = v
                .bool(&join(path, "inhibit_lower_severity"), n)
                .unwrap_or(true);
        }
        if let Some(n) = table.get("payload") {
            let p = join(path, "payload");
            if let Value::Array(items) = &n.value {
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{p}[{i}]");
                    if let Some(name) = v.string(&item_path, item) {
                        if PAYLOAD_FIELDS.contains(&name) {
                            config.payload.push(name.to_string());
                        } else {
                            unknown_name(
                                v,
                                &item_path,
                                item,
                                name,
                                PAYLOAD_FIELDS,
                                "payload field",
                            );
                        }
                    }
                }
            } else {
                v.wrong_type(&p, n, "an array of field names");
            }
        }
        if let Some(n) = table.get("runbook") {
            let p = join(path, "runbook");
            if let Some(t) = v.table(&p, n, &["url", "retry_command"]) {
                config.runbook.url = t
                    .get("url")
                    .and_then(|n| v.string(&join(&p, "url"), n))
                    .map(str::to_string);
                if let Some(n) = t.get("retry_command") {
                    let rp = join(&p, "retry_command");
                    if let Some(text) = v.string(&rp, n) {
                        match runbook::Template::parse(text) {
                            Ok(template) => {
                                config.runbook.retry_command = Some(text.to_string());
                                config.runbook.retry_template = Some(template);
                            }
                            Err(message) => {
                                v.report(ErrorCode::InvalidValue, &rp, n.offset, message)
                            }
                        }
                    }
                }
            }
        }
        if let Some(n) = table.get("grouping") {
            config.grouping = read_grouping(v, &join(path, "grouping"), n);
        }
        if let Some(n) = table.get("sinks") {
            let p = join(path, "sinks");
            match &n.value {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(sink) = read_sink(v, &format!("{p}[{i}]"), item) {
                            config.sinks.push(sink);
                        }
                    }
                }
                _ => v.wrong_type(&p, n, "an array of tables"),
            }
        }
        if let Some(n) = table.get("rules") {
            let p = join(path, "rules");
            match &n.value {
                Value::Array(items) if items.len() > MAX_ALERT_RULES => v.report(
                    ErrorCode::TooLarge,
                    &p,
                    n.offset,
                    format!(
                        "{} alert rules; the limit is {MAX_ALERT_RULES}",
                        items.len()
                    ),
                ),
                Value::Array(items) => {
                    let mut seen: Vec<String> = Vec::new();
                    for (i, item) in items.iter().enumerate() {
                        let rule_path = format!("{p}[{i}]");
                        if let Some(rule) = read_rule(v, &rule_path, item, i) {
                            if seen.contains(&rule.id) {
                                v.report(
                                    ErrorCode::DuplicateId,
                                    &join(&rule_path, "id"),
                                    item.offset,
                                    format!("alert rule id `{}` is used twice", rule.id),
                                );
                            }
                            seen.push(rule.id.clone());
                            config.rules.push(rule);
                        }
                    }
                }
                _ => v.wrong_type(&p, n, "an array of tables"),
            }
        }
        config
    }
}

fn unknown_name(
    v: &mut Validator<'_>,
    path: &str,
    node: &Node,
    name: &str,
    known: &[&str],
    what: &str,
) {
    let message = match crate::schema::suggest(name, known) {
        Some(close) => format!("`{name}` is not a {what}; did you mean `{close}`?"),
        None => format!(
            "`{name}` is not a {what}; expected one of: {}",
            known.join(", ")
        ),
    };
    v.report(ErrorCode::InvalidValue, path, node.offset, message);
}

fn read_sink(v: &mut Validator<'_>, path: &str, node: &Node) -> Option<Sink> {
    let before = v.errors.len();
    let t = v.table(path, node, SINK_FIELDS)?;
    let text = |v: &mut Validator<'_>, key: &str| {
        t.get(key)
            .and_then(|n| v.string(&join(path, key), n))
            .map(str::to_string)
    };
    let target = text(v, "target").unwrap_or_else(|| "*".to_string());
    let kind = match t.get("type") {
        None => {
            v.report(
                ErrorCode::MissingField,
                &join(path, "type"),
                t.offset,
                "a sink needs a `type`: stdout, file, webhook or command",
            );
            None
        }
        Some(n) => v.string(&join(path, "type"), n).and_then(|k| {
            let kind = [
                SinkKind::Stdout,
                SinkKind::File,
                SinkKind::Webhook,
                SinkKind::Command,
            ]
            .into_iter()
            .find(|s| s.as_str() == k);
            if kind.is_none() {
                v.report(
                    ErrorCode::InvalidValue,
                    &join(path, "type"),
                    n.offset,
                    format!("`{k}` is not a sink type; expected stdout, file, webhook or command"),
                );
            }
            kind
        }),
    };
    let mut location = Vec::new();
    let required = match kind {
        Some(SinkKind::File) => Some("path"),
        Some(SinkKind::Webhook) => Some("url"),
        Some(SinkKind::Command) => Some("command"),
        _ => None,
    };
    if let Some(key) = required {
        match t.get(key) {
            None => v.report(
                ErrorCode::MissingField,
                &join(path, key),
                t.offset,
                format!("a {} sink needs `{key}`", kind.map_or("", SinkKind::as_str)),
            ),
            Some(n) => {
                for (p, item) in v.one_or_many(&join(path, key), n) {
                    if let Some(s) = v.string(&p, item) {
                        location.push(s.to_string());
                    }
                }
            }
        }
        if key == "url"
            && location
                .first()
                .is_some_and(|u| !(u.starts_with("http://") || u.starts_with("https://")))
        {
            let at = t.get("url").map_or(t.offset, |n| n.offset);
            v.report(
                ErrorCode::InvalidValue,
                &join(path, "url"),
                at,
                "a webhook url starts with http:// or https://",
            );
        }
    }
    let format = match text(v, "format") {
        None => Some(SinkFormat::Backstop),
        Some(name) => {
            let format = SinkFormat::ALL.into_iter().find(|f| f.as_str() == name);
            if format.is_none() {
                let at = t.get("format").map_or(t.offset, |n| n.offset);
                v.report(
                    ErrorCode::InvalidValue,
                    &join(path, "format"),
                    at,
                    format!(
                        "`{name}` is not a format; expected backstop, pagerduty, slack or template"
                    ),
                );
            }
            format
        }
    };
    for secret in ["routing_key", "integration_key", "service_key"] {
        if let Some(n) = t.get(secret) {
            v.report(
                ErrorCode::InvalidValue,
                &join(path, secret),
                n.offset,
                format!(
                    "the sink for `{target}` has a literal `{secret}`: a routing key is a secret and never goes in a policy file; put it in an environment variable and name that variable with `routing_key_env`"
                ),
            );
        }
    }
    let routing_key_env = text(v, "routing_key_env");
    if let Some(name) = &routing_key_env {
        let at = t.get("routing_key_env").map_or(t.offset, |n| n.offset);
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            v.report(
                ErrorCode::InvalidValue,
                &join(path, "routing_key_env"),
                at,
                format!("`{name}` is not an environment variable name (letters, digits and `_`, not starting with a digit)"),
            );
        } else if format.is_some_and(|f| f != SinkFormat::Pagerduty) {
            v.report(
                ErrorCode::InvalidValue,
                &join(path, "routing_key_env"),
                at,
                "`routing_key_env` is for a `format = \"pagerduty\"` sink",
            );
        }
    } else if format == Some(SinkFormat::Pagerduty) {
        v.report(
            ErrorCode::MissingField,
            &join(path, "routing_key_env"),
            t.offset,
            format!(
                "the pagerduty sink for `{target}` needs `routing_key_env`: the environment variable that holds the integration's routing key"
            ),
        );
    }
    let template = match t.get("template") {
        None => {
            if format == Some(SinkFormat::Template) {
                v.report(
                    ErrorCode::MissingField,
                    &join(path, "template"),
                    t.offset,
                    "a `format = \"template\"` sink needs `template`: the JSON object to send, with `{{field}}` placeholders",
                );
            }
            None
        }
        Some(n) => {
            let p = join(path, "template");
            if format.is_some_and(|f| f != SinkFormat::Template) {
                v.report(
                    ErrorCode::InvalidValue,
                    &p,
                    n.offset,
                    "`template` is for a `format = \"template\"` sink",
                );
                None
            } else {
                template::read(v, &p, n)
            }
        }
    };
    let timeout_ms = t
        .get("timeout")
        .and_then(|n| v.duration_ms(&join(path, "timeout"), n, 1, 10 * 60_000))
        .unwrap_or(10_000);
    let dead_letter = text(v, "dead_letter");
    if v.errors.len() != before {
        return None;
    }
    Some(Sink {
        target,
        kind: kind?,
        location,
        format: format?,
        timeout_ms,
        dead_letter,
        routing_key_env,
        template,
    })
}

fn read_grouping(v: &mut Validator<'_>, path: &str, node: &Node) -> Option<Grouping> {
    let before = v.errors.len();
    let t = v.table(path, node, GROUPING_FIELDS)?;
    // Alertmanager's defaults (dispatch/route.go DefaultRouteOpts), except
    // `group_by`, whose default here is one group per pipeline step.
    let mut group_by: Vec<String> = vec!["pipeline".into(), "step".into()];
    if let Some(n) = t.get("group_by") {
        group_by.clear();
        // `[]` is meaningful here: one group per target, as in Alertmanager.
        let items = match &n.value {
            Value::Array(items) if items.is_empty() => Vec::new(),
            _ => v.one_or_many(&join(path, "group_by"), n),
        };
        for (p, item) in items {
            let Some(name) = v.string(&p, item) else {
                continue;
            };
            if !GROUPING_LABELS.contains(&name) {
                unknown_name(v, &p, item, name, GROUPING_LABELS, "label to group by");
            } else if group_by.iter().any(|g| g == name) {
                v.report(
                    ErrorCode::InvalidValue,
                    &p,
                    item.offset,
                    format!("`{name}` is listed twice in group_by"),
                );
            } else {
                group_by.push(name.to_string());
            }
        }
    }
    let duration = |v: &mut Validator<'_>, key: &str, min: u64, default: u64| {
        t.get(key)
            .and_then(|n| v.duration_ms(&join(path, key), n, min, MAX_DURATION_MS))
            .unwrap_or(default)
    };
    // A zero wait is allowed (notify at once); zero intervals are not, as in
    // Alertmanager ("group_interval cannot be zero").
    let group_wait_ms = duration(v, "group_wait", 0, 30_000);
    let group_interval_ms = duration(v, "group_interval", 1_000, 5 * 60_000);
    let repeat_interval_ms = duration(v, "repeat_interval", 1_000, 4 * 3_600_000);
    let send_resolved = t
        .get("send_resolved")
        .and_then(|n| v.bool(&join(path, "send_resolved"), n))
        .unwrap_or(true);
    if v.errors.len() != before {
        return None;
    }
    Some(Grouping {
        group_by,
        group_wait_ms,
        group_interval_ms,
        repeat_interval_ms,
        send_resolved,
    })
}

fn read_targets(v: &mut Validator<'_>, path: &str, node: &Node) -> Vec<String> {
    // Said here rather than by `one_or_many`'s generic "matches nothing": an
    // alert (or escalation level) nobody receives would fire unseen.
    if matches!(&node.value, Value::Array(items) if items.is_empty()) {
        v.report(
            ErrorCode::InvalidValue,
            path,
            node.offset,
            "`notify` is empty: name at least one target (a sink's `target`), or nobody hears of this alert",
        );
        return Vec::new();
    }
    let mut targets = Vec::new();
    for (p, item) in v.one_or_many(path, node) {
        if let Some(t) = v.string(&p, item) {
            if t.trim().is_empty() {
                v.report(
                    ErrorCode::InvalidValue,
                    &p,
                    item.offset,
                    "a target must not be empty",
                );
            } else {
                targets.push(t.to_string());
            }
        }
    }
    targets
}

fn read_rule(v: &mut Validator<'_>, path: &str, node: &Node, index: usize) -> Option<AlertRule> {
    let before = v.errors.len();
    let t = v.table(path, node, RULE_FIELDS)?;
    let id = match t.get("id") {
        Some(n) => v.string(&join(path, "id"), n).and_then(|id| {
            // Ids are part of dedup keys (`backstop/<rule>/...`), so no `/`.
            let valid = !id.is_empty()
                && id.chars().count() <= 128
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
            if !valid {
                v.report(
                    ErrorCode::InvalidValue,
                    &join(path, "id"),
                    n.offset,
                    "an alert rule id must be 1-128 characters of letters, digits and - _ . :",
                );
            }
            valid.then(|| id.to_string())
        }),
        // The seed's rules have no ids; number them as a person would.
        None => Some(format!("rule-{}", index + 1)),
    };
    let condition = match t.get("condition") {
        None => {
            v.report(
                ErrorCode::MissingField,
                &join(path, "condition"),
                t.offset,
                "every alert rule needs a `condition` (a CEL expression)",
            );
            None
        }
        Some(n) => v.string(&join(path, "condition"), n).and_then(|text| {
            Condition::compile(text)
                .map_err(|message| {
                    v.report(
                        ErrorCode::InvalidValue,
                        &join(path, "condition"),
                        n.offset,
                        message,
                    )
                })
                .ok()
        }),
    };
    let severity = match t.get("severity") {
        None => {
            v.report(
                ErrorCode::MissingField,
                &join(path, "severity"),
                t.offset,
                "every alert rule needs a `severity`: info, warning, high or critical",
            );
            None
        }
        Some(n) => v.string(&join(path, "severity"), n).and_then(|text| {
            let s = Severity::parse(text);
            if s.is_none() {
                v.report(
                    ErrorCode::InvalidValue,
                    &join(path, "severity"),
                    n.offset,
                    format!("`{text}` is not a severity; expected info, warning, high or critical"),
                );
            }
            s
        }),
    };
    let notify = match t.get("notify") {
        None => {
            v.report(
                ErrorCode::MissingField,
                &join(path, "notify"),
                t.offset,
                "every alert rule needs `notify` targets",
            );
            Vec::new()
        }
        Some(n) => read_targets(v, &join(path, "notify"), n),
    };
    let duration = |v: &mut Validator<'_>, key: &str, min: u64| {
        t.get(key)
            .and_then(|n| v.duration_ms(&join(path, key), n, min, MAX_DURATION_MS))
    };
    let dedup_window_ms = duration(v, "dedup_window", 0).unwrap_or(DEFAULT_DEDUP_MS);
    let repeat_interval_ms = duration(v, "repeat_interval", 60_000);
    let repeat_limit = t
        .get("repeat_limit")
        .and_then(|n| v.integer(&join(path, "repeat_limit"), n, 0, 1_000))
        .map_or(3, |n| n as u32);
    let mut escalation = Vec::new();
    if let Some(after) = duration(v, "escalate_after", 1) {
        // `escalate_after` alone re-notifies the rule's own targets.
        escalation.push(EscalationLevel {
            after_ms: after,
            notify: notify.clone(),
        });
    }
    if let Some(n) = t.get("escalation") {
        let p = join(path, "escalation");
        if let Value::Array(levels) = &n.value {
            for (i, level) in levels.iter().enumerate() {
                let lp = format!("{p}[{i}]");
                let Some(lt) = v.table(&lp, level, &["after", "notify"]) else {
                    continue;
                };
                let after = lt
                    .get("after")
                    .and_then(|n| v.duration_ms(&join(&lp, "after"), n, 1, MAX_DURATION_MS));
                let targets = lt
                    .get("notify")
                    .map(|n| read_targets(v, &join(&lp, "notify"), n))
                    .unwrap_or_default();
                match (after, targets.is_empty()) {
                    (Some(after_ms), false) => {
                        if escalation
                            .last()
                            .is_some_and(|l: &EscalationLevel| l.after_ms >= after_ms)
                        {
                            v.report(
                                ErrorCode::InvalidValue,
                                &join(&lp, "after"),
                                level.offset,
                                "escalation levels must come later and later",
                            );
                        }
                        escalation.push(EscalationLevel {
                            after_ms,
                            notify: targets,
                        });
                    }
                    _ => v.report(
                        ErrorCode::MissingField,
                        &lp,
                        level.offset,
                        "an escalation level needs `after` and `notify`",
                    ),
                }
            }
        } else {
            v.wrong_type(&p, n, "an array of tables");
        }
    }
    let auto_resolve = t
        .get("auto_resolve")
        .and_then(|n| v.bool(&join(path, "auto_resolve"), n))
        .unwrap_or(true);
    let mut group_by: Vec<String> = DEFAULT_GROUP_BY.iter().map(|s| s.to_string()).collect();
    if let Some(n) = t.get("group_by") {
        group_by.clear();
        for (p, item) in v.one_or_many(&join(path, "group_by"), n) {
            if let Some(name) = v.string(&p, item) {
                if GROUP_FIELDS.contains(&name) {
                    group_by.push(name.to_string());
                } else {
                    unknown_name(v, &p, item, name, GROUP_FIELDS, "fact to group by");
                }
            }
        }
    }
    if v.errors.len() != before {
        return None;
    }
    Some(AlertRule {
        id: id?,
        condition: Arc::new(condition?),
        severity: severity?,
        notify,
        dedup_window_ms,
        repeat_interval_ms,
        repeat_limit,
        escalation,
        auto_resolve,
        group_by,
    })
}
