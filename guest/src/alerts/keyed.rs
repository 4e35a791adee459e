//! Alert state in keyed shards, so one event costs what it concerns, not the
//! size of the fleet. Every shard is an ordinary state document (the same
//! [`AlertState`] the whole-document `evaluate` takes), holding a part:
//!
//! - `step:["<pipeline>","<step>"]`: the step's facts and the alerts of rules
//!   whose `group_by` names both `pipeline` and `step` (the default);
//! - `pipeline:"<pipeline>"`: alerts of rules that group by pipeline but not
//!   step (one alert spans the pipeline's steps);
//! - `global`: alerts of rules that group by neither;
//! - with `[alerts.grouping]`, every alert and group sits at the coarsest of
//!   those scopes among the grouping's and all rules' `group_by`, so a group
//!   and all its members are always in one shard.
//!
//! A shard above step scope keeps a copy of the facts of each step its alerts
//! belong to (rendering and timers need them); the copies stay current
//! because every event for a step loads its pipeline and global shards too.
//! Which shards an event needs is a pure function of the policy and the
//! event ([`needed_keys`]); the host adds the shards whose stored wakeup is
//! due, merges nothing itself, and stores what comes back. Evaluating the
//! merged shards is exactly the whole-document evaluation, which is why every
//! alert vector runs both ways with the same answers.

use std::collections::BTreeMap;

use super::AlertConfig;
use super::evaluate::{Event, EventKind, entry_wakeup, evaluate_state};
use super::group;
use super::state::{AlertEntry, AlertState, GroupEntry, MAX_STATE_BYTES, STATE_VERSION};
use crate::classify::{Classification, Failure};
use crate::error::{ErrorCode, PolicyError};

/// The key of a whole-document state written before keyed shards (or by a
/// host that keeps one document): loaded with the first event and split.
pub const LEGACY_KEY: &str = "";

/// One stored shard: its key, its document ("" = none: delete it), and when
/// the host must tick it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedState {
    pub key: String,
    pub state: String,
    pub next_wakeup_ms: Option<u64>,
}

/// What an event needs loaded: these keys, or every key of the policy's
/// state (an acknowledgement naming only a dedup key).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NeededKeys {
    pub keys: Vec<String>,
    pub every_key: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedEvaluation {
    pub notifications: Vec<super::Notification>,
    pub suppressed: Vec<super::Suppressed>,
    /// The shards that changed (and the legacy document emptied).
    pub states: Vec<KeyedState>,
    /// The soonest wakeup among the shards this evaluation saw.
    pub next_wakeup_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Scope {
    Step,
    Pipeline,
    Global,
}

fn scope_of(group_by: &[String]) -> Scope {
    let has = |name: &str| group_by.iter().any(|g| g == name);
    match (has("pipeline"), has("step")) {
        (true, true) => Scope::Step,
        (true, false) => Scope::Pipeline,
        _ => Scope::Global,
    }
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

pub fn step_key(pipeline: &str, step: &str) -> String {
    format!("step:[{},{}]", quoted(pipeline), quoted(step))
}

fn key_at(scope: Scope, pipeline: &str, step: &str) -> String {
    match scope {
        Scope::Step => step_key(pipeline, step),
        Scope::Pipeline => format!("pipeline:{}", quoted(pipeline)),
        Scope::Global => "global".to_string(),
    }
}

/// With grouping, the one scope of every alert and group.
fn grouped_scope(config: &AlertConfig) -> Option<Scope> {
    let g = config.grouping.as_ref()?;
    Some(
        config
            .rules
            .iter()
            .map(|r| scope_of(&r.group_by))
            .chain(std::iter::once(scope_of(&g.group_by)))
            .max()
            .unwrap_or(Scope::Step),
    )
}

/// The keys `event` reads and may write: a pure function of the policy and
/// the event. Ticks need none (the host passes the due shards).
pub fn needed_keys(_config: &AlertConfig, event: &Event) -> NeededKeys {
    match event.kind {
        EventKind::Tick => NeededKeys::default(),
        EventKind::AlertAcknowledged if event.pipeline.is_empty() || event.step.is_empty() => {
            NeededKeys {
                keys: Vec::new(),
                every_key: true,
            }
        }
        _ => NeededKeys {
            keys: vec![
                key_at(Scope::Step, &event.pipeline, &event.step),
                key_at(Scope::Pipeline, &event.pipeline, &event.step),
                key_at(Scope::Global, "", ""),
            ],
            every_key: false,
        },
    }
}

fn too_large(key: &str, bytes: usize) -> PolicyError {
    PolicyError::new(
        ErrorCode::TooLarge,
        format!("state[{key}]"),
        format!(
            "the alert state under key {key:?} is {bytes} bytes; the limit per key is {MAX_STATE_BYTES}"
        ),
    )
}

fn parse_shard(entry: &KeyedState) -> Result<AlertState, PolicyError> {
    if entry.key == LEGACY_KEY {
        // The whole-document state keeps the errors `evaluate` gives for it.
        return AlertState::parse(&entry.state);
    }
    if entry.state.len() > MAX_STATE_BYTES {
        return Err(too_large(&entry.key, entry.state.len()));
    }
    AlertState::parse(&entry.state).map_err(|mut e| {
        e.path = format!(
            "state[{}]{}",
            entry.key,
            e.path.strip_prefix("state").unwrap_or("")
        );
        e.message = format!("key {:?}: {}", entry.key, e.message);
        e
    })
}

/// Evaluate `event` over the shards the host loaded (the needed keys, the
/// due ones, the legacy document if any) and return the changed shards.
pub fn evaluate_keyed(
    config: &AlertConfig,
    classify: impl Fn(&Failure) -> Result<Classification, PolicyError>,
    shards: &[KeyedState],
    event: &Event,
    now_ms: u64,
) -> Result<KeyedEvaluation, PolicyError> {
    // Merge: alerts in creation order (time fired, then rule order, as one
    // document would hold them), one copy of each step's facts (the newest),
    // groups in the order their first members appear.
    let mut merged = AlertState {
        version: STATE_VERSION,
        ..AlertState::default()
    };
    let mut sorted: Vec<&KeyedState> = shards.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let mut origin: BTreeMap<String, String> = BTreeMap::new();
    let mut group_origin: BTreeMap<String, String> = BTreeMap::new();
    let mut seen: Vec<&str> = Vec::new();
    for entry in &sorted {
        if seen.contains(&entry.key.as_str()) {
            return Err(PolicyError::new(
                ErrorCode::InvalidState,
                format!("state[{}]", entry.key),
                format!("the alert state key {:?} is given twice", entry.key),
            ));
        }
        seen.push(&entry.key);
        let shard = parse_shard(entry)?;
        for s in shard.steps {
            match merged
                .steps
                .iter_mut()
                .find(|m| m.pipeline == s.pipeline && m.step == s.step)
            {
                Some(m) if m.updated_ms < s.updated_ms => *m = s,
                Some(_) => {}
                None => merged.steps.push(s),
            }
        }
        for a in shard.alerts {
            origin.insert(a.dedup_key.clone(), entry.key.clone());
            merged.alerts.push(a);
        }
        for g in shard.groups {
            group_origin.insert(g.key.clone(), entry.key.clone());
            merged.groups.push(g);
        }
    }
    let rule_index = |a: &AlertEntry| {
        config
            .rules
            .iter()
            .position(|r| r.id == a.rule)
            .unwrap_or(usize::MAX)
    };
    merged
        .alerts
        .sort_by_key(|a| (a.first_fired_ms, rule_index(a)));
    sort_groups(&mut merged);

    let out = evaluate_state(config, classify, &mut merged, event, now_ms)?;

    // Split: every shard seen is written back if it changed (or emptied).
    let mut parts: BTreeMap<String, AlertState> = BTreeMap::new();
    for entry in shards {
        if entry.key != LEGACY_KEY {
            parts.insert(entry.key.clone(), empty());
        }
    }
    let grouped = grouped_scope(config);
    let alert_key = |a: &AlertEntry| -> String {
        let scope = match (grouped, config.rules.iter().find(|r| r.id == a.rule)) {
            (Some(scope), _) => scope,
            (None, Some(rule)) => scope_of(&rule.group_by),
            // A rule that left the policy: its alert stays where it was.
            (None, None) => match origin.get(&a.dedup_key) {
                Some(k) if k != LEGACY_KEY => return k.clone(),
                _ => Scope::Step,
            },
        };
        key_at(scope, &a.pipeline, &a.step)
    };
    let mut facts_wanted: Vec<(String, String, String)> = Vec::new();
    for a in &merged.alerts {
        let key = alert_key(a);
        if key != step_key(&a.pipeline, &a.step) {
            facts_wanted.push((key.clone(), a.pipeline.clone(), a.step.clone()));
        }
        parts
            .entry(key)
            .or_insert_with(empty)
            .alerts
            .push(a.clone());
    }
    for g in &merged.groups {
        let first = merged
            .alerts
            .iter()
            .find(|a| a.group == g.labels && a.notified.contains(&g.target));
        let key = match (first, group_origin.get(&g.key)) {
            (Some(a), _) => alert_key(a),
            (None, Some(k)) if k != LEGACY_KEY => k.clone(),
            (None, _) => "global".to_string(),
        };
        parts
            .entry(key)
            .or_insert_with(empty)
            .groups
            .push(g.clone());
    }
    for s in &merged.steps {
        parts
            .entry(step_key(&s.pipeline, &s.step))
            .or_insert_with(empty)
            .steps
            .push(s.clone());
    }
    for (key, pipeline, step) in facts_wanted {
        let Some(s) = merged
            .steps
            .iter()
            .find(|s| s.pipeline == pipeline && s.step == step)
        else {
            continue;
        };
        let part = parts.entry(key).or_insert_with(empty);
        if !part
            .steps
            .iter()
            .any(|m| m.pipeline == pipeline && m.step == step)
        {
            part.steps.push(s.clone());
        }
    }

    let mut states = Vec::new();
    let mut soonest: Option<u64> = None;
    if shards
        .iter()
        .any(|s| s.key == LEGACY_KEY && !s.state.trim().is_empty())
    {
        states.push(KeyedState {
            key: LEGACY_KEY.to_string(),
            state: String::new(),
            next_wakeup_ms: None,
        });
    }
    for (key, mut part) in parts {
        part.prune();
        let wakeup = wakeup_of(config, &part);
        if let Some(w) = wakeup {
            soonest = Some(soonest.map_or(w, |s| s.min(w)));
        }
        let empty_part = part.steps.is_empty() && part.alerts.is_empty() && part.groups.is_empty();
        let text = if empty_part {
            String::new()
        } else {
            part.to_json()
        };
        if text.len() > MAX_STATE_BYTES {
            return Err(too_large(&key, text.len()));
        }
        let before = shards.iter().find(|s| s.key == key);
        let unchanged = match before {
            Some(b) => b.state == text && b.next_wakeup_ms == wakeup,
            None => text.is_empty(),
        };
        if !unchanged {
            states.push(KeyedState {
                key,
                state: text,
                next_wakeup_ms: wakeup,
            });
        }
    }
    Ok(KeyedEvaluation {
        notifications: out.notifications,
        suppressed: out.suppressed,
        states,
        next_wakeup_ms: soonest,
    })
}

fn empty() -> AlertState {
    AlertState {
        version: STATE_VERSION,
        ..AlertState::default()
    }
}

fn sort_groups(state: &mut AlertState) {
    let alerts = &state.alerts;
    let first = |g: &GroupEntry| {
        alerts
            .iter()
            .position(|a| a.group == g.labels && a.notified.contains(&g.target))
            .map(|i| {
                let t = alerts[i]
                    .notified
                    .iter()
                    .position(|t| t == &g.target)
                    .unwrap_or(0);
                (i, t)
            })
            .unwrap_or((usize::MAX, 0))
    };
    state.groups.sort_by_key(first);
}

/// When a shard next needs a tick: its alerts' timers and its groups' flushes.
pub fn wakeup_of(config: &AlertConfig, state: &AlertState) -> Option<u64> {
    let alerts = state.alerts.iter().filter_map(|a| entry_wakeup(config, a));
    let groups = config.grouping.as_ref().map(|g| {
        state
            .groups
            .iter()
            .filter_map(|gr| group::next_due(g, state, gr))
            .min()
    });
    alerts.chain(groups.flatten()).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_quote_names_so_no_two_steps_share_one() {
        assert_ne!(step_key("a/b", "c"), step_key("a", "b/c"));
        assert_eq!(step_key("nightly", "train"), r#"step:["nightly","train"]"#);
        assert_eq!(key_at(Scope::Pipeline, "p\"", "s"), r#"pipeline:"p\"""#);
    }

    #[test]
    fn scopes_follow_group_by() {
        let v = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(scope_of(&v(&["pipeline", "step", "run_id"])), Scope::Step);
        assert_eq!(scope_of(&v(&["error_type", "pipeline"])), Scope::Pipeline);
        assert_eq!(scope_of(&v(&["step"])), Scope::Global);
        assert_eq!(scope_of(&v(&[])), Scope::Global);
    }
}
