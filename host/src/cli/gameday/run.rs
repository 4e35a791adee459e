//! Running a scenario: a copy of the policy with its waits compressed and its
//! alert sinks captured, then the real `backstop run` (this executable) per
//! run, with `backstop gameday-inject` as the step. What happened is read
//! back from `backstop run`'s own stderr lines, the captured alert file and
//! the injector's start marks.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::inject::Plan;
use super::scenario::{Notify, Scenario};

/// `backstop run`'s default lease (BACKSTOP_LEASE_MS), compressed with the rest.
const LEASE_MS: f64 = 30_000.0;

/// The policy's `[retry]` durations gameday compresses, with the guest's defaults.
const SCALED: &[(&str, Option<u64>)] = &[
    ("base_delay", Some(1_000)),
    ("max_delay", Some(30_000)),
    ("max_pushback", Some(300_000)),
    ("attempt_timeout", None),
    ("deadline", None),
];

/// What one run did, as `backstop run` reported it.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Observed {
    pub run_id: String,
    pub outcome: String,
    pub attempts: u32,
    /// First attempt of this invocation (a takeover continues the count).
    pub first_attempt: u32,
    pub classes: Vec<String>,
    pub rules: Vec<String>,
    pub give_up: Option<String>,
    pub exit_status: Option<i32>,
    pub notifications: Vec<Notify>,
    pub pages: u32,
    /// First failed attempt's start to the success, as rehearsed (compressed).
    pub recovery_ms: Option<u64>,
    /// The same divided by time_scale: an upper bound at policy speed (the
    /// step's own run time is scaled up too).
    pub recovery_policy_ms: Option<u64>,
    /// `backstop run`'s stderr, for the record.
    pub transcript: PathBuf,
}

/// What compression did, said in the output.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Compression {
    pub time_scale: f64,
    /// `retry.key: from -> to`, as applied to the policy copy.
    pub changes: Vec<String>,
    pub lease_ms: u64,
    pub not_scaled: Vec<String>,
}

pub struct Rehearsal {
    pub compression: Compression,
    pub runs: Vec<Observed>,
    pub state_dir: PathBuf,
}

pub fn rehearse(scenario: &Scenario, state_dir: &Path, exe: &Path) -> Result<Rehearsal> {
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("creating the state directory {}", state_dir.display()))?;
    let alerts = state_dir.join("alerts.jsonl");
    let (policy, mut compression) = prepare_policy(scenario, state_dir, &alerts)?;
    let lease_ms = ((LEASE_MS * scenario.time_scale).round() as u64).max(300);
    compression.lease_ms = lease_ms;
    let pipeline = scenario
        .pipeline
        .clone()
        .unwrap_or_else(|| super::super::alerting::default_pipeline(scenario.policy.as_deref()));
    let step = scenario
        .step
        .clone()
        .unwrap_or_else(|| super::super::plan::DEFAULT_STEP.to_string());
    let cwd = scenario
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let cwd = std::fs::canonicalize(&cwd).unwrap_or(cwd);
    let mut runs = Vec::new();
    // Per run id: when its first failed attempt started (recovery spans a worker restart).
    let mut failing_since: BTreeMap<String, u64> = BTreeMap::new();
    for (i, run) in scenario.runs.iter().enumerate() {
        let dir = state_dir.join(format!("run-{}", i + 1));
        let marks = dir.join("marks");
        std::fs::create_dir_all(&marks)?;
        let plan = Plan {
            time_scale: scenario.time_scale,
            attempts: run.attempts.clone(),
            command: scenario.command.clone(),
            cwd: cwd.clone(),
            marks: marks.clone(),
        };
        let plan_path = dir.join("plan.json");
        std::fs::write(&plan_path, serde_json::to_vec_pretty(&plan)?)?;
        let kill_after = format!(
            "{}ms",
            ((10_000.0 * scenario.time_scale).round() as u64).max(100)
        );
        let mut cmd = Command::new(exe);
        cmd.arg("run")
            .args([
                "--run-id",
                &run.run_id,
                "--step",
                &step,
                "--pipeline",
                &pipeline,
            ])
            .arg("--state")
            .arg(state_dir.join("state.db"))
            .args(["--kill-after", &kill_after]);
        if let Some(p) = &policy {
            cmd.arg("--policy").arg(p);
        }
        cmd.arg("--")
            .arg(exe)
            .arg("gameday-inject")
            .arg("--plan")
            .arg(&plan_path)
            .env("BACKSTOP_LEASE_MS", lease_ms.to_string())
            .env_remove("BACKSTOP_STATE")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("stdout"))?)
            .stderr(Stdio::piped());
        let alerts_before = read_alerts(&alerts)?.len();
        let mut child = cmd.spawn().context("starting backstop run")?;
        let stderr = child.stderr.take().context("no stderr pipe")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send((now_ms(), line)).is_err() {
                    break;
                }
            }
        });
        let status = child.wait()?;
        // A step orphaned by a killed worker may still hold the pipe: stop
        // reading shortly after backstop itself has ended.
        let mut lines = Vec::new();
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
            lines.push(line);
        }
        let transcript = dir.join("stderr");
        std::fs::write(
            &transcript,
            lines
                .iter()
                .map(|(_, l)| format!("{l}\n"))
                .collect::<String>(),
        )?;
        let mut observed = parse_transcript(&lines);
        observed.run_id = run.run_id.clone();
        observed.transcript = transcript;
        observed.exit_status = status.code();
        use std::os::unix::process::ExitStatusExt;
        if status.signal() == Some(libc::SIGKILL) {
            observed.outcome = "worker-killed".into();
            observed.exit_status = Some(128 + libc::SIGKILL);
        }
        let starts = read_marks(&marks)?;
        observed.attempts = starts.len() as u32;
        if observed.first_attempt == 0 {
            observed.first_attempt = starts.keys().next().copied().unwrap_or(0);
        }
        // Recovery: from the first failed attempt of this run id to its success.
        let failed_first = observed.classes.first().is_some_and(|c| c != "success")
            || observed.outcome == "worker-killed";
        if failed_first && let Some(start) = starts.values().next() {
            failing_since.entry(run.run_id.clone()).or_insert(*start);
        }
        if observed.outcome == "succeeded"
            && let (Some(since), Some(done)) =
                (failing_since.remove(&run.run_id), success_at(&lines))
        {
            let ms = done.saturating_sub(since);
            observed.recovery_ms = Some(ms);
            observed.recovery_policy_ms = Some((ms as f64 / scenario.time_scale).round() as u64);
        }
        let sent = read_alerts(&alerts)?;
        observed.notifications = count_notifications(&sent[alerts_before.min(sent.len())..]);
        observed.pages = sent[alerts_before.min(sent.len())..]
            .iter()
            .filter(|n| {
                n["kind"] != "resolve"
                    && matches!(n["severity"].as_str(), Some("high" | "critical"))
            })
            .map(|n| n["targets"].as_array().map_or(1, Vec::len) as u32)
            .sum();
        if observed.outcome == "worker-killed" {
            // The restarted worker finds the lease of the dead one: it waits it out.
            std::thread::sleep(Duration::from_millis(lease_ms + 100));
        }
        runs.push(observed);
    }
    Ok(Rehearsal {
        compression,
        runs,
        state_dir: state_dir.to_path_buf(),
    })
}

/// The policy copy in the state directory: `[retry]` waits scaled, every
/// alert sink replaced by one file sink that captures all notifications.
fn prepare_policy(
    scenario: &Scenario,
    state_dir: &Path,
    alerts: &Path,
) -> Result<(Option<PathBuf>, Compression)> {
    let mut compression = Compression {
        time_scale: scenario.time_scale,
        not_scaled: vec![
            "the step's own run time".into(),
            "alert windows (dedup_window, escalate_after: they act in `alerts tick`)".into(),
        ],
        ..Compression::default()
    };
    let Some(path) = &scenario.policy else {
        if scenario.time_scale < 1.0 {
            compression.not_scaled.push(
                "the built-in default policy (give the scenario a policy to compress it)".into(),
            );
        }
        return Ok((None, compression));
    };
    let source = std::fs::read_to_string(path)
        .with_context(|| format!("reading the scenario's policy {}", path.display()))?;
    let format = backstop::Format::from_path(path);
    let mut doc: Value = match format {
        backstop::Format::Toml => {
            let t: toml::Table = toml::from_str(&source)
                .with_context(|| format!("reading the policy {}", path.display()))?;
            serde_json::to_value(t)?
        }
        backstop::Format::Json => jsonc_parser::parse_to_serde_value(&source, &Default::default())
            .with_context(|| format!("reading the policy {}", path.display()))?,
    };
    let Some(root) = doc.as_object_mut() else {
        bail!("{}: the policy is not a table", path.display());
    };
    if root.contains_key("rules") && !root.contains_key("version") {
        bail!(
            "{}: gameday needs a native policy (TOML or JSON with `version = 1`), not the seed's alert JSON",
            path.display()
        );
    }
    if scenario.time_scale < 1.0 {
        let retry = root
            .entry("retry")
            .or_insert_with(|| Value::Object(Default::default()));
        let Some(retry) = retry.as_object_mut() else {
            bail!("{}: `retry` is not a table", path.display());
        };
        for (key, default) in SCALED {
            let from = match retry.get(*key).and_then(Value::as_str) {
                Some(text) => humantime::parse_duration(text.trim())
                    .map(|d| d.as_millis() as u64)
                    .with_context(|| format!("{}: retry.{key}", path.display()))?,
                None => match default {
                    Some(ms) => *ms,
                    None => continue,
                },
            };
            let to = ((from as f64 * scenario.time_scale).round() as u64).max(1);
            retry.insert((*key).into(), Value::from(format!("{to}ms")));
            compression.changes.push(format!(
                "retry.{key} {} -> {}",
                super::super::fmt::duration(from),
                super::super::fmt::duration(to)
            ));
        }
        if let Some(open_for) = retry
            .get_mut("circuit_breaker")
            .and_then(|b| b.get_mut("open_for"))
        {
            let from = open_for
                .as_str()
                .and_then(|t| humantime::parse_duration(t.trim()).ok())
                .map_or(30_000, |d| d.as_millis() as u64);
            let to = ((from as f64 * scenario.time_scale).round() as u64).max(1);
            *open_for = Value::from(format!("{to}ms"));
            compression.changes.push(format!(
                "retry.circuit_breaker.open_for {} -> {}",
                super::super::fmt::duration(from),
                super::super::fmt::duration(to)
            ));
        }
    }
    if let Some(alerting) = root.get_mut("alerts").and_then(Value::as_object_mut) {
        // Nobody gets paged by a rehearsal: every notification goes to one file.
        alerting.insert(
            "sinks".into(),
            serde_json::json!([{
                "target": "*",
                "type": "file",
                "path": alerts.display().to_string(),
            }]),
        );
    }
    let copy_dir = state_dir.join("policy");
    std::fs::create_dir_all(&copy_dir)?;
    let copy = copy_dir.join(path.file_name().unwrap_or("policy.toml".as_ref()));
    let text = match format {
        backstop::Format::Toml => toml::to_string(&doc)?,
        backstop::Format::Json => serde_json::to_string_pretty(&doc)?,
    };
    std::fs::write(&copy, text)?;
    Ok((Some(copy), compression))
}

/// Read `backstop run`'s own lines (`backstop: attempt 2 failed (...)`).
fn parse_transcript(lines: &[(u64, String)]) -> Observed {
    let mut o = Observed::default();
    for (_, line) in lines {
        let Some(rest) = line.strip_prefix("backstop: ") else {
            continue;
        };
        if let Some(after) = rest.strip_prefix("attempt ") {
            let (n, tail) = after.split_once(' ').unwrap_or((after, ""));
            let Ok(n) = n.parse::<u32>() else { continue };
            if o.first_attempt == 0 {
                o.first_attempt = n;
            }
            if tail.starts_with("succeeded") {
                o.classes.push("success".into());
                o.outcome = "succeeded".into();
            } else if let Some(detail) = tail.strip_prefix("failed (") {
                let (class, after_class) = detail.split_once(", ").unwrap_or((detail, ""));
                o.classes.push(class.to_string());
                let rule = after_class
                    .strip_prefix("rule ")
                    .map(|r| {
                        r.split([':', ')', ' '])
                            .next()
                            .unwrap_or("-")
                            .trim_end_matches(',')
                            .to_string()
                    })
                    .unwrap_or_else(|| "-".into());
                o.rules.push(rule);
                if let Some((_, why)) = tail.rsplit_once("; giving up (") {
                    o.give_up = why.split(')').next().map(str::to_string);
                    o.outcome = "gave-up".into();
                }
            }
        } else if let Some(after) = rest.strip_prefix("not starting attempt ") {
            o.outcome = "gave-up".into();
            let why = after.split_once(": ").map_or("", |(_, w)| w);
            o.give_up = Some(if why.contains("circuit breaker") {
                "circuit-open".into()
            } else if why.starts_with("the deadline") {
                "deadline".into()
            } else {
                why.split(';').next().unwrap_or(why).to_string()
            });
        } else if rest.contains(" already succeeded") && rest.contains("not running it again") {
            o.outcome = "already-succeeded".into();
        } else if rest.starts_with("taking over ")
            && let Some(n) = rest
                .rsplit_once("continuing with attempt ")
                .and_then(|(_, n)| n.trim().parse().ok())
        {
            o.first_attempt = n;
        }
    }
    o
}

fn success_at(lines: &[(u64, String)]) -> Option<u64> {
    lines
        .iter()
        .find(|(_, l)| l.starts_with("backstop: attempt ") && l.contains(" succeeded"))
        .map(|(at, _)| *at)
}

fn read_marks(dir: &Path) -> Result<BTreeMap<u32, u64>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(n) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".start"))
            .and_then(|n| n.parse().ok())
        else {
            continue;
        };
        let at = std::fs::read_to_string(&path)?.trim().parse().unwrap_or(0);
        out.insert(n, at);
    }
    Ok(out)
}

fn read_alerts(path: &Path) -> Result<Vec<Value>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).context(format!("reading captured alerts {}", path.display())),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).with_context(|| format!("captured alert in {}", path.display()))
        })
        .collect()
}

/// One entry per kind, severity and target, with how many.
fn count_notifications(sent: &[Value]) -> Vec<Notify> {
    let mut counts: BTreeMap<(String, String, String), u32> = BTreeMap::new();
    for n in sent {
        let s = |k: &str| n[k].as_str().unwrap_or("?").to_string();
        for target in n["targets"].as_array().into_iter().flatten() {
            let target = target.as_str().unwrap_or("?").to_string();
            *counts
                .entry((s("kind"), s("severity"), target))
                .or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|((kind, severity, target), count)| Notify {
            kind,
            severity,
            target,
            count,
        })
        .collect()
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
