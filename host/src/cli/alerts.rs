//! `backstop alerts`: replay a history against an alert policy (`simulate`),
//! and the on-call commands over the stored alert state (`list`, `ack`,
//! `tick`). Also the alerting `backstop run` does after each attempt and run.
//! The guest decides every notification; this module keeps time, state and
//! delivers.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use backstop::alerts::{Evaluation, Event, EventKind, Notification, NotificationKind, Severity};
use backstop::{Engine, Format, Policy, Session};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::exit::{self, Exit};
use super::fmt::duration;
use super::sinks::{self, AlertSection, Deliverer, kind_name, now_ms, rfc3339, severity_name};
use super::store::{self, AlertLogRow, Store, StoreError, StoredPolicy};
use super::{read_policy, render_diagnostic};

#[derive(Subcommand)]
pub enum AlertsCommand {
    /// Replay a history of events (JSON lines) against an alert policy and
    /// print every notification it would have sent, then a summary.
    Simulate(SimulateArgs),
    /// Firing and acknowledged alerts in the state database.
    List(ListArgs),
    /// Acknowledge an alert by its dedup key: its escalations stop.
    Ack(AckArgs),
    /// Fire due escalations and repeats now and deliver them (run it from cron).
    Tick(TickArgs),
    /// The alert outbox: pending deliveries and dead letters; `--redeliver`
    /// sends dead letters again.
    Outbox(super::outbox::OutboxArgs),
}

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

#[derive(Args)]
pub struct ListArgs {
    /// State database [default: $XDG_STATE_HOME/backstop/state.db]
    #[arg(long, value_name = "PATH", env = "BACKSTOP_STATE")]
    state: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct AckArgs {
    /// The alert's dedup key (see `backstop alerts list`).
    key: String,
    /// State database [default: $XDG_STATE_HOME/backstop/state.db]
    #[arg(long, value_name = "PATH", env = "BACKSTOP_STATE")]
    state: Option<PathBuf>,
}

#[derive(Args)]
pub struct TickArgs {
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// State database [default: $XDG_STATE_HOME/backstop/state.db]
    #[arg(long, value_name = "PATH", env = "BACKSTOP_STATE")]
    state: Option<PathBuf>,
    /// Pipeline name: the key of the alert state [default: the policy file's name]
    #[arg(long, value_name = "NAME")]
    pipeline: Option<String>,
}

pub fn run(command: AlertsCommand) -> Result<ExitCode> {
    let result = match command {
        AlertsCommand::Simulate(args) => simulate(args),
        AlertsCommand::List(args) => list(args),
        AlertsCommand::Ack(args) => ack(args),
        AlertsCommand::Tick(args) => tick(args),
        AlertsCommand::Outbox(args) => super::outbox::command(args),
    };
    result.map_err(|err| {
        if err.downcast_ref::<StoreError>().is_some() {
            Exit::new(exit::STATE_ERROR, format!("{err:#}")).into()
        } else {
            err
        }
    })
}

/// The pipeline name a policy file implies: its file name without extension.
pub fn default_pipeline(policy: Option<&Path>) -> String {
    policy
        .and_then(|p| p.file_stem())
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
        .to_string()
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Toml => "toml",
        Format::Json => "json",
    }
}

/// Load a policy's source into the guest; diagnostics go to stderr, exit 1.
fn load(session: &mut Session, source: &str, format: Format, label: &str) -> Result<Policy> {
    match session.load_policy(source, format) {
        Ok(policy) => Ok(policy),
        Err(backstop::Error::InvalidPolicy(errors)) => {
            for error in &errors {
                eprintln!("{}", render_diagnostic(label, error));
            }
            Err(Exit::new(1, format!("{label}: invalid policy")).into())
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------- simulate

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

fn parse_time(value: &Value) -> Result<u64, String> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("`at` {n} is not a number of milliseconds")),
        Value::String(s) => parse_rfc3339(s.trim()).ok_or_else(|| {
            format!(
                "`at` {s:?} is not an RFC 3339 time (e.g. 2024-01-15T02:03:05Z) or milliseconds"
            )
        }),
        _ => Err("`at` must be an RFC 3339 string or milliseconds since the epoch".into()),
    }
}

/// RFC 3339 with `Z` or a `±HH:MM` offset.
fn parse_rfc3339(s: &str) -> Option<u64> {
    let to_ms = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_millis() as u64)
    };
    if let Ok(t) = humantime::parse_rfc3339(s) {
        return to_ms(t);
    }
    if s.len() > 6 {
        let (head, offset) = s.split_at(s.len() - 6);
        let bytes = offset.as_bytes();
        if (bytes[0] == b'+' || bytes[0] == b'-') && bytes[3] == b':' {
            let hours: i64 = offset[1..3].parse().ok()?;
            let minutes: i64 = offset[4..6].parse().ok()?;
            let utc = to_ms(humantime::parse_rfc3339(&format!("{head}Z")).ok()?)? as i64;
            let shift = (hours * 60 + minutes) * 60_000;
            let ms = if bytes[0] == b'+' {
                utc - shift
            } else {
                utc + shift
            };
            return u64::try_from(ms).ok();
        }
    }
    None
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
            let reason = serde_json::to_value(s.reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            *replay.suppressed.entry(reason).or_default() += 1;
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

fn simulate(args: SimulateArgs) -> Result<ExitCode> {
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
    for s in &r.sent {
        println!(
            "{}  {:<8} {:<8} {:<12} -> {:<16} {}",
            rfc3339(s.at_ms),
            kind_name(s.n.kind),
            severity_name(s.n.severity),
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

// ---------------------------------------------------------------- stored state

/// Alert evaluation against the state database, with delivery.
pub struct Alerting {
    pub key: String,
    policy: Policy,
    stored: StoredPolicy,
    section: AlertSection,
    deliverer: Deliverer,
    courier: super::outbox::Courier,
}

impl Alerting {
    /// `None` when the policy has no alert rules.
    pub fn new(
        session: &mut Session,
        source: &str,
        format: Format,
        path: &str,
        key: &str,
        source_label: String,
        state_path: &Path,
    ) -> Result<Option<Alerting>> {
        let section = sinks::read_section(source, format)
            .with_context(|| format!("reading the alert sinks of {path}"))?;
        if !section.present {
            return Ok(None);
        }
        let policy = load(session, source, format, path)?;
        let dead_letter = store::local_dir(state_path).join("dead-letter.jsonl");
        Ok(Some(Alerting {
            key: key.to_string(),
            policy,
            stored: StoredPolicy {
                path: path.to_string(),
                format: format_name(format).to_string(),
                source: source.to_string(),
            },
            section,
            deliverer: Deliverer::new(source_label, dead_letter),
            courier: super::outbox::Courier::new(state_path),
        }))
    }

    /// Evaluate one event now and store the next state with the
    /// notifications to send (outbox rows) in one transaction. Sinks are
    /// delivered by [`Alerting::drain`]; targets without a sink are printed.
    pub fn handle(
        &mut self,
        session: &mut Session,
        store: &mut Store,
        event: &Event,
    ) -> Result<()> {
        let now = now_ms();
        let policy = self.policy;
        let sinks_list = self.section.sinks.clone();
        let deliverer = &self.deliverer;
        let (ids, notifications) = store.update_alerts(&self.key, &self.stored, now, |state| {
            let e = session.evaluate_alerts(policy, state, event, now)?;
            let mut rows = Vec::new();
            for n in &e.notifications {
                for route in sinks::route(&sinks_list, n) {
                    let outbox = match &route {
                        sinks::Route::Sink(sink) => Some(store::Outgoing {
                            sink_index: sinks_list
                                .iter()
                                .position(|s| std::ptr::eq(s, *sink))
                                .unwrap_or_default() as u32,
                            body: deliverer.line(sink, n, now)?,
                        }),
                        sinks::Route::Stderr(_) => None,
                    };
                    rows.push(AlertLogRow {
                        at_ms: now,
                        kind: kind_name(n.kind).into(),
                        severity: severity_name(n.severity).into(),
                        rule: n.rule.clone(),
                        dedup_key: n.dedup_key.clone(),
                        targets: serde_json::to_string(&n.targets)?,
                        summary: n.summary.clone(),
                        sink: route.label(),
                        outbox,
                    });
                }
            }
            Ok((e.state, rows, e.notifications))
        })?;
        super::outbox::crash_point("alerts-committed");
        let mut ids = ids.into_iter();
        for n in &notifications {
            for route in sinks::route(&sinks_list, n) {
                let id = ids.next();
                if let sinks::Route::Stderr(_) = route {
                    let result = self.deliverer.deliver(session, &route, n, now);
                    if let Some(id) = id {
                        let error = result.as_ref().err().map(|e| format!("{e:#}"));
                        store.mark_delivery(id, error.as_deref())?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Deliver what the outbox has due, until `until` or `stop()`.
    pub fn drain(
        &mut self,
        session: &mut Session,
        store: &mut Store,
        until: std::time::Instant,
        stop: &dyn Fn() -> bool,
    ) -> Result<super::outbox::Drained> {
        self.courier.drain(session, store, until, stop)
    }
}

fn state_path(state: &Option<PathBuf>) -> Result<PathBuf> {
    match state {
        Some(path) => Ok(path.clone()),
        None => store::default_path(),
    }
}

fn tick(args: TickArgs) -> Result<ExitCode> {
    let mut session = Engine::new()?.session()?;
    let source = read_policy(&args.policy)?;
    let format = Format::from_path(&args.policy);
    let label = args.policy.display().to_string();
    let pipeline = args
        .pipeline
        .clone()
        .unwrap_or_else(|| default_pipeline(Some(&args.policy)));
    let path = state_path(&args.state)?;
    let mut store = Store::open(&path, store::busy_timeout())?;
    let Some(mut alerting) = Alerting::new(
        &mut session,
        &source,
        format,
        &label,
        &pipeline,
        pipeline.clone(),
        &path,
    )?
    else {
        return Err(Exit::new(1, format!("{label} has no alert rules")).into());
    };
    alerting.handle(&mut session, &mut store, &Event::tick())?;
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let drained = alerting.drain(&mut session, &mut store, until, &|| false)?;
    let failed = drained.dead + drained.retrying;
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One alert of a stored state, for `list` and `ack`.
struct Listed {
    key: String,
    alert: Value,
}

fn stored_alerts(store: &Store) -> Result<Vec<Listed>> {
    let mut out = Vec::new();
    for row in store.alert_states()? {
        let state: Value = if row.state.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&row.state)
                .with_context(|| format!("the alert state of {:?} is not JSON", row.key))?
        };
        if let Some(alerts) = state.get("alerts").and_then(Value::as_array) {
            for a in alerts {
                out.push(Listed {
                    key: row.key.clone(),
                    alert: a.clone(),
                });
            }
        }
    }
    Ok(out)
}

fn list(args: ListArgs) -> Result<ExitCode> {
    let path = state_path(&args.state)?;
    let alerts = match Store::open_existing(&path, store::busy_timeout())? {
        Some(store) => stored_alerts(&store)?,
        None => Vec::new(),
    };
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    if args.json {
        let items: Vec<Value> = alerts
            .iter()
            .map(|l| {
                let a = &l.alert;
                json!({
                    "policy_key": l.key,
                    "dedup_key": text(a, "dedup_key"),
                    "rule": text(a, "rule"),
                    "severity": text(a, "severity"),
                    "status": text(a, "status"),
                    "since": rfc3339(num(a, "first_fired_ms")),
                    "since_ms": num(a, "first_fired_ms"),
                    "last_sent": rfc3339(num(a, "last_sent_ms")),
                    "level": num(a, "level"),
                    "repeats": num(a, "repeats"),
                    "pipeline": text(a, "pipeline"),
                    "step": text(a, "step"),
                    "run_id": text(a, "run_id"),
                    "notified": a.get("notified").cloned().unwrap_or(Value::Null),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "alerts": items }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if alerts.is_empty() {
        println!("no firing or acknowledged alerts");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<13} {:<9} {:<12} {:<21} {:>5}  dedup key",
        "status", "severity", "rule", "since", "level"
    );
    for l in &alerts {
        let a = &l.alert;
        println!(
            "{:<13} {:<9} {:<12} {:<21} {:>5}  {}",
            text(a, "status"),
            text(a, "severity"),
            text(a, "rule"),
            rfc3339(num(a, "first_fired_ms")),
            num(a, "level"),
            text(a, "dedup_key")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn ack(args: AckArgs) -> Result<ExitCode> {
    let path = state_path(&args.state)?;
    let Some(mut store) = Store::open_existing(&path, store::busy_timeout())? else {
        return Err(Exit::new(
            1,
            format!(
                "no alert has dedup key {:?}: there is no state database at {}",
                args.key,
                store::display_state(&path)
            ),
        )
        .into());
    };
    let rows = store.alert_states()?;
    let found: Vec<Listed> = stored_alerts(&store)?
        .into_iter()
        .filter(|l| l.alert.get("dedup_key").and_then(Value::as_str) == Some(args.key.as_str()))
        .collect();
    if found.is_empty() {
        return Err(Exit::new(
            1,
            format!(
                "no stored alert has dedup key {:?} (`backstop alerts list` shows the firing ones)",
                args.key
            ),
        )
        .into());
    }
    let mut session = Engine::new()?.session()?;
    for l in &found {
        let Some(row) = rows.iter().find(|r| r.key == l.key) else {
            continue;
        };
        let format = if row.policy.format == "json" {
            Format::Json
        } else {
            Format::Toml
        };
        let text = |k: &str| {
            l.alert
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let Some(mut alerting) = Alerting::new(
            &mut session,
            &row.policy.source,
            format,
            &row.policy.path,
            &row.key,
            format!("{}/{}", text("pipeline"), text("step")),
            &path,
        )?
        else {
            continue;
        };
        let event = Event {
            kind: EventKind::AlertAcknowledged,
            pipeline: text("pipeline"),
            step: text("step"),
            run_id: text("run_id"),
            failure: None,
            attempt: 0,
            late_minutes: 0,
            labels: BTreeMap::new(),
            log_lines: Vec::new(),
            dedup_key: Some(args.key.clone()),
        };
        alerting.handle(&mut session, &mut store, &event)?;
        let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
        alerting.drain(&mut session, &mut store, until, &|| false)?;
        eprintln!(
            "backstop: acknowledged {} ({} {}); its escalations stop",
            args.key,
            text("severity"),
            text("rule")
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_with_z_offsets_and_milliseconds() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:01+01:00"), Some(1000));
        assert_eq!(parse_time(&json!(5)), Ok(5));
        assert!(parse_time(&json!("yesterday")).is_err());
    }
}
