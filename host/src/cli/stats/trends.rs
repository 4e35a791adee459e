//! The trend figures, from the rows the store read: pure (no clock, no I/O),
//! so every definition below is unit-tested. docs/STATS.md states them.
//!
//! - A **run** is one round of a run id + step: its attempts until it
//!   succeeded or gave up (`--rerun` and a restart after a give-up start a new
//!   round). It belongs to the bucket in which its first attempt started.
//! - **Success rate**: succeeded runs over finished (succeeded + gave up) runs.
//! - **Retries**: attempts after the first of a run; per run: over all runs.
//! - **Time to recovery** of a run that succeeded after failing: from the end
//!   of its first failed attempt (decision `retry`) to the end of the attempt
//!   that succeeded. Median and p95 are nearest-rank (the value at rank
//!   ceil(p/100 * n) of the sorted times).
//! - **Pages**: notifications (trigger, escalate, repeat) of severity high or
//!   critical; **infos** of severity info; resolves are not counted. They are
//!   the pipeline's (the alert log knows the pipeline, not the step), bucketed
//!   by when they were sent.

use std::collections::BTreeMap;

use serde::Serialize;

use super::super::store::{TrendAlert, TrendAttempt};

const DAY_MS: u64 = 86_400_000;
const WEEK_MS: u64 = 7 * DAY_MS;
/// 1970-01-01 was a Thursday; the first Monday 00:00 UTC is 4 days later.
const FIRST_MONDAY_MS: u64 = 4 * DAY_MS;
/// More buckets than anyone reads (27 years of days).
pub const MAX_BUCKETS: u64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum By {
    /// UTC days.
    Day,
    /// ISO weeks: Monday 00:00 UTC to the next.
    Week,
}

impl By {
    pub fn name(self) -> &'static str {
        match self {
            By::Day => "day",
            By::Week => "week",
        }
    }

    /// The start of the bucket holding `ms`.
    pub fn start(self, ms: u64) -> u64 {
        match self {
            By::Day => ms - ms % DAY_MS,
            By::Week if ms < FIRST_MONDAY_MS => 0,
            By::Week => ms - (ms - FIRST_MONDAY_MS) % WEEK_MS,
        }
    }

    fn len(self) -> u64 {
        match self {
            By::Day => DAY_MS,
            By::Week => WEEK_MS,
        }
    }

    /// The bucket starts from the one holding `since` to the last before `until`.
    pub fn starts(self, since_ms: u64, until_ms: u64) -> Vec<u64> {
        let mut out = Vec::new();
        let mut at = self.start(since_ms);
        while at < until_ms {
            out.push(at);
            at = match self {
                // The first week bucket of the epoch is short (Thursday to Monday).
                By::Week if at < FIRST_MONDAY_MS => FIRST_MONDAY_MS,
                _ => at + self.len(),
            };
        }
        out
    }
}

/// The figures of one bucket (or of the whole window).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Where the bucket starts (ms since the epoch; the window's start for the total).
    pub start_ms: u64,
    pub runs: u64,
    pub succeeded: u64,
    pub gave_up: u64,
    /// Still running, or interrupted and not yet taken over, when read.
    pub unfinished: u64,
    pub attempts: u64,
    pub retries: u64,
    /// Succeeded over finished; `None` before any run finished.
    pub success_rate: Option<f64>,
    /// Retries over runs; `None` without runs.
    pub retries_per_run: Option<f64>,
    pub recoveries: u64,
    pub ttr_median_ms: Option<u64>,
    pub ttr_p95_ms: Option<u64>,
    pub ttr_max_ms: Option<u64>,
    /// Give-up reason -> runs.
    pub give_ups: BTreeMap<String, u64>,
    pub pages: u64,
    pub warnings: u64,
    pub infos: u64,
}

/// One pipeline + step: its buckets in time order, and the window's total.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// `""` for runs recorded without a pipeline.
    pub pipeline: String,
    pub step: String,
    pub buckets: Vec<Figures>,
    pub total: Figures,
}

/// The nearest-rank percentile of sorted values: the one at rank ceil(p/100 * n).
pub fn percentile(sorted: &[u64], p: u64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as u64;
    let rank = (p * n).div_ceil(100).clamp(1, n);
    Some(sorted[(rank - 1) as usize])
}

/// What one round came to.
struct Round {
    start_ms: u64,
    attempts: u64,
    outcome: Outcome,
    recovery_ms: Option<u64>,
}

enum Outcome {
    Succeeded,
    GaveUp(String),
    Unfinished,
}

fn decision<'a>(a: &&'a TrendAttempt) -> Option<&'a str> {
    a.decision.as_deref()
}

fn round(attempts: &[&TrendAttempt]) -> Round {
    let start_ms = attempts.iter().map(|a| a.started_at_ms).min().unwrap_or(0);
    let success = attempts.iter().find(|a| decision(a) == Some("succeeded"));
    let give_up = attempts.iter().find(|a| decision(a) == Some("give-up"));
    let outcome = match (success, give_up) {
        (Some(_), _) => Outcome::Succeeded,
        (None, Some(a)) => {
            Outcome::GaveUp(a.give_up_reason.clone().unwrap_or_else(|| "unknown".into()))
        }
        (None, None) => Outcome::Unfinished,
    };
    let first_failure = attempts
        .iter()
        .filter(|a| decision(a) == Some("retry"))
        .filter_map(|a| a.ended_at_ms)
        .min();
    let recovery_ms = match (success.and_then(|a| a.ended_at_ms), first_failure) {
        (Some(ok), Some(failed)) => Some(ok.saturating_sub(failed)),
        _ => None,
    };
    Round {
        start_ms,
        attempts: attempts.len() as u64,
        outcome,
        recovery_ms,
    }
}

/// Add up rounds and alerts into one bucket's figures.
fn figures(start_ms: u64, rounds: &[&Round], alerts: &[&TrendAlert]) -> Figures {
    let mut f = Figures {
        start_ms,
        ..Figures::default()
    };
    let mut recoveries = Vec::new();
    for r in rounds {
        f.runs += 1;
        f.attempts += r.attempts;
        f.retries += r.attempts.saturating_sub(1);
        match &r.outcome {
            Outcome::Succeeded => f.succeeded += 1,
            Outcome::GaveUp(reason) => {
                f.gave_up += 1;
                *f.give_ups.entry(reason.clone()).or_default() += 1;
            }
            Outcome::Unfinished => f.unfinished += 1,
        }
        recoveries.extend(r.recovery_ms);
    }
    let finished = f.succeeded + f.gave_up;
    f.success_rate = (finished > 0).then(|| f.succeeded as f64 / finished as f64);
    f.retries_per_run = (f.runs > 0).then(|| f.retries as f64 / f.runs as f64);
    recoveries.sort_unstable();
    f.recoveries = recoveries.len() as u64;
    f.ttr_median_ms = percentile(&recoveries, 50);
    f.ttr_p95_ms = percentile(&recoveries, 95);
    f.ttr_max_ms = recoveries.last().copied();
    for a in alerts {
        if a.kind == "resolve" {
            continue;
        }
        match a.severity.as_str() {
            "high" | "critical" => f.pages += 1,
            "warning" => f.warnings += 1,
            "info" => f.infos += 1,
            _ => {}
        }
    }
    f
}

/// Group by pipeline and step, then bucket. Every group has every bucket of
/// the window (empty ones too, so charts line up); groups in name order.
pub fn aggregate(
    attempts: &[TrendAttempt],
    alerts: &[TrendAlert],
    since_ms: u64,
    until_ms: u64,
    by: By,
) -> Vec<Group> {
    let mut rounds: BTreeMap<(&str, &str, &str, u32), Vec<&TrendAttempt>> = BTreeMap::new();
    for a in attempts {
        rounds
            .entry((&a.pipeline, &a.step, &a.run_id, a.round))
            .or_default()
            .push(a);
    }
    let mut groups: BTreeMap<(&str, &str), Vec<Round>> = BTreeMap::new();
    for ((pipeline, step, _, _), list) in &rounds {
        groups
            .entry((pipeline, step))
            .or_default()
            .push(round(list));
    }
    let starts = by.starts(since_ms, until_ms);
    let bucket_of = |ms: u64| starts.partition_point(|&s| s <= ms).checked_sub(1);
    groups
        .into_iter()
        .map(|((pipeline, step), rounds)| {
            let mine: Vec<&TrendAlert> = alerts.iter().filter(|a| a.pipeline == pipeline).collect();
            let buckets = starts
                .iter()
                .enumerate()
                .map(|(i, &start)| {
                    let in_bucket = |ms: u64| bucket_of(ms) == Some(i);
                    let rs: Vec<&Round> = rounds.iter().filter(|r| in_bucket(r.start_ms)).collect();
                    let al: Vec<&TrendAlert> = mine
                        .iter()
                        .copied()
                        .filter(|a| in_bucket(a.at_ms))
                        .collect();
                    figures(start, &rs, &al)
                })
                .collect();
            let all: Vec<&Round> = rounds.iter().collect();
            Group {
                pipeline: pipeline.to_string(),
                step: step.to_string(),
                buckets,
                total: figures(since_ms, &all, &mine),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MON: u64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z, a Monday
    const MIN: u64 = 60_000;

    fn attempt(
        pipeline: &str,
        run: &str,
        n: u32,
        start: u64,
        end: u64,
        decision: &str,
        reason: Option<&str>,
    ) -> TrendAttempt {
        TrendAttempt {
            pipeline: pipeline.into(),
            run_id: run.into(),
            step: "train".into(),
            round: 1,
            attempt: n,
            started_at_ms: start,
            ended_at_ms: Some(end),
            decision: Some(decision.into()),
            give_up_reason: reason.map(str::to_string),
        }
    }

    fn alert(at: u64, kind: &str, severity: &str) -> TrendAlert {
        TrendAlert {
            at_ms: at,
            pipeline: "nightly".into(),
            kind: kind.into(),
            severity: severity.into(),
            dedup_key: format!("k{at}"),
        }
    }

    #[test]
    fn weeks_start_on_monday_utc_and_days_at_midnight() {
        assert_eq!(By::Week.start(MON), MON);
        assert_eq!(By::Week.start(MON + 6 * DAY_MS + 1), MON);
        assert_eq!(By::Week.start(MON - 1), MON - WEEK_MS);
        assert_eq!(By::Day.start(MON + DAY_MS + 5), MON + DAY_MS);
        assert_eq!(
            By::Week.starts(MON + DAY_MS, MON + 14 * DAY_MS),
            vec![MON, MON + WEEK_MS]
        );
        assert_eq!(
            By::Week.starts(0, FIRST_MONDAY_MS + 1),
            vec![0, FIRST_MONDAY_MS]
        );
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 95), Some(10));
        assert_eq!(percentile(&[7], 95), Some(7));
        assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn runs_are_split_by_pipeline_and_bucketed_by_their_first_attempt() {
        let d = DAY_MS;
        let attempts = vec![
            // Week 1: r1 recovers (fails at +1m, succeeds at +4m), r2 gives up.
            attempt("nightly", "r1", 1, MON, MON + MIN, "retry", None),
            attempt(
                "nightly",
                "r1",
                2,
                MON + 2 * MIN,
                MON + 4 * MIN,
                "succeeded",
                None,
            ),
            attempt(
                "nightly",
                "r2",
                1,
                MON + d,
                MON + d + MIN,
                "give-up",
                Some("permanent"),
            ),
            // Starts on Sunday night, retries into week 2: still week 1.
            attempt(
                "nightly",
                "r3",
                1,
                MON + 7 * d - MIN,
                MON + 7 * d - 1,
                "retry",
                None,
            ),
            attempt(
                "nightly",
                "r3",
                2,
                MON + 7 * d + MIN,
                MON + 7 * d + 2 * MIN,
                "succeeded",
                None,
            ),
            // Another pipeline's run of the same step: its own group.
            attempt(
                "hourly",
                "h1",
                1,
                MON + WEEK_MS,
                MON + WEEK_MS + 1,
                "succeeded",
                None,
            ),
        ];
        let alerts = vec![
            alert(MON + MIN, "trigger", "info"),
            alert(MON + 4 * MIN, "resolve", "info"),
            alert(MON + d + MIN, "trigger", "critical"),
            alert(MON + WEEK_MS + 1, "escalate", "high"),
        ];
        let groups = aggregate(&attempts, &alerts, MON, MON + 2 * WEEK_MS, By::Week);
        assert_eq!(groups.len(), 2);
        let (hourly, nightly) = (&groups[0], &groups[1]);
        assert_eq!((hourly.pipeline.as_str(), hourly.total.runs), ("hourly", 1));
        assert_eq!(hourly.buckets[0].runs, 0);
        assert_eq!(hourly.buckets[1].runs, 1);
        assert_eq!(hourly.total.pages, 0, "alerts stay with their pipeline");
        let w1 = &nightly.buckets[0];
        assert_eq!(
            (w1.runs, w1.succeeded, w1.gave_up, w1.attempts, w1.retries),
            (3, 2, 1, 5, 2)
        );
        assert_eq!(w1.success_rate, Some(2.0 / 3.0));
        assert_eq!(w1.retries_per_run, Some(2.0 / 3.0));
        assert_eq!(w1.recoveries, 2);
        // r1: 4m - 1m = 3m; r3: (7d + 2m) - (7d - 1ms).
        assert_eq!(w1.ttr_median_ms, Some(2 * MIN + 1));
        assert_eq!(w1.ttr_p95_ms, Some(3 * MIN));
        assert_eq!(w1.ttr_max_ms, Some(3 * MIN));
        assert_eq!(w1.give_ups, BTreeMap::from([("permanent".to_string(), 1)]));
        assert_eq!((w1.pages, w1.infos), (1, 1), "the resolve is not counted");
        let w2 = &nightly.buckets[1];
        assert_eq!((w2.runs, w2.success_rate, w2.pages), (0, None, 1));
        assert_eq!(w2.retries_per_run, None);
        assert_eq!(nightly.total.runs, 3);
        assert_eq!(nightly.total.pages, 2);
    }

    #[test]
    fn a_running_round_is_unfinished_and_out_of_the_success_rate() {
        let mut running = attempt("p", "r", 1, MON, MON, "retry", None);
        running.decision = None;
        running.ended_at_ms = None;
        let groups = aggregate(&[running], &[], MON, MON + DAY_MS, By::Day);
        let f = &groups[0].buckets[0];
        assert_eq!((f.runs, f.unfinished, f.success_rate), (1, 1, None));
        assert_eq!(f.ttr_max_ms, None);
    }
}
