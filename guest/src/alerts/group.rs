//! Alert grouping (`[alerts.grouping]`), after Alertmanager's aggregation
//! groups (dispatch/dispatch.go) and notification log (notify/dedup_stage.go
//! `needsUpdate`). Alerts with the same group labels for the same target form
//! a group; a group is flushed `group_wait` after it forms, then on a
//! `group_interval` cadence, and each flush notifies only when the group
//! changed or `repeat_interval` passed. Pure: the timers are timestamps in the
//! state, fired by whichever evaluation (an event or a tick) reaches them.

use serde_json::{Map, Value as Json, json};

use super::evaluate::{Evaluation, Notification, NotificationKind};
use super::render::{payload_map, rfc3339, summary};
use super::state::{AlertEntry, AlertState, AlertStatus, GroupEntry, StepFacts};
use super::{AlertConfig, AlertRule, Grouping, Severity};

/// Why a flush notifies, with Alertmanager's names (notify.NotifyReason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyReason {
    FirstNotification,
    NewAlertsInGroup,
    AllAlertsResolved,
    NewResolvedAlerts,
    RepeatIntervalElapsed,
}

impl NotifyReason {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyReason::FirstNotification => "first-notification",
            NotifyReason::NewAlertsInGroup => "new-alerts-in-group",
            NotifyReason::AllAlertsResolved => "all-alerts-resolved",
            NotifyReason::NewResolvedAlerts => "new-resolved-alerts",
            NotifyReason::RepeatIntervalElapsed => "repeat-interval-elapsed",
        }
    }
}

fn subset(small: &[String], big: &[String]) -> bool {
    small.iter().all(|k| big.contains(k))
}

/// Alertmanager's `needsUpdate`: whether a group flush at `at_ms` with these
/// firing and resolved alerts notifies, given the group's last notification.
/// `None` = say nothing.
pub fn needs_update(
    group: &GroupEntry,
    firing: &[String],
    resolved: &[String],
    send_resolved: bool,
    repeat_interval_ms: u64,
    at_ms: u64,
) -> Option<NotifyReason> {
    let Some(last_sent) = group.last_sent_ms else {
        return (!firing.is_empty()).then_some(NotifyReason::FirstNotification);
    };
    if !subset(firing, &group.notified_firing) {
        return Some(if group.notified_firing.is_empty() {
            NotifyReason::FirstNotification
        } else {
            NotifyReason::NewAlertsInGroup
        });
    }
    if firing.is_empty() {
        // Alerts that fired and resolved between two flushes were never told.
        return (!group.notified_firing.is_empty()).then_some(NotifyReason::AllAlertsResolved);
    }
    if send_resolved && !subset(resolved, &group.notified_resolved) {
        return Some(NotifyReason::NewResolvedAlerts);
    }
    // `entry.Timestamp.Before(now.Add(-repeat))`: strictly after.
    (at_ms > last_sent.saturating_add(repeat_interval_ms))
        .then_some(NotifyReason::RepeatIntervalElapsed)
}

/// `{pipeline="nightly",step="train"}`: the alert's values of `group_by`, in
/// Alertmanager's group-key style (values quoted so no value can fake a label).
pub(super) fn labels(g: &Grouping, entry: &AlertEntry, s: &StepFacts) -> String {
    let parts: Vec<String> = g
        .group_by
        .iter()
        .map(|name| {
            let value = match name.as_str() {
                "pipeline" => entry.pipeline.as_str(),
                "step" => entry.step.as_str(),
                "run_id" => entry.run_id.as_str(),
                "rule" => entry.rule.as_str(),
                "severity" => entry.severity.as_str(),
                "error_type" => s.error_type.as_str(),
                "error_class" => s.error_class.as_str(),
                _ => "",
            };
            format!(
                "{name}={}",
                serde_json::to_string(value).unwrap_or_default()
            )
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

fn group_key(labels: &str, target: &str) -> String {
    format!("backstop-group/{target}:{labels}")
}

fn member(entry: &AlertEntry, group: &GroupEntry) -> bool {
    entry.group == group.labels && entry.notified.contains(&group.target)
}

fn step_of<'s>(steps: &'s [StepFacts], entry: &AlertEntry) -> Option<&'s StepFacts> {
    steps
        .iter()
        .find(|s| s.pipeline == entry.pipeline && s.step == entry.step)
}

/// Alerts whose membership is known only by their targets (a state written
/// before grouping was turned on) get their labels; every (labels, target)
/// pair without a group forms one, as Alertmanager's dispatcher does.
fn form_groups(g: &Grouping, state: &mut AlertState, now_ms: u64) {
    let steps = std::mem::take(&mut state.steps);
    for entry in state.alerts.iter_mut() {
        if entry.group.is_empty() {
            let facts = step_of(&steps, entry).cloned().unwrap_or_default();
            entry.group = labels(g, entry, &facts);
        }
        for target in &entry.notified {
            if state
                .groups
                .iter()
                .any(|gr| gr.labels == entry.group && &gr.target == target)
            {
                continue;
            }
            // An alert older than group_wait flushes its new group at once
            // (dispatch.go: "Alert is old enough for immediate flush").
            let old = entry.first_fired_ms.saturating_add(g.group_wait_ms) < now_ms;
            state.groups.push(GroupEntry {
                key: group_key(&entry.group, target),
                labels: entry.group.clone(),
                target: target.clone(),
                next_flush_ms: if old {
                    now_ms
                } else {
                    now_ms.saturating_add(g.group_wait_ms)
                },
                last_sent_ms: None,
                notified_firing: Vec::new(),
                notified_resolved: Vec::new(),
            });
        }
    }
    state.steps = steps;
}

/// Form new groups, flush the ones whose timer is due at `now_ms`, drop the
/// empty ones, and return when the next flush that can notify is due.
pub(super) fn flush(
    config: &AlertConfig,
    g: &Grouping,
    state: &mut AlertState,
    now_ms: u64,
    out: &mut Evaluation,
) -> Option<u64> {
    form_groups(g, state, now_ms);
    let interval = g.group_interval_ms.max(1);
    let mut groups = std::mem::take(&mut state.groups);
    for group in groups.iter_mut() {
        if group.next_flush_ms > now_ms {
            continue;
        }
        // The cadence point this flush stands for: a host that missed ticks
        // catches up with the last one due, as if the timer had fired then.
        let at = group.next_flush_ms + (now_ms - group.next_flush_ms) / interval * interval;
        group.next_flush_ms = at.saturating_add(interval);
        let members: Vec<&AlertEntry> = state
            .alerts
            .iter()
            .filter(|a| member(a, group) && a.status != AlertStatus::Acknowledged)
            .collect();
        // Acknowledged alerts are muted: like silenced ones in Alertmanager,
        // they never reach the notification log.
        if members.is_empty() {
            continue;
        }
        let keys = |status: AlertStatus| -> Vec<String> {
            members
                .iter()
                .filter(|a| a.status == status)
                .map(|a| a.dedup_key.clone())
                .collect()
        };
        let firing = keys(AlertStatus::Firing);
        let resolved = keys(AlertStatus::Resolved);
        if let Some(reason) = needs_update(
            group,
            &firing,
            &resolved,
            g.send_resolved,
            g.repeat_interval_ms,
            at,
        ) {
            if let Some(n) = render(config, g, state, group, &members, reason, now_ms) {
                out.notifications.push(n);
            }
            group.last_sent_ms = Some(at);
            group.notified_firing = firing;
            group.notified_resolved = resolved;
        }
        // Resolved alerts leave the group once a flush has seen them.
        let target = group.target.clone();
        for entry in state.alerts.iter_mut() {
            if entry.status == AlertStatus::Resolved && member(entry, group) {
                entry.notified.retain(|t| t != &target);
            }
        }
    }
    state
        .alerts
        .retain(|a| !(a.status == AlertStatus::Resolved && a.notified.is_empty()));
    groups.retain(|gr| state.alerts.iter().any(|a| member(a, gr)));
    let wakeup = groups.iter().filter_map(|gr| next_due(g, state, gr)).min();
    state.groups = groups;
    wakeup
}

/// The first flush of `group` that can notify: its next one when something
/// changed, else the first cadence point past the repeat interval.
pub(super) fn next_due(g: &Grouping, state: &AlertState, group: &GroupEntry) -> Option<u64> {
    let mut firing = Vec::new();
    let mut resolved = false;
    for a in state.alerts.iter().filter(|a| member(a, group)) {
        match a.status {
            AlertStatus::Firing => firing.push(a.dedup_key.clone()),
            AlertStatus::Resolved => resolved = true,
            AlertStatus::Acknowledged => {}
        }
    }
    // Resolved alerts (even ones never told) leave at the next flush.
    if resolved || !subset(&firing, &group.notified_firing) {
        return Some(group.next_flush_ms);
    }
    let last = group.last_sent_ms?;
    if firing.is_empty() {
        return None;
    }
    let due = last.saturating_add(g.repeat_interval_ms);
    let next = group.next_flush_ms;
    if next > due {
        return Some(next);
    }
    let interval = g.group_interval_ms.max(1);
    Some(next.saturating_add(((due - next) / interval + 1).saturating_mul(interval)))
}

fn render(
    config: &AlertConfig,
    g: &Grouping,
    state: &AlertState,
    group: &GroupEntry,
    members: &[&AlertEntry],
    reason: NotifyReason,
    now_ms: u64,
) -> Option<Notification> {
    let firing: Vec<&AlertEntry> = members
        .iter()
        .copied()
        .filter(|a| a.status == AlertStatus::Firing)
        .collect();
    let resolved: Vec<&AlertEntry> = members
        .iter()
        .copied()
        .filter(|a| a.status == AlertStatus::Resolved)
        .collect();
    let (kind, listed): (NotificationKind, Vec<&AlertEntry>) = match reason {
        // Without send_resolved the targets never hear of resolutions
        // (Alertmanager logs the flush but its integration drops them).
        NotifyReason::AllAlertsResolved if !g.send_resolved => return None,
        NotifyReason::AllAlertsResolved => (NotificationKind::Resolve, resolved.clone()),
        NotifyReason::RepeatIntervalElapsed => (NotificationKind::Repeat, firing.clone()),
        _ => (NotificationKind::Trigger, firing.clone()),
    };
    let listed: Vec<&AlertEntry> = if g.send_resolved && kind != NotificationKind::Resolve {
        listed.into_iter().chain(resolved.iter().copied()).collect()
    } else {
        listed
    };
    let severity = listed
        .iter()
        .map(|a| a.severity)
        .max()
        .unwrap_or(Severity::Info);
    let mut rules: Vec<&str> = Vec::new();
    for a in &listed {
        if !rules.contains(&a.rule.as_str()) {
            rules.push(&a.rule);
        }
    }
    let rules = rules.join(",");
    let text = match kind {
        NotificationKind::Resolve => format!(
            "[resolved] {} {}: {} alert(s) resolved ({rules})",
            group.target,
            group.labels,
            listed.len()
        ),
        _ => format!(
            "[{}] {} {}: {} firing{} ({rules})",
            severity.as_str(),
            group.target,
            group.labels,
            firing.len(),
            if g.send_resolved && !resolved.is_empty() {
                format!(", {} resolved", resolved.len())
            } else {
                String::new()
            }
        ),
    };
    let alerts: Vec<Json> = listed
        .iter()
        .map(|a| alert_object(config, state, a, now_ms))
        .collect();
    let mut payload = Map::new();
    payload.insert("summary".into(), json!(text));
    payload.insert("group_key".into(), json!(group.key));
    payload.insert("group_labels".into(), json!(group.labels));
    payload.insert("reason".into(), json!(reason.as_str()));
    payload.insert(
        "status".into(),
        json!(if kind == NotificationKind::Resolve {
            "resolved"
        } else {
            "firing"
        }),
    );
    payload.insert("alerts".into(), Json::Array(alerts));
    Some(Notification {
        kind,
        severity,
        targets: vec![group.target.clone()],
        rule: rules,
        dedup_key: group.key.clone(),
        summary: text,
        payload: serde_json::to_string(&Json::Object(payload)).expect("a JSON value serializes"),
    })
}

/// One alert as a group notification lists it: its status and identity, then
/// the payload it would have had alone (summary, policy fields, runbook).
fn alert_object(config: &AlertConfig, state: &AlertState, a: &AlertEntry, now_ms: u64) -> Json {
    let rule: Option<&AlertRule> = config.rules.iter().find(|r| r.id == a.rule);
    let facts = step_of(&state.steps, a).cloned().unwrap_or_default();
    let resolved = a.status == AlertStatus::Resolved;
    let kind = if resolved {
        NotificationKind::Resolve
    } else {
        NotificationKind::Trigger
    };
    let text = summary(kind, a.severity, &a.rule, &facts);
    let mut o = Map::new();
    o.insert(
        "status".into(),
        json!(if resolved { "resolved" } else { "firing" }),
    );
    o.insert("rule".into(), json!(a.rule));
    o.insert("severity".into(), json!(a.severity.as_str()));
    o.insert("dedup_key".into(), json!(a.dedup_key));
    o.insert("starts_at".into(), json!(rfc3339(a.first_fired_ms)));
    o.extend(payload_map(config, rule, &facts, now_ms, &text));
    Json::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(last: Option<u64>, firing: &[&str], resolved: &[&str]) -> GroupEntry {
        GroupEntry {
            key: "k".into(),
            labels: "{}".into(),
            target: "t".into(),
            next_flush_ms: 0,
            last_sent_ms: last,
            notified_firing: firing.iter().map(|s| s.to_string()).collect(),
            notified_resolved: resolved.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn v(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn needs_update_follows_alertmanager() {
        use NotifyReason::*;
        let h = 3_600_000;
        let cases = [
            (
                group(None, &[], &[]),
                v(&["a"]),
                v(&[]),
                true,
                0,
                Some(FirstNotification),
            ),
            (group(None, &[], &[]), v(&[]), v(&["a"]), true, 0, None),
            (
                group(Some(0), &["a"], &[]),
                v(&["a", "b"]),
                v(&[]),
                true,
                1,
                Some(NewAlertsInGroup),
            ),
            (
                group(Some(0), &[], &["a"]),
                v(&["b"]),
                v(&[]),
                true,
                1,
                Some(FirstNotification),
            ),
            (
                group(Some(0), &["a"], &[]),
                v(&[]),
                v(&["a"]),
                false,
                1,
                Some(AllAlertsResolved),
            ),
            (
                group(Some(0), &[], &["a"]),
                v(&[]),
                v(&["b"]),
                true,
                1,
                None,
            ),
            (
                group(Some(0), &["a", "b"], &[]),
                v(&["a"]),
                v(&["b"]),
                true,
                1,
                Some(NewResolvedAlerts),
            ),
            (
                group(Some(0), &["a", "b"], &[]),
                v(&["a"]),
                v(&["b"]),
                false,
                1,
                None,
            ),
            (
                group(Some(0), &["a"], &[]),
                v(&["a"]),
                v(&[]),
                true,
                h,
                None,
            ),
            (
                group(Some(0), &["a"], &[]),
                v(&["a"]),
                v(&[]),
                true,
                h + 1,
                Some(RepeatIntervalElapsed),
            ),
        ];
        for (entry, firing, resolved, send_resolved, at, want) in cases {
            assert_eq!(
                needs_update(&entry, &firing, &resolved, send_resolved, h, at),
                want,
                "{entry:?} {firing:?} {resolved:?} at {at}"
            );
        }
    }
}
