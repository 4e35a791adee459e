//! Alert state: a versioned JSON document the host stores as an opaque
//! string (the empty string is a fresh state). Plain data, so a restart, a
//! second replica or `alerts simulate` continues exactly where the last call left.

use serde::{Deserialize, Serialize};

use super::Severity;
use crate::error::{ErrorCode, PolicyError};

pub const STATE_VERSION: u32 = 1;
/// Most alerts and pipeline steps a state tracks; beyond it the least
/// recently updated steps and least recently notified alerts are dropped.
pub const MAX_TRACKED: usize = 10_000;
/// Largest state document accepted.
pub const MAX_STATE_BYTES: usize = 8 << 20;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertState {
    pub version: u32,
    #[serde(default)]
    pub steps: Vec<StepFacts>,
    #[serde(default)]
    pub alerts: Vec<AlertEntry>,
    /// Alert groups (`[alerts.grouping]`); absent from states of policies without it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupEntry>,
}

/// What is known about one pipeline step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StepFacts {
    pub pipeline: String,
    pub step: String,
    pub run_id: String,
    /// Failed attempts in the current run.
    pub failure_count: u32,
    pub attempts: u32,
    /// Failed runs in a row; a successful run resets it.
    pub consecutive_failures: u32,
    pub late_minutes: u32,
    pub status: StepStatus,
    pub error_class: String,
    pub error_type: String,
    pub error_code: String,
    pub error_message: String,
    pub log_lines: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub updated_ms: u64,
}

/// Where the step's current run stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Attempts are failing, or nothing but lateness is known yet. States
    /// written before this was an enum hold `""` for the latter.
    #[default]
    #[serde(alias = "")]
    Running,
    Failed,
    Succeeded,
}

impl StepStatus {
    /// The name alert conditions see as `run.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Running => "running",
            StepStatus::Failed => "failed",
            StepStatus::Succeeded => "succeeded",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertStatus {
    Firing,
    Acknowledged,
    /// Resolved, and still in a group whose next flush tells its targets
    /// (grouping only; without grouping a resolved alert leaves the state).
    Resolved,
}

/// One alert that was notified and not yet resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertEntry {
    pub dedup_key: String,
    pub rule: String,
    pub severity: Severity,
    pub pipeline: String,
    pub step: String,
    pub run_id: String,
    pub status: AlertStatus,
    pub first_fired_ms: u64,
    pub last_sent_ms: u64,
    /// Escalation levels already notified.
    pub level: u32,
    pub repeats: u32,
    /// Everyone told so far; a resolve goes to all of them. With grouping,
    /// the targets whose groups hold the alert.
    pub notified: Vec<String>,
    /// With grouping: the alert's group labels (`pipeline=p/step=s`), fixed
    /// when it fires; with the target, they name its group.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
}

/// One aggregation group (Alertmanager's `aggrGroup` plus its notification
/// log entry): the alerts with the same group labels for one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupEntry {
    /// The notifications' dedup key: `backstop-group/<labels>/to=<target>`.
    pub key: String,
    pub labels: String,
    pub target: String,
    /// When the group is next flushed: group_wait after it formed, then every
    /// group_interval.
    pub next_flush_ms: u64,
    /// The last notification (the notification log); none yet if `None`.
    pub last_sent_ms: Option<u64>,
    /// Dedup keys of the firing and resolved alerts the last notification listed.
    pub notified_firing: Vec<String>,
    pub notified_resolved: Vec<String>,
}

impl AlertState {
    pub fn parse(text: &str) -> Result<AlertState, PolicyError> {
        if text.trim().is_empty() {
            return Ok(AlertState {
                version: STATE_VERSION,
                ..AlertState::default()
            });
        }
        if text.len() > MAX_STATE_BYTES {
            return Err(PolicyError::new(
                ErrorCode::TooLarge,
                "state",
                format!(
                    "alert state is {} bytes; the limit is {MAX_STATE_BYTES}",
                    text.len()
                ),
            ));
        }
        let state: AlertState = serde_json::from_str(text).map_err(|e| {
            PolicyError::new(
                ErrorCode::InvalidState,
                "state",
                format!(
                    "alert state is not valid (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        if state.version != STATE_VERSION {
            return Err(PolicyError::new(
                ErrorCode::InvalidState,
                "state.version",
                format!(
                    "alert state version {} is not {STATE_VERSION}",
                    state.version
                ),
            ));
        }
        Ok(state)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("alert state serializes")
    }

    /// Keep the state bounded: drop the least recently updated idle steps.
    pub fn prune(&mut self) {
        if self.steps.len() > MAX_TRACKED {
            self.steps.sort_by_key(|s| std::cmp::Reverse(s.updated_ms));
            self.steps.truncate(MAX_TRACKED);
        }
        if self.alerts.len() > MAX_TRACKED {
            self.alerts
                .sort_by_key(|a| std::cmp::Reverse(a.last_sent_ms));
            self.alerts.truncate(MAX_TRACKED);
        }
        if self.groups.len() > MAX_TRACKED {
            self.groups
                .sort_by_key(|g| std::cmp::Reverse(g.last_sent_ms));
            self.groups.truncate(MAX_TRACKED);
        }
    }
}
