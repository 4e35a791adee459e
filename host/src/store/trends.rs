//! What `backstop stats --since/--by` reads: the attempts of the rounds that
//! started in a window, with their run's pipeline, and the notifications the
//! alert log holds for that window. Only querying: the figures are computed
//! by the caller (pure, in the CLI's `stats::trends`).

use super::{Fail, Row, RunKey, Store, Val, params, to_i64};

/// One attempt of a round that started in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendAttempt {
    /// `""` for runs recorded without a pipeline (the library hosts', or a
    /// backstop older than schema version 5).
    pub pipeline: String,
    pub run_id: String,
    pub step: String,
    pub round: u32,
    pub attempt: u32,
    pub started_at_ms: u64,
    pub ended_at_ms: Option<u64>,
    /// `succeeded`, `retry`, `give-up`, `interrupted`, `abandoned`, or `None`
    /// while it runs.
    pub decision: Option<String>,
    pub give_up_reason: Option<String>,
}

/// One notification (deduplicated across the routes it went out on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendAlert {
    pub at_ms: u64,
    /// The alert policy key: the pipeline's name.
    pub pipeline: String,
    pub kind: String,
    pub severity: String,
    pub dedup_key: String,
}

/// Which runs to read: rounds whose first attempt started in `[since, until)`.
#[derive(Debug, Clone, Default)]
pub struct TrendFilter {
    pub since_ms: u64,
    pub until_ms: u64,
    pub pipeline: Option<String>,
    pub step: Option<String>,
}

impl Store {
    /// Record the pipeline a run runs under (the latest wins).
    pub fn label_run(&mut self, key: RunKey<'_>, pipeline: &str) -> anyhow::Result<()> {
        self.write(|tx| {
            tx.exec(
                "INSERT INTO run_pipelines (run_id, step, pipeline) VALUES (?1, ?2, ?3)
                 ON CONFLICT (run_id, step) DO UPDATE SET pipeline = excluded.pipeline",
                params![key.run_id, key.step, pipeline],
            )?;
            Ok(())
        })
    }

    /// The attempts of the rounds that started in the window, ordered by run
    /// and attempt, and the window's notifications in time order.
    pub fn trends(
        &self,
        filter: &TrendFilter,
    ) -> anyhow::Result<(Vec<TrendAttempt>, Vec<TrendAlert>)> {
        if !self.initialised()? {
            return Ok((Vec::new(), Vec::new()));
        }
        self.read(|tx| {
            let mut args: Vec<Val> = vec![
                to_i64(filter.since_ms).into(),
                to_i64(filter.until_ms).into(),
            ];
            let mut run_filter = String::new();
            if let Some(pipeline) = &filter.pipeline {
                args.push(pipeline.into());
                run_filter.push_str(&format!(" AND COALESCE(p.pipeline, '') = ?{}", args.len()));
            }
            if let Some(step) = &filter.step {
                args.push(step.into());
                run_filter.push_str(&format!(" AND a.step = ?{}", args.len()));
            }
            let sql = format!(
                "SELECT COALESCE(p.pipeline, ''), a.run_id, a.step, a.round, a.attempt,
                        a.started_at_ms, a.ended_at_ms, a.decision, a.give_up_reason
                 FROM attempts a
                 JOIN (SELECT run_id, step, round FROM attempts
                       GROUP BY run_id, step, round
                       HAVING min(started_at_ms) >= ?1 AND min(started_at_ms) < ?2) r
                   ON r.run_id = a.run_id AND r.step = a.step AND r.round = a.round
                 LEFT JOIN run_pipelines p ON p.run_id = a.run_id AND p.step = a.step
                 WHERE 1 = 1{run_filter}
                 ORDER BY 1, a.step, a.run_id, a.round, a.attempt"
            );
            let attempts = tx
                .query(&sql, &args)?
                .iter()
                .map(attempt)
                .collect::<Result<Vec<_>, Fail>>()?;
            let mut args: Vec<Val> = vec![
                to_i64(filter.since_ms).into(),
                to_i64(filter.until_ms).into(),
            ];
            let mut alert_filter = String::new();
            if let Some(pipeline) = &filter.pipeline {
                args.push(pipeline.into());
                alert_filter = format!(" AND policy_key = ?{}", args.len());
            }
            // One row per notification and route: DISTINCT counts each once.
            let sql = format!(
                "SELECT DISTINCT at_ms, policy_key, kind, severity, dedup_key FROM alert_log
                 WHERE at_ms >= ?1 AND at_ms < ?2{alert_filter}
                 ORDER BY at_ms, policy_key, dedup_key, kind, severity"
            );
            let alerts = tx
                .query(&sql, &args)?
                .iter()
                .map(|r| {
                    Ok(TrendAlert {
                        at_ms: r.uint(0)?,
                        pipeline: r.text(1)?,
                        kind: r.text(2)?,
                        severity: r.text(3)?,
                        dedup_key: r.text(4)?,
                    })
                })
                .collect::<Result<Vec<_>, Fail>>()?;
            Ok((attempts, alerts))
        })
    }
}

fn attempt(r: &Row) -> Result<TrendAttempt, Fail> {
    Ok(TrendAttempt {
        pipeline: r.text(0)?,
        run_id: r.text(1)?,
        step: r.text(2)?,
        round: u32::try_from(r.uint(3)?).unwrap_or(u32::MAX),
        attempt: u32::try_from(r.uint(4)?).unwrap_or(u32::MAX),
        started_at_ms: r.uint(5)?,
        ended_at_ms: r.opt_int(6)?.map(|v| v.max(0) as u64),
        decision: r.opt_text(7)?,
        give_up_reason: r.opt_text(8)?,
    })
}
