//! The numbers `backstop stats` shows, per step, in one read snapshot.

use super::{Fail, Store};

/// Per-step numbers for `backstop stats`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepStats {
    pub step: String,
    pub runs: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub running: u64,
    pub attempts: u64,
    pub retries: u64,
    /// Times from a run's first failed attempt to the success that followed, ms.
    pub recoveries_ms: Vec<u64>,
}

impl Store {
    /// Per-step numbers, steps in name order.
    pub fn stats(&self) -> anyhow::Result<Vec<StepStats>> {
        if !self.initialised()? {
            return Ok(Vec::new());
        }
        self.read(|tx| {
            let mut steps = tx
                .query(
                    "SELECT step, count(*),
                            count(*) FILTER (WHERE status = 'succeeded'),
                            count(*) FILTER (WHERE status = 'failed'),
                            count(*) FILTER (WHERE status = 'running')
                     FROM runs GROUP BY step ORDER BY step",
                    &[],
                )?
                .iter()
                .map(|r| {
                    Ok(StepStats {
                        step: r.text(0)?,
                        runs: r.uint(1)?,
                        succeeded: r.uint(2)?,
                        failed: r.uint(3)?,
                        running: r.uint(4)?,
                        ..StepStats::default()
                    })
                })
                .collect::<Result<Vec<_>, Fail>>()?;
            for r in tx.query(
                "SELECT step, count(*), count(*) FILTER (WHERE attempt > 1)
                 FROM attempts GROUP BY step",
                &[],
            )? {
                let step = r.text(0)?;
                if let Some(s) = steps.iter_mut().find(|s| s.step == step) {
                    s.attempts = r.uint(1)?;
                    s.retries = r.uint(2)?;
                }
            }
            // Per run: from the end of its first failed attempt to the end of its success.
            for r in tx.query(
                "SELECT f.step, min(s.ended_at_ms) - min(f.ended_at_ms)
                 FROM attempts f
                 JOIN attempts s ON s.run_id = f.run_id AND s.step = f.step
                                AND s.decision = 'succeeded'
                 WHERE f.decision IN ('retry', 'give-up') AND f.ended_at_ms <= s.ended_at_ms
                 GROUP BY f.run_id, f.step",
                &[],
            )? {
                let step = r.text(0)?;
                if let Some(s) = steps.iter_mut().find(|s| s.step == step) {
                    s.recoveries_ms.push(r.uint(1)?);
                }
            }
            Ok(steps)
        })
    }
}
