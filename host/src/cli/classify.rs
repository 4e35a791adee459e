//! `backstop classify`: one failure from flags or from a saved log, or a
//! stream of JSON lines.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use backstop::{Classification, Engine, Error, Failure, Policy, Session};
use clap::Args;

use super::policy;
use super::reading::{self, Reading};
use super::supervise;

#[derive(Args)]
pub struct ClassifyArgs {
    /// Policy file (.toml or .json); the built-in rules when omitted.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// HTTP status code of the failed request (100-599).
    #[arg(long, value_name = "N")]
    http_status: Option<u16>,
    /// gRPC status by name (UNAVAILABLE) or number (14).
    #[arg(long, value_name = "CODE")]
    grpc_code: Option<String>,
    /// Exit status of the failed process.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    exit_code: Option<i32>,
    /// Terminating signal by name (SIGKILL, KILL) or number.
    #[arg(long, value_name = "NAME")]
    signal: Option<String>,
    /// Error type; repeat for the cause chain, outermost first.
    #[arg(long = "error-type", value_name = "NAME")]
    error_types: Vec<String>,
    /// Provider or errno code (ThrottlingException, SlowDown, ECONNRESET).
    #[arg(long, value_name = "CODE")]
    error_code: Option<String>,
    /// Error message or the last lines of output (matched by message patterns).
    #[arg(long, value_name = "TEXT")]
    message: Option<String>,
    /// Print one JSON object with class, rule and reason.
    #[arg(long)]
    json: bool,
    /// Read one failure per line as JSON from stdin; write one JSON answer per line.
    #[arg(long, conflicts_with_all = ["http_status", "grpc_code", "exit_code", "signal", "error_types", "error_code", "message"])]
    batch: bool,
    /// Classify a saved log (`-`: stdin) as `backstop run` would: the log
    /// readers over its last 50 lines, with --exit-code / --signal as the
    /// command's status. --json adds what was read.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["batch", "http_status", "grpc_code", "error_types", "error_code", "message"])]
    log: Option<PathBuf>,
}

pub fn run(args: ClassifyArgs) -> Result<ExitCode> {
    let mut session = Engine::new()?.session()?;
    let Some(policy) = policy::load_plain(&mut session, args.policy.as_deref())? else {
        return Ok(ExitCode::FAILURE);
    };
    if args.batch {
        return classify_batch(&mut session, policy);
    }
    let failure = Failure {
        http_status: args.http_status,
        grpc_code: args.grpc_code,
        exit_code: args.exit_code,
        signal: args.signal,
        error_types: args.error_types,
        error_bases: Vec::new(),
        error_code: args.error_code,
        message: args.message,
    };
    let read = match &args.log {
        Some(path) => Some(read_log(&mut session, policy, path, &failure)?),
        None => None,
    };
    let failure = read.as_ref().map_or(failure, |r| r.failure.clone());
    match session.classify(policy, &failure) {
        Ok(verdict) => {
            if args.json {
                // A struct, not a `Value`: the keys keep their declared order
                // (class, rule, reason), as the README shows them.
                #[derive(serde::Serialize)]
                struct Answer<'a> {
                    #[serde(flatten)]
                    verdict: &'a Classification,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    read: Option<serde_json::Value>,
                }
                let answer = Answer {
                    verdict: &verdict,
                    read: read.as_ref().map(Reading::to_json),
                };
                println!("{}", serde_json::to_string(&answer)?);
            } else {
                print_human(&verdict);
                if let Some(read) = &read {
                    print_read(read);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(Error::Rejected(error)) => {
            let field = error
                .path
                .strip_prefix("failure.")
                .unwrap_or(&error.path)
                .replace('_', "-");
            eprintln!("backstop: --{field}: {}", error.message);
            Ok(ExitCode::FAILURE)
        }
        Err(other) => Err(other.into()),
    }
}

/// The saved log at `path` (`-`: stdin) through the log readers, clipped to
/// the tail `backstop run` keeps of a live attempt.
fn read_log(
    session: &mut Session,
    policy: Policy,
    path: &Path,
    status: &Failure,
) -> Result<Reading> {
    let tail = if path == Path::new("-") {
        supervise::tail_of(std::io::stdin().lock()).context("reading the log from stdin")?
    } else {
        std::fs::File::open(path)
            .and_then(supervise::tail_of)
            .with_context(|| format!("reading log {}", path.display()))?
    };
    let tail = super::tail::redacted(session, policy, &tail)?;
    reading::read_logs(session, &[("log", &tail)], status)
}

fn print_read(read: &Reading) {
    match (&read.source, read.describe()) {
        (reading::Source::Log { reader, .. }, Some(what)) => {
            println!("  read: {what} (reader {reader})")
        }
        _ => println!(
            "  read: no failure the log readers recognise; classified on the status and the log's end"
        ),
    }
    if let Some(ms) = read.pushback_ms {
        println!("  pushback: {}", super::fmt::duration(ms));
    }
}

fn print_human(verdict: &Classification) {
    match &verdict.rule {
        Some(rule) => println!("{} (rule {rule})", verdict.class),
        None => println!("{} (no rule matched)", verdict.class),
    }
    println!("  {}", verdict.reason);
}

/// One answer per input line, in order. A bad line gets an `{"error": ...}`
/// answer and the run goes on; the exit status is 1 if any line was bad.
fn classify_batch(session: &mut Session, policy: Policy) -> Result<ExitCode> {
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut any_bad = false;
    for (index, line) in stdin.lines().enumerate() {
        let line = line.context("reading stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        // Serialize the struct itself (not a `Value`) so keys keep their declared order.
        let answer = match serde_json::from_str::<Failure>(&line) {
            Err(err) => {
                any_bad = true;
                serde_json::json!({ "error": {
                    "code": "invalid-failure",
                    "message": format!("line {}: {err}", index + 1),
                    "path": "",
                    "line": index + 1,
                    "column": err.column(),
                }})
            }
            Ok(failure) => match session.classify(policy, &failure) {
                Ok(verdict) => {
                    serde_json::to_writer(&mut out, &verdict)?;
                    out.write_all(b"\n")?;
                    continue;
                }
                Err(Error::Rejected(error)) => {
                    any_bad = true;
                    serde_json::json!({ "error": error })
                }
                Err(other) => return Err(other.into()),
            },
        };
        serde_json::to_writer(&mut out, &answer)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(if any_bad {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
