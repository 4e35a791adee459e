//! The alert outbox: every notification to deliver is a row, written in the
//! same transaction as the evaluation that decided it (and the alert state
//! it leads to). Senders claim due rows (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so replicas never claim the same row; SQLite's write
//! transactions exclude each other), deliver, and mark them. A claim lasts a
//! while: a sender that dies holding it leaves the row to be claimed again
//! once the claim expires, so a crash anywhere leads to a redelivery with the
//! same body and dedup key, never to a loss.

use super::{Dialect, Fail, Row, Store, Tx, params, to_i64};

/// One delivery, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    pub policy_key: String,
    pub dedup_key: String,
    pub kind: String,
    /// The sink's position in the stored policy's `[[alerts.sinks]]`.
    pub sink_index: u32,
    /// The sink as messages name it (URL masked).
    pub sink: String,
    /// The exact line to send.
    pub body: String,
    pub created_at_ms: u64,
    pub due_at_ms: u64,
    /// Deliveries started (claims), including one in progress.
    pub tries: u32,
    /// The planner's retry state (JSON), once a try failed.
    pub retry_state: Option<String>,
    pub delivered_at_ms: Option<u64>,
    pub dead_at_ms: Option<u64>,
    pub last_error: Option<String>,
}

/// A notification to put in the outbox with its log row.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub sink_index: u32,
    pub body: String,
}

/// How one claimed delivery went.
#[derive(Debug, Clone)]
pub enum Delivery {
    Delivered,
    /// Try again at `due_at_ms` (the database clock on PostgreSQL).
    Retry {
        due_in_ms: u64,
        retry_state: String,
        error: String,
    },
    /// Given up: a dead letter until `alerts outbox --redeliver`.
    Dead {
        error: String,
    },
}

const COLUMNS: &str = "id, policy_key, dedup_key, kind, sink_index, sink, body, created_at_ms,
     due_at_ms, tries, retry_state, delivered_at_ms, dead_at_ms, last_error";

fn outbox_row(r: &Row) -> Result<OutboxRow, Fail> {
    let ms = |v: Option<i64>| v.map(|t| t.max(0) as u64);
    Ok(OutboxRow {
        id: r.int(0)?,
        policy_key: r.text(1)?,
        dedup_key: r.text(2)?,
        kind: r.text(3)?,
        sink_index: r.int(4)?.max(0) as u32,
        sink: r.text(5)?,
        body: r.text(6)?,
        created_at_ms: r.uint(7)?,
        due_at_ms: r.uint(8)?,
        tries: r.int(9)?.max(0) as u32,
        retry_state: r.opt_text(10)?,
        delivered_at_ms: ms(r.opt_int(11)?),
        dead_at_ms: ms(r.opt_int(12)?),
        last_error: r.opt_text(13)?,
    })
}

/// Insert one outbox row (inside the evaluation's transaction).
#[allow(clippy::too_many_arguments)]
pub(crate) fn enqueue(
    tx: &mut dyn Tx,
    policy_key: &str,
    log_id: Option<i64>,
    dedup_key: &str,
    kind: &str,
    sink: &str,
    out: &Outgoing,
    now: i64,
) -> Result<(), Fail> {
    tx.exec(
        "INSERT INTO alert_outbox (policy_key, log_id, dedup_key, kind, sink_index, sink, body,
                                   created_at_ms, due_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        params![
            policy_key,
            log_id,
            dedup_key,
            kind,
            out.sink_index,
            sink,
            out.body.as_str(),
            now
        ],
    )?;
    Ok(())
}

impl Store {
    /// Claim up to `limit` due rows for `claim_ms` (the claim is this
    /// sender's until then), oldest first. A row waits while an older row for
    /// the same alert and sink is undelivered, so a resolve never overtakes
    /// its trigger.
    pub fn claim_outbox(
        &mut self,
        owner: &str,
        now_ms: u64,
        claim_ms: u64,
        limit: u32,
    ) -> anyhow::Result<Vec<OutboxRow>> {
        self.write(|tx| {
            let now = tx.now_ms(now_ms)?;
            let skip_locked = match tx.dialect() {
                Dialect::Sqlite => "",
                Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            };
            let sql = format!(
                "UPDATE alert_outbox SET claimed_by = ?1, claimed_until_ms = ?3, tries = tries + 1
                 WHERE id IN (
                     SELECT o.id FROM alert_outbox o
                     WHERE o.delivered_at_ms IS NULL AND o.dead_at_ms IS NULL
                       AND o.due_at_ms <= ?2
                       AND (o.claimed_until_ms IS NULL OR o.claimed_until_ms <= ?2)
                       AND NOT EXISTS (
                           SELECT 1 FROM alert_outbox p
                           WHERE p.policy_key = o.policy_key AND p.dedup_key = o.dedup_key
                             AND p.sink_index = o.sink_index AND p.id < o.id
                             AND p.delivered_at_ms IS NULL AND p.dead_at_ms IS NULL)
                     ORDER BY o.id LIMIT ?4{skip_locked})
                 RETURNING {COLUMNS}"
            );
            let mut rows = tx
                .query(
                    &sql,
                    params![owner, now, now.saturating_add(to_i64(claim_ms)), limit],
                )?
                .iter()
                .map(outbox_row)
                .collect::<Result<Vec<_>, Fail>>()?;
            rows.sort_by_key(|r| r.id);
            Ok(rows)
        })
    }

    /// Record how a claimed delivery went, and mirror it on its alert_log row.
    /// A delivery is recorded whoever claims the row now; a retry or a dead
    /// letter only while the claim is still this sender's.
    pub fn finish_outbox(
        &mut self,
        id: i64,
        owner: &str,
        now_ms: u64,
        delivery: &Delivery,
    ) -> anyhow::Result<()> {
        self.write(|tx| {
            let now = tx.now_ms(now_ms)?;
            let changed = match delivery {
                Delivery::Delivered => tx.exec(
                    "UPDATE alert_outbox SET delivered_at_ms = ?2, claimed_by = NULL,
                         claimed_until_ms = NULL, last_error = NULL
                     WHERE id = ?1 AND delivered_at_ms IS NULL",
                    params![id, now],
                )?,
                Delivery::Retry {
                    due_in_ms,
                    retry_state,
                    error,
                } => tx.exec(
                    "UPDATE alert_outbox SET due_at_ms = ?3, retry_state = ?4, last_error = ?5,
                         claimed_by = NULL, claimed_until_ms = NULL
                     WHERE id = ?1 AND claimed_by = ?2 AND delivered_at_ms IS NULL",
                    params![
                        id,
                        owner,
                        now.saturating_add(to_i64(*due_in_ms)),
                        retry_state.as_str(),
                        error.as_str()
                    ],
                )?,
                Delivery::Dead { error } => tx.exec(
                    "UPDATE alert_outbox SET dead_at_ms = ?3, last_error = ?4,
                         claimed_by = NULL, claimed_until_ms = NULL
                     WHERE id = ?1 AND claimed_by = ?2 AND delivered_at_ms IS NULL",
                    params![id, owner, now, error.as_str()],
                )?,
            };
            if changed == 1 {
                let id_column = match tx.dialect() {
                    Dialect::Sqlite => "rowid",
                    Dialect::Postgres => "id",
                };
                let (delivered, error) = match delivery {
                    Delivery::Delivered => (Some(true), None),
                    Delivery::Retry { error, .. } => (None, Some(error.as_str())),
                    Delivery::Dead { error } => (Some(false), Some(error.as_str())),
                };
                tx.exec(
                    &format!(
                        "UPDATE alert_log SET delivered = ?2, error = ?3
                         WHERE {id_column} = (SELECT log_id FROM alert_outbox WHERE id = ?1)"
                    ),
                    params![id, delivered, error],
                )?;
            }
            Ok(())
        })
    }

    /// Rows not yet delivered (pending and dead letters), oldest first;
    /// with `delivered`, the delivered ones too.
    pub fn outbox(&self, delivered: bool) -> anyhow::Result<Vec<OutboxRow>> {
        let filter = if delivered {
            ""
        } else {
            " WHERE delivered_at_ms IS NULL"
        };
        self.read(|tx| {
            tx.query(
                &format!("SELECT {COLUMNS} FROM alert_outbox{filter} ORDER BY id"),
                &[],
            )?
            .iter()
            .map(outbox_row)
            .collect::<Result<Vec<_>, Fail>>()
        })
    }

    /// Make dead letters due again (all, or the one with `id`), with a fresh
    /// retry state. Returns how many.
    pub fn redeliver_dead(&mut self, id: Option<i64>, now_ms: u64) -> anyhow::Result<u64> {
        self.write(|tx| {
            let now = tx.now_ms(now_ms)?;
            tx.exec(
                "UPDATE alert_outbox SET dead_at_ms = NULL, due_at_ms = ?1, retry_state = NULL,
                     tries = 0, last_error = NULL
                 WHERE dead_at_ms IS NOT NULL AND delivered_at_ms IS NULL
                   AND (CAST(?2 AS BIGINT) IS NULL OR id = ?2)",
                params![now, id],
            )
        })
    }

    /// The earliest time a pending row is due (to know how long to wait).
    pub fn outbox_next_due(&self) -> anyhow::Result<Option<u64>> {
        self.read(|tx| {
            Ok(tx
                .query_opt(
                    "SELECT min(due_at_ms) FROM alert_outbox
                     WHERE delivered_at_ms IS NULL AND dead_at_ms IS NULL",
                    &[],
                )?
                .map(|r| r.opt_int(0))
                .transpose()?
                .flatten()
                .map(|t| t.max(0) as u64))
        })
    }
}
