//! Alert delivery through the policy's sinks (which the guest validated and
//! hands over through the WIT's `sinks`): routing a notification to its
//! sinks and one try at stdout, a JSON-lines file, a command or a webhook.
//! The bodies are rendered in `cli/bodies.rs`; retries, claims and dead
//! letters belong to the outbox (`cli/outbox.rs`).

use super::mask::{mask_urls, masked_url};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use backstop::Failure;
use backstop::alerts::{Notification, Sink, SinkKind};

use super::fmt::duration;

pub use super::bodies::line;

/// How the alert log and messages name a sink.
pub fn sink_label(sink: &Sink) -> String {
    let first = sink.location.first().map(String::as_str).unwrap_or("");
    match sink.kind {
        SinkKind::Stdout => "stdout".into(),
        SinkKind::File => format!("file:{first}"),
        SinkKind::Webhook => format!("webhook:{}", masked_url(first)),
        SinkKind::Command => format!("command:{first}"),
    }
}

/// The sinks a notification goes to: those naming one of its targets, else
/// the default (`*`) ones. `None` entries are targets with no sink at all
/// (reported on stderr).
pub fn route<'a>(sinks: &'a [Sink], n: &Notification) -> Vec<Route<'a>> {
    let mut out: Vec<Route<'a>> = Vec::new();
    for target in &n.targets {
        let named: Vec<&Sink> = sinks.iter().filter(|s| &s.target == target).collect();
        let chosen = if named.is_empty() {
            sinks.iter().filter(|s| s.target == "*").collect()
        } else {
            named
        };
        if chosen.is_empty() {
            out.push(Route::Stderr(target.clone()));
        }
        for sink in chosen {
            // One delivery per sink, however many of the targets it serves.
            if !out
                .iter()
                .any(|r| matches!(r, Route::Sink(s) if std::ptr::eq(*s, sink)))
            {
                out.push(Route::Sink(sink));
            }
        }
    }
    out
}

#[derive(Debug)]
pub enum Route<'a> {
    Sink(&'a Sink),
    /// A target with no sink.
    Stderr(String),
}

impl Route<'_> {
    pub fn label(&self) -> String {
        match self {
            Route::Sink(s) => sink_label(s),
            Route::Stderr(target) => format!("stderr:{target}"),
        }
    }
}

/// A target without a sink: the notification goes to stderr, at once (there
/// is nothing to retry, so it never enters the outbox).
pub fn print_unrouted(target: &str, n: &Notification) {
    eprintln!(
        "backstop: alert for {target} (no sink): {} {} [{}] {} ({})",
        n.kind.as_str(),
        n.severity.as_str(),
        n.rule,
        n.summary,
        n.dedup_key
    );
}

/// One POST: `Err` with the failure for the planner, a message and the
/// server's Retry-After (seconds or an HTTP-date), when it sent one.
#[allow(clippy::result_large_err)]
pub fn post(
    url: &str,
    body: &str,
    timeout: Duration,
) -> Result<(), (Failure, String, Option<u64>)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let result = agent
        .post(url)
        .header("content-type", "application/json")
        .header(
            "user-agent",
            concat!("backstop/", env!("CARGO_PKG_VERSION")),
        )
        .send(body);
    match result {
        Ok(response) => {
            let status = response.status().as_u16();
            if (200..300).contains(&status) {
                return Ok(());
            }
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    backstop::retrying::parse_retry_after(v, std::time::SystemTime::now())
                })
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            let text = response
                .into_body()
                .read_to_string()
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect::<String>();
            let failure = Failure {
                http_status: Some(status),
                message: Some(text.clone()),
                ..Failure::default()
            };
            let detail = if text.trim().is_empty() {
                String::new()
            } else {
                format!(": {}", text.trim())
            };
            Err((failure, format!("HTTP {status}{detail}"), retry_after))
        }
        Err(e) => {
            let code = error_code(&e);
            let failure = Failure {
                error_code: Some(code.to_string()),
                message: Some(mask_urls(&e.to_string())),
                ..Failure::default()
            };
            Err((failure, mask_urls(&format!("{e} ({code})")), None))
        }
    }
}

/// The errno-style code the built-in rules know.
fn error_code(e: &ureq::Error) -> &'static str {
    match e {
        ureq::Error::Timeout(_) => "ETIMEDOUT",
        ureq::Error::HostNotFound => "EAI_AGAIN",
        ureq::Error::ConnectionFailed => "ECONNREFUSED",
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "ECONNREFUSED",
            std::io::ErrorKind::ConnectionReset => "ECONNRESET",
            std::io::ErrorKind::ConnectionAborted => "ECONNABORTED",
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => "ETIMEDOUT",
            std::io::ErrorKind::BrokenPipe => "EPIPE",
            _ => "EIO",
        },
        _ => "EPROTO",
    }
}

/// Append one line and fsync it.
pub fn append_line(path: &Path, line: &str) -> Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.write_all(format!("{line}\n").as_bytes())
        .and_then(|()| file.sync_data())
        .with_context(|| format!("writing {}", path.display()))
}

/// Run the command with the notification on stdin; kill it at the timeout.
pub fn run_command(argv: &[String], line: &str, timeout: Duration) -> Result<()> {
    let (program, args) = argv.split_first().context("a command sink without argv")?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {program}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that ignores its input may close it early: not an error.
        let _ = stdin.write_all(format!("{line}\n").as_bytes());
    }
    let end = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            if status.success() {
                return Ok(());
            }
            bail!("{program} failed ({status})");
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{program} did not finish within {}",
                duration(timeout.as_millis() as u64)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
