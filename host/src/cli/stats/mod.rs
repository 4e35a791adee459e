//! `backstop stats`: from the state database. Without a window, the totals
//! per step (optionally as a Prometheus textfile, [`metrics`]); with
//! `--since`, `--until`, `--by`, `--pipeline`, `--step` or `--html`, the
//! trends per pipeline, step and day or week. Layers: the store reads
//! (`store::trends`), [`trends`] computes (pure), [`render`] and [`html`] show.

mod html;
mod metrics;
mod render;
mod trends;

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;

use super::exit::{self, Exit};
use super::fmt::{duration, parse_rfc3339};
use super::store::{self, StepStats, Store, StoreError, TrendFilter};
use render::Window;
use trends::By;

#[derive(Args)]
pub struct StatsArgs {
    /// State database: a SQLite file or a postgres:// URL
    /// [default: $XDG_STATE_HOME/backstop/state.db]
    #[arg(long, value_name = "PATH|URL", env = "BACKSTOP_STATE")]
    state: Option<PathBuf>,
    /// Print one JSON object: the totals {"state", "steps": [...]}, or with a
    /// window the trends {"state", "window", "groups": [...]}.
    #[arg(long)]
    json: bool,
    /// Also write the totals in Prometheus text format to FILE (via FILE.tmp
    /// and a rename, so a collector never reads half a file).
    #[arg(long, value_name = "FILE")]
    metrics: Option<PathBuf>,
    /// Trends: runs whose first attempt started at or after this time: a
    /// duration before --until (7d, 4w, 36h) or an RFC 3339 time
    /// (2024-01-01T00:00:00Z) or date (2024-01-01, midnight UTC)
    /// [default with another trend option: 28d]
    #[arg(long, value_name = "DURATION|TIME")]
    since: Option<String>,
    /// Trends: ... and before this RFC 3339 time or date [default: now]
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Trends: one row (and chart point) per UTC day or per week (Monday
    /// 00:00 UTC) [default: week]
    #[arg(long, value_enum)]
    by: Option<By>,
    /// Trends: only this pipeline (`-` for runs recorded without one).
    #[arg(long, value_name = "NAME")]
    pipeline: Option<String>,
    /// Trends: only this step.
    #[arg(long, value_name = "NAME")]
    step: Option<String>,
    /// Trends: also write one self-contained HTML page with SVG charts to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

impl StatsArgs {
    fn wants_trends(&self) -> bool {
        self.since.is_some()
            || self.until.is_some()
            || self.by.is_some()
            || self.pipeline.is_some()
            || self.step.is_some()
            || self.html.is_some()
    }
}

/// An RFC 3339 time, or a date meaning its midnight UTC.
fn parse_time(flag: &str, text: &str) -> Result<u64> {
    let text = text.trim();
    if text.parse::<jiff::civil::Date>().is_ok() {
        return parse_rfc3339(&format!("{text}T00:00:00Z"))
            .map_err(|e| anyhow::anyhow!("{flag} {text:?}: {e}"));
    }
    parse_rfc3339(text).map_err(|e| {
        anyhow::anyhow!(
            "{flag} {text:?} is not an RFC 3339 time (2024-01-01T00:00:00Z) or date: {e}"
        )
    })
}

/// `--since`: a duration back from `until`, or a time.
fn parse_since(text: &str, until_ms: u64) -> Result<u64> {
    if let Ok(d) = humantime::parse_duration(text.trim()) {
        let back = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        return Ok(until_ms.saturating_sub(back));
    }
    parse_time("--since", text).map_err(|_| {
        anyhow::anyhow!(
            "--since {text:?} is neither a duration (7d, 4w, 36h) nor an RFC 3339 time or date"
        )
    })
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The window the trend options name; a usage error (exit 2) when they are wrong.
fn window(args: &StatsArgs) -> Result<Window> {
    let usage = |e: anyhow::Error| -> anyhow::Error { Exit::new(2, format!("{e:#}")).into() };
    let until_ms = match &args.until {
        Some(t) => parse_time("--until", t).map_err(usage)?,
        None => now_ms(),
    };
    let since_ms = parse_since(args.since.as_deref().unwrap_or("28d"), until_ms).map_err(usage)?;
    if since_ms >= until_ms {
        return Err(usage(anyhow::anyhow!(
            "--since ({}) is not before --until ({})",
            super::fmt::rfc3339(since_ms),
            super::fmt::rfc3339(until_ms)
        )));
    }
    let by = args.by.unwrap_or(By::Week);
    let buckets = by.starts(since_ms, until_ms).len() as u64;
    if buckets > trends::MAX_BUCKETS {
        return Err(usage(anyhow::anyhow!(
            "--since/--until span {buckets} {}s; at most {} (use --by week or a shorter window)",
            by.name(),
            trends::MAX_BUCKETS
        )));
    }
    Ok(Window {
        since_ms,
        until_ms,
        by,
    })
}

#[derive(Serialize)]
struct StatsJson<'a> {
    /// The path, or the URL without its password.
    state: String,
    steps: Vec<StepJson<'a>>,
}

#[derive(Serialize)]
struct StepJson<'a> {
    step: &'a str,
    runs: u64,
    succeeded: u64,
    failed: u64,
    running: u64,
    attempts: u64,
    retries: u64,
    /// Succeeded runs over finished ones; null before any has finished.
    success_ratio: Option<f64>,
    recoveries: usize,
    mean_time_to_recovery_ms: Option<u64>,
    max_time_to_recovery_ms: Option<u64>,
}

impl<'a> From<&'a StepStats> for StepJson<'a> {
    fn from(s: &'a StepStats) -> StepJson<'a> {
        StepJson {
            step: &s.step,
            runs: s.runs,
            succeeded: s.succeeded,
            failed: s.failed,
            running: s.running,
            attempts: s.attempts,
            retries: s.retries,
            success_ratio: success_ratio(s),
            recoveries: s.recoveries_ms.len(),
            mean_time_to_recovery_ms: mean(&s.recoveries_ms),
            max_time_to_recovery_ms: s.recoveries_ms.iter().copied().max(),
        }
    }
}

pub(crate) fn success_ratio(s: &StepStats) -> Option<f64> {
    let finished = s.succeeded + s.failed;
    (finished > 0).then(|| s.succeeded as f64 / finished as f64)
}

fn mean(values: &[u64]) -> Option<u64> {
    (!values.is_empty()).then(|| values.iter().sum::<u64>() / values.len() as u64)
}

/// A store problem exits 74 (`exit::STATE_ERROR`).
fn state_error(err: anyhow::Error) -> anyhow::Error {
    if err.downcast_ref::<StoreError>().is_some() {
        Exit::new(exit::STATE_ERROR, format!("{err:#}")).into()
    } else {
        err
    }
}

pub fn run(args: StatsArgs) -> Result<ExitCode> {
    let path = match &args.state {
        Some(path) => path.clone(),
        None => store::default_path()?,
    };
    if args.wants_trends() {
        return run_trends(&args, &path);
    }
    let steps = read(&path).map_err(state_error)?;
    if let Some(file) = &args.metrics {
        metrics::write(file, &steps)?;
    }
    if args.json {
        let out = StatsJson {
            state: store::display_state(&path),
            steps: steps.iter().map(StepJson::from).collect(),
        };
        println!("{}", serde_json::to_string(&out)?);
    } else if steps.is_empty() {
        println!("no runs recorded in {}", store::display_state(&path));
    } else {
        print!("{}", render_table(&steps));
    }
    Ok(ExitCode::SUCCESS)
}

fn run_trends(args: &StatsArgs, path: &Path) -> Result<ExitCode> {
    let window = window(args)?;
    let filter = TrendFilter {
        since_ms: window.since_ms,
        until_ms: window.until_ms,
        pipeline: args
            .pipeline
            .as_ref()
            .map(|p| if p == "-" { String::new() } else { p.clone() }),
        step: args.step.clone(),
    };
    // One open (and one integrity check) serves the trends and the metrics.
    let opened = open_verified(path).map_err(state_error)?;
    let (attempts, alerts) = match &opened {
        Some(store) => store.trends(&filter).map_err(state_error)?,
        None => {
            eprintln!(
                "backstop: no state database at {} yet: nothing recorded",
                store::display_state(path)
            );
            Default::default()
        }
    };
    if let Some(file) = &args.metrics {
        let steps = match &opened {
            Some(store) => store.stats().map_err(state_error)?,
            None => Vec::new(),
        };
        metrics::write(file, &steps)?;
    }
    let groups = trends::aggregate(
        &attempts,
        &alerts,
        window.since_ms,
        window.until_ms,
        window.by,
    );
    let state = store::display_state(path);
    if let Some(file) = &args.html {
        std::fs::write(file, html::page(&groups, &window, &state))
            .with_context(|| format!("writing {}", file.display()))?;
    }
    if args.json {
        println!("{}", render::json(state, &groups, &window)?);
    } else if groups.is_empty() {
        println!("no runs in {}: {}", state, window.describe());
    } else if std::io::stdout().is_terminal() {
        print!("{}", render::terminal(&groups, &window));
    } else {
        print!("{}", render::table(&groups, &window));
    }
    Ok(ExitCode::SUCCESS)
}

/// The state, checked for damage first: stats read all of it anyway.
fn open_verified(path: &Path) -> Result<Option<Store>> {
    let store = Store::open_existing(path, store::busy_timeout())?;
    if let Some(store) = &store {
        store.verify()?;
    }
    Ok(store)
}

fn read(path: &Path) -> Result<Vec<StepStats>> {
    match open_verified(path)? {
        Some(store) => store.stats(),
        None => {
            eprintln!(
                "backstop: no state database at {} yet: nothing recorded",
                store::display_state(path)
            );
            Ok(Vec::new())
        }
    }
}

fn render_table(steps: &[StepStats]) -> String {
    let header = [
        "step", "runs", "ok", "failed", "running", "attempts", "retries", "success", "mean TTR",
        "max TTR",
    ];
    let rows: Vec<[String; 10]> = steps
        .iter()
        .map(|s| {
            [
                s.step.clone(),
                s.runs.to_string(),
                s.succeeded.to_string(),
                s.failed.to_string(),
                s.running.to_string(),
                s.attempts.to_string(),
                s.retries.to_string(),
                success_ratio(s).map_or("-".into(), |r| format!("{:.1}%", r * 100.0)),
                mean(&s.recoveries_ms).map_or("-".into(), duration),
                s.recoveries_ms
                    .iter()
                    .max()
                    .map_or("-".into(), |&ms| duration(ms)),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        for (i, cell) in cells.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, "{cell:<w$}", w = widths[0]);
            } else {
                let _ = write!(out, "  {cell:>w$}", w = widths[i]);
            }
        }
        out.push('\n');
    };
    line(header.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    out.push_str("TTR: time to recovery, from a run's first failed attempt to its success\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<StepStats> {
        vec![StepStats {
            step: "train".into(),
            runs: 3,
            succeeded: 2,
            failed: 1,
            running: 0,
            attempts: 7,
            retries: 4,
            recoveries_ms: vec![1_500, 2_500],
        }]
    }

    #[test]
    fn the_table_shows_rates_and_recovery_times() {
        let text = render_table(&sample());
        assert!(text.contains("66.7%"), "{text}");
        assert!(text.contains("2s"), "{text}");
        assert!(text.contains("2.5s"), "{text}");
    }

    #[test]
    fn since_takes_a_duration_or_a_time() {
        let until = parse_time("--until", "2024-01-29").unwrap();
        assert_eq!(until, 1_706_486_400_000);
        assert_eq!(parse_since("7d", until).unwrap(), until - 7 * 86_400_000);
        assert_eq!(
            parse_since("2024-01-01T00:00:00Z", until).unwrap(),
            1_704_067_200_000
        );
        assert_eq!(parse_since("2024-01-01", until).unwrap(), 1_704_067_200_000);
        let err = parse_since("last week", until).unwrap_err().to_string();
        assert!(err.contains("--since \"last week\""), "{err}");
    }
}
