//! `backstop alerts simulate`: replay a history of events (JSON lines)
//! against an alert policy, offline, and print what it would have sent.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use backstop::alerts::{Evaluation, Event, Notification, NotificationKind, Severity};
use backstop::{Engine, Format, Policy, Session};
use clap::Args;
use serde_json::{Value, json};

use super::alerting::load;
use super::exit::Exit;
use super::fmt::{duration, parse_rfc3339, rfc3339};
use super::read_policy;

#[derive(Args)]
pub struct SimulateArgs {
    /// Alert policy (.toml with [alerts], or the seed's JSON format)
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// Events, one JSON object a line: {"at": RFC 3339 or ms, "kind", "pipeline", ...}
    #[arg(long, value_name = "FILE")]
    history: PathBuf,
    /// Print one JSON object: {"notifications": [...], "summary": {...}}.
    #[arg(long)]
    json: bool,
    /// A second policy to replay the same history against; prints both summaries.
    #[arg(long, value_name = "OTHER_POLICY")]
    compare: Option<PathBuf>,
}

/// One notification with its time, as simulate prints it.
struct Sent {
    at_ms: u64,
    n: Notification,
}

#[derive(Default)]
struct Replay {
    sent: Vec<Sent>,
    suppressed: BTreeMap<String, u64>,
    end_ms: u64,
}

/// An event's `at`: an RFC 3339 string or milliseconds since the epoch.
fn parse_time(value: &Value) -> Result<u64, String> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("`at` {n} is not a number of milliseconds")),
        Value::String(s) => parse_rfc3339(s).map_err(|e| {
            format!(
                "`at` {s:?} is not an RFC 3339 time (e.g. 2024-01-15T02:03:05Z) or milliseconds: {e}"
            )
        }),
        _ => Err("`at` must be an RFC 3339 string or milliseconds since the epoch".into()),
    }
}

/// Read the history: `(line number, at, event)`, in time order.
fn read_history(path: &Path) -> Result<Vec<(usize, u64, Event)>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("reading history {}", path.display()))?;
    let label = path.display().to_string();
    let bad = |line: usize, msg: String| -> anyhow::Error {
        Exit::new(1, format!("{label}:{line}: {msg}")).into()
    };
    let mut out = Vec::new();
    let mut last = 0u64;
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let number = i + 1;
        let line = line.with_context(|| format!("reading {label}"))?;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let mut object: serde_json::Map<String, Value> = serde_json::from_str(&line)
            .map_err(|e| bad(number, format!("not a JSON object: {e}")))?;
        let at = object
            .remove("at")
            .ok_or_else(|| bad(number, "missing `at` (the event's time)".into()))?;
        let at = parse_time(&at).map_err(|m| bad(number, m))?;
        let event: Event = serde_json::from_value(Value::Object(object))
            .map_err(|e| bad(number, format!("not an event: {e}")))?;
        if at < last {
            return Err(bad(
                number,
                format!(
                    "events out of order: {} is before the previous line's {}",
                    rfc3339(at),
                    rfc3339(last)
                ),
            ));
        }
        last = at;
        out.push((number, at, event));
    }
    Ok(out)
}

fn replay(
    session: &mut Session,
    policy: Policy,
    history: &[(usize, u64, Event)],
    label: &str,
) -> Result<Replay> {
    let mut replay = Replay::default();
    let mut state = String::new();
    let mut wakeup: Option<u64> = None;
    let record = |replay: &mut Replay, at: u64, e: Evaluation| {
        for n in e.notifications {
            replay.sent.push(Sent { at_ms: at, n });
        }
        for s in e.suppressed {
            *replay
                .suppressed
                .entry(s.reason.as_str().to_string())
                .or_default() += 1;
        }
        (e.state, e.next_wakeup_ms)
    };
    for (line, at, event) in history {
        // Timers due before this event fire first, as a real host's would.
        let mut guard = 0;
        while let Some(due) = wakeup.filter(|&w| w < *at) {
            let e = session
                .evaluate_alerts(policy, &state, &Event::tick(), due)
                .with_context(|| format!("{label}: a timer tick at {}", rfc3339(due)))?;
            let (next_state, next) = record(&mut replay, due, e);
            state = next_state;
            wakeup = next.filter(|&n| n > due);
            guard += 1;
            if guard > 10_000 {
                break;
            }
        }
        let e = session
            .evaluate_alerts(policy, &state, event, *at)
            .map_err(|e| Exit::new(1, format!("{label}: history line {line}: {e}")))?;
        let (next_state, next) = record(&mut replay, *at, e);
        state = next_state;
        wakeup = next;
        replay.end_ms = *at;
    }
    Ok(replay)
}

fn summary(r: &Replay) -> Value {
    let mut pages = 0u64;
    let mut warnings = 0u64;
    let mut infos = 0u64;
    let mut resolved = 0u64;
    let mut triggers = 0u64;
    let mut escalations = 0u64;
    let mut repeats = 0u64;
    // dedup key -> when its first page went out
    let mut paging: BTreeMap<&str, u64> = BTreeMap::new();
    let mut paged_ms = 0u64;
    for s in &r.sent {
        match s.n.kind {
            NotificationKind::Trigger => triggers += 1,
            NotificationKind::Escalate => escalations += 1,
            NotificationKind::Repeat => repeats += 1,
            NotificationKind::Resolve => resolved += 1,
        }
        if s.n.kind == NotificationKind::Resolve {
            if let Some(since) = paging.remove(s.n.dedup_key.as_str()) {
                paged_ms += s.at_ms.saturating_sub(since);
            }
            continue;
        }
        match s.n.severity {
            Severity::High | Severity::Critical => {
                pages += 1;
                paging.entry(s.n.dedup_key.as_str()).or_insert(s.at_ms);
            }
            Severity::Warning => warnings += 1,
            Severity::Info => infos += 1,
        }
    }
    // Pages still open when the history ends count until its last event.
    let open = paging.len() as u64;
    for since in paging.values() {
        paged_ms += r.end_ms.saturating_sub(*since);
    }
    json!({
        "notifications": r.sent.len(),
        "pages": pages,
        "warnings": warnings,
        "infos": infos,
        "triggers": triggers,
        "escalations": escalations,
        "repeats": repeats,
        "resolved": resolved,
        "suppressed": r.suppressed.values().sum::<u64>(),
        "suppressed_by_reason": r.suppressed,
        "open_pages": open,
        "time_paged_ms": paged_ms,
        "time_paged": duration(paged_ms),
    })
}

fn notification_json(s: &Sent) -> Value {
    json!({
        "at": rfc3339(s.at_ms),
        "at_ms": s.at_ms,
        "kind": s.n.kind,
        "severity": s.n.severity,
        "rule": s.n.rule,
        "targets": s.n.targets,
        "dedup_key": s.n.dedup_key,
        "summary": s.n.summary,
        "payload": s.n.payload,
    })
}

const SUMMARY_ROWS: &[(&str, &str)] = &[
    ("notifications", "notifications"),
    ("pages", "pages (high/critical)"),
    ("warnings", "warnings"),
    ("infos", "infos"),
    ("resolved", "resolved"),
    ("suppressed", "suppressed"),
    ("open_pages", "pages still open at the end"),
    ("time_paged", "time paged"),
];

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn print_summary(summary: &Value) {
    println!("summary:");
    for (key, label) in SUMMARY_ROWS {
        println!("  {label:<28} {}", cell(&summary[*key]));
        if *key == "suppressed"
            && let Some(by) = summary["suppressed_by_reason"].as_object()
        {
            for (reason, count) in by {
                println!("    {reason:<26} {count}");
            }
        }
    }
}

pub fn run(args: SimulateArgs) -> Result<ExitCode> {
    let mut session = Engine::new()?.session()?;
    let history = read_history(&args.history)?;
    let mut runs = Vec::new();
    for path in std::iter::once(&args.policy).chain(args.compare.as_ref()) {
        let label = path.display().to_string();
        let source = read_policy(path)?;
        let policy = load(&mut session, &source, Format::from_path(path), &label)?;
        let r = replay(&mut session, policy, &history, &label)?;
        runs.push((label, r));
    }
    if args.compare.is_some() {
        if args.json {
            let policies: Vec<Value> = runs
                .iter()
                .map(|(label, r)| json!({"policy": label, "summary": summary(r)}))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({ "policies": policies }))?
            );
        } else {
            let summaries: Vec<Value> = runs.iter().map(|(_, r)| summary(r)).collect();
            let width = runs.iter().map(|(l, _)| l.len()).max().unwrap_or(0).max(12);
            print!("{:<28}", "");
            for (label, _) in &runs {
                print!("  {label:>width$}");
            }
            println!();
            for (key, label) in SUMMARY_ROWS {
                print!("{label:<28}");
                for s in &summaries {
                    print!("  {:>width$}", cell(&s[*key]));
                }
                println!();
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (_, r) = &runs[0];
    if args.json {
        let out = json!({
            "policy": args.policy.display().to_string(),
            "notifications": r.sent.iter().map(notification_json).collect::<Vec<_>>(),
            "summary": summary(r),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    // The rule and target columns fit their longest entry.
    let width = |cell: &dyn Fn(&Sent) -> String| {
        r.sent
            .iter()
            .map(|s| cell(s).chars().count())
            .max()
            .unwrap_or(0)
    };
    let rule_width = width(&|s| s.n.rule.clone());
    let targets_width = width(&|s| s.n.targets.join(","));
    for s in &r.sent {
        println!(
            "{}  {:<8} {:<8} {:<rule_width$} -> {:<targets_width$} {}",
            rfc3339(s.at_ms),
            s.n.kind.as_str(),
            s.n.severity.as_str(),
            s.n.rule,
            s.n.targets.join(","),
            s.n.summary
        );
        println!("    dedup key {}", s.n.dedup_key);
    }
    if r.sent.is_empty() {
        println!("no notifications");
    }
    println!();
    print_summary(&summary(r));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc_3339_or_milliseconds() {
        assert_eq!(parse_time(&json!("1970-01-01T01:00:01+01:00")), Ok(1000));
        assert_eq!(parse_time(&json!(5)), Ok(5));
        assert!(parse_time(&json!("yesterday")).is_err());
        assert!(parse_time(&json!("xx€abcde")).is_err());
        assert!(parse_time(&json!(-1)).is_err());
        assert!(parse_time(&json!(null)).is_err());
    }
}
