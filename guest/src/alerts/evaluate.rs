//! One evaluation: update the facts from the event, fire or suppress the
//! rules whose conditions hold, run due timers (escalations, repeats), and
//! resolve what a successful run ended. Pure: `now` comes in, state goes out.

use super::condition::{Facts, Variables};
use super::group;
use super::render::{notification, resolution};
use super::state::{AlertEntry, AlertState, AlertStatus, StepFacts, StepStatus};
use super::{AlertConfig, AlertRule, Severity, redact_lines, redact_message};
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
    pub severity: Severity,
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
    pub severity: Severity,
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

pub fn evaluate(
    config: &AlertConfig,
    classify: impl Fn(&Failure) -> Result<Classification, PolicyError>,
    state: &str,
    event: &Event,
    now_ms: u64,
) -> Result<Evaluation, PolicyError> {
    check_event(event)?;
    let mut state = AlertState::parse(state)?;
    let mut out = evaluate_state(config, classify, &mut state, event, now_ms)?;
    state.prune();
    out.state = state.to_json();
    Ok(out)
}

/// The evaluation over a state already in memory (the whole document, or
/// the shards an event needs merged into one, see `keyed.rs`); `state` is
/// left as the next state and the returned `state` text is empty.
pub(super) fn evaluate_state(
    config: &AlertConfig,
    classify: impl Fn(&Failure) -> Result<Classification, PolicyError>,
    state: &mut AlertState,
    event: &Event,
    now_ms: u64,
) -> Result<Evaluation, PolicyError> {
    check_event(event)?;
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

    // Group timers due before this event fire first, with the state as it
    // was when they came due (a host that missed a tick catches up here).
    if let Some(g) = &config.grouping {
        group::flush(config, g, state, now_ms, &mut out);
    }
    match event.kind {
        EventKind::AlertAcknowledged => {
            let key = event.dedup_key.as_deref().unwrap_or_default();
            if let Some(entry) = state.alerts.iter_mut().find(|a| a.dedup_key == key) {
                // A resolved alert waiting for its group's flush stays resolved.
                if entry.status != AlertStatus::Resolved {
                    entry.status = AlertStatus::Acknowledged;
                }
            } else if let Some(group) = state.groups.iter().find(|g| g.key == key) {
                // A group's key acknowledges its firing alerts.
                for entry in state.alerts.iter_mut() {
                    if entry.group == group.labels
                        && entry.notified.contains(&group.target)
                        && entry.status == AlertStatus::Firing
                    {
                        entry.status = AlertStatus::Acknowledged;
                    }
                }
            }
        }
        EventKind::Tick => {}
        _ => {
            let facts = update_step(
                state,
                event,
                classification.as_ref(),
                config.redactor.get(),
                now_ms,
            );
            if event.kind == EventKind::RunSucceeded {
                resolve_step(config, state, &facts, now_ms, &mut out);
            } else {
                fire_rules(config, state, &facts, now_ms, &mut out);
            }
        }
    }
    run_timers(config, state, now_ms, &mut out);
    if let Some(g) = &config.grouping {
        let wakeup = group::flush(config, g, state, now_ms, &mut out);
        out.next_wakeup_ms = match (out.next_wakeup_ms, wakeup) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
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
            s.status = StepStatus::Running;
        }
        EventKind::RunFailed => {
            s.failure_count = s.failure_count.max(1);
            s.attempts = s.attempts.max(event.attempt).max(s.failure_count);
            s.consecutive_failures = s.consecutive_failures.saturating_add(1);
            s.status = StepStatus::Failed;
        }
        EventKind::RunSucceeded => {
            s.consecutive_failures = 0;
            s.attempts = s.attempts.max(event.attempt);
            s.status = StepStatus::Succeeded;
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
        status: s.status.as_str(),
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

/// What to do about a rule whose condition holds, given the alert it already
/// has (if any): a pure verdict in the style of Alertmanager's `needsUpdate`
/// (notify/dedup_stage.go), kept apart from the state it is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No alert yet: trigger one (unless a higher severity inhibits it).
    Trigger,
    /// Notify the alert's targets again.
    Repeat,
    /// Say nothing, for this reason.
    Suppress(SuppressionReason),
}

pub fn dedup_verdict(existing: Option<&AlertEntry>, rule: &AlertRule, now_ms: u64) -> Verdict {
    let Some(entry) = existing else {
        return Verdict::Trigger;
    };
    if entry.status == AlertStatus::Acknowledged {
        Verdict::Suppress(SuppressionReason::Acknowledged)
    } else if now_ms.saturating_sub(entry.last_sent_ms) < rule.dedup_window_ms {
        Verdict::Suppress(SuppressionReason::Duplicate)
    } else if entry.repeats >= rule.repeat_limit {
        Verdict::Suppress(SuppressionReason::RepeatLimit)
    } else {
        Verdict::Repeat
    }
}

/// Whether a firing alert of higher severity for the same step inhibits a
/// new alert of `rule` (Alertmanager inhibition, when the policy asks for it).
fn inhibited(config: &AlertConfig, state: &AlertState, rule: &AlertRule, s: &StepFacts) -> bool {
    config.inhibit_lower_severity
        && state.alerts.iter().any(|a| {
            a.pipeline == s.pipeline
                && a.step == s.step
                && a.status == AlertStatus::Firing
                && a.severity > rule.severity
        })
}

fn fire_rules(
    config: &AlertConfig,
    state: &mut AlertState,
    s: &StepFacts,
    now_ms: u64,
    out: &mut Evaluation,
) {
    let event_name = match s.status {
        StepStatus::Failed => "run-failed",
        _ if s.late_minutes > 0 && s.failure_count == 0 => "run-late",
        _ => "attempt-failed",
    };
    let facts = facts_for(s, event_name);
    let ctx = facts.context(Variables::read_by(
        config.rules.iter().map(|r| &*r.condition),
    ));
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
            severity: rule.severity,
            reason,
        };
        let existing = state.alerts.iter().position(|a| a.dedup_key == key);
        if let (true, Some(i)) = (config.grouping.is_some(), existing) {
            // Grouped: an alert already known is notified by its groups'
            // flushes, never on its own; one resolved but not yet flushed
            // fires again (Alertmanager keeps the alert, not a new one).
            let entry = &mut state.alerts[i];
            match entry.status {
                AlertStatus::Resolved => {
                    entry.status = AlertStatus::Firing;
                    for t in &rule.notify {
                        if !entry.notified.contains(t) {
                            entry.notified.push(t.clone());
                        }
                    }
                }
                AlertStatus::Acknowledged => out
                    .suppressed
                    .push(suppress(SuppressionReason::Acknowledged)),
                AlertStatus::Firing => out.suppressed.push(suppress(SuppressionReason::Duplicate)),
            }
            continue;
        }
        let verdict = dedup_verdict(existing.map(|i| &state.alerts[i]), rule, now_ms);
        match (verdict, existing) {
            (Verdict::Suppress(reason), _) => out.suppressed.push(suppress(reason)),
            (Verdict::Repeat, Some(i)) => {
                let entry = &mut state.alerts[i];
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
            _ if inhibited(config, state, rule, s) => {
                out.suppressed.push(suppress(SuppressionReason::Inhibited));
            }
            _ => {
                let mut entry = AlertEntry {
                    dedup_key: key.clone(),
                    rule: rule.id.clone(),
                    severity: rule.severity,
                    pipeline: s.pipeline.clone(),
                    step: s.step.clone(),
                    run_id: s.run_id.clone(),
                    status: AlertStatus::Firing,
                    first_fired_ms: now_ms,
                    last_sent_ms: now_ms,
                    level: 0,
                    repeats: 0,
                    notified: rule.notify.clone(),
                    group: String::new(),
                };
                if let Some(g) = &config.grouping {
                    // Its groups (formed or joined by the flush after this
                    // event) notify, after group_wait.
                    entry.group = group::labels(g, &entry, s);
                    state.alerts.push(entry);
                    continue;
                }
                state.alerts.push(entry);
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
        }
    }
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
            if config.grouping.is_some() {
                // Told by its groups' next flushes.
                kept.push(AlertEntry {
                    status: AlertStatus::Resolved,
                    ..entry
                });
                continue;
            }
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
            if config.grouping.is_some() {
                // The new targets' groups tell them (at once: the alert is
                // older than group_wait, or at the group's next flush).
                continue_escalation(rule, entry, &mut soonest);
                continue;
            }
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
            && config.grouping.is_none()
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
            && config.grouping.is_none()
            && entry.repeats < rule.repeat_limit
        {
            soonest(entry.last_sent_ms.saturating_add(interval));
        }
    }
    out.next_wakeup_ms = wakeup;
}

/// When a firing alert's own timers (its next escalation level; its next
/// repeat without grouping) next fall due, as `run_timers` leaves it.
pub(super) fn entry_wakeup(config: &AlertConfig, entry: &AlertEntry) -> Option<u64> {
    if entry.status != AlertStatus::Firing {
        return None;
    }
    let rule = config.rules.iter().find(|r| r.id == entry.rule)?;
    let level = rule
        .escalation
        .get(entry.level as usize)
        .map(|level| entry.first_fired_ms.saturating_add(level.after_ms));
    let repeat = match rule.repeat_interval_ms {
        Some(interval) if config.grouping.is_none() && entry.repeats < rule.repeat_limit => {
            Some(entry.last_sent_ms.saturating_add(interval))
        }
        _ => None,
    };
    match (level, repeat) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// With grouping, only the next escalation level needs a wakeup.
fn continue_escalation(rule: &AlertRule, entry: &AlertEntry, soonest: &mut impl FnMut(u64)) {
    if let Some(level) = rule.escalation.get(entry.level as usize) {
        soonest(entry.first_fired_ms.saturating_add(level.after_ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::Condition;
    use std::sync::Arc;

    fn rule() -> AlertRule {
        AlertRule {
            id: "r".into(),
            condition: Arc::new(Condition::compile("true").expect("compiles")),
            severity: Severity::Warning,
            notify: vec!["team".into()],
            dedup_window_ms: 600_000,
            repeat_interval_ms: None,
            repeat_limit: 2,
            escalation: Vec::new(),
            group_by: Vec::new(),
            auto_resolve: true,
        }
    }

    fn entry(status: AlertStatus, last_sent_ms: u64, repeats: u32) -> AlertEntry {
        AlertEntry {
            dedup_key: "backstop/r".into(),
            rule: "r".into(),
            severity: Severity::Warning,
            pipeline: "p".into(),
            step: "s".into(),
            run_id: "1".into(),
            status,
            first_fired_ms: 0,
            last_sent_ms,
            level: 0,
            repeats,
            notified: vec!["team".into()],
            group: String::new(),
        }
    }

    #[test]
    fn the_dedup_verdict_is_a_function_of_the_entry_the_rule_and_now() {
        let r = rule();
        let firing = |last, repeats| entry(AlertStatus::Firing, last, repeats);
        let cases = [
            (None, 0, Verdict::Trigger),
            (
                Some(entry(AlertStatus::Acknowledged, 0, 0)),
                10_000_000,
                Verdict::Suppress(SuppressionReason::Acknowledged),
            ),
            (
                Some(firing(1_000, 0)),
                600_999,
                Verdict::Suppress(SuppressionReason::Duplicate),
            ),
            // The window is half-open: at its end the alert may be sent again.
            (Some(firing(1_000, 0)), 601_000, Verdict::Repeat),
            (
                Some(firing(1_000, 2)),
                601_000,
                Verdict::Suppress(SuppressionReason::RepeatLimit),
            ),
            // A window running past u64::MAX does not wrap into the past.
            (
                Some(firing(u64::MAX - 1, 0)),
                u64::MAX,
                Verdict::Suppress(SuppressionReason::Duplicate),
            ),
        ];
        for (existing, now, want) in cases {
            assert_eq!(
                dedup_verdict(existing.as_ref(), &r, now),
                want,
                "{existing:?} at {now}"
            );
        }
    }

    #[test]
    fn step_status_and_severity_read_states_written_as_strings() {
        let state = AlertState::parse(
            r#"{"version":1,"steps":[{"pipeline":"p","step":"s","status":""}],
                "alerts":[]}"#,
        )
        .expect("an old state with an empty status parses");
        assert_eq!(state.steps[0].status, StepStatus::Running);
        let bad = r#"{"version":1,"alerts":[{"dedup_key":"k","rule":"r","severity":"loud",
            "pipeline":"p","step":"s","run_id":"1","status":"firing","first_fired_ms":0,
            "last_sent_ms":0,"level":0,"repeats":0,"notified":[]}]}"#;
        let err = AlertState::parse(bad).expect_err("an unknown severity is refused");
        assert_eq!(err.code, ErrorCode::InvalidState);
        assert!(err.message.contains("loud"), "{}", err.message);
    }
}
