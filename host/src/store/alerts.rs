//! The alert evaluator's state per policy key, and the log of what it sent.
//!
//! Evaluation holds the key's `alert_state` row lock for the whole
//! read-evaluate-write, so two replicas (machines, or processes on one)
//! evaluating the same failure at once serialise: the second sees the first's
//! state and deduplicates instead of paging again.

use super::{Dialect, Fail, Store, Tx, params, to_i64};

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
    /// and `decide`'s value. ([`super::Within::update_alerts`] does the same
    /// inside a run-ledger write's transaction.)
    pub fn update_alerts<T>(
        &mut self,
        key: &str,
        policy: &StoredPolicy,
        now_ms: u64,
        decide: impl FnOnce(&str) -> anyhow::Result<(String, Vec<AlertLogRow>, T)>,
    ) -> anyhow::Result<(Vec<i64>, T)> {
        self.write(|tx| update(tx, key, policy, now_ms, decide))
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
    let id_column = match tx.dialect() {
        Dialect::Sqlite => "rowid",
        Dialect::Postgres => "id",
    };
    let mut ids = Vec::with_capacity(rows.len());
    for row in &rows {
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
    Ok((ids, value))
}
