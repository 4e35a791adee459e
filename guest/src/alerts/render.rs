//! Rendering: a notification's summary line and JSON payload (runbook
//! included) for a decision `evaluate` made. Nothing here decides whether to
//! notify; everything here is pure, `now` included.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value as Json};

use super::evaluate::{Notification, NotificationKind};
use super::state::{AlertEntry, StepFacts, StepStatus};
use super::{AlertConfig, AlertRule, Severity, clip, runbook};

/// `1970-01-01T00:00:00Z` style UTC time for a millisecond timestamp, to the
/// second. RFC 3339 ends at year 9999: a later time (only a nonsense `now`
/// reaches it) reads as the last second jiff represents (9999-12-30T22:00:00Z)
/// rather than failing the evaluation over a runbook field.
pub fn rfc3339(ms: u64) -> String {
    let last = jiff::Timestamp::MAX.as_second();
    let secs = i64::try_from(ms / 1000).map_or(last, |s| s.min(last));
    // In range by construction; the fallback only keeps this panic-free.
    jiff::Timestamp::from_second(secs)
        .unwrap_or(jiff::Timestamp::MAX)
        .to_string()
}

pub(super) fn summary(
    kind: NotificationKind,
    severity: Severity,
    rule: &str,
    s: &StepFacts,
) -> String {
    let severity = severity.as_str();
    let what = if s.error_type.is_empty() {
        s.error_class.clone()
    } else {
        s.error_type.clone()
    };
    let what = if what.is_empty() {
        String::new()
    } else {
        format!(": {what}")
    };
    match kind {
        NotificationKind::Resolve => format!(
            "[resolved] {}/{} run {} recovered ({rule})",
            s.pipeline, s.step, s.run_id
        ),
        _ => format!(
            "[{severity}] {}/{} run {} {}{what} ({rule}; {} failed attempt(s), {} failed run(s) in a row{})",
            s.pipeline,
            s.step,
            s.run_id,
            if s.failure_count == 0 && s.late_minutes > 0 && s.status != StepStatus::Failed {
                "is late"
            } else {
                "failed"
            },
            s.failure_count,
            s.consecutive_failures,
            if s.late_minutes > 0 {
                format!(", {} min late", s.late_minutes)
            } else {
                String::new()
            }
        ),
    }
}

/// The runbook URL with `{run_id}`, `{pipeline}` and `{step}` filled in, once
/// (a value is never expanded again) and percent-encoded.
fn fill(template: &str, s: &StepFacts) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    'scan: while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        for (name, value) in [
            ("{run_id}", &s.run_id),
            ("{pipeline}", &s.pipeline),
            ("{step}", &s.step),
        ] {
            if let Some(after) = rest.strip_prefix(name) {
                out.push_str(&percent_encode(value));
                rest = after;
                continue 'scan;
            }
        }
        out.push('{');
        rest = &rest[1..];
    }
    out.push_str(rest);
    out
}

fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn payload(
    config: &AlertConfig,
    rule: Option<&AlertRule>,
    s: &StepFacts,
    now_ms: u64,
    summary: &str,
) -> String {
    let payload = Payload {
        config,
        rule,
        s,
        now_ms,
        summary,
    };
    serde_json::to_string(&payload).expect("a payload serializes")
}

/// One alert's payload object: `summary`, the policy's fields and the runbook.
pub(super) fn payload_map(
    config: &AlertConfig,
    rule: Option<&AlertRule>,
    s: &StepFacts,
    now_ms: u64,
    summary: &str,
) -> Map<String, Json> {
    let payload = Payload {
        config,
        rule,
        s,
        now_ms,
        summary,
    };
    match serde_json::to_value(payload) {
        Ok(Json::Object(map)) => map,
        _ => Map::new(),
    }
}

/// The payload written straight from the facts: building a JSON map first
/// (a key and a value allocated per field, then freed) was a sixth of
/// `alerts simulate`. Keys come in sorted order, as a JSON map writes them, so
/// the bytes are what they always were.
struct Payload<'a> {
    config: &'a AlertConfig,
    rule: Option<&'a AlertRule>,
    s: &'a StepFacts,
    now_ms: u64,
    summary: &'a str,
}

impl Serialize for Payload<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let s = self.s;
        let wants = |field: &str| self.config.payload.iter().any(|f| f == field);
        let mut map = ser.serialize_map(None)?;
        if wants("attempts") {
            map.serialize_entry("attempts", &s.attempts)?;
        }
        if wants("consecutive_failures") {
            map.serialize_entry("consecutive_failures", &s.consecutive_failures)?;
        }
        if wants("error_class") {
            map.serialize_entry("error_class", &s.error_class)?;
        }
        if wants("error_code") {
            map.serialize_entry("error_code", &s.error_code)?;
        }
        if wants("error_message") {
            map.serialize_entry("error_message", &s.error_message)?;
        }
        if wants("error_type") {
            map.serialize_entry("error_type", &s.error_type)?;
        }
        if wants("failure_count") {
            map.serialize_entry("failure_count", &s.failure_count)?;
        }
        if wants("labels") {
            // Sorted by name, the last value of a repeated name kept.
            let labels: BTreeMap<&str, &str> = s
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            map.serialize_entry("labels", &labels)?;
        }
        if wants("last_log_lines") {
            map.serialize_entry("last_log_lines", &s.log_lines)?;
        }
        if wants("late_minutes") {
            map.serialize_entry("late_minutes", &s.late_minutes)?;
        }
        if wants("pipeline") {
            map.serialize_entry("pipeline", &s.pipeline)?;
        }
        if wants("run_id") {
            map.serialize_entry("run_id", &s.run_id)?;
        }
        map.serialize_entry("runbook", &self.runbook())?;
        if wants("step") {
            map.serialize_entry("step", &s.step)?;
        }
        map.serialize_entry("summary", self.summary)?;
        map.end()
    }
}

impl<'a> Payload<'a> {
    fn runbook(&self) -> Runbook<'a> {
        let (s, config) = (self.s, self.config);
        let retry_safe = match s.error_class.as_str() {
            "transient" => "yes: the failure is transient and runs are idempotent by run id",
            "permanent" => "no: the failure is permanent; fix the cause before retrying",
            _ => "unknown: check the error first; runs are idempotent by run id",
        };
        let values = runbook::Values {
            run_id: &s.run_id,
            pipeline: &s.pipeline,
            step: &s.step,
        };
        let (how_to_retry, how_to_retry_argv) = match &config.runbook.retry_template {
            Some(t) => (t.shell(&values), t.argv(&values)),
            None => runbook::default_command(&values),
        };
        let escalation_path = self
            .rule
            .map(|r| {
                std::iter::once(EscalationStep {
                    after: "0s".into(),
                    notify: &r.notify,
                })
                .chain(r.escalation.iter().map(|l| EscalationStep {
                    after: crate::schema::format_ms(l.after_ms),
                    notify: &l.notify,
                }))
                .collect()
            })
            .unwrap_or_default();
        Runbook {
            correlation_id: &s.run_id,
            error_snippet: clip(&s.error_message, 300),
            escalation_path,
            how_to_retry,
            how_to_retry_argv,
            last_log_lines: &s.log_lines,
            retry_safe,
            url: config.runbook.url.as_ref().map(|url| fill(url, s)),
            what_failed: format!("{}/{}", s.pipeline, s.step),
            when: rfc3339(self.now_ms),
        }
    }
}

/// The payload's `runbook` object; fields in sorted order (see [`Payload`]).
#[derive(serde::Serialize)]
struct Runbook<'a> {
    correlation_id: &'a str,
    error_snippet: String,
    escalation_path: Vec<EscalationStep<'a>>,
    how_to_retry: String,
    how_to_retry_argv: Vec<String>,
    last_log_lines: &'a [String],
    retry_safe: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    what_failed: String,
    when: String,
}

#[derive(serde::Serialize)]
struct EscalationStep<'a> {
    after: String,
    notify: &'a [String],
}

pub(super) fn notification(
    config: &AlertConfig,
    rule: &AlertRule,
    kind: NotificationKind,
    targets: Vec<String>,
    key: &str,
    s: &StepFacts,
    now_ms: u64,
) -> Notification {
    let summary = summary(kind, rule.severity, &rule.id, s);
    Notification {
        kind,
        severity: rule.severity,
        targets,
        rule: rule.id.clone(),
        dedup_key: key.to_string(),
        payload: payload(config, Some(rule), s, now_ms, &summary),
        summary,
    }
}

pub(super) fn resolution(
    config: &AlertConfig,
    rule: Option<&AlertRule>,
    entry: &AlertEntry,
    s: &StepFacts,
    now_ms: u64,
) -> Notification {
    let summary = summary(NotificationKind::Resolve, entry.severity, &entry.rule, s);
    Notification {
        kind: NotificationKind::Resolve,
        severity: entry.severity,
        targets: entry.notified.clone(),
        rule: entry.rule.clone(),
        dedup_key: entry.dedup_key.clone(),
        payload: payload(config, rule, s, now_ms, &summary),
        summary,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Map, Value as Json, json};

    use super::super::condition::Condition;
    use super::super::{AlertConfig, AlertRule, EscalationLevel, Severity, clip, runbook};
    use super::{StepFacts, fill, payload, rfc3339};

    /// The payload as it was built before it was written directly: a JSON
    /// map filled field by field, the oracle for its bytes.
    fn payload_as_a_map(
        config: &AlertConfig,
        rule: Option<&AlertRule>,
        s: &StepFacts,
        now_ms: u64,
        summary: &str,
    ) -> String {
        let mut p = Map::new();
        p.insert("summary".into(), json!(summary));
        for field in &config.payload {
            let value = match field.as_str() {
                "pipeline" => json!(s.pipeline),
                "step" => json!(s.step),
                "run_id" => json!(s.run_id),
                "error_type" => json!(s.error_type),
                "error_code" => json!(s.error_code),
                "error_class" => json!(s.error_class),
                "error_message" => json!(s.error_message),
                "last_log_lines" => json!(s.log_lines),
                "attempts" => json!(s.attempts),
                "failure_count" => json!(s.failure_count),
                "consecutive_failures" => json!(s.consecutive_failures),
                "late_minutes" => json!(s.late_minutes),
                "labels" => Json::Object(
                    s.labels
                        .iter()
                        .map(|(k, v)| (k.clone(), json!(v)))
                        .collect(),
                ),
                _ => continue,
            };
            p.insert(field.clone(), value);
        }
        let retry_safe = match s.error_class.as_str() {
            "transient" => "yes: the failure is transient and runs are idempotent by run id",
            "permanent" => "no: the failure is permanent; fix the cause before retrying",
            _ => "unknown: check the error first; runs are idempotent by run id",
        };
        let values = runbook::Values {
            run_id: &s.run_id,
            pipeline: &s.pipeline,
            step: &s.step,
        };
        let (how_to_retry, how_to_retry_argv) = match &config.runbook.retry_template {
            Some(t) => (t.shell(&values), t.argv(&values)),
            None => runbook::default_command(&values),
        };
        let escalation_path: Vec<Json> = rule
            .map(|r| {
                std::iter::once(json!({ "after": "0s", "notify": r.notify }))
                    .chain(r.escalation.iter().map(|l| {
                        json!({ "after": crate::schema::format_ms(l.after_ms), "notify": l.notify })
                    }))
                    .collect()
            })
            .unwrap_or_default();
        let mut runbook = Map::new();
        runbook.insert(
            "what_failed".into(),
            json!(format!("{}/{}", s.pipeline, s.step)),
        );
        runbook.insert("when".into(), json!(rfc3339(now_ms)));
        runbook.insert("correlation_id".into(), json!(s.run_id));
        runbook.insert("error_snippet".into(), json!(clip(&s.error_message, 300)));
        runbook.insert("last_log_lines".into(), json!(s.log_lines));
        runbook.insert("retry_safe".into(), json!(retry_safe));
        runbook.insert("how_to_retry".into(), json!(how_to_retry));
        runbook.insert("how_to_retry_argv".into(), json!(how_to_retry_argv));
        runbook.insert("escalation_path".into(), Json::Array(escalation_path));
        if let Some(url) = &config.runbook.url {
            runbook.insert("url".into(), json!(fill(url, s)));
        }
        p.insert("runbook".into(), Json::Object(runbook));
        Json::Object(p).to_string()
    }

    #[test]
    fn the_payload_is_written_as_the_json_map_wrote_it() {
        let every_field = [
            "step",
            "labels",
            "run_id",
            "late_minutes",
            "summary",
            "attempts",
            "runbook",
            "error_message",
            "pipeline",
            "error_code",
            "failure_count",
            "not_a_fact",
            "error_type",
            "consecutive_failures",
            "error_class",
            "last_log_lines",
            "step",
        ];
        let facts = StepFacts {
            pipeline: "nightly \"etl\"".into(),
            step: "load/ü".into(),
            run_id: "run 1; rm -rf /".into(),
            error_type: "botocore.exceptions.ClientError".into(),
            error_code: "SlowDown".into(),
            error_class: "transient".into(),
            error_message: "x\u{7}y\n".repeat(120),
            log_lines: vec!["a\tb".into(), "\"quoted\"".into()],
            labels: vec![
                ("team".into(), "ml".into()),
                ("env".into(), "prod".into()),
                ("team".into(), "data".into()),
            ],
            attempts: 3,
            failure_count: 2,
            consecutive_failures: 4,
            late_minutes: 7,
            ..StepFacts::default()
        };
        let rule = AlertRule {
            id: "r".into(),
            condition: Arc::new(Condition::compile("true").unwrap()),
            severity: Severity::High,
            notify: vec!["oncall".into()],
            dedup_window_ms: 0,
            repeat_interval_ms: None,
            repeat_limit: 0,
            escalation: vec![EscalationLevel {
                after_ms: 900_000,
                notify: vec!["lead".into(), "manager".into()],
            }],
            auto_resolve: true,
            group_by: Vec::new(),
        };
        let mut configs = Vec::new();
        for fields in [&every_field[..], &every_field[..0], &["labels", "step"][..]] {
            for (url, command) in [
                (None, None),
                (
                    Some("https://runbooks/{pipeline}/{step}?id={run_id}&x={other}"),
                    Some("backstop run --run-id {run_id} --step {step} -- make '{{x}}' {pipeline}"),
                ),
            ] {
                let mut config = AlertConfig {
                    payload: fields.iter().map(|f| f.to_string()).collect(),
                    ..AlertConfig::default()
                };
                config.runbook.url = url.map(str::to_string);
                config.runbook.retry_template =
                    command.map(|c| runbook::Template::parse(c).unwrap());
                configs.push(config);
            }
        }
        for config in &configs {
            for rule in [Some(&rule), None] {
                let now = 1_704_067_200_123;
                assert_eq!(
                    payload(config, rule, &facts, now, "[high] summary"),
                    payload_as_a_map(config, rule, &facts, now, "[high] summary"),
                    "fields {:?}",
                    config.payload
                );
            }
        }
    }

    #[test]
    fn formats_utc_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_704_067_200_000), "2024-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000 + 3_723_000), "2000-02-29T01:02:03Z");
        // Whole seconds: the milliseconds are dropped, not rounded.
        assert_eq!(rfc3339(1_704_067_200_999), "2024-01-01T00:00:00Z");
        assert_eq!(rfc3339(u64::MAX), "9999-12-30T22:00:00Z");
    }
}
