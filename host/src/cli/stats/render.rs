//! The trend figures as text: a plain table (pipes, files, CI logs), the
//! same table under small block-character charts (a terminal), and JSON.

use std::fmt::Write as _;

use serde::Serialize;

use super::super::fmt::{duration, rfc3339};
use super::trends::{By, Figures, Group};

/// The window a report covers, as every renderer states it.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub since_ms: u64,
    pub until_ms: u64,
    pub by: By,
}

impl Window {
    pub fn describe(&self) -> String {
        let unit = match self.by {
            By::Day => "day (UTC)",
            By::Week => "week (Monday 00:00 UTC)",
        };
        format!(
            "runs started from {} to {}, by {unit}",
            rfc3339(self.since_ms),
            rfc3339(self.until_ms)
        )
    }
}

/// `2024-01-01`: a bucket's label (its first day, UTC).
pub fn date(ms: u64) -> String {
    rfc3339(ms)
        .split('T')
        .next()
        .unwrap_or_default()
        .to_string()
}

pub fn pipeline_label(pipeline: &str) -> &str {
    if pipeline.is_empty() { "-" } else { pipeline }
}

pub fn percent(rate: Option<f64>) -> String {
    rate.map_or("-".into(), |r| format!("{:.1}%", r * 100.0))
}

pub fn ratio(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| format!("{v:.2}"))
}

pub fn ms(value: Option<u64>) -> String {
    value.map_or("-".into(), duration)
}

/// `permanent 2, attempts-exhausted 1`, or `-`.
pub fn give_ups(f: &Figures) -> String {
    if f.give_ups.is_empty() {
        return "-".into();
    }
    f.give_ups
        .iter()
        .map(|(reason, n)| format!("{reason} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

const HEADER: [&str; 14] = [
    "pipeline",
    "step",
    "",
    "runs",
    "ok",
    "gave up",
    "success",
    "retries",
    "per run",
    "TTR median",
    "TTR p95",
    "TTR max",
    "pages",
    "infos",
];

fn row(g: &Group, label: String, f: &Figures) -> Vec<String> {
    vec![
        pipeline_label(&g.pipeline).to_string(),
        g.step.clone(),
        label,
        f.runs.to_string(),
        f.succeeded.to_string(),
        f.gave_up.to_string(),
        percent(f.success_rate),
        f.retries.to_string(),
        ratio(f.retries_per_run),
        ms(f.ttr_median_ms),
        ms(f.ttr_p95_ms),
        ms(f.ttr_max_ms),
        f.pages.to_string(),
        f.infos.to_string(),
        give_ups(f),
    ]
}

/// One row per pipeline, step and bucket, then the group's total; the
/// give-ups by reason last (they vary in width).
pub fn table(groups: &[Group], window: &Window) -> String {
    let mut header: Vec<String> = HEADER.iter().map(|h| h.to_string()).collect();
    header[2] = window.by.name().to_string();
    header.push("give-ups".into());
    let mut rows = Vec::new();
    for g in groups {
        for f in &g.buckets {
            rows.push(row(g, date(f.start_ms), f));
        }
        rows.push(row(g, "total".into(), &g.total));
    }
    let mut out = format!("{}\n", window.describe());
    out.push_str(&align(&header, &rows));
    out.push_str(
        "TTR: time to recovery, from the end of a run's first failed attempt to the end of its success \
         (median and p95 nearest-rank); pages and infos are the pipeline's\n",
    );
    out
}

/// Left-align the text columns (the first three and the last), right-align numbers.
fn align(header: &[String], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let last = header.len() - 1;
    let mut out = String::new();
    for cells in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            if i < 3 || i == last {
                let _ = write!(line, "{cell:<w$}", w = widths[i]);
            } else {
                let _ = write!(line, "{cell:>w$}", w = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One block character per value, scaled from 0 to `max` (the largest value
/// when `None`); a blank where there is no value.
pub fn sparkline(values: &[Option<f64>], max: Option<f64>) -> String {
    let top = max
        .unwrap_or_else(|| values.iter().flatten().copied().fold(0.0, f64::max))
        .max(f64::MIN_POSITIVE);
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(v) => {
                let level = (v / top * 7.0).round().clamp(0.0, 7.0) as usize;
                BLOCKS[level]
            }
        })
        .collect()
}

/// The terminal view: per group, a chart line per trend (oldest bucket
/// left), then the table.
pub fn terminal(groups: &[Group], window: &Window) -> String {
    let mut out = String::new();
    for g in groups {
        let per = |f: &dyn Fn(&Figures) -> Option<f64>| -> Vec<Option<f64>> {
            g.buckets.iter().map(f).collect()
        };
        let _ = writeln!(
            out,
            "{} / {}  ({} {}s from {}, the latest on the right)",
            pipeline_label(&g.pipeline),
            g.step,
            g.buckets.len(),
            window.by.name(),
            g.buckets.first().map_or("-".into(), |f| date(f.start_ms)),
        );
        let last = g.buckets.iter().rev().find(|f| f.runs > 0);
        let lines: [(&str, String, String); 5] = [
            (
                "success",
                sparkline(&per(&|f| f.success_rate), Some(1.0)),
                percent(last.and_then(|f| f.success_rate)),
            ),
            (
                "runs",
                sparkline(&per(&|f| Some(f.runs as f64)), None),
                last.map_or("-".into(), |f| f.runs.to_string()),
            ),
            (
                "retries/run",
                sparkline(&per(&|f| f.retries_per_run), None),
                ratio(last.and_then(|f| f.retries_per_run)),
            ),
            (
                "TTR median",
                sparkline(&per(&|f| f.ttr_median_ms.map(|v| v as f64)), None),
                ms(last.and_then(|f| f.ttr_median_ms)),
            ),
            (
                "pages",
                sparkline(&per(&|f| Some(f.pages as f64)), None),
                last.map_or("-".into(), |f| f.pages.to_string()),
            ),
        ];
        for (name, chart, latest) in lines {
            let _ = writeln!(out, "  {name:<12} {chart}  {latest}");
        }
        out.push('\n');
    }
    out.push_str(&table(groups, window));
    out
}

#[derive(Serialize)]
struct Json<'a> {
    state: String,
    window: &'a Window,
    groups: &'a [Group],
}

pub fn json(state: String, groups: &[Group], window: &Window) -> serde_json::Result<String> {
    serde_json::to_string(&Json {
        state,
        window,
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_the_top_and_leave_gaps() {
        assert_eq!(
            sparkline(&[Some(0.0), Some(0.5), None, Some(1.0)], Some(1.0)),
            "▁▅ █"
        );
        assert_eq!(sparkline(&[Some(2.0), Some(4.0)], None), "▅█");
        assert_eq!(sparkline(&[Some(0.0)], None), "▁");
    }

    #[test]
    fn the_table_has_a_row_per_bucket_and_a_total() {
        let f = Figures {
            start_ms: 1_704_067_200_000,
            runs: 3,
            succeeded: 2,
            gave_up: 1,
            success_rate: Some(2.0 / 3.0),
            retries: 2,
            retries_per_run: Some(2.0 / 3.0),
            ttr_median_ms: Some(90_000),
            give_ups: [("permanent".to_string(), 1)].into(),
            ..Figures::default()
        };
        let g = Group {
            pipeline: String::new(),
            step: "train".into(),
            buckets: vec![f.clone()],
            total: f,
        };
        let window = Window {
            since_ms: 1_704_067_200_000,
            until_ms: 1_704_672_000_000,
            by: By::Week,
        };
        let text = table(&[g], &window);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].starts_with("pipeline  step   week"), "{text}");
        assert!(
            lines[2].starts_with("-         train  2024-01-01     3   2        1    66.7%"),
            "{text}"
        );
        assert!(lines[2].ends_with("permanent 1"), "{text}");
        assert!(lines[3].contains("total"), "{text}");
        assert!(lines[2].contains("1m30s"), "{text}");
    }

    #[test]
    fn the_terminal_view_charts_each_trend_above_the_table() {
        let week = |start_ms, runs, rate| Figures {
            start_ms,
            runs,
            succeeded: runs,
            success_rate: rate,
            ..Figures::default()
        };
        let buckets = vec![
            week(1_704_067_200_000, 2, Some(1.0)),
            week(1_704_672_000_000, 0, None),
            week(1_705_276_800_000, 4, Some(0.5)),
        ];
        let g = Group {
            pipeline: "nightly".into(),
            step: "train".into(),
            total: buckets[0].clone(),
            buckets,
        };
        let window = Window {
            since_ms: 1_704_067_200_000,
            until_ms: 1_705_881_600_000,
            by: By::Week,
        };
        let text = terminal(&[g], &window);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("nightly / train  (3 weeks from 2024-01-01"),
            "{text}"
        );
        assert_eq!(lines[1], "  success      █ ▅  50.0%", "{text}");
        assert_eq!(lines[2], "  runs         ▅▁█  4", "{text}");
        assert!(
            text.contains(&table(&[], &window)[..40]),
            "the table follows"
        );
    }
}
