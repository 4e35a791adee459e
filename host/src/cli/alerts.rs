//! `backstop alerts`: replay a history against an alert policy (`simulate`,
//! in `simulate.rs`), and the on-call commands over the stored alert state
//! (`list`, `ack`, `tick`) with their rendering. Evaluation, persistence and
//! delivery are the alerting service's (`alerting.rs`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use backstop::alerts::{Event, EventKind};
use backstop::{Engine, Format};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::alerting::{Alerting, default_pipeline};
use super::exit::{self, Exit};
use super::fmt::rfc3339;
use super::read_policy;
use super::simulate::{self, SimulateArgs};
use super::store::{self, Store, StoreError};

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
pub struct ListArgs {
    /// State database [default: $XDG_STATE_HOME/backstop/state.db]
    #[arg(long, value_name = "PATH", env = "BACKSTOP_STATE")]
    state: Option<PathBuf>,
    /// Print one JSON object: {"alerts": [...]}.
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
    /// Alert policy (.toml with [alerts], or the seed's JSON format)
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
        AlertsCommand::Simulate(args) => simulate::run(args),
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
        return Err(Exit::new(
            1,
            format!("{label} has no alert section ([alerts], or the seed's `rules`)"),
        )
        .into());
    };
    let handled = alerting.handle(&mut session, &mut store, &Event::tick())?;
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let drained = alerting.drain(&mut session, &mut store, until, &|| false)?;
    // Each delivery printed its own line; say so when there was none, so a
    // cron log shows the tick ran.
    if handled.queued + handled.printed + drained.delivered + drained.retrying + drained.dead == 0 {
        // The tick saw only the due shards: ask the store for the soonest.
        let next = match store.alert_next_wakeup(&pipeline)? {
            Some(ms) => format!("the next escalation or repeat is due at {}", rfc3339(ms)),
            None => "no escalation or repeat is pending".to_string(),
        };
        eprintln!("backstop: tick: nothing due for {pipeline}; {next}");
    }
    Ok(if drained.dead + drained.retrying > 0 {
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
    // A whole-document state written before keyed shards (until the next
    // evaluation splits it), then the shards; each alert lives in one of them.
    let documents = store
        .alert_states()?
        .into_iter()
        .map(|row| (row.key.clone(), String::new(), row.state))
        .chain(
            store
                .alert_shards()?
                .into_iter()
                .map(|row| (row.policy_key, row.state_key, row.state)),
        );
    for (key, shard, text) in documents {
        let state: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).with_context(|| {
                format!("the alert state of {key:?} (key {shard:?}) is not JSON")
            })?
        };
        if let Some(alerts) = state.get("alerts").and_then(Value::as_array) {
            for a in alerts {
                out.push(Listed {
                    key: key.clone(),
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
    let mut out = std::io::stdout().lock();
    if alerts.is_empty() {
        writeln!(out, "no firing or acknowledged alerts")?;
        return Ok(ExitCode::SUCCESS);
    }
    let header = ["status", "severity", "rule", "since", "level", "dedup key"];
    let rows: Vec<[String; 6]> = alerts
        .iter()
        .map(|l| {
            let a = &l.alert;
            [
                text(a, "status"),
                text(a, "severity"),
                text(a, "rule"),
                rfc3339(num(a, "first_fired_ms")),
                num(a, "level").to_string(),
                text(a, "dedup_key"),
            ]
        })
        .collect();
    // Columns as wide as their widest cell (in characters), so a long rule id
    // does not push the rest of its row out of line.
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let [ws, wv, wr, wt, wl, _] = widths;
    for row in std::iter::once(header.map(str::to_string)).chain(rows) {
        let [status, severity, rule, since, level, key] = row;
        writeln!(
            out,
            "{status:<ws$}  {severity:<wv$}  {rule:<wr$}  {since:<wt$}  {level:>wl$}  {key}"
        )?;
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
