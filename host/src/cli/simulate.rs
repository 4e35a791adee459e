//! `backstop alerts simulate`: replay a history of events (JSON lines)
//! against an alert policy, offline, and print what it would have sent.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use backstop::alerts::{
    Evaluation, Event, KeyedEvaluation, KeyedState, NeededKeys, Notification, NotificationKind,
    Severity,
};
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
    /// Keep the alert state as one document (the guest's `evaluate`) instead
    /// of keyed shards: the same answers, at a cost that grows with the
    /// number of steps. For benchmarks (tests/bench.sh `alerts`).
    #[arg(long, hide = true)]
    whole_state: bool,
}

/// What a replay keeps: counters and the pages still open, never the
/// history or the notifications (they stream out as they happen), so memory
/// does not grow with the number of events.
#[derive(Default)]
struct Replay {
    notifications: u64,
    pages: u64,
    warnings: u64,
    infos: u64,
    triggers: u64,
    escalations: u64,
    repeats: u64,
    resolved: u64,
    suppressed: BTreeMap<String, u64>,
    /// dedup key -> when its first page went out, while it is open.
    paging: BTreeMap<String, u64>,
    paged_ms: u64,
    end_ms: u64,
}

impl Replay {
    fn count(&mut self, at_ms: u64, n: &Notification) {
        self.notifications += 1;
        match n.kind {
            NotificationKind::Trigger => self.triggers += 1,
            NotificationKind::Escalate => self.escalations += 1,
            NotificationKind::Repeat => self.repeats += 1,
            NotificationKind::Resolve => self.resolved += 1,
        }
        if n.kind == NotificationKind::Resolve {
            if let Some(since) = self.paging.remove(n.dedup_key.as_str()) {
                self.paged_ms += at_ms.saturating_sub(since);
            }
            return;
        }
        match n.severity {
            Severity::High | Severity::Critical => {
                self.pages += 1;
                self.paging.entry(n.dedup_key.clone()).or_insert(at_ms);
            }
            Severity::Warning => self.warnings += 1,
            Severity::Info => self.infos += 1,
        }
    }
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

/// The history, read one line at a time: `(line number, at, event)`.
struct History {
    lines: std::io::Lines<std::io::BufReader<std::fs::File>>,
    label: String,
    number: usize,
    last: u64,
}

impl History {
    fn open(path: &Path) -> Result<History> {
        let file = std::fs::File::open(path)
            .with_context(|| format!("reading history {}", path.display()))?;
        Ok(History {
            lines: std::io::BufReader::with_capacity(1 << 16, file).lines(),
            label: path.display().to_string(),
            number: 0,
            last: 0,
        })
    }

    fn bad(&self, msg: String) -> anyhow::Error {
        Exit::new(1, format!("{}:{}: {msg}", self.label, self.number)).into()
    }

    fn next_event(&mut self) -> Result<Option<(usize, u64, Event)>> {
        loop {
            let Some(line) = self.lines.next() else {
                return Ok(None);
            };
            self.number += 1;
            let line = line.with_context(|| format!("reading {}", self.label))?;
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let mut object: serde_json::Map<String, Value> = serde_json::from_str(&line)
                .map_err(|e| self.bad(format!("not a JSON object: {e}")))?;
            let at = object
                .remove("at")
                .ok_or_else(|| self.bad("missing `at` (the event's time)".into()))?;
            let at = parse_time(&at).map_err(|m| self.bad(m))?;
            let event: Event = serde_json::from_value(Value::Object(object))
                .map_err(|e| self.bad(format!("not an event: {e}")))?;
            if at < self.last {
                return Err(self.bad(format!(
                    "events out of order: {} is before the previous line's {}",
                    rfc3339(at),
                    rfc3339(self.last)
                )));
            }
            self.last = at;
            return Ok(Some((self.number, at, event)));
        }
    }
}

/// The keyed alert state in memory, as the state store keeps it: shards by
/// key and an index of their wakeups, so a tick finds the due ones at once.
#[derive(Default)]
struct Shards {
    by_key: HashMap<String, KeyedState>,
    due: BTreeSet<(u64, String)>,
}

impl Shards {
    fn load(&self, needed: &NeededKeys, now: u64, after: Option<u64>) -> Vec<KeyedState> {
        if needed.every_key {
            return self.by_key.values().cloned().collect();
        }
        let mut out: Vec<KeyedState> = needed
            .keys
            .iter()
            .filter_map(|k| self.by_key.get(k).cloned())
            .collect();
        for (_, key) in self.due.range(..(now.saturating_add(1), String::new())) {
            let shard = &self.by_key[key];
            let skip = after.is_some_and(|a| shard.next_wakeup_ms.is_some_and(|w| w <= a));
            if !skip && !needed.keys.contains(key) {
                out.push(shard.clone());
            }
        }
        out
    }

    fn store(&mut self, states: Vec<KeyedState>) {
        for s in states {
            if let Some(old) = self.by_key.remove(&s.key)
                && let Some(w) = old.next_wakeup_ms
            {
                self.due.remove(&(w, old.key));
            }
            if s.state.is_empty() {
                continue;
            }
            if let Some(w) = s.next_wakeup_ms {
                self.due.insert((w, s.key.clone()));
            }
            self.by_key.insert(s.key.clone(), s);
        }
    }

    /// The soonest wakeup after `after` (all when `None`).
    fn next_wakeup(&self, after: Option<u64>) -> Option<u64> {
        match after {
            None => self.due.first().map(|(w, _)| *w),
            Some(a) => self
                .due
                .range((a.saturating_add(1), String::new())..)
                .next()
                .map(|(w, _)| *w),
        }
    }
}

/// Where notifications go as they happen.
trait Sink {
    fn sent(&mut self, at_ms: u64, n: &Notification) -> Result<()>;
}

/// The alert state as one document, as before keyed shards (`--whole-state`).
fn replay_whole(
    session: &mut Session,
    policy: Policy,
    history: &Path,
    label: &str,
    sink: &mut dyn Sink,
) -> Result<Replay> {
    let mut replay = Replay::default();
    let mut history = History::open(history)?;
    let mut state = String::new();
    let mut wakeup: Option<u64> = None;
    let mut record =
        |replay: &mut Replay, at: u64, e: Evaluation| -> Result<(String, Option<u64>)> {
            for n in &e.notifications {
                replay.count(at, n);
                sink.sent(at, n)?;
            }
            for s in e.suppressed {
                *replay
                    .suppressed
                    .entry(s.reason.as_str().to_string())
                    .or_default() += 1;
            }
            Ok((e.state, e.next_wakeup_ms))
        };
    while let Some((line, at, event)) = history.next_event()? {
        let mut guard = 0;
        while let Some(due) = wakeup.filter(|&w| w < at) {
            let e = session
                .evaluate_alerts(policy, &state, &Event::tick(), due)
                .with_context(|| format!("{label}: a timer tick at {}", rfc3339(due)))?;
            let (next_state, next) = record(&mut replay, due, e)?;
            state = next_state;
            wakeup = next.filter(|&n| n > due);
            guard += 1;
            if guard > 10_000 {
                break;
            }
        }
        let e = session
            .evaluate_alerts(policy, &state, &event, at)
            .map_err(|e| Exit::new(1, format!("{label}: history line {line}: {e}")))?;
        let (next_state, next) = record(&mut replay, at, e)?;
        state = next_state;
        wakeup = next;
        replay.end_ms = at;
    }
    Ok(replay)
}

/// Replay the history file against one policy, streaming each notification
/// to `sink` as it is decided.
fn replay(
    session: &mut Session,
    policy: Policy,
    history: &Path,
    label: &str,
    sink: &mut dyn Sink,
    whole_state: bool,
) -> Result<Replay> {
    if whole_state {
        return replay_whole(session, policy, history, label, sink);
    }
    let mut replay = Replay::default();
    let mut shards = Shards::default();
    let mut history = History::open(history)?;
    let no_keys = NeededKeys::default();
    let mut record =
        |replay: &mut Replay, shards: &mut Shards, at: u64, e: KeyedEvaluation| -> Result<()> {
            for n in &e.notifications {
                replay.count(at, n);
                sink.sent(at, n)?;
            }
            for s in e.suppressed {
                *replay
                    .suppressed
                    .entry(s.reason.as_str().to_string())
                    .or_default() += 1;
            }
            shards.store(e.states);
            Ok(())
        };
    while let Some((line, at, event)) = history.next_event()? {
        // Timers due before this event fire first, as a real host's would; a
        // shard whose answer is not later than its tick waits for the event.
        let mut guard = 0;
        let mut after: Option<u64> = None;
        while let Some(due) = shards.next_wakeup(after).filter(|&w| w < at) {
            let loaded = shards.load(&no_keys, due, after);
            let e = session
                .evaluate_alerts_keyed(policy, &loaded, &Event::tick(), due)
                .with_context(|| format!("{label}: a timer tick at {}", rfc3339(due)))?;
            record(&mut replay, &mut shards, due, e)?;
            after = Some(due);
            guard += 1;
            if guard > 10_000 {
                break;
            }
        }
        let failed =
            |e: backstop::Error| Exit::new(1, format!("{label}: history line {line}: {e}"));
        let needed = session.alert_state_keys(policy, &event).map_err(failed)?;
        let loaded = shards.load(&needed, at, None);
        let e = session
            .evaluate_alerts_keyed(policy, &loaded, &event, at)
            .map_err(failed)?;
        record(&mut replay, &mut shards, at, e)?;
        replay.end_ms = at;
    }
    Ok(replay)
}

fn summary(r: &Replay) -> Value {
    // Pages still open when the history ends count until its last event.
    let open = r.paging.len() as u64;
    let paged_ms = r.paged_ms
        + r.paging
            .values()
            .map(|since| r.end_ms.saturating_sub(*since))
            .sum::<u64>();
    json!({
        "notifications": r.notifications,
        "pages": r.pages,
        "warnings": r.warnings,
        "infos": r.infos,
        "triggers": r.triggers,
        "escalations": r.escalations,
        "repeats": r.repeats,
        "resolved": r.resolved,
        "suppressed": r.suppressed.values().sum::<u64>(),
        "suppressed_by_reason": r.suppressed,
        "open_pages": open,
        "time_paged_ms": paged_ms,
        "time_paged": duration(paged_ms),
    })
}

/// One notification of the `--json` document, borrowed rather than copied
/// into a `Value` (the payload alone is a tree of some 30 nodes). Fields in
/// the sorted order a `Value`'s map writes them, as the document always had.
#[derive(serde::Serialize)]
struct NotificationJson<'a> {
    at: String,
    at_ms: u64,
    dedup_key: &'a str,
    kind: &'a backstop::alerts::NotificationKind,
    payload: &'a Value,
    rule: &'a str,
    severity: &'a backstop::alerts::Severity,
    summary: &'a str,
    targets: &'a [String],
}

fn notification_json(at_ms: u64, n: &Notification) -> NotificationJson<'_> {
    NotificationJson {
        at: rfc3339(at_ms),
        at_ms,
        dedup_key: &n.dedup_key,
        kind: &n.kind,
        payload: &n.payload,
        rule: &n.rule,
        severity: &n.severity,
        summary: &n.summary,
        targets: &n.targets,
    }
}

/// `value` pretty-printed as it would sit `depth` levels deep in a
/// pretty-printed document (its first line is not indented).
fn indented(value: &impl serde::Serialize, depth: usize) -> Result<String> {
    let text = serde_json::to_string_pretty(value)?;
    Ok(text.replace('\n', &format!("\n{}", "  ".repeat(depth))))
}

/// `--json`: the document `{"notifications": [...], "policy", "summary"}`
/// written as it grows, byte for byte what pretty-printing it whole gives.
struct JsonOut<W: Write> {
    out: W,
    count: u64,
}

impl<W: Write> Sink for JsonOut<W> {
    fn sent(&mut self, at_ms: u64, n: &Notification) -> Result<()> {
        let sep = if self.count == 0 { "\n    " } else { ",\n    " };
        self.count += 1;
        let item = indented(&notification_json(at_ms, n), 2)?;
        self.out.write_all(sep.as_bytes())?;
        self.out.write_all(item.as_bytes())?;
        Ok(())
    }
}

/// The text listing: one notification (two lines) as it happens. Columns
/// widen as longer rule ids and target lists appear (nothing is held back
/// to measure them first).
struct TextOut<W: Write> {
    out: W,
    count: u64,
    rule_width: usize,
    targets_width: usize,
}

impl<W: Write> Sink for TextOut<W> {
    fn sent(&mut self, at_ms: u64, n: &Notification) -> Result<()> {
        self.count += 1;
        let targets = n.targets.join(",");
        self.rule_width = self.rule_width.max(n.rule.chars().count());
        self.targets_width = self.targets_width.max(targets.chars().count());
        let (rule_width, targets_width) = (self.rule_width, self.targets_width);
        writeln!(
            self.out,
            "{}  {:<8} {:<8} {:<rule_width$} -> {:<targets_width$} {}",
            rfc3339(at_ms),
            n.kind.as_str(),
            n.severity.as_str(),
            n.rule,
            targets,
            n.summary
        )?;
        writeln!(self.out, "    dedup key {}", n.dedup_key)?;
        Ok(())
    }
}

/// `--compare`: summaries only.
struct Discard;

impl Sink for Discard {
    fn sent(&mut self, _at_ms: u64, _n: &Notification) -> Result<()> {
        Ok(())
    }
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
    let load_policy = |session: &mut Session, path: &Path| -> Result<(String, Policy)> {
        let label = path.display().to_string();
        let source = read_policy(path)?;
        let policy = load(session, &source, Format::from_path(path), &label)?;
        Ok((label, policy))
    };
    if let Some(other) = &args.compare {
        let mut runs = Vec::new();
        for path in [&args.policy, other] {
            let (label, policy) = load_policy(&mut session, path)?;
            let r = replay(
                &mut session,
                policy,
                &args.history,
                &label,
                &mut Discard,
                args.whole_state,
            )?;
            runs.push((label, r));
        }
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
    let (label, policy) = load_policy(&mut session, &args.policy)?;
    let stdout = std::io::stdout().lock();
    let out = std::io::BufWriter::with_capacity(1 << 16, stdout);
    if args.json {
        let mut sink = JsonOut { out, count: 0 };
        sink.out.write_all(b"{\n  \"notifications\": [")?;
        let r = replay(
            &mut session,
            policy,
            &args.history,
            &label,
            &mut sink,
            args.whole_state,
        )?;
        let close = if sink.count == 0 { "]" } else { "\n  ]" };
        write!(
            sink.out,
            "{close},\n  \"policy\": {},\n  \"summary\": {}\n}}\n",
            serde_json::to_string(&label)?,
            indented(&summary(&r), 1)?
        )?;
        sink.out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut sink = TextOut {
        out,
        count: 0,
        rule_width: 0,
        targets_width: 0,
    };
    let r = replay(
        &mut session,
        policy,
        &args.history,
        &label,
        &mut sink,
        args.whole_state,
    )?;
    let mut out = sink.out;
    if sink.count == 0 {
        writeln!(out, "no notifications")?;
    }
    writeln!(out)?;
    out.flush()?;
    drop(out);
    print_summary(&summary(&r));
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
