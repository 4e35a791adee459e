//! `backstop stats`: per step, from the state database: runs, attempts,
//! retries, success rate, time to recovery; optionally as a Prometheus
//! textfile (node_exporter's textfile collector).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;

use super::exit::{self, Exit};
use super::fmt::duration;
use super::store::{self, StepStats, Store, StoreError};

#[derive(Args)]
pub struct StatsArgs {
    /// State database: a SQLite file or a postgres:// URL
    /// [default: $XDG_STATE_HOME/backstop/state.db]
    #[arg(long, value_name = "PATH|URL", env = "BACKSTOP_STATE")]
    state: Option<PathBuf>,
    /// Print one JSON object: {"state", "steps": [...]}.
    #[arg(long)]
    json: bool,
    /// Also write the numbers in Prometheus text format to FILE (via FILE.tmp
    /// and a rename, so a collector never reads half a file).
    #[arg(long, value_name = "FILE")]
    metrics: Option<PathBuf>,
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

fn success_ratio(s: &StepStats) -> Option<f64> {
    let finished = s.succeeded + s.failed;
    (finished > 0).then(|| s.succeeded as f64 / finished as f64)
}

fn mean(values: &[u64]) -> Option<u64> {
    (!values.is_empty()).then(|| values.iter().sum::<u64>() / values.len() as u64)
}

pub fn run(args: StatsArgs) -> Result<ExitCode> {
    let path = match &args.state {
        Some(path) => path.clone(),
        None => store::default_path()?,
    };
    let steps = read(&path).map_err(|err| {
        if err.downcast_ref::<StoreError>().is_some() {
            Exit::new(exit::STATE_ERROR, format!("{err:#}")).into()
        } else {
            err
        }
    })?;
    if let Some(file) = &args.metrics {
        write_metrics(file, &steps)?;
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

fn read(path: &Path) -> Result<Vec<StepStats>> {
    match Store::open_existing(path, store::busy_timeout())? {
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

/// The metrics in Prometheus text exposition format.
fn render_metrics(steps: &[StepStats]) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{labels} {value}");
        }
    };
    let per_step = |suffix: &str, value: &dyn Fn(&StepStats) -> Option<String>| {
        steps
            .iter()
            .filter_map(|s| {
                value(s).map(|v| (format!("{suffix}{{step=\"{}\"}}", escape(&s.step)), v))
            })
            .collect::<Vec<_>>()
    };
    family(
        "backstop_step_runs_total",
        "counter",
        "Runs (run id + step) recorded.",
        per_step("backstop_step_runs_total", &|s| Some(s.runs.to_string())),
    );
    let mut by_status = Vec::new();
    for s in steps {
        for (status, n) in [
            ("succeeded", s.succeeded),
            ("failed", s.failed),
            ("running", s.running),
        ] {
            by_status.push((
                format!(
                    "backstop_step_runs{{step=\"{}\",status=\"{status}\"}}",
                    escape(&s.step)
                ),
                n.to_string(),
            ));
        }
    }
    family(
        "backstop_step_runs",
        "gauge",
        "Runs by current status (a failed run that is started again and succeeds moves to succeeded).",
        by_status,
    );
    family(
        "backstop_step_attempts_total",
        "counter",
        "Attempts started.",
        per_step("backstop_step_attempts_total", &|s| {
            Some(s.attempts.to_string())
        }),
    );
    family(
        "backstop_step_retries_total",
        "counter",
        "Attempts after the first of a run.",
        per_step("backstop_step_retries_total", &|s| {
            Some(s.retries.to_string())
        }),
    );
    family(
        "backstop_step_success_ratio",
        "gauge",
        "Succeeded runs over finished runs (absent before any run finished).",
        per_step("backstop_step_success_ratio", &|s| {
            success_ratio(s).map(|r| r.to_string())
        }),
    );
    let seconds = |ms: u64| (ms as f64 / 1_000.0).to_string();
    let mut summary = Vec::new();
    for s in steps {
        let step = escape(&s.step);
        let sum: u64 = s.recoveries_ms.iter().sum();
        summary.push((
            format!("backstop_step_time_to_recovery_seconds_sum{{step=\"{step}\"}}"),
            seconds(sum),
        ));
        summary.push((
            format!("backstop_step_time_to_recovery_seconds_count{{step=\"{step}\"}}"),
            s.recoveries_ms.len().to_string(),
        ));
    }
    family(
        "backstop_step_time_to_recovery_seconds",
        "summary",
        "Time from a run's first failed attempt to the success that followed.",
        summary,
    );
    family(
        "backstop_step_max_time_to_recovery_seconds",
        "gauge",
        "Longest time to recovery of any run (absent before any recovery).",
        per_step("backstop_step_max_time_to_recovery_seconds", &|s| {
            s.recoveries_ms.iter().max().map(|&ms| seconds(ms))
        }),
    );
    out
}

/// Label values escape backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Write FILE.tmp then rename it over FILE, so a collector never sees half a file.
fn write_metrics(file: &Path, steps: &[StepStats]) -> Result<()> {
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, render_metrics(steps))
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, file)
        .with_context(|| format!("renaming {} to {}", tmp.display(), file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<StepStats> {
        vec![StepStats {
            step: "tr\"ain".into(),
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
    fn metrics_have_help_type_and_escaped_labels() {
        let text = render_metrics(&sample());
        assert!(text.contains("# TYPE backstop_step_runs_total counter\n"));
        assert!(text.contains("backstop_step_runs_total{step=\"tr\\\"ain\"} 3\n"));
        assert!(text.contains("backstop_step_runs{step=\"tr\\\"ain\",status=\"failed\"} 1\n"));
        assert!(text.contains("backstop_step_retries_total{step=\"tr\\\"ain\"} 4\n"));
        assert!(
            text.contains("backstop_step_success_ratio{step=\"tr\\\"ain\"} 0.6666666666666666\n")
        );
        assert!(
            text.contains("backstop_step_time_to_recovery_seconds_sum{step=\"tr\\\"ain\"} 4\n")
        );
        assert!(
            text.contains("backstop_step_time_to_recovery_seconds_count{step=\"tr\\\"ain\"} 2\n")
        );
        assert!(
            text.contains("backstop_step_max_time_to_recovery_seconds{step=\"tr\\\"ain\"} 2.5\n")
        );
        // Every sample's family is declared before it.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = name
                .strip_suffix("_sum")
                .or_else(|| name.strip_suffix("_count"))
                .unwrap_or(name);
            assert!(text.contains(&format!("# TYPE {family} ")), "{line}");
        }
    }

    #[test]
    fn the_table_shows_rates_and_recovery_times() {
        let text = render_table(&sample());
        assert!(text.contains("66.7%"), "{text}");
        assert!(text.contains("2s"), "{text}");
        assert!(text.contains("2.5s"), "{text}");
    }
}
