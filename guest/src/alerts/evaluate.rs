//! One evaluation: update the facts from the event, fire or suppress the
//! rules whose conditions hold, run due timers (escalations, repeats), and
//! resolve what a successful run ended. Pure: `now` comes in, state goes out.

use serde_json::{Map, Value as Json, json};

use super::condition::Facts;
use super::state::{AlertEntry, AlertState, AlertStatus, StepFacts};
use super::{AlertConfig, AlertRule, clip, redact_lines, redact_message, runbook};
use crate::classify::{Classification, Failure};
use crate::error::{ErrorCode, PolicyError};

/// Log lines kept per step (the last ones), and the longest line kept.
pub const MAX_LOG_LINES: usize = 20;
pub const MAX_LOG_LINE_CHARS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    AttemptFailed,
    RunFailed,
    RunSucceeded,
    RunLate,
    AlertAcknowledged,
    Tick,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::AttemptFailed => "attempt-failed",
            EventKind::RunFailed => "run-failed",
            EventKind::RunSucceeded => "run-succeeded",
            EventKind::RunLate => "run-late",
            EventKind::AlertAcknowledged => "alert-acknowledged",
            EventKind::Tick => "tick",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub pipeline: String,
    pub step: String,
    pub run_id: String,
    pub failure: Option<Failure>,
    /// The attempt number (attempt-failed), if the host knows it.
    pub attempt: u32,
    pub late_minutes: u32,
    pub labels: Vec<(String, String)>,
    pub log_lines: Vec<String>,
    /// The alert acknowledged (alert-acknowledged).
    pub dedup_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationKind {
    Trigger,
    Escalate,
    Repeat,
    Resolve,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Trigger => "trigger",
            NotificationKind::Escalate => "escalate",
            NotificationKind::Repeat => "repeat",
            NotificationKind::Resolve => "resolve",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub kind: NotificationKind,
    pub severity: String,
    pub targets: Vec<String>,
    pub rule: String,
    pub dedup_key: String,
    pub summary: String,
    /// The payload as a JSON object: the policy's fields plus the runbook.
    pub payload: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuppressionReason {
    /// The same alert was notified within its dedup window.
    Duplicate,
    /// A higher-severity alert is firing for the same pipeline step.
    Inhibited,
    /// Someone acknowledged it.
    Acknowledged,
    /// Its repeats are used up.
    RepeatLimit,
}

impl SuppressionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionReason::Duplicate => "duplicate",
            SuppressionReason::Inhibited => "inhibited",
            SuppressionReason::Acknowledged => "acknowledged",
            SuppressionReason::RepeatLimit => "repeat-limit",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    pub rule: String,
    pub dedup_key: String,
    pub severity: String,
    pub reason: SuppressionReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub notifications: Vec<Notification>,
    pub suppressed: Vec<Suppressed>,
    pub state: String,
    /// When the host must call back (a `tick`) for escalations and repeats.
    pub next_wakeup_ms: Option<u64>,
}

fn invalid(field: &str, message: impl Into<String>) -> PolicyError {
    PolicyError::new(ErrorCode::InvalidValue, format!("event.{field}"), message)
}

fn check_event(event: &Event) -> Result<(), PolicyError> {
    match event.kind {
        EventKind::Tick => Ok(()),
        EventKind::AlertAcknowledged => match &event.dedup_key {
            Some(k) if !k.is_empty() => Ok(()),
            _ => Err(invalid(
                "dedup_key",
                "an acknowledgement names the alert's dedup key",
            )),
        },
        _ => {
            for (field, value) in [
                ("pipeline", &event.pipeline),
                ("step", &event.step),
                ("run_id", &event.run_id),
            ] {
                if value.trim().is_empty() {
                    return Err(invalid(
                        field,
                        format!("an event of kind `{}` needs a {field}", event.kind.as_str()),
                    ));
                }
                if let Err(problem) = crate::names::check_id(value) {
                    return Err(invalid(field, format!("{field} {problem}")));
                }
            }
            Ok(())
        }
    }
}

/// `1970-01-01T00:00:00Z` style UTC time for a millisecond timestamp, to the
/// second. RFC 3339 ends at year 9999: a later time (only a nonsense `now`
/// reaches it) reads as that year's last second rather than failing the
/// evaluation over a runbook field.
pub fn rfc3339(ms: u64) -> String {
    let last = jiff::Timestamp::MAX.as_second();
    let secs = i64::try_from(ms / 1000).map_or(last, |s| s.min(last));
    // In range by construction; the fallback only keeps this panic-free.
    jiff::Timestamp::from_second(secs)
        .unwrap_or(jiff::Timestamp::MAX)
        .to_string()
}

pub fn evaluate(
    config: &AlertConfig,
    classify: impl Fn(&Failure) -> Result<Classification, PolicyError>,
    state: &str,
    event: &Event,
    now_ms: u64,
) -> Result<Evaluation, PolicyError> {
    check_event(event)?;
    let mut state = AlertState::parse(state)?;
    let mut out = Evaluation {
        notifications: Vec::new(),
        suppressed: Vec::new(),
        state: String::new(),
        next_wakeup_ms: None,
    };

    let classification = match &event.failure {
        Some(f) => Some(classify(f)?),
        None => None,
    };

    match event.kind {
        EventKind::AlertAcknowledged => {
            let key = event.dedup_key.as_deref().unwrap_or_default();
            if let Some(entry) = state.alerts.iter_mut().find(|a| a.dedup_key == key) {
                entry.status = AlertStatus::Acknowledged;
            }
        }
        EventKind::Tick => {}
        _ => {
            let facts = update_step(
                &mut state,
                event,
                classification.as_ref(),
                &config.redactor.0,
                now_ms,
            );
            if event.kind == EventKind::RunSucceeded {
                resolve_step(config, &mut state, &facts, now_ms, &mut out);
            } else {
                fire_rules(config, &mut state, &facts, now_ms, &mut out)?;
            }
        }
    }
    run_timers(config, &mut state, now_ms, &mut out);
    state.prune();
    out.state = state.to_json();
    Ok(out)
}

fn update_step(
    state: &mut AlertState,
    event: &Event,
    class: Option<&Classification>,
    redactor: &crate::redaction::Redactor,
    now_ms: u64,
) -> StepFacts {
    let index = match state
        .steps
        .iter()
        .position(|s| s.pipeline == event.pipeline && s.step == event.step)
    {
        Some(i) => i,
        None => {
            state.steps.push(StepFacts {
                pipeline: event.pipeline.clone(),
                step: event.step.clone(),
                ..StepFacts::default()
            });
            state.steps.len() - 1
        }
    };
    let s = &mut state.steps[index];
    if s.run_id != event.run_id {
        // A new run: what was known about the last run (its counters, status,
        // error and output) starts over; consecutive failures and labels carry on.
        *s = StepFacts {
            pipeline: std::mem::take(&mut s.pipeline),
            step: std::mem::take(&mut s.step),
            run_id: event.run_id.clone(),
            consecutive_failures: s.consecutive_failures,
            labels: std::mem::take(&mut s.labels),
            ..StepFacts::default()
        };
    }
    if let (Some(f), Some(c)) = (&event.failure, class) {
        s.error_class = c.class.as_str().to_string();
        s.error_type = f.error_types.first().cloned().unwrap_or_default();
        s.error_code = f.error_code.clone().unwrap_or_default();
        s.error_message = redact_message(redactor, f.message.as_deref().unwrap_or_default(), 2_000);
    }
    if !event.log_lines.is_empty() {
        // Redact the whole tail before splitting and clipping: a secret cut
        // in half, or a PEM block seen a line at a time, would escape its pattern.
        s.log_lines = redact_lines(
            redactor,
            &event.log_lines,
            MAX_LOG_LINES,
            MAX_LOG_LINE_CHARS,
        );
    }
    if !event.labels.is_empty() {
        s.labels = event
            .labels
            .iter()
            .take(64)
            .map(|(k, v)| (k.clone(), redactor.redact(v).text))
            .collect();
    }
    match event.kind {
        EventKind::AttemptFailed => {
            s.failure_count = s.failure_count.saturating_add(1);
            s.attempts = s.attempts.max(event.attempt).max(s.failure_count);
            s.status = "running".into();
        }
        EventKind::RunFailed => {
            s.failure_count = s.failure_count.max(1);
            s.attempts = s.attempts.max(event.attempt).max(s.failure_count);
            s.consecutive_failures = s.consecutive_failures.saturating_add(1);
            s.status = "failed".into();
        }
        EventKind::RunSucceeded => {
            s.consecutive_failures = 0;
            s.attempts = s.attempts.max(event.attempt);
            s.status = "succeeded".into();
        }
        EventKind::RunLate => s.late_minutes = event.late_minutes,
        EventKind::AlertAcknowledged | EventKind::Tick => {}
    }
    s.updated_ms = now_ms;
    s.clone()
}

fn facts_for(s: &StepFacts, event: &'static str) -> Facts {
    Facts {
        run_id: s.run_id.clone(),
        pipeline: s.pipeline.clone(),
        step: s.step.clone(),
        failure_count: i64::from(s.failure_count),
        consecutive_failures: i64::from(s.consecutive_failures),
        attempts: i64::from(s.attempts),
        status: match s.status.as_str() {
            "failed" => "failed",
            "succeeded" => "succeeded",
            _ => "running",
        },
        error_class: s.error_class.clone(),
        error_type: s.error_type.clone(),
        error_code: s.error_code.clone(),
        error_message: s.error_message.clone(),
        late_minutes: i64::from(s.late_minutes),
        event,
        labels: s.labels.clone(),
    }
}

fn dedup_key(rule: &AlertRule, s: &StepFacts) -> String {
    let mut parts = vec!["backstop".to_string(), rule.id.clone()];
    for field in &rule.group_by {
        parts.push(match field.as_str() {
            "pipeline" => s.pipeline.clone(),
            "step" => s.step.clone(),
            "run_id" => s.run_id.clone(),
            "error_type" => s.error_type.clone(),
            "error_class" => s.error_class.clone(),
            _ => String::new(),
        });
    }
    parts.join("/")
}

fn fire_rules(
    config: &AlertConfig,
    state: &mut AlertState,
    s: &StepFacts,
    now_ms: u64,
    out: &mut Evaluation,
) -> Result<(), PolicyError> {
    let event_name = match s.status.as_str() {
        "failed" => "run-failed",
        _ if s.late_minutes > 0 && s.failure_count == 0 => "run-late",
        _ => "attempt-failed",
    };
    let facts = facts_for(s, event_name);
    let ctx = facts.context();
    for rule in &config.rules {
        // A condition that cannot be evaluated for this event (a label the
        // event does not carry) does not hold; it never blocks other rules.
        let holds = rule.condition.evaluate_in(&ctx).unwrap_or(false);
        if !holds {
            continue;
        }
        let key = dedup_key(rule, s);
        let suppress = |reason| Suppressed {
            rule: rule.id.clone(),
            dedup_key: key.clone(),
            severity: rule.severity.as_str().into(),
            reason,
        };
        if let Some(entry) = state.alerts.iter_mut().find(|a| a.dedup_key == key) {
            if entry.status == AlertStatus::Acknowledged {
                out.suppressed
                    .push(suppress(SuppressionReason::Acknowledged));
            } else if now_ms < entry.last_sent_ms.saturating_add(rule.dedup_window_ms) {
                out.suppressed.push(suppress(SuppressionReason::Duplicate));
            } else if entry.repeats >= rule.repeat_limit {
                out.suppressed
                    .push(suppress(SuppressionReason::RepeatLimit));
            } else {
                entry.repeats += 1;
                entry.last_sent_ms = now_ms;
                let targets = entry.notified.clone();
                out.notifications.push(notification(
                    config,
                    rule,
                    NotificationKind::Repeat,
                    targets,
                    &key,
                    s,
                    now_ms,
                ));
            }
            continue;
        }
        let inhibited = config.inhibit_lower_severity
            && state.alerts.iter().any(|a| {
                a.pipeline == s.pipeline
                    && a.step == s.step
                    && a.status == AlertStatus::Firing
                    && super::Severity::parse(&a.severity).is_some_and(|sev| sev > rule.severity)
            });
        if inhibited {
            out.suppressed.push(suppress(SuppressionReason::Inhibited));
            continue;
        }
        state.alerts.push(AlertEntry {
            dedup_key: key.clone(),
            rule: rule.id.clone(),
            severity: rule.severity.as_str().into(),
            pipeline: s.pipeline.clone(),
            step: s.step.clone(),
            run_id: s.run_id.clone(),
            status: AlertStatus::Firing,
            first_fired_ms: now_ms,
            last_sent_ms: now_ms,
            level: 0,
            repeats: 0,
            notified: rule.notify.clone(),
        });
        out.notifications.push(notification(
            config,
            rule,
            NotificationKind::Trigger,
            rule.notify.clone(),
            &key,
            s,
            now_ms,
        ));
    }
    Ok(())
}

fn resolve_step(
    config: &AlertConfig,
    state: &mut AlertState,
    s: &StepFacts,
    now_ms: u64,
    out: &mut Evaluation,
) {
    let mut kept = Vec::with_capacity(state.alerts.len());
    for entry in std::mem::take(&mut state.alerts) {
        let rule = config.rules.iter().find(|r| r.id == entry.rule);
        // An alert whose rule left the policy still resolves: it was notified.
        let auto = rule.is_none_or(|r| r.auto_resolve);
        if entry.pipeline == s.pipeline && entry.step == s.step && auto {
            out.notifications
                .push(resolution(config, rule, &entry, s, now_ms));
        } else {
            kept.push(entry);
        }
    }
    state.alerts = kept;
}

fn run_timers(config: &AlertConfig, state: &mut AlertState, now_ms: u64, out: &mut Evaluation) {
    let steps = state.steps.clone();
    let mut wakeup: Option<u64> = None;
    let mut soonest = |t: u64| wakeup = Some(wakeup.map_or(t, |w| w.min(t)));
    for entry in state.alerts.iter_mut() {
        if entry.status != AlertStatus::Firing {
            continue;
        }
        let Some(rule) = config.rules.iter().find(|r| r.id == entry.rule) else {
            continue;
        };
        let facts = steps
            .iter()
            .find(|s| s.pipeline == entry.pipeline && s.step == entry.step)
            .cloned()
            .unwrap_or_default();
        // Levels that came due (perhaps several, if the host was down) are sent once, together.
        let mut due: Vec<String> = Vec::new();
        while let Some(level) = rule.escalation.get(entry.level as usize) {
            if now_ms < entry.first_fired_ms.saturating_add(level.after_ms) {
                break;
            }
            for t in &level.notify {
                if !due.contains(t) {
                    due.push(t.clone());
                }
            }
            entry.level += 1;
        }
        if !due.is_empty() {
            for t in &due {
                if !entry.notified.contains(t) {
                    entry.notified.push(t.clone());
                }
            }
            entry.last_sent_ms = now_ms;
            out.notifications.push(notification(
                config,
                rule,
                NotificationKind::Escalate,
                due,
                &entry.dedup_key,
                &facts,
                now_ms,
            ));
        } else if let Some(interval) = rule.repeat_interval_ms
            && entry.repeats < rule.repeat_limit
            && now_ms >= entry.last_sent_ms.saturating_add(interval)
        {
            entry.repeats += 1;
            entry.last_sent_ms = now_ms;
            out.notifications.push(notification(
                config,
                rule,
                NotificationKind::Repeat,
                entry.notified.clone(),
                &entry.dedup_key,
                &facts,
                now_ms,
            ));
        }
        if let Some(level) = rule.escalation.get(entry.level as usize) {
            soonest(entry.first_fired_ms.saturating_add(level.after_ms));
        }
        if let Some(interval) = rule.repeat_interval_ms
            && entry.repeats < rule.repeat_limit
        {
            soonest(entry.last_sent_ms.saturating_add(interval));
        }
    }
    out.next_wakeup_ms = wakeup;
}

fn summary(kind: NotificationKind, severity: &str, rule: &str, s: &StepFacts) -> String {
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
            if s.failure_count == 0 && s.late_minutes > 0 && s.status != "failed" {
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
                .chain(r.escalation.iter().map(|l| json!({ "after": crate::schema::format_ms(l.after_ms), "notify": l.notify })))
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

fn notification(
    config: &AlertConfig,
    rule: &AlertRule,
    kind: NotificationKind,
    targets: Vec<String>,
    key: &str,
    s: &StepFacts,
    now_ms: u64,
) -> Notification {
    let summary = summary(kind, rule.severity.as_str(), &rule.id, s);
    Notification {
        kind,
        severity: rule.severity.as_str().into(),
        targets,
        rule: rule.id.clone(),
        dedup_key: key.to_string(),
        payload: payload(config, Some(rule), s, now_ms, &summary),
        summary,
    }
}

fn resolution(
    config: &AlertConfig,
    rule: Option<&AlertRule>,
    entry: &AlertEntry,
    s: &StepFacts,
    now_ms: u64,
) -> Notification {
    let summary = summary(NotificationKind::Resolve, &entry.severity, &entry.rule, s);
    Notification {
        kind: NotificationKind::Resolve,
        severity: entry.severity.clone(),
        targets: entry.notified.clone(),
        rule: entry.rule.clone(),
        dedup_key: entry.dedup_key.clone(),
        payload: payload(config, rule, s, now_ms, &summary),
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn formats_utc_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_704_067_200_000), "2024-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000 + 3_723_000), "2000-02-29T01:02:03Z");
        // Whole seconds: the milliseconds are dropped, not rounded.
        assert_eq!(rfc3339(1_704_067_200_999), "2024-01-01T00:00:00Z");
        assert_eq!(rfc3339(u64::MAX), "9999-12-31T23:59:59Z");
    }
}
