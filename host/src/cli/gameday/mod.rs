//! `backstop gameday`: rehearse a failure scenario against the real step
//! machinery (`backstop run` itself, re-invoked), the real retry policy and
//! the real alert policy, and check what the team expects.
//! Layers: `scenario` reads the file, `run` drives `backstop run` with
//! `inject` as the step, `expect` compares, `render` prints.

mod expect;
pub mod inject;
mod render;
mod run;
mod scenario;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

pub use inject::InjectArgs;

/// Exit status when an expectation was not met.
pub const EXPECTATION_FAILED: u8 = 1;

pub const HELP: &str = "\
Scenario file (TOML; paths relative to it):
  name, description        shown in the report
  policy                   the policy file; its alert sinks are replaced by one
                           file sink in the state directory (nobody is paged)
  pipeline, step, run_id   as `backstop run` takes them
  command = [..]           the real step, for attempts with real = true
  time_scale = 0.01        compress time: the policy's retry.base_delay, max_delay,
                           max_pushback, attempt_timeout, deadline, circuit_breaker
                           open_for, the lease, and injected delays and pushback
                           are multiplied by it; the report says what was compressed
  [[attempts]]             per attempt of the run (the last one repeats): exit = N,
                           signal = \"SIGKILL\", stderr = [lines], report = {failure
                           report fields}, delay = \"5s\" (then exit 0 unless told),
                           hang = true (until the attempt timeout), real = true,
                           kill_worker = true (SIGKILL to the supervising backstop)
  [expect]                 outcome (succeeded, gave-up, already-succeeded,
                           worker-killed), attempts, classes = [per attempt:
                           transient, permanent, unknown, success], rules,
                           give_up, exit_status, pages, max_recovery = \"1m\",
                           [[expect.notifications]] kind, severity, target, count
                           (every notification of the run must be listed)
  [[runs]]                 several runs in order (run_id, attempts, expect),
                           instead of top-level attempts/expect

Each run is `backstop run` (this executable) with `backstop gameday-inject` as
the step; the injector reads BACKSTOP_ATTEMPT, which `backstop run` sets for
every attempt. Time to recovery runs from the first failed attempt's start to
the success; at policy speed it is that divided by time_scale (an upper bound:
the step's own run time is scaled up too).

Exit status: 0 every expectation met, 1 an expectation was not met, 2 the
scenario or policy could not be read or run.";

#[derive(Args)]
#[command(after_long_help = HELP)]
pub struct GamedayArgs {
    /// The scenario file (TOML).
    #[arg(long, value_name = "FILE.toml")]
    scenario: PathBuf,
    /// Also write the report as JSON to FILE (`-`: stdout, instead of the table).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Keep the state database, captured alerts and transcripts in DIR
    /// [default: a temporary directory, removed afterwards]
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Override the scenario's time_scale (more than 0, at most 1).
    #[arg(long, value_name = "X")]
    time_scale: Option<f64>,
}

pub fn run(args: GamedayArgs) -> Result<ExitCode> {
    let mut scenario = scenario::read(&args.scenario)?;
    if let Some(x) = args.time_scale {
        anyhow::ensure!(
            x > 0.0 && x <= 1.0,
            "--time-scale {x} is out of range; expected more than 0 and at most 1"
        );
        scenario.time_scale = x;
    }
    let exe = std::env::current_exe().context("finding the backstop executable")?;
    let (state_dir, temporary) = match &args.state {
        Some(dir) => {
            anyhow::ensure!(
                !dir.join("state.db").exists(),
                "{} already holds a game day's state; give an empty directory",
                dir.display()
            );
            (dir.clone(), false)
        }
        None => (temp_dir()?, true),
    };
    let outcome = rehearse(&scenario, &state_dir, &exe, &args);
    if temporary {
        let _ = std::fs::remove_dir_all(&state_dir);
    }
    outcome
}

fn rehearse(
    scenario: &scenario::Scenario,
    state_dir: &std::path::Path,
    exe: &std::path::Path,
    args: &GamedayArgs,
) -> Result<ExitCode> {
    let rehearsal = run::rehearse(scenario, state_dir, exe)?;
    let rows: Vec<expect::Row> = scenario
        .runs
        .iter()
        .zip(&rehearsal.runs)
        .enumerate()
        .flat_map(|(i, (r, seen))| expect::compare(i + 1, &r.expect, seen))
        .collect();
    let json_to_stdout = args.json.as_deref() == Some(std::path::Path::new("-"));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&render::json(scenario, &rehearsal, &rows))?;
        if json_to_stdout {
            println!("{text}");
        } else {
            std::fs::write(path, text + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    if !json_to_stdout {
        print!("{}", render::table(scenario, &rehearsal, &rows));
    }
    Ok(if rows.iter().all(|r| r.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXPECTATION_FAILED)
    })
}

fn temp_dir() -> Result<PathBuf> {
    let nanos = run::now_ms();
    let dir = std::env::temp_dir().join(format!("backstop-gameday-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
