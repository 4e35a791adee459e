//! The alerting service `backstop run` (and `alerts ack` / `alerts tick`)
//! uses: evaluate one event in the guest, persist the next alert state and
//! the alert log in one transaction, then deliver through the policy's sinks.
//! The guest decides every notification; this module keeps time and state.

use std::path::{Path, PathBuf};

use anyhow::Result;
use backstop::alerts::{Event, Sink};
use backstop::{Format, Policy, Session};

use super::delivery::{self, Deliverer, Route};
use super::exit::Exit;
use super::fmt::now_ms;
use super::render_diagnostics;
use super::store::{AlertLogRow, Store, StoredPolicy};

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
    /// Deliveries that succeeded (one per notification and sink).
    pub delivered: usize,
    /// Deliveries that failed (reported on stderr and in the alert log).
    pub failed: usize,
    /// When the next escalation or repeat falls due, if any.
    pub next_wakeup_ms: Option<u64>,
}

/// Alert evaluation against the state database, with delivery.
pub struct Alerting {
    pub key: String,
    policy: Policy,
    stored: StoredPolicy,
    sinks: Vec<Sink>,
    deliverer: Deliverer,
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
        let dead_letter = state_path
            .parent()
            .map(|d| d.join("dead-letter.jsonl"))
            .unwrap_or_else(|| PathBuf::from("dead-letter.jsonl"));
        Ok(Some(Alerting {
            key: key.to_string(),
            policy,
            stored: StoredPolicy {
                path: path.to_string(),
                format: format_name(format).to_string(),
                source: source.to_string(),
            },
            sinks,
            deliverer: Deliverer::new(source_label, dead_letter),
        }))
    }

    /// Evaluate one event now, store the next state, deliver. Every delivery
    /// is reported on stderr, one line each.
    pub fn handle(
        &mut self,
        session: &mut Session,
        store: &mut Store,
        event: &Event,
    ) -> Result<Handled> {
        let now = now_ms();
        let policy = self.policy;
        let sinks = &self.sinks;
        let (ids, (notifications, next_wakeup_ms)) =
            store.update_alerts(&self.key, &self.stored, now, |state| {
                let e = session.evaluate_alerts(policy, state, event, now)?;
                let mut rows = Vec::new();
                for n in &e.notifications {
                    for route in delivery::route(sinks, n) {
                        rows.push(AlertLogRow {
                            at_ms: now,
                            kind: n.kind.as_str().into(),
                            severity: n.severity.as_str().into(),
                            rule: n.rule.clone(),
                            dedup_key: n.dedup_key.clone(),
                            targets: serde_json::to_string(&n.targets)?,
                            summary: n.summary.clone(),
                            sink: route.label(),
                        });
                    }
                }
                Ok((e.state, rows, (e.notifications, e.next_wakeup_ms)))
            })?;
        let mut ids = ids.into_iter();
        let mut handled = Handled {
            next_wakeup_ms,
            ..Handled::default()
        };
        for n in &notifications {
            for route in delivery::route(sinks, n) {
                let result = self.deliverer.deliver(session, &route, n, now);
                let error = result.as_ref().err().map(|e| format!("{e:#}"));
                match &error {
                    Some(e) => {
                        handled.failed += 1;
                        eprintln!(
                            "backstop: alert {} to {} not delivered: {e}",
                            n.dedup_key,
                            route.label()
                        );
                    }
                    None => {
                        handled.delivered += 1;
                        // A target without a sink was printed on stderr already.
                        if matches!(route, Route::Sink(_)) {
                            eprintln!(
                                "backstop: alert {} {} [{}] delivered to {} ({})",
                                n.kind.as_str(),
                                n.severity.as_str(),
                                n.rule,
                                route.label(),
                                n.dedup_key
                            );
                        }
                    }
                }
                if let Some(id) = ids.next() {
                    store.mark_delivery(id, error.as_deref())?;
                }
            }
        }
        Ok(handled)
    }
}
