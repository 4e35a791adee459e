//! The `backstop` command line: argument parsing and one module per subcommand.
//! Every decision comes from the guest; these modules only read files, run
//! processes, keep time and keep state.

mod alerting;
mod alerts;
mod bodies;
mod check;
mod classify;
mod delivery;
mod exit;
mod export;
mod fleet;
mod fmt;
mod gameday;
mod ids;
mod mask;
mod outbox;
mod plan;
mod policy;
mod reading;
mod report;
mod run;
mod sender;
mod simulate;
mod stats;
mod supervise;
mod tail;

// The state store lives in the library (its tests and embedders use it).
use backstop::store;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use backstop::{ErrorCode, PolicyError};
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
        /// Policy file (.toml or .json; the seed's alert JSON too).
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
    /// Print a Kubernetes Job or an Argo template whose retries follow a
    /// policy, its container wrapped in `backstop run --one-attempt`.
    #[command(subcommand)]
    Export(export::ExportCommand),
    /// Simulate a fleet of workers under an outage with the real planner.
    #[command(subcommand)]
    Simulate(fleet::SimulateCommand),
    /// Rehearse a failure scenario against the real step, retry and alert policy.
    Gameday(gameday::GamedayArgs),
    /// The step a game day runs (internal: reads BACKSTOP_ATTEMPT).
    #[command(hide = true)]
    GamedayInject(gameday::InjectArgs),
}

pub fn main() -> ExitCode {
    // `run` starts loading its engine before the command line is parsed
    // (see run::EngineLoad); anything else that names `run` first fails to
    // parse, and the thread ends with the process.
    let engine = std::env::args_os()
        .nth(1)
        .is_some_and(|first| first == "run")
        .then(run::EngineLoad::start);
    let cli = Cli::parse();
    if !delivers(&cli.command) {
        die_quietly_on_broken_pipe();
    }
    // What an unexpected error exits with: `run` keeps its own code apart from
    // the wrapped command's, the other commands use 2 like a usage error.
    let (outcome, fallback) = match cli.command {
        Command::Check { policy, json } => (check::run(&policy, json), 2),
        Command::Classify(args) => (classify::run(args), 2),
        Command::Plan(args) => (plan::run(args), 2),
        Command::Run(args) => (run::run(args, engine), exit::BACKSTOP_ERROR),
        Command::Stats(args) => (stats::run(args), 2),
        Command::Alerts(command) => (alerts::run(command), 2),
        Command::Export(command) => (export::run(command), 2),
        Command::Simulate(command) => (fleet::run(command), 2),
        Command::Gameday(args) => (gameday::run(args), 2),
        Command::GamedayInject(args) => (gameday::inject::run(args), 2),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => match err.downcast_ref::<Exit>() {
            // An unsupported policy format is an invalid policy.
            None if err.downcast_ref::<YamlPolicy>().is_some() => {
                eprintln!("backstop: {err:#}");
                ExitCode::from(if fallback == 2 { 1 } else { fallback })
            }
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

/// Commands that run processes or deliver alerts (to a command sink's stdin,
/// which may close early): they keep SIGPIPE ignored and handle EPIPE.
fn delivers(command: &Command) -> bool {
    matches!(
        command,
        Command::Run(_)
            | Command::Alerts(alerts::AlertsCommand::Tick(_) | alerts::AlertsCommand::Ack(_))
    )
}

/// The output commands end quietly when their reader goes away
/// (`backstop plan | head`), killed by SIGPIPE as coreutils are. Rust ignores
/// SIGPIPE, which turns the write into an EPIPE error and `println!` into a
/// panic ("failed printing to stdout") with exit status 101.
fn die_quietly_on_broken_pipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread starts; resetting
    // a signal's disposition to its default has no other effect.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// A policy file named `.yaml` / `.yml`.
#[derive(Debug)]
struct YamlPolicy(PathBuf);

impl std::fmt::Display for YamlPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: YAML is not supported, use TOML or JSON (docs/POLICY.md)",
            self.0.display()
        )
    }
}

impl std::error::Error for YamlPolicy {}

fn read_policy(path: &Path) -> Result<String> {
    let yaml = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    if yaml {
        return Err(YamlPolicy(path.to_path_buf()).into());
    }
    std::fs::read_to_string(path).with_context(|| format!("reading policy {}", path.display()))
}

/// Print a policy's diagnostics on stderr; a document that failed to parse
/// and reads like YAML gets that said first, rather than only a TOML error.
fn render_diagnostics(label: &str, source: &str, errors: &[PolicyError]) {
    if errors.iter().any(|e| e.code == ErrorCode::Syntax) && looks_like_yaml(source) {
        eprintln!("backstop: {label} looks like YAML: YAML is not supported, use TOML or JSON");
    }
    for error in errors {
        eprintln!("{}", render_diagnostic(label, error));
    }
}

/// Whether a document reads like YAML: a `---` or `%YAML` start, or more
/// `key: value` / `- item` lines than TOML `key = value` / `[table]` lines.
/// Only asked about documents that failed to parse, so a miss costs a hint.
fn looks_like_yaml(source: &str) -> bool {
    let lines: Vec<&str> = source
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let Some(first) = lines.first() else {
        return false;
    };
    if first.starts_with('{') || first.starts_with("//") || first.starts_with("/*") {
        return false;
    }
    if *first == "---" || first.starts_with("--- ") || first.starts_with("%YAML") {
        return true;
    }
    let yaml_line = |l: &str| {
        if l == "-" || l.starts_with("- ") {
            return true;
        }
        // `key:` or `key: value`, where the key comes before any `=`.
        match l.find(':') {
            Some(colon) => {
                let key = &l[..colon];
                let after = &l[colon + 1..];
                !key.is_empty()
                    && !key.contains('=')
                    && !key.contains('[')
                    && (after.is_empty() || after.starts_with(' '))
            }
            None => false,
        }
    };
    let toml_line = |l: &str| {
        l.starts_with('[')
            || l.find('=')
                .is_some_and(|eq| l.find(':').is_none_or(|colon| eq < colon))
    };
    let yaml = lines.iter().filter(|l| yaml_line(l)).count();
    yaml > 0 && yaml > lines.iter().filter(|l| toml_line(l)).count()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_is_told_apart_from_toml_and_json() {
        let yaml = [
            "---\nretry:\n  max_attempts: 3\n",
            "retry:\n  max_attempts: 3\n  base_delay: 1s\n",
            "# nightly\nclassify:\n  rules:\n    - id: x\n      class: transient\n",
        ];
        for doc in yaml {
            assert!(looks_like_yaml(doc), "{doc}");
        }
        let not_yaml = [
            "",
            "[retry]\nmax_attempts = 3\n",
            "[[alerts.rules]]\ncondition = \"run.failure_count >= 1\"\nnotify = [\"a:b\"]\n",
            "{\"rules\": []}",
            "// comment\n{\"retry\": {}}",
            "max_attempts = = 3\n",
        ];
        for doc in not_yaml {
            assert!(!looks_like_yaml(doc), "{doc}");
        }
    }
}
