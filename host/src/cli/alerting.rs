//! The alerting service `backstop run` (and `alerts ack` / `alerts tick`)
//! uses: evaluate one event in the guest, persist the next alert state, the
//! alert log and the outbox rows (one per notification and sink) in one
//! transaction; the courier (`cli/outbox.rs`) delivers them afterwards, so a
//! crash between the two loses nothing. The guest decides every
//! notification; this module keeps time and state.

use std::path::Path;

use anyhow::Result;
use backstop::alerts::{Event, Sink};
use backstop::{Format, Policy, Session};

use super::delivery::{self, Route};
use super::exit::Exit;
use super::fmt::now_ms;
use super::outbox::{Courier, Drained};
use super::render_diagnostics;
use super::store::{AlertLogRow, AlertWriter, Outgoing, Store, StoredPolicy};

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
pub fn load(session: &mut Session, source: &str, format: Format, label: &str) -> Result<Policy> {
    match session.load_policy(source, format) {
        Ok(policy) => Ok(policy),
        Err(backstop::Error::InvalidPolicy(errors)) => {
            render_diagnostics(label, source, &errors);
            Err(Exit::new(1, format!("{label}: invalid policy")).into())
        }
        Err(other) => Err(other.into()),
    }
}

/// What one [`Alerting::handle`] did.
#[derive(Debug, Default)]
pub struct Handled {
    /// Notifications queued in the outbox (one per notification and sink).
    pub queued: usize,
    /// Notifications for targets without a sink, printed on stderr.
    pub printed: usize,
}

/// An evaluation written but not yet followed up ([`Alerting::committed`]).
#[derive(Debug)]
pub struct Evaluated {
    ids: Vec<i64>,
    notifications: Vec<backstop::alerts::Notification>,
}

/// Alert evaluation against the state database; delivery through the outbox.
pub struct Alerting {
    pub key: String,
    policy: Policy,
    stored: StoredPolicy,
    sinks: Vec<Sink>,
    /// `pipeline/step` for PagerDuty's `source` when the payload lacks them.
    source: String,
    courier: Courier,
}

impl Alerting {
    /// `None` when the policy has no alert section.
    pub fn new(
        session: &mut Session,
        source: &str,
        format: Format,
        path: &str,
        key: &str,
        source_label: String,
        state_path: &Path,
    ) -> Result<Option<Alerting>> {
        let policy = load(session, source, format, path)?;
        let Some(sinks) = session.alert_sinks(policy)? else {
            return Ok(None);
        };
        Ok(Some(Alerting {
            key: key.to_string(),
            policy,
            stored: StoredPolicy {
                path: path.to_string(),
                format: format_name(format).to_string(),
                source: source.to_string(),
            },
            sinks,
            source: source_label,
            courier: Courier::new(state_path),
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
    ) -> Result<Handled> {
        let evaluated = self.evaluate(session, store, event)?;
        super::outbox::crash_point("alerts-committed");
        self.committed(store, evaluated)
    }

    /// Evaluate one event now and write the next state, the log and the
    /// outbox rows through `writer`: their own transaction, or a run-ledger
    /// write's (the attempt's record and its evaluation commit together).
    /// Once that commits, [`Alerting::committed`] finishes the job.
    pub fn evaluate(
        &mut self,
        session: &mut Session,
        writer: &mut impl AlertWriter,
        event: &Event,
    ) -> Result<Evaluated> {
        let now = now_ms();
        let policy = self.policy;
        let (sinks, source) = (&self.sinks, &self.source);
        // The guest names the shards this event needs (a pure function of
        // the policy and the event); the store adds the due ones.
        let needed = session.alert_state_keys(policy, event)?;
        let (ids, notifications) =
            writer.update_alert_keys(&self.key, &self.stored, now, &needed, |shards| {
                let e = session.evaluate_alerts_keyed(policy, shards, event, now)?;
                let mut rows = Vec::new();
                for n in &e.notifications {
                    for route in delivery::route(sinks, n) {
                        let outbox = match &route {
                            Route::Sink(sink) => Some(Outgoing {
                                sink_index: sinks
                                    .iter()
                                    .position(|s| std::ptr::eq(s, *sink))
                                    .unwrap_or_default()
                                    as u32,
                                body: delivery::line(sink, n, now, source)?,
                            }),
                            Route::Stderr(_) => None,
                        };
                        rows.push(AlertLogRow {
                            at_ms: now,
                            kind: n.kind.as_str().into(),
                            severity: n.severity.as_str().into(),
                            rule: n.rule.clone(),
                            dedup_key: n.dedup_key.clone(),
                            targets: serde_json::to_string(&n.targets)?,
                            summary: n.summary.clone(),
                            sink: route.label(),
                            outbox,
                        });
                    }
                }
                Ok((e.states, rows, e.notifications))
            })?;
        Ok(Evaluated { ids, notifications })
    }

    /// After an evaluation committed: print the notifications for targets
    /// without a sink (and log them as delivered).
    pub fn committed(&self, store: &mut Store, evaluated: Evaluated) -> Result<Handled> {
        let Evaluated { ids, notifications } = evaluated;
        let sinks = &self.sinks;
        let mut handled = Handled::default();
        let mut ids = ids.into_iter();
        for n in &notifications {
            for route in delivery::route(sinks, n) {
                let id = ids.next();
                match route {
                    Route::Stderr(target) => {
                        delivery::print_unrouted(&target, n);
                        handled.printed += 1;
                        if let Some(id) = id {
                            store.mark_delivery(id, None)?;
                        }
                    }
                    Route::Sink(_) => handled.queued += 1,
                }
            }
        }
        Ok(handled)
    }

    /// Deliver what the outbox has due, until `until` or `stop()`.
    pub fn drain(
        &mut self,
        session: &mut Session,
        store: &mut Store,
        until: std::time::Instant,
        stop: &dyn Fn() -> bool,
    ) -> Result<Drained> {
        self.courier.drain(session, store, until, stop)
    }
}
