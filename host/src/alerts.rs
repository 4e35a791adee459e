//! The escalation evaluator's types as the host sees them; their serde form is
//! the canonical JSON of `tests/README.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::Failure;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    AttemptFailed,
    RunFailed,
    RunSucceeded,
    RunLate,
    AlertAcknowledged,
    Tick,
}

/// One pipeline event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub kind: EventKind,
    #[serde(default)]
    pub pipeline: String,
    #[serde(default)]
    pub step: String,
    #[serde(default)]
    pub run_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    #[serde(default)]
    pub attempt: u32,
    #[serde(default)]
    pub late_minutes: u32,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_lines: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<String>,
}

impl Event {
    /// A timer tick: fire what is due.
    pub fn tick() -> Event {
        Event {
            kind: EventKind::Tick,
            pipeline: String::new(),
            step: String::new(),
            run_id: String::new(),
            failure: None,
            attempt: 0,
            late_minutes: 0,
            labels: BTreeMap::new(),
            log_lines: Vec::new(),
            dedup_key: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    High,
    Critical,
}

impl Severity {
    /// The WIT's name, as in JSON and the CLI's tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationKind {
    Trigger,
    Escalate,
    Repeat,
    Resolve,
}

impl NotificationKind {
    /// The WIT's name, as in JSON and the CLI's tables.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Trigger => "trigger",
            NotificationKind::Escalate => "escalate",
            NotificationKind::Repeat => "repeat",
            NotificationKind::Resolve => "resolve",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub kind: NotificationKind,
    pub severity: Severity,
    pub targets: Vec<String>,
    pub rule: String,
    pub dedup_key: String,
    pub summary: String,
    /// The policy's payload fields plus the runbook, as a JSON value.
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SuppressionReason {
    Duplicate,
    Inhibited,
    Acknowledged,
    RepeatLimit,
}

impl SuppressionReason {
    /// The WIT's name, as in JSON and the CLI's tables.
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionReason::Duplicate => "duplicate",
            SuppressionReason::Inhibited => "inhibited",
            SuppressionReason::Acknowledged => "acknowledged",
            SuppressionReason::RepeatLimit => "repeat-limit",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppressed {
    pub rule: String,
    pub dedup_key: String,
    pub severity: Severity,
    pub reason: SuppressionReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub notifications: Vec<Notification>,
    pub suppressed: Vec<Suppressed>,
    /// The next alert state: store it and pass it to the next call.
    pub state: String,
    pub next_wakeup_ms: Option<u64>,
}

/// One shard of a pipeline's alert state as the host stores it under `key`
/// (the guest decides the keys; see `alerts/keyed.rs` in the guest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyedState {
    pub key: String,
    /// Opaque JSON; an empty state in an answer means: delete the key.
    pub state: String,
    /// When the shard must be passed again (with a tick, or any event).
    pub next_wakeup_ms: Option<u64>,
}

/// The shards an event needs: `keys`, or every stored key when `every_key`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeededKeys {
    pub keys: Vec<String>,
    pub every_key: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyedEvaluation {
    pub notifications: Vec<Notification>,
    pub suppressed: Vec<Suppressed>,
    /// The shards that changed: store them (an empty state deletes the key).
    pub states: Vec<KeyedState>,
    /// The soonest wakeup among the shards this evaluation saw.
    pub next_wakeup_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// One JSON line on standard output.
    Stdout,
    /// One JSON line appended to the file `location[0]`.
    File,
    /// An HTTP POST to `location[0]`.
    Webhook,
    /// The command `location` (argv) with the JSON on its standard input.
    Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkFormat {
    /// The notification as is.
    Backstop,
    /// A PagerDuty Events v2 event; the routing key comes from the
    /// environment variable `routing_key_env` names, at delivery.
    Pagerduty,
    /// A Slack-compatible incoming-webhook message.
    Slack,
    /// The sink's `template`, filled from the notification.
    Template,
}

/// Where notifications for a target go: one of the policy's `[[alerts.sinks]]`,
/// as the guest validated it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sink {
    /// The target it serves, or `*` for every target without its own sink.
    pub target: String,
    pub kind: SinkKind,
    /// `file`: the path; `webhook`: the URL; `command`: the argv; empty for `stdout`.
    pub location: Vec<String>,
    pub format: SinkFormat,
    pub timeout_ms: u64,
    /// `webhook`: where undeliverable notifications are appended.
    pub dead_letter: Option<String>,
    /// `pagerduty`: the environment variable holding the routing key.
    pub routing_key_env: Option<String>,
    /// `template`: the body template as JSON text, `{{field}}` placeholders in its strings.
    pub template: Option<String>,
}
