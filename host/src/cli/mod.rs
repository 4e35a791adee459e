//! The `backstop` command line: argument parsing and one module per subcommand.
//! Every decision comes from the guest; these modules only read files, run
//! processes, keep time and keep state.

mod alerts;
mod check;
mod classify;
mod exit;
mod fmt;
mod ids;
mod mask;
mod outbox;
mod plan;
mod policy;
mod reading;
mod report;
mod run;
mod sinks;
mod stats;
mod supervise;
mod tail;

// The state store lives in the library (its tests and embedders use it).
use backstop::store;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use backstop::PolicyError;
use clap::{Parser, Subcommand};

pub use exit::Exit;

#[derive(Parser)]
#[command(
    name = "backstop",
    version,
    about = "Failure-handling policy engine for ML training and batch pipelines",
    after_long_help = exit::HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a policy file; print every problem with its location.
    Check {
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// Print one JSON object: {"valid": bool, "errors": [...]}.
        #[arg(long)]
        json: bool,
    },
    /// Classify a failure as transient, permanent or unknown.
    Classify(classify::ClassifyArgs),
    /// Print the retry schedule a policy plans (a dry run: every attempt fails).
    Plan(plan::PlanArgs),
    /// Run a command under a retry policy, once per run id and step.
    ///
    /// Each attempt runs in its own process group; at its timeout (or the
    /// deadline) the whole group gets SIGTERM, then SIGKILL after --kill-after.
    /// stdout and stderr pass through unchanged. A failed attempt is
    /// classified on the failure report it wrote to $BACKSTOP_FAILURE_FILE,
    /// or else on what the log readers recognise in its last 50 stderr lines,
    /// with its exit status or signal. Every attempt is recorded in the state
    /// database.
    ///
    /// A run id + step that succeeded is not run again (exit 0). While one
    /// backstop runs it, others exit 73. One that dies, even by SIGKILL, leaves
    /// a lease that expires after 30 s: the next invocation takes over and
    /// continues the attempt count and the deadline where it stopped. A run
    /// that gave up is started afresh (a new round) when invoked again.
    #[command(after_long_help = exit::RUN_HELP)]
    Run(run::RunArgs),
    /// Retry counts, success rate and time to recovery per step, from the state database.
    Stats(stats::StatsArgs),
    /// Alerts: replay a history against a policy, list, acknowledge, tick.
    #[command(subcommand)]
    Alerts(alerts::AlertsCommand),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // What an unexpected error exits with: `run` keeps its own code apart from
    // the wrapped command's, the other commands use 2 like a usage error.
    let (outcome, fallback) = match cli.command {
        Command::Check { policy, json } => (check::run(&policy, json), 2),
        Command::Classify(args) => (classify::run(args), 2),
        Command::Plan(args) => (plan::run(args), 2),
        Command::Run(args) => (run::run(args), exit::BACKSTOP_ERROR),
        Command::Stats(args) => (stats::run(args), 2),
        Command::Alerts(command) => (alerts::run(command), 2),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => match err.downcast_ref::<Exit>() {
            Some(exit) => {
                if !exit.message.is_empty() {
                    eprintln!("backstop: {}", exit.message);
                }
                ExitCode::from(exit.code)
            }
            None => {
                eprintln!("backstop: {err:#}");
                ExitCode::from(fallback)
            }
        },
    }
}

fn read_policy(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading policy {}", path.display()))
}

/// `file:line:column: error[code]: path: message`, the shape editors and CI logs link.
fn render_diagnostic(file: &str, error: &PolicyError) -> String {
    let location = match (error.line, error.column) {
        (Some(line), Some(column)) => format!("{file}:{line}:{column}"),
        _ => file.to_string(),
    };
    let code = serde_json::to_value(error.code).ok();
    let code = code.as_ref().and_then(|c| c.as_str()).unwrap_or("error");
    let field = if error.path.is_empty() {
        String::new()
    } else {
        format!("{}: ", error.path)
    };
    format!("{location}: error[{code}]: {field}{}", error.message)
}
