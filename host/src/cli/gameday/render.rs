//! The game day's report: a pass/fail table for people, the same as JSON.

use std::fmt::Write;

use serde_json::{Value, json};

use super::expect::Row;
use super::run::Rehearsal;
use super::scenario::Scenario;

pub fn table(scenario: &Scenario, rehearsal: &Rehearsal, rows: &[Row]) -> String {
    let fmt = super::super::fmt::duration;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "game day: {} ({})",
        scenario.name,
        scenario.path.display()
    );
    if !scenario.description.is_empty() {
        let _ = writeln!(out, "  {}", scenario.description.trim());
    }
    let c = &rehearsal.compression;
    if c.time_scale < 1.0 {
        let _ = writeln!(
            out,
            "time compressed x{}: {}; lease {}",
            trim_float(1.0 / c.time_scale),
            if c.changes.is_empty() {
                "nothing in the policy".into()
            } else {
                c.changes.join(", ")
            },
            fmt(c.lease_ms)
        );
        let _ = writeln!(out, "  not compressed: {}", c.not_scaled.join("; "));
    } else {
        let _ = writeln!(out, "time: real (time_scale 1)");
    }
    for (i, r) in rehearsal.runs.iter().enumerate() {
        let recovery = match (r.recovery_ms, r.recovery_policy_ms) {
            (Some(ms), Some(p)) if c.time_scale < 1.0 => {
                format!(", recovered in {} (<= {} at policy speed)", fmt(ms), fmt(p))
            }
            (Some(ms), _) => format!(", recovered in {}", fmt(ms)),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "run {} ({}): {}, {} attempt(s) [{}], exit {}{recovery}",
            i + 1,
            r.run_id,
            if r.outcome.is_empty() {
                "none"
            } else {
                &r.outcome
            },
            r.attempts,
            r.classes.join(", "),
            r.exit_status
                .map_or_else(|| "none".into(), |c| c.to_string()),
        );
    }
    let headers = ["run", "expectation", "expected", "actual", "ok"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.run.to_string(),
                r.expectation.clone(),
                r.expected.clone(),
                r.actual.clone(),
                if r.ok { "ok".into() } else { "FAIL".into() },
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: [&str; 5]| {
        let mut s = String::new();
        for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
            if i + 1 == cols.len() {
                s.push_str(c);
            } else {
                let _ = write!(s, "{c:<w$}  ");
            }
        }
        s
    };
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", line(headers));
    for row in &cells {
        let _ = writeln!(
            out,
            "{}",
            line([&row[0], &row[1], &row[2], &row[3], &row[4]])
        );
    }
    let failed: Vec<&Row> = rows.iter().filter(|r| !r.ok).collect();
    let _ = writeln!(out);
    if failed.is_empty() {
        let _ = writeln!(out, "PASS: {} expectation(s) met", rows.len());
    } else {
        let _ = writeln!(
            out,
            "FAIL: {} of {} expectation(s) not met",
            failed.len(),
            rows.len()
        );
        for r in failed {
            let _ = writeln!(
                out,
                "  run {} {}: {}",
                r.run,
                r.expectation,
                r.diff.as_deref().unwrap_or("differs")
            );
        }
        let _ = writeln!(
            out,
            "  transcripts of `backstop run`: {}/run-N/stderr",
            rehearsal.state_dir.display()
        );
    }
    out
}

pub fn json(scenario: &Scenario, rehearsal: &Rehearsal, rows: &[Row]) -> Value {
    json!({
        "scenario": scenario.name,
        "file": scenario.path.display().to_string(),
        "passed": rows.iter().all(|r| r.ok),
        "compression": rehearsal.compression,
        "runs": rehearsal.runs,
        "expectations": rows,
    })
}

fn trim_float(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
