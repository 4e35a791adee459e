//! Delivering the alert outbox: claim due rows, deliver each through the sink
//! its stored policy names, mark it. Used by `backstop run` (on its sender
//! thread, `cli/sender.rs`), `backstop alerts tick`, and `backstop alerts
//! outbox` (which lists what is pending and dead-lettered, and redelivers dead
//! letters).
//!
//! A delivery that fails is planned by the guest's planner like any retry
//! ([`OUTBOX_RETRY`]): exponential backoff from 200 ms to 5 min, a server's
//! Retry-After (seconds or HTTP-date) honoured up to 30 min, a 429 without one
//! backing off for minutes (1, 2, 4, 8, 16), at most 12 tries within 2 hours;
//! then the row is a dead letter (also appended to the dead-letter file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use backstop::store::{Delivery, OutboxRow, Store};
use backstop::{AttemptFailure, Failure, Format, Policy, RetryState, Session, SharedState};
use clap::Args;
use serde_json::{Value, json};

use backstop::alerts::{Sink, SinkFormat, SinkKind};

use super::delivery;
use super::fmt::{now_ms, rfc3339};
use super::store;

/// The planner policy for outbox deliveries; the totals above come from it.
pub const OUTBOX_RETRY: &str = "\
[retry]
max_attempts = 12
unknown_max_attempts = 12
base_delay = \"200ms\"
multiplier = 2
max_delay = \"5m\"
max_pushback = \"30m\"
jitter = \"equal\"
deadline = \"2h\"
";

/// How long a claim lasts (`BACKSTOP_OUTBOX_CLAIM_MS`): a sender that dies
/// holding a row leaves it to another after this. Longer than any one
/// delivery (sink timeouts are capped by the drain's bound).
const CLAIM_MS: u64 = 60_000;

/// Kill this process with SIGKILL at a named point when
/// `BACKSTOP_CRASH_AT` names it: the crash-matrix tests' way of dying exactly
/// there (as a power cut or the OOM killer would), with nothing flushed.
pub fn crash_point(name: &str) {
    if std::env::var("BACKSTOP_CRASH_AT").is_ok_and(|v| v == name) {
        // SAFETY: raise(2) on ourselves; SIGKILL cannot be caught.
        unsafe {
            libc::raise(libc::SIGKILL);
        }
    }
}

/// A 429 without Retry-After waits this, doubling per try (up to 16 min).
const RATE_LIMITED_MS: u64 = 60_000;

/// What one drain did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Drained {
    pub delivered: usize,
    pub retrying: usize,
    pub dead: usize,
}

/// Claims and delivers outbox rows.
pub struct Courier {
    owner: String,
    retry: Option<Policy>,
    /// The sinks of each stored policy, by policy key (`None`: no policy or
    /// no alert section).
    sections: BTreeMap<String, Option<Vec<Sink>>>,
    /// Where dead letters of sinks without `dead_letter` are appended.
    dead_letter: PathBuf,
}

impl Courier {
    pub fn new(state: &Path) -> Courier {
        Courier {
            owner: format!(
                "{}:{}:{:x}",
                super::run::hostname(),
                std::process::id(),
                super::run::nonce()
            ),
            retry: None,
            sections: BTreeMap::new(),
            dead_letter: store::local_dir(state).join("dead-letter.jsonl"),
        }
    }

    /// Deliver what is due until nothing is, or until `until`. Each delivery
    /// gets at most what is left of the time (a slow receiver is cut off and
    /// retried later), so this never runs past `until` by more than a
    /// command sink's kill.
    pub fn drain(
        &mut self,
        session: &mut Session,
        store: &mut Store,
        until: Instant,
        stop: &dyn Fn() -> bool,
    ) -> Result<Drained> {
        let mut done = Drained::default();
        loop {
            if Instant::now() >= until || stop() {
                return Ok(done);
            }
            let claim = store::env_ms("BACKSTOP_OUTBOX_CLAIM_MS").unwrap_or(CLAIM_MS);
            let rows = store.claim_outbox(&self.owner, now_ms(), claim, 8)?;
            if rows.is_empty() {
                // A retry due before `until` is waited for; later ones are
                // left to the next run or `alerts tick`.
                let Some(due) = store.outbox_next_due()? else {
                    return Ok(done);
                };
                let wait = Duration::from_millis(due.saturating_sub(now_ms()));
                if Instant::now() + wait >= until {
                    return Ok(done);
                }
                std::thread::sleep(
                    wait.clamp(Duration::from_millis(20), Duration::from_millis(100)),
                );
                continue;
            }
            for row in rows {
                let left = until.saturating_duration_since(Instant::now());
                let delivery = if left.is_zero() || stop() {
                    // Out of time: give the claim back for the next sender.
                    Delivery::Retry {
                        due_in_ms: 0,
                        retry_state: row.retry_state.clone().unwrap_or_default(),
                        error: row.last_error.clone().unwrap_or_default(),
                    }
                } else {
                    self.deliver(session, store, &row, left)
                };
                if let Delivery::Delivered = delivery {
                    crash_point("delivered-before-mark");
                    eprintln!(
                        "backstop: alert {} delivered to {} ({})",
                        row.kind, row.sink, row.dedup_key
                    );
                }
                match &delivery {
                    Delivery::Delivered => done.delivered += 1,
                    Delivery::Retry { .. } => done.retrying += 1,
                    Delivery::Dead { .. } => done.dead += 1,
                }
                store.finish_outbox(row.id, &self.owner, now_ms(), &delivery)?;
            }
        }
    }

    /// The sinks of the policy stored under `key`, validated by the guest.
    fn sinks(
        &mut self,
        session: &mut Session,
        store: &Store,
        key: &str,
    ) -> Result<Option<Vec<Sink>>> {
        if let Some(found) = self.sections.get(key) {
            return Ok(found.clone());
        }
        let found = match store.alert_policy(key)? {
            Some(p) => {
                let format = if p.format == "json" {
                    Format::Json
                } else {
                    Format::Toml
                };
                let policy = session
                    .load_policy(&p.source, format)
                    .with_context(|| format!("loading the stored policy {}", p.path))?;
                session.alert_sinks(policy)?
            }
            None => None,
        };
        self.sections.insert(key.to_string(), found.clone());
        Ok(found)
    }

    fn deliver(
        &mut self,
        session: &mut Session,
        store: &Store,
        row: &OutboxRow,
        left: Duration,
    ) -> Delivery {
        let sink = match self.sinks(session, store, &row.policy_key) {
            Ok(Some(sinks)) => sinks.get(row.sink_index as usize).cloned(),
            Ok(None) => None,
            Err(e) => {
                return self.dead(row, None, format!("its stored policy is unreadable: {e:#}"));
            }
        };
        let Some(sink) = sink else {
            return self.dead(
                row,
                None,
                "its sink is no longer in the stored policy".to_string(),
            );
        };
        let timeout = Duration::from_millis(sink.timeout_ms)
            .min(left)
            .max(Duration::from_millis(1));
        let started = Instant::now();
        let result: Result<(), (Failure, String, Option<u64>)> = match sink.kind {
            SinkKind::Stdout => {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                writeln!(out, "{}", row.body)
                    .and_then(|()| out.flush())
                    .map_err(|e| other(format!("stdout: {e}")))
            }
            SinkKind::File => match sink.location.first() {
                Some(path) => delivery::append_line(Path::new(path), &row.body)
                    .map_err(|e| other(format!("{e:#}"))),
                None => Err(other("a file sink without path".into())),
            },
            SinkKind::Command => delivery::run_command(&sink.location, &row.body, timeout)
                .map_err(|e| other(format!("{e:#}"))),
            SinkKind::Webhook => match sink.location.first() {
                Some(url) => match routed_body(&sink, &row.body) {
                    Ok(body) => delivery::post(url, &body, timeout),
                    Err(e) => Err(other(e)),
                },
                None => Err(other("a webhook sink without url".into())),
            },
        };
        let (failure, error, retry_after) = match result {
            Ok(()) => return Delivery::Delivered,
            Err(e) => e,
        };
        let label = delivery::sink_label(&sink);
        let rate_limited = failure.http_status == Some(429);
        let pushback_ms = retry_after.or_else(|| {
            // PagerDuty: back off for minutes on 429.
            rate_limited.then(|| RATE_LIMITED_MS << row.tries.saturating_sub(1).min(4))
        });
        match self.plan(session, row, failure, started, pushback_ms) {
            Ok((None, state, delay_ms)) => {
                eprintln!(
                    "backstop: alert {} to {label}: {error}; retrying in {}",
                    row.dedup_key,
                    super::fmt::duration(delay_ms)
                );
                Delivery::Retry {
                    due_in_ms: delay_ms,
                    retry_state: state,
                    error,
                }
            }
            Ok((Some(reason), _, _)) => self.dead(
                row,
                sink.dead_letter.clone().map(PathBuf::from),
                format!("{error} (try {}; gave up: {reason})", row.tries),
            ),
            Err(e) => self.dead(
                row,
                sink.dead_letter.clone().map(PathBuf::from),
                format!("{error}; {e:#}"),
            ),
        }
    }

    /// Ask the planner about a failed try: (give-up reason, next state, wait).
    fn plan(
        &mut self,
        session: &mut Session,
        row: &OutboxRow,
        failure: Failure,
        started: Instant,
        pushback_ms: Option<u64>,
    ) -> Result<(Option<String>, String, u64)> {
        let policy = match self.retry {
            Some(p) => p,
            None => {
                let p = session.load_policy(OUTBOX_RETRY, Format::Toml)?;
                self.retry = Some(p);
                p
            }
        };
        let state: RetryState = match row.retry_state.as_deref() {
            Some(text) if !text.is_empty() => serde_json::from_str(text)?,
            _ => RetryState {
                seed: session.derive_seed(&format!("{}/{}", row.dedup_key, row.sink_index))?,
                ..RetryState::default()
            },
        };
        let shared = SharedState::default();
        // The planner counts this try as an attempt, as a run's does.
        let permit = session.begin_attempt(policy, &state, &shared, now_ms())?;
        if let Some(reason) = permit.refused {
            return Ok((Some(reason.to_string()), String::new(), 0));
        }
        let outcome = AttemptFailure {
            failure,
            duration_ms: started.elapsed().as_millis() as u64,
            pushback_ms,
        };
        let decision =
            session.after_failure(policy, &permit.state, &permit.shared, &outcome, now_ms())?;
        Ok((
            decision.give_up.map(|r| r.to_string()),
            serde_json::to_string(&decision.state)?,
            decision.delay_ms,
        ))
    }

    /// Give up on a row: append it to the dead-letter file, report it.
    fn dead(&self, row: &OutboxRow, file: Option<PathBuf>, error: String) -> Delivery {
        let path = file.unwrap_or_else(|| self.dead_letter.clone());
        let body: Value =
            serde_json::from_str(&row.body).unwrap_or(Value::String(row.body.clone()));
        let record = json!({
            "at": rfc3339(now_ms()),
            "outbox_id": row.id,
            "sink": row.sink,
            "error": error,
            "notification": {"kind": row.kind, "dedup_key": row.dedup_key, "policy_key": row.policy_key},
            "body": body,
        });
        let written = serde_json::to_string(&record)
            .map_err(anyhow::Error::from)
            .and_then(|line| delivery::append_line(&path, &line));
        let error = match written {
            Ok(()) => format!(
                "{error}; written to the dead-letter file {}",
                path.display()
            ),
            Err(w) => format!("{error}; the dead-letter file failed too: {w:#}"),
        };
        eprintln!(
            "backstop: alert {} to {} not delivered: {error} (`backstop alerts outbox --redeliver {}` sends it again)",
            row.dedup_key, row.sink, row.id
        );
        Delivery::Dead { error }
    }
}

/// The body a webhook sends: a PagerDuty body gets its routing key here, from
/// the environment variable the sink names, and nowhere else (the stored row,
/// the alert log and dead letters never hold it). A missing variable is an
/// error for this try; the row stays in the outbox and is retried (and, if the
/// planner gives up, dead-lettered and redeliverable) like any failed try.
fn routed_body(sink: &Sink, body: &str) -> Result<String, String> {
    if sink.format != SinkFormat::Pagerduty {
        return Ok(body.to_string());
    }
    let Some(var) = sink.routing_key_env.as_deref() else {
        return Err(format!(
            "the pagerduty sink for `{}` has no routing_key_env",
            sink.target
        ));
    };
    match std::env::var(var) {
        Ok(key) if !key.trim().is_empty() => {
            super::bodies::with_routing_key(body, key.trim()).map_err(|e| format!("{e:#}"))
        }
        Ok(_) => Err(format!(
            "the environment variable {var} (routing_key_env of the pagerduty sink for `{}`) is empty; set it to the integration's routing key",
            sink.target
        )),
        Err(_) => Err(format!(
            "the environment variable {var} (routing_key_env of the pagerduty sink for `{}`) is not set; set it to the integration's routing key",
            sink.target
        )),
    }
}

fn other(message: String) -> (Failure, String, Option<u64>) {
    (
        Failure {
            message: Some(message.clone()),
            ..Failure::default()
        },
        message,
        None,
    )
}

#[derive(Args)]
pub struct OutboxArgs {
    /// State database: a SQLite file or a postgres:// URL
    /// [default: $XDG_STATE_HOME/backstop/state.db]
    #[arg(long, value_name = "PATH|URL", env = "BACKSTOP_STATE")]
    state: Option<PathBuf>,
    /// Include delivered notifications.
    #[arg(long)]
    all: bool,
    /// Make dead letters due again (`all`, or one outbox id) and deliver what is due.
    #[arg(long, value_name = "ID|all")]
    redeliver: Option<String>,
    /// Deliver what is due now, for at most this long.
    #[arg(long, value_name = "DURATION", value_parser = super::run::parse_duration)]
    drain: Option<Duration>,
    #[arg(long)]
    json: bool,
}

pub fn command(args: OutboxArgs) -> Result<ExitCode> {
    let path = match &args.state {
        Some(p) => p.clone(),
        None => store::default_path()?,
    };
    let Some(mut store) = Store::open_existing(&path, store::busy_timeout())? else {
        println!(
            "no state database at {}: nothing pending",
            store::display_state(&path)
        );
        return Ok(ExitCode::SUCCESS);
    };
    let mut drain = args.drain;
    if let Some(which) = &args.redeliver {
        let id =
            match which.as_str() {
                "all" => None,
                n => Some(n.parse::<i64>().with_context(|| {
                    format!("--redeliver takes an outbox id or `all`, not {n:?}")
                })?),
            };
        let n = store.redeliver_dead(id, now_ms())?;
        eprintln!("backstop: {n} dead letter(s) due again");
        drain = drain.or(Some(Duration::from_secs(30)));
    }
    if let Some(bound) = drain {
        let mut session = backstop::Engine::new()?.session()?;
        let mut courier = Courier::new(&path);
        let d = courier.drain(&mut session, &mut store, Instant::now() + bound, &|| false)?;
        eprintln!(
            "backstop: delivered {}, retrying later {}, dead letters {}",
            d.delivered, d.retrying, d.dead
        );
    }
    let rows = store.outbox(args.all)?;
    let status = |r: &OutboxRow| {
        if r.delivered_at_ms.is_some() {
            "delivered"
        } else if r.dead_at_ms.is_some() {
            "dead"
        } else {
            "pending"
        }
    };
    if args.json {
        let items: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "status": status(r),
                    "policy_key": r.policy_key,
                    "dedup_key": r.dedup_key,
                    "kind": r.kind,
                    "sink": r.sink,
                    "tries": r.tries,
                    "created": rfc3339(r.created_at_ms),
                    "due": rfc3339(r.due_at_ms),
                    "last_error": r.last_error,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "outbox": items }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("outbox empty: every notification was delivered");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>6} {:<9} {:<8} {:>5} {:<21} {:<28} dedup key / last error",
        "id", "status", "kind", "tries", "due", "sink"
    );
    for r in &rows {
        println!(
            "{:>6} {:<9} {:<8} {:>5} {:<21} {:<28} {}",
            r.id,
            status(r),
            r.kind,
            r.tries,
            rfc3339(r.due_at_ms),
            r.sink,
            r.dedup_key
        );
        if let Some(e) = &r.last_error {
            println!("{:>6} {e}", "");
        }
    }
    Ok(ExitCode::SUCCESS)
}
