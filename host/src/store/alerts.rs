//! The alert evaluator's state per policy key, and the log of what it sent.
//!
//! Evaluation holds the key's `alert_state` row lock for the whole
//! read-evaluate-write, so two replicas (machines, or processes on one)
//! evaluating the same failure at once serialise: the second sees the first's
//! state and deduplicates instead of paging again.

use super::{Dialect, Fail, Store, Tx, Val, params, to_i64};
use crate::alerts::{KeyedState, NeededKeys};

/// The policy an alert state was made with.
#[derive(Debug, Clone, Default)]
pub struct StoredPolicy {
    pub path: String,
    /// `toml` or `json`.
    pub format: String,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct AlertStateRow {
    pub key: String,
    pub state: String,
    pub updated_at_ms: u64,
    pub policy: StoredPolicy,
}

/// One keyed shard of a policy key's alert state.
#[derive(Debug, Clone)]
pub struct AlertShardRow {
    pub policy_key: String,
    pub state_key: String,
    pub state: String,
}

/// One notification through one route, as `alert_log` records it.
#[derive(Debug, Clone)]
pub struct AlertLogRow {
    pub at_ms: u64,
    pub kind: String,
    pub severity: String,
    pub rule: String,
    pub dedup_key: String,
    /// JSON array.
    pub targets: String,
    pub summary: String,
    pub sink: String,
    /// What to deliver through the outbox, in the same transaction.
    pub outbox: Option<super::outbox::Outgoing>,
}

impl Store {
    /// The policy stored with a key's alert state (what outbox rows name sinks by).
    pub fn alert_policy(&self, key: &str) -> anyhow::Result<Option<StoredPolicy>> {
        self.read(|tx| {
            match tx.query_opt(
                "SELECT policy_path, policy_format, policy_source FROM alert_state
                 WHERE policy_key = ?1",
                params![key],
            )? {
                Some(r) => Ok(Some(StoredPolicy {
                    path: r.text(0)?,
                    format: r.text(1)?,
                    source: r.text(2)?,
                })),
                None => Ok(None),
            }
        })
    }

    /// Every stored alert state, for `alerts list` and `alerts ack`.
    pub fn alert_states(&self) -> anyhow::Result<Vec<AlertStateRow>> {
        self.read(|tx| {
            tx.query(
                "SELECT policy_key, state, updated_at_ms, policy_path, policy_format, policy_source
                 FROM alert_state ORDER BY policy_key",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(AlertStateRow {
                    key: r.text(0)?,
                    state: r.text(1)?,
                    updated_at_ms: r.uint(2)?,
                    policy: StoredPolicy {
                        path: r.text(3)?,
                        format: r.text(4)?,
                        source: r.text(5)?,
                    },
                })
            })
            .collect::<Result<Vec<_>, Fail>>()
        })
    }

    /// Read a policy key's alert state under its row lock, evaluate with
    /// `decide`, and store the next state, the policy, the log rows and their
    /// outbox rows in one transaction. Returns the log rows' ids (for [`Store::mark_delivery`])
    /// and `decide`'s value. ([`super::Within`] does the same inside a
    /// run-ledger write's transaction.) A whole-document state: the CLI
    /// evaluates keyed ([`Store::update_alert_keys`]); this stays for states
    /// written before keys and for tests that seed one.
    pub fn update_alerts<T>(
        &mut self,
        key: &str,
        policy: &StoredPolicy,
        now_ms: u64,
        decide: impl FnOnce(&str) -> anyhow::Result<(String, Vec<AlertLogRow>, T)>,
    ) -> anyhow::Result<(Vec<i64>, T)> {
        self.write(|tx| update(tx, key, policy, now_ms, decide))
    }

    /// Every keyed alert state shard, for `alerts list` and `alerts ack`.
    pub fn alert_shards(&self) -> anyhow::Result<Vec<AlertShardRow>> {
        self.read(|tx| {
            tx.query(
                "SELECT policy_key, state_key, state FROM alert_keys ORDER BY policy_key, state_key",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(AlertShardRow {
                    policy_key: r.text(0)?,
                    state_key: r.text(1)?,
                    state: r.text(2)?,
                })
            })
            .collect::<Result<Vec<_>, Fail>>()
        })
    }

    /// When a policy key's soonest shard wakeup is due, if any.
    pub fn alert_next_wakeup(&self, key: &str) -> anyhow::Result<Option<u64>> {
        self.read(|tx| {
            let row = tx.query_opt(
                "SELECT min(next_wakeup_ms) FROM alert_keys WHERE policy_key = ?1",
                params![key],
            )?;
            Ok(match row {
                Some(r) => r.opt_int(0)?.map(|v| v.max(0) as u64),
                None => None,
            })
        })
    }

    /// Keyed evaluation: under the policy key's `alert_state` row lock (so
    /// replicas still serialise and page once), read the shards `needed`
    /// names, the ones whose wakeup is due at `now_ms` and a whole-document
    /// state stored before keys (key ""); evaluate with `decide`; store the
    /// shards it returns (an empty state deletes one), the policy, the log
    /// rows and their outbox rows in one transaction. Cost follows the
    /// shards touched, not how many the key holds. ([`super::Within`] does
    /// the same inside a run-ledger write's transaction.)
    pub fn update_alert_keys<T>(
        &mut self,
        key: &str,
        policy: &StoredPolicy,
        now_ms: u64,
        needed: &NeededKeys,
        decide: impl FnOnce(&[KeyedState]) -> anyhow::Result<(Vec<KeyedState>, Vec<AlertLogRow>, T)>,
    ) -> anyhow::Result<(Vec<i64>, T)> {
        self.write(|tx| update_keyed(tx, key, policy, now_ms, needed, decide))
    }

    /// Record how one logged notification's delivery went.
    pub fn mark_delivery(&mut self, id: i64, error: Option<&str>) -> anyhow::Result<()> {
        self.write(|tx| {
            let id_column = match tx.dialect() {
                super::Dialect::Sqlite => "rowid",
                super::Dialect::Postgres => "id",
            };
            tx.exec(
                &format!("UPDATE alert_log SET delivered = ?2, error = ?3 WHERE {id_column} = ?1"),
                params![id, error.is_none(), error],
            )?;
            Ok(())
        })
    }
}

/// [`Store::update_alerts`] inside the caller's transaction.
pub(crate) fn update<T>(
    tx: &mut dyn Tx,
    key: &str,
    policy: &StoredPolicy,
    now_ms: u64,
    decide: impl FnOnce(&str) -> anyhow::Result<(String, Vec<AlertLogRow>, T)>,
) -> Result<(Vec<i64>, T), Fail> {
    let now = to_i64(now_ms);
    if tx.dialect() == Dialect::Postgres {
        // The lock needs a row: a first evaluation on two replicas
        // must not both start from "no state". '' is "no state yet".
        tx.exec(
            "INSERT INTO alert_state (policy_key, state, updated_at_ms)
             VALUES (?1, '', ?2) ON CONFLICT (policy_key) DO NOTHING",
            params![key, now],
        )?;
    }
    let sql = format!(
        "SELECT state FROM alert_state WHERE policy_key = ?1{}",
        tx.for_update()
    );
    let state = match tx.query_opt(&sql, params![key])? {
        Some(row) => row.text(0)?,
        None => String::new(),
    };
    let (next, rows, value) = decide(&state)?;
    tx.exec(
        "INSERT INTO alert_state (policy_key, state, updated_at_ms, policy_path, policy_format, policy_source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (policy_key) DO UPDATE SET state = excluded.state,
             updated_at_ms = excluded.updated_at_ms, policy_path = excluded.policy_path,
             policy_format = excluded.policy_format, policy_source = excluded.policy_source",
        params![
            key,
            next,
            now,
            policy.path.as_str(),
            policy.format.as_str(),
            policy.source.as_str()
        ],
    )?;
    let ids = write_log(tx, key, &rows, now)?;
    Ok((ids, value))
}

/// [`Store::update_alert_keys`] inside the caller's transaction.
pub(crate) fn update_keyed<T>(
    tx: &mut dyn Tx,
    key: &str,
    policy: &StoredPolicy,
    now_ms: u64,
    needed: &NeededKeys,
    decide: impl FnOnce(&[KeyedState]) -> anyhow::Result<(Vec<KeyedState>, Vec<AlertLogRow>, T)>,
) -> Result<(Vec<i64>, T), Fail> {
    let now = to_i64(now_ms);
    // The lock needs a row: a first evaluation on two replicas must
    // not both start from "no state". '' is "no whole document".
    tx.exec(
        "INSERT INTO alert_state (policy_key, state, updated_at_ms)
         VALUES (?1, '', ?2) ON CONFLICT (policy_key) DO NOTHING",
        params![key, now],
    )?;
    let sql = format!(
        "SELECT state FROM alert_state WHERE policy_key = ?1{}",
        tx.for_update()
    );
    let legacy = match tx.query_opt(&sql, params![key])? {
        Some(row) => row.text(0)?,
        None => String::new(),
    };
    let mut loaded = Vec::new();
    if !legacy.trim().is_empty() {
        loaded.push(KeyedState {
            key: String::new(),
            state: legacy,
            next_wakeup_ms: None,
        });
    }
    let rows = if needed.every_key {
        tx.query(
            "SELECT state_key, state, next_wakeup_ms FROM alert_keys WHERE policy_key = ?1",
            params![key],
        )?
    } else {
        let mut values: Vec<Val> = vec![key.into(), now.into()];
        let mut marks = Vec::new();
        for k in &needed.keys {
            values.push(k.as_str().into());
            marks.push(format!("?{}", values.len()));
        }
        let listed = if marks.is_empty() {
            String::new()
        } else {
            format!("state_key IN ({}) OR ", marks.join(", "))
        };
        tx.query(
            &format!(
                "SELECT state_key, state, next_wakeup_ms FROM alert_keys
                 WHERE policy_key = ?1 AND ({listed}next_wakeup_ms <= ?2)"
            ),
            &values,
        )?
    };
    for r in &rows {
        loaded.push(KeyedState {
            key: r.text(0)?,
            state: r.text(1)?,
            next_wakeup_ms: r.opt_int(2)?.map(|v| v.max(0) as u64),
        });
    }
    let (next, log, value) = decide(&loaded)?;
    for shard in &next {
        if shard.key.is_empty() {
            tx.exec(
                "UPDATE alert_state SET state = ?2 WHERE policy_key = ?1",
                params![key, shard.state.as_str()],
            )?;
        } else if shard.state.is_empty() {
            tx.exec(
                "DELETE FROM alert_keys WHERE policy_key = ?1 AND state_key = ?2",
                params![key, shard.key.as_str()],
            )?;
        } else {
            tx.exec(
                "INSERT INTO alert_keys (policy_key, state_key, state, next_wakeup_ms, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (policy_key, state_key) DO UPDATE SET state = excluded.state,
                     next_wakeup_ms = excluded.next_wakeup_ms,
                     updated_at_ms = excluded.updated_at_ms",
                params![
                    key,
                    shard.key.as_str(),
                    shard.state.as_str(),
                    shard.next_wakeup_ms.map(to_i64),
                    now
                ],
            )?;
        }
    }
    tx.exec(
        "UPDATE alert_state SET updated_at_ms = ?2, policy_path = ?3, policy_format = ?4,
             policy_source = ?5 WHERE policy_key = ?1",
        params![
            key,
            now,
            policy.path.as_str(),
            policy.format.as_str(),
            policy.source.as_str()
        ],
    )?;
    let ids = write_log(tx, key, &log, now)?;
    Ok((ids, value))
}

/// The log rows of one evaluation and their outbox rows; returns the log ids.
fn write_log(tx: &mut dyn Tx, key: &str, rows: &[AlertLogRow], now: i64) -> Result<Vec<i64>, Fail> {
    let id_column = match tx.dialect() {
        Dialect::Sqlite => "rowid",
        Dialect::Postgres => "id",
    };
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        let inserted = tx.query(
            &format!(
                "INSERT INTO alert_log (at_ms, policy_key, kind, severity, rule, dedup_key, targets, summary, sink)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING {id_column}"
            ),
            params![
                to_i64(row.at_ms),
                key,
                row.kind.as_str(),
                row.severity.as_str(),
                row.rule.as_str(),
                row.dedup_key.as_str(),
                row.targets.as_str(),
                row.summary.as_str(),
                row.sink.as_str()
            ],
        )?;
        let id = match inserted.first() {
            Some(r) => Some(r.int(0)?),
            None => None,
        };
        if let Some(out) = &row.outbox {
            super::outbox::enqueue(tx, key, id, &row.dedup_key, &row.kind, &row.sink, out, now)?;
        }
        ids.extend(id);
    }
    Ok(ids)
}
