//! `backstop gameday-inject` (hidden): the step a game day runs under the
//! real `backstop run`. It reads which attempt this is from BACKSTOP_ATTEMPT
//! (set by `backstop run` for every attempt) and does what the scenario
//! scripted for it: stderr lines, a failure report, a delay, a hang, an exit
//! status or a signal, the real command, or the death of the worker.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::{Deserialize, Serialize};

use super::scenario::{Attempt, parse_duration, signal_number};

#[derive(Args)]
pub struct InjectArgs {
    /// The injection plan gameday wrote for this run.
    #[arg(long, value_name = "FILE")]
    plan: PathBuf,
}

/// What gameday hands the injector for one run.
#[derive(Debug, Serialize, Deserialize)]
pub struct Plan {
    pub time_scale: f64,
    pub attempts: Vec<Attempt>,
    pub command: Vec<String>,
    /// Where the real command runs (the scenario's directory).
    pub cwd: PathBuf,
    /// Where each attempt records when it started (`<attempt>.start`, epoch ms).
    pub marks: PathBuf,
}

pub fn run(args: InjectArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.plan)
        .with_context(|| format!("reading the injection plan {}", args.plan.display()))?;
    let plan: Plan = serde_json::from_str(&text)
        .with_context(|| format!("reading the injection plan {}", args.plan.display()))?;
    let attempt: usize = std::env::var("BACKSTOP_ATTEMPT")
        .ok()
        .and_then(|a| a.parse().ok())
        .filter(|a| *a >= 1)
        .context("BACKSTOP_ATTEMPT is not set: gameday-inject runs under `backstop run`")?;
    // The script counts this invocation's attempts (a takeover continues the
    // run's count at N > 1); attempts past the last one scripted repeat it.
    let index = std::fs::read_dir(&plan.marks)
        .with_context(|| format!("reading {}", plan.marks.display()))?
        .count();
    let Some(script) = plan.attempts.get(index).or(plan.attempts.last()) else {
        bail!("the injection plan has no attempts");
    };
    mark(&plan.marks, attempt)?;
    let scaled = |d: &str| -> Result<Duration> {
        let d = parse_duration(d).map_err(anyhow::Error::msg)?;
        Ok(d.mul_f64(plan.time_scale))
    };
    let mut stderr = std::io::stderr().lock();
    for line in &script.stderr {
        writeln!(stderr, "{line}")?;
    }
    stderr.flush()?;
    drop(stderr);
    if let Some(report) = &script.report {
        write_report(report, plan.time_scale)?;
    }
    if let Some(delay) = &script.delay {
        std::thread::sleep(scaled(delay)?);
    }
    if script.kill_worker {
        // The worker dies: SIGKILL to the supervising backstop. Its
        // PR_SET_PDEATHSIG then ends this process too.
        // SAFETY: plain syscalls on our parent's pid.
        unsafe {
            libc::kill(libc::getppid(), libc::SIGKILL);
        }
        std::thread::sleep(Duration::from_secs(60));
        return Ok(ExitCode::from(1));
    }
    if script.hang {
        // Bounded, so a broken timeout cannot leave it behind for ever.
        std::thread::sleep(Duration::from_secs(3600));
        return Ok(ExitCode::from(1));
    }
    if script.real {
        return exec_real(&plan);
    }
    if let Some(signal) = &script.signal {
        let n = signal_number(signal).map_err(anyhow::Error::msg)?;
        // SAFETY: restoring the default action, then raising the signal at ourselves.
        unsafe {
            libc::signal(n, libc::SIG_DFL);
            libc::raise(n);
        }
        bail!("signal {signal} did not end the process");
    }
    Ok(ExitCode::from(script.exit.unwrap_or(0)))
}

fn mark(dir: &Path, attempt: usize) -> Result<()> {
    let now = super::run::now_ms();
    std::fs::write(dir.join(format!("{attempt}.start")), now.to_string())
        .with_context(|| format!("recording the start of attempt {attempt}"))
}

/// The scripted report, as `backstop run` reads it; pushback is time too.
fn write_report(report: &toml::Table, time_scale: f64) -> Result<()> {
    let mut value = serde_json::to_value(report)?;
    if let Some(ms) = value.get_mut("pushback_ms")
        && let Some(n) = ms.as_u64()
    {
        *ms = serde_json::Value::from((n as f64 * time_scale).round() as u64);
    }
    let path = std::env::var_os(super::super::report::ENV)
        .context("BACKSTOP_FAILURE_FILE is not set: gameday-inject runs under `backstop run`")?;
    std::fs::write(&path, serde_json::to_vec(&value)?)
        .with_context(|| format!("writing the failure report {}", Path::new(&path).display()))
}

fn exec_real(plan: &Plan) -> Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    let (program, args) = plan.command.split_first().context("no command")?;
    let err = std::process::Command::new(program)
        .args(args)
        .current_dir(&plan.cwd)
        .exec();
    bail!("cannot run {program}: {err}")
}
