//! Reading a game-day scenario file: what to inject per attempt and what the
//! team expects. Every problem names the file, the line and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};

/// A scenario as written: one run (top-level `attempts` / `expect`) or
/// several (`[[runs]]`), against one policy and one step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: Option<String>,
    #[serde(default)]
    description: String,
    policy: Option<PathBuf>,
    pipeline: Option<String>,
    step: Option<String>,
    run_id: Option<String>,
    /// The real step, for attempts with `real = true`.
    #[serde(default)]
    command: Vec<String>,
    time_scale: Option<f64>,
    #[serde(default)]
    attempts: Vec<Attempt>,
    expect: Option<Expect>,
    #[serde(default)]
    runs: Vec<RunFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunFile {
    run_id: Option<String>,
    #[serde(default)]
    attempts: Vec<Attempt>,
    #[serde(default)]
    expect: Expect,
}

/// What one attempt of the step does. Attempts past the last one written
/// repeat the last one.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Attempt {
    /// Exit status (0 when neither this nor `signal` is given).
    pub exit: Option<u8>,
    /// Die by this signal (`SIGKILL`, `KILL` or `9`).
    pub signal: Option<String>,
    /// Lines written to stderr first (what the log readers see).
    #[serde(default)]
    pub stderr: Vec<String>,
    /// A failure report written to $BACKSTOP_FAILURE_FILE (the canonical JSON form).
    pub report: Option<toml::Table>,
    /// Sleep this long (scaled by time_scale) before ending.
    pub delay: Option<String>,
    /// Never end on its own: the attempt timeout (or the deadline) must stop it.
    #[serde(default)]
    pub hang: bool,
    /// Run the scenario's real `command` for this attempt.
    #[serde(default)]
    pub real: bool,
    /// The worker dies mid-attempt: SIGKILL to the supervising `backstop run`.
    #[serde(default)]
    pub kill_worker: bool,
}

/// What the team expects of one run; only what is written is checked.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// succeeded, gave-up, already-succeeded or worker-killed.
    pub outcome: Option<String>,
    /// Attempts this invocation started.
    pub attempts: Option<u32>,
    /// Per attempt: transient, permanent, unknown, or success.
    pub classes: Option<Vec<String>>,
    /// Per failed attempt: the rule id that classified it ("-" for none).
    pub rules: Option<Vec<String>>,
    /// Why it gave up: attempts-exhausted, permanent, deadline, circuit-open...
    pub give_up: Option<String>,
    pub exit_status: Option<u8>,
    /// Every notification sent during the run, by kind, severity and target.
    pub notifications: Option<Vec<Notify>>,
    /// Notifications of severity high or critical (pages).
    pub pages: Option<u32>,
    /// Longest time to recovery, first failed attempt to success, at policy speed.
    pub max_recovery: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    #[serde(default = "trigger")]
    pub kind: String,
    pub severity: String,
    pub target: String,
    #[serde(default = "one")]
    pub count: u32,
}

fn trigger() -> String {
    "trigger".into()
}

fn one() -> u32 {
    1
}

/// A scenario ready to run: paths resolved, shorthand expanded, checked.
#[derive(Debug)]
pub struct Scenario {
    pub path: PathBuf,
    pub name: String,
    pub description: String,
    pub policy: Option<PathBuf>,
    pub pipeline: Option<String>,
    pub step: Option<String>,
    pub command: Vec<String>,
    pub time_scale: f64,
    pub runs: Vec<Run>,
}

#[derive(Debug)]
pub struct Run {
    pub run_id: String,
    pub attempts: Vec<Attempt>,
    pub expect: Expect,
}

/// Read and check a scenario; errors read `FILE:LINE: key PATH: problem`.
pub fn read(path: &Path) -> Result<Scenario> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("cannot read scenario {}: {e}", path.display()))?;
    let file: File = parse(&text).map_err(|e| anyhow!("{}:{e}", path.display()))?;
    let at = |key: &str, problem: String| {
        let line = line_of_key(&text, key);
        anyhow!("{}:{line}: key {key}: {problem}", path.display())
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = file.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into())
    });
    let time_scale = file.time_scale.unwrap_or(1.0);
    if !(time_scale > 0.0 && time_scale <= 1.0) {
        return Err(at(
            "time_scale",
            format!("{time_scale} is out of range; expected more than 0 and at most 1"),
        ));
    }
    let default_run_id = file
        .run_id
        .clone()
        .unwrap_or_else(|| format!("gameday-{name}"));
    let runs = if file.runs.is_empty() {
        if file.attempts.is_empty() {
            return Err(at(
                "attempts",
                "no attempts: write [[attempts]] (one run) or [[runs]] with their attempts".into(),
            ));
        }
        vec![Run {
            run_id: default_run_id,
            attempts: file.attempts,
            expect: file.expect.unwrap_or_default(),
        }]
    } else {
        if !file.attempts.is_empty() || file.expect.is_some() {
            return Err(at(
                "runs",
                "write either top-level attempts/expect (one run) or [[runs]], not both".into(),
            ));
        }
        let mut runs = Vec::new();
        for (i, r) in file.runs.into_iter().enumerate() {
            if r.attempts.is_empty() {
                return Err(at("runs", format!("runs[{i}] has no attempts")));
            }
            runs.push(Run {
                run_id: r.run_id.unwrap_or_else(|| default_run_id.clone()),
                attempts: r.attempts,
                expect: r.expect,
            });
        }
        runs
    };
    for (r, run) in runs.iter().enumerate() {
        for (a, attempt) in run.attempts.iter().enumerate() {
            check_attempt(attempt, &file.command).map_err(|(k, problem)| {
                let written = if file_has_runs(&text) {
                    format!("runs[{r}].attempts[{a}].{k}")
                } else {
                    format!("attempts[{a}].{k}")
                };
                let line = line_of_key(&text, k);
                anyhow!("{}:{line}: key {written}: {problem}", path.display())
            })?;
        }
        check_expect(&run.expect).map_err(|(k, problem)| {
            let line = line_of_key(&text, k);
            let written = if file_has_runs(&text) {
                format!("runs[{r}].expect.{k}")
            } else {
                format!("expect.{k}")
            };
            anyhow!("{}:{line}: key {written}: {problem}", path.display())
        })?;
    }
    Ok(Scenario {
        path: path.to_path_buf(),
        name,
        description: file.description,
        policy: file.policy.map(|p| dir.join(p)),
        pipeline: file.pipeline,
        step: file.step,
        command: file.command,
        time_scale,
        runs,
    })
}

fn file_has_runs(text: &str) -> bool {
    text.lines().any(|l| l.trim_start().starts_with("[[runs"))
}

/// Deserialize, naming the key path and line of the first problem.
fn parse(text: &str) -> Result<File, String> {
    let de = toml::Deserializer::parse(text).map_err(|e| located(text, &e, None))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        located(text, &inner, (path != ".").then_some(path))
    })
}

fn located(text: &str, e: &toml::de::Error, key: Option<String>) -> String {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].lines().count().max(1))
        .map_or_else(
            || "?".into(),
            |n| {
                // A span starting at a line's first byte belongs to that line.
                let start = e.span().map_or(0, |s| s.start);
                if start > 0 && text.as_bytes().get(start - 1) == Some(&b'\n') {
                    (n + 1).to_string()
                } else {
                    n.to_string()
                }
            },
        );
    let message = e.message().trim().replace('\n', " ");
    match key {
        Some(key) => format!("{line}: key {key}: {message}"),
        None => format!("{line}: {message}"),
    }
}

/// The first line that sets `key` (its last dotted part), for problems found
/// after parsing; 1-based, "?" when not written.
fn line_of_key(text: &str, key: &str) -> String {
    let last = key.rsplit('.').next().unwrap_or(key);
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(last)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
                || l == format!("[[{last}]]")
                || l.ends_with(&format!(".{last}]]"))
        })
        .map_or_else(|| "?".into(), |i| (i + 1).to_string())
}

fn check_attempt(a: &Attempt, command: &[String]) -> Result<(), (&'static str, String)> {
    let endings = [
        a.exit.is_some(),
        a.signal.is_some(),
        a.hang,
        a.real,
        a.kill_worker,
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if endings > 1 {
        return Err((
            "exit",
            "give at most one of exit, signal, hang, real, kill_worker".into(),
        ));
    }
    if let Some(s) = &a.signal {
        signal_number(s).map_err(|e| ("signal", e))?;
    }
    if let Some(d) = &a.delay {
        parse_duration(d).map_err(|e| ("delay", e))?;
    }
    if a.real && command.is_empty() {
        return Err(("real", "real = true needs the scenario's command".into()));
    }
    if let Some(report) = &a.report {
        serde_json::to_value(report).map_err(|e| ("report", e.to_string()))?;
    }
    Ok(())
}

fn check_expect(e: &Expect) -> Result<(), (&'static str, String)> {
    if let Some(o) = &e.outcome
        && !OUTCOMES.contains(&o.as_str())
    {
        return Err((
            "outcome",
            format!(
                "`{o}` is not an outcome; expected one of {}",
                OUTCOMES.join(", ")
            ),
        ));
    }
    if let Some(classes) = &e.classes {
        for c in classes {
            if !["transient", "permanent", "unknown", "success"].contains(&c.as_str()) {
                return Err((
                    "classes",
                    format!(
                        "`{c}` is not a class; expected transient, permanent, unknown or success"
                    ),
                ));
            }
        }
    }
    if let Some(d) = &e.max_recovery {
        parse_duration(d).map_err(|e| ("max_recovery", e))?;
    }
    for n in e.notifications.iter().flatten() {
        if !["trigger", "escalate", "repeat", "resolve"].contains(&n.kind.as_str()) {
            return Err((
                "kind",
                format!(
                    "`{}` is not a notification kind; expected trigger, escalate, repeat or resolve",
                    n.kind
                ),
            ));
        }
        if !["info", "warning", "high", "critical"].contains(&n.severity.as_str()) {
            return Err((
                "severity",
                format!(
                    "`{}` is not a severity; expected info, warning, high or critical",
                    n.severity
                ),
            ));
        }
    }
    Ok(())
}

pub const OUTCOMES: &[&str] = &["succeeded", "gave-up", "already-succeeded", "worker-killed"];

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}); write e.g. 500ms, 10s, 1m"))
}

/// A signal by name (`SIGKILL`, `KILL`) or number.
pub fn signal_number(text: &str) -> Result<i32, String> {
    if let Ok(n) = text.parse::<i32>()
        && (1..=64).contains(&n)
    {
        return Ok(n);
    }
    let name = text.trim().to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    let known: BTreeMap<&str, i32> = [
        ("HUP", libc::SIGHUP),
        ("INT", libc::SIGINT),
        ("QUIT", libc::SIGQUIT),
        ("ABRT", libc::SIGABRT),
        ("KILL", libc::SIGKILL),
        ("SEGV", libc::SIGSEGV),
        ("PIPE", libc::SIGPIPE),
        ("TERM", libc::SIGTERM),
        ("BUS", libc::SIGBUS),
        ("USR1", libc::SIGUSR1),
        ("USR2", libc::SIGUSR2),
    ]
    .into_iter()
    .collect();
    known.get(name).copied().ok_or_else(|| {
        format!(
            "`{text}` is not a signal; expected one of {}",
            known
                .keys()
                .map(|k| format!("SIG{k}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}
