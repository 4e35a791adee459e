//! The statistics of a simulated fleet: load per time bucket, recovery time
//! after the outage (median, p95, max), total and wasted calls. Pure
//! functions of a [`model::Outcome`]; no I/O, no rendering.

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::{Outcome, Scenario};

/// Nearest-rank percentiles of recovery time, in milliseconds after the outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Recovery {
    pub median_ms: u64,
    pub p95_ms: u64,
    pub max_ms: u64,
}

/// One variant's figures, as the table, the JSON and the charts show them.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub jitter: String,
    pub protection: String,
    pub total_calls: u64,
    /// Failed calls: every call that did not succeed is work wasted.
    pub wasted_calls: u64,
    pub calls_during_outage: u64,
    /// The most calls in one bucket, and that bucket's start (ms).
    pub peak_calls: u64,
    pub peak_at_ms: u64,
    /// The most calls in one bucket from the end of the outage on (the
    /// herd that meets the recovering dependency), and that bucket's start.
    pub peak_after_outage: u64,
    pub peak_after_outage_at_ms: u64,
    pub recovered: u32,
    pub not_recovered: u32,
    /// `None` when no worker recovered by the end of the simulation.
    pub recovery: Option<Recovery>,
    /// When the last worker succeeded (ms from the start of the outage).
    pub all_done_ms: Option<u64>,
    pub gave_up: BTreeMap<&'static str, u64>,
    /// Calls per bucket, from time 0.
    pub load: Vec<u64>,
}

/// The `q`-quantile (0 < q ≤ 1) of sorted values by nearest rank.
pub fn nearest_rank(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Sum per-tick counts into buckets of `ticks_per_bucket` ticks.
pub fn buckets(per_tick: &[u32], ticks_per_bucket: usize) -> Vec<u64> {
    per_tick
        .chunks(ticks_per_bucket.max(1))
        .map(|c| c.iter().map(|&n| u64::from(n)).sum())
        .collect()
}

/// The first bucket from `from` on with the most calls: (index, calls).
fn peak(load: &[u64], from: usize) -> (usize, u64) {
    load.iter().enumerate().skip(from).fold(
        (from, 0),
        |best, (i, &n)| if n > best.1 { (i, n) } else { best },
    )
}

pub fn summarise(
    jitter: &str,
    protection: &str,
    scenario: &Scenario,
    bucket_ms: u64,
    outcome: &Outcome,
) -> Summary {
    let total_calls: u64 = outcome.calls.iter().map(|&n| u64::from(n)).sum();
    let wasted_calls: u64 = outcome.failed.iter().map(|&n| u64::from(n)).sum();
    let calls_during_outage = outcome.outage_calls;
    let ticks_per_bucket = (bucket_ms / scenario.tick_ms).max(1) as usize;
    let load = buckets(&outcome.calls, ticks_per_bucket);
    let (peak_index, peak_calls) = peak(&load, 0);
    // The first bucket that starts when the outage is over.
    let after = scenario.outage_ms.div_ceil(bucket_ms) as usize;
    let (after_index, peak_after_outage) = peak(&load, after);
    let mut recovery: Vec<u64> = outcome
        .done_at_ms
        .iter()
        .flatten()
        .map(|&t| t.saturating_sub(scenario.outage_ms))
        .collect();
    recovery.sort_unstable();
    let recovered = recovery.len() as u32;
    Summary {
        jitter: jitter.to_string(),
        protection: protection.to_string(),
        total_calls,
        wasted_calls,
        calls_during_outage,
        peak_calls,
        peak_at_ms: peak_index as u64 * bucket_ms,
        peak_after_outage,
        peak_after_outage_at_ms: after_index as u64 * bucket_ms,
        recovered,
        not_recovered: scenario.workers - recovered,
        recovery: nearest_rank(&recovery, 0.5).map(|median_ms| Recovery {
            median_ms,
            p95_ms: nearest_rank(&recovery, 0.95).unwrap_or(median_ms),
            max_ms: recovery.last().copied().unwrap_or(median_ms),
        }),
        all_done_ms: if recovered == scenario.workers {
            outcome.done_at_ms.iter().flatten().max().copied()
        } else {
            None
        },
        gave_up: outcome.gave_up.clone(),
        load,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=20).collect();
        assert_eq!(nearest_rank(&v, 0.5), Some(10));
        assert_eq!(nearest_rank(&v, 0.95), Some(19));
        assert_eq!(nearest_rank(&v, 1.0), Some(20));
        assert_eq!(nearest_rank(&[7], 0.95), Some(7));
        assert_eq!(nearest_rank(&[], 0.5), None);
    }

    #[test]
    fn buckets_sum_ticks_and_keep_a_partial_last_bucket() {
        assert_eq!(buckets(&[1, 2, 3, 4, 5], 2), [3, 7, 5]);
        assert_eq!(buckets(&[1, 2], 1), [1, 2]);
    }
}
