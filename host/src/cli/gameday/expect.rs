//! Comparing what a run did with what the team expected: one row per
//! expectation written, with what differed.

use serde::Serialize;

use super::run::Observed;
use super::scenario::{Expect, Notify, parse_duration};

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// 1-based run number within the scenario.
    pub run: usize,
    pub expectation: String,
    pub expected: String,
    pub actual: String,
    pub ok: bool,
    /// What differed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

pub fn compare(run: usize, expect: &Expect, seen: &Observed) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut row = |name: &str, expected: String, actual: String, diff: Option<String>| {
        let ok = diff.is_none();
        rows.push(Row {
            run,
            expectation: name.into(),
            expected,
            actual,
            ok,
            diff,
        });
    };
    let outcome = if seen.outcome.is_empty() {
        "none"
    } else {
        &seen.outcome
    };
    if let Some(want) = &expect.outcome {
        let diff = (want != outcome).then(|| format!("expected {want}, got {outcome}"));
        row("outcome", want.clone(), outcome.into(), diff);
    }
    if let Some(want) = expect.attempts {
        let diff = (want != seen.attempts)
            .then(|| format!("expected {want} attempt(s), {} ran", seen.attempts));
        row(
            "attempts",
            want.to_string(),
            seen.attempts.to_string(),
            diff,
        );
    }
    if let Some(want) = &expect.classes {
        let diff = list_diff("attempt", seen.first_attempt.max(1), want, &seen.classes);
        row("classes", want.join(", "), seen.classes.join(", "), diff);
    }
    if let Some(want) = &expect.rules {
        let diff = list_diff("failed attempt", 1, want, &seen.rules);
        row("rules", want.join(", "), seen.rules.join(", "), diff);
    }
    if let Some(want) = &expect.give_up {
        let got = seen.give_up.clone().unwrap_or_else(|| "none".into());
        let diff = (want != &got).then(|| format!("expected to give up ({want}), got {got}"));
        row("give_up", want.clone(), got, diff);
    }
    if let Some(want) = expect.exit_status {
        let got = seen
            .exit_status
            .map_or_else(|| "none".into(), |c| c.to_string());
        let diff = (Some(i32::from(want)) != seen.exit_status)
            .then(|| format!("expected exit status {want}, got {got}"));
        row("exit_status", want.to_string(), got, diff);
    }
    if let Some(want) = &expect.notifications {
        let mut want = want.clone();
        want.sort();
        let got = &seen.notifications;
        let mut problems = Vec::new();
        for w in &want {
            let n = count_of(got, w);
            if n != w.count {
                problems.push(format!("{}: expected {}, sent {n}", label(w), w.count));
            }
        }
        for g in got {
            if count_of(&want, g) == 0 {
                problems.push(format!("{}: not expected, sent {}", label(g), g.count));
            }
        }
        let diff = (!problems.is_empty()).then(|| problems.join("; "));
        row("notifications", list(&want), list(got), diff);
    }
    if let Some(want) = expect.pages {
        let diff =
            (want != seen.pages).then(|| format!("expected {want} page(s), sent {}", seen.pages));
        row("pages", want.to_string(), seen.pages.to_string(), diff);
    }
    if let Some(want) = &expect.max_recovery {
        let limit = parse_duration(want).map_or(0, |d| d.as_millis() as u64);
        let fmt = super::super::fmt::duration;
        let (actual, diff) = match (seen.recovery_policy_ms, seen.recovery_ms) {
            (Some(at_policy), Some(rehearsed)) => (
                format!("{} (rehearsed in {})", fmt(at_policy), fmt(rehearsed)),
                (at_policy > limit).then(|| {
                    format!(
                        "recovered in {} at policy speed, over {want}",
                        fmt(at_policy)
                    )
                }),
            ),
            _ => (
                "no recovery".into(),
                Some("the run did not recover from a failure in this invocation".into()),
            ),
        };
        row("max_recovery", format!("<= {want}"), actual, diff);
    }
    rows
}

fn count_of(list: &[Notify], n: &Notify) -> u32 {
    list.iter()
        .filter(|x| x.kind == n.kind && x.severity == n.severity && x.target == n.target)
        .map(|x| x.count)
        .sum()
}

fn label(n: &Notify) -> String {
    format!("{} {} -> {}", n.kind, n.severity, n.target)
}

fn list(ns: &[Notify]) -> String {
    if ns.is_empty() {
        return "none".into();
    }
    ns.iter()
        .map(|n| format!("{} {}", n.count, label(n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first position where two lists differ, named from `first`.
fn list_diff(what: &str, first: u32, want: &[String], got: &[String]) -> Option<String> {
    if want == got {
        return None;
    }
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        if w != g {
            return Some(format!(
                "{what} {}: expected {w}, got {g}",
                first + i as u32
            ));
        }
    }
    Some(format!(
        "expected {} entries, got {}",
        want.len(),
        got.len()
    ))
}
