//! `backstop stats --metrics FILE`: the totals in the Prometheus text
//! exposition format (node_exporter's textfile collector). Family names are
//! chosen so that none clash once OpenMetrics drops a counter's `_total`
//! (the gauge of runs by status is `backstop_step_runs_by_status`, not
//! `backstop_step_runs`, which is the counter's family there); a test parses
//! the output and checks it. docs/STATS.md lists the families.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::super::store::StepStats;
use super::success_ratio;

/// The metrics in Prometheus text exposition format.
pub fn render(steps: &[StepStats]) -> String {
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
                    "backstop_step_runs_by_status{{step=\"{}\",status=\"{status}\"}}",
                    escape(&s.step)
                ),
                n.to_string(),
            ));
        }
    }
    family(
        "backstop_step_runs_by_status",
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
pub fn write(file: &Path, steps: &[StepStats]) -> Result<()> {
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, render(steps)).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, file)
        .with_context(|| format!("renaming {} to {}", tmp.display(), file.display()))
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

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

    /// The families of an exposition: name -> type, from its `# TYPE` lines;
    /// and every sample's metric name.
    fn parse(text: &str) -> (BTreeMap<String, String>, Vec<String>) {
        let mut families = BTreeMap::new();
        let mut samples = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
                let old = families.insert(name.to_string(), kind.to_string());
                assert!(old.is_none(), "{name} declared twice");
            } else if !line.starts_with('#') {
                samples.push(line.split(['{', ' ']).next().unwrap().to_string());
            }
        }
        (families, samples)
    }

    /// The OpenMetrics family name: a counter's without `_total`.
    fn base(name: &str, kind: &str) -> String {
        match kind {
            "counter" => name.strip_suffix("_total").unwrap_or(name).to_string(),
            _ => name.to_string(),
        }
    }

    /// The sample names a family may expose.
    fn sample_names(name: &str, kind: &str) -> Vec<String> {
        let b = base(name, kind);
        match kind {
            "counter" => vec![format!("{b}_total"), format!("{b}_created")],
            "summary" | "histogram" => ["", "_sum", "_count", "_bucket", "_created"]
                .iter()
                .map(|s| format!("{b}{s}"))
                .collect(),
            _ => vec![b],
        }
    }

    /// Every sample name the exporter writes, for the dashboard test.
    pub(crate) fn exported() -> BTreeSet<String> {
        let (families, _) = parse(&render(&sample()));
        families
            .iter()
            .flat_map(|(n, k)| sample_names(n, k))
            .collect()
    }

    #[test]
    fn no_two_families_share_a_name_once_counters_drop_total() {
        let (families, samples) = parse(&render(&sample()));
        assert!(families.len() >= 7, "{families:?}");
        // Each family's base name and every sample name it may expose are its
        // own: no other family's base or samples may equal them.
        let mut owner: BTreeMap<String, &str> = BTreeMap::new();
        for (name, kind) in &families {
            let mut names = sample_names(name, kind);
            names.push(base(name, kind));
            names.sort();
            names.dedup();
            for n in names {
                if let Some(other) = owner.insert(n.clone(), name) {
                    panic!("`{n}` belongs to both {other} and {name}");
                }
            }
        }
        for s in &samples {
            assert!(owner.contains_key(s), "sample {s} has no declared family");
        }
        // The clash the rename removed: counter runs_total vs gauge runs.
        assert_eq!(families["backstop_step_runs_total"], "counter");
        assert!(!families.contains_key("backstop_step_runs"));
    }

    #[test]
    fn metrics_have_help_type_and_escaped_labels() {
        let text = render(&sample());
        assert!(text.contains("# TYPE backstop_step_runs_total counter\n"));
        assert!(text.contains("backstop_step_runs_total{step=\"tr\\\"ain\"} 3\n"));
        assert!(
            text.contains("backstop_step_runs_by_status{step=\"tr\\\"ain\",status=\"failed\"} 1\n")
        );
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
    }

    /// examples/grafana-dashboard.json: valid JSON with panels whose every
    /// query names only families this exporter writes.
    #[test]
    fn the_grafana_dashboard_queries_only_exported_families() {
        let text = include_str!("../../../../examples/grafana-dashboard.json");
        let dashboard: serde_json::Value = serde_json::from_str(text).expect("valid JSON");
        assert!(dashboard["title"].is_string());
        assert!(dashboard["schemaVersion"].is_u64());
        let panels = dashboard["panels"].as_array().expect("panels");
        let exported = exported();
        let mut exprs = 0;
        for panel in panels {
            assert!(panel["title"].is_string(), "{panel}");
            assert!(panel["gridPos"].is_object(), "{panel}");
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().expect("a target has an expr");
                exprs += 1;
                let names: Vec<&str> = expr
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .filter(|w| w.starts_with("backstop_"))
                    .collect();
                assert!(!names.is_empty(), "{expr} queries no backstop metric");
                for name in names {
                    assert!(exported.contains(name), "{expr}: {name} is not exported");
                }
            }
        }
        assert!(exprs >= 5, "{exprs} queries");
    }
}
