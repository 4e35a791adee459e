//! Alert delivery through the policy's sinks (which the guest validated and
//! hands over through the WIT's `sinks`): routing a notification to its
//! sinks, the line each sink gets, and one try at stdout, a JSON-lines file,
//! a command or a webhook. Retries, claims and dead letters belong to the
//! outbox (`cli/outbox.rs`).

use super::mask::{mask_urls, masked_url};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use backstop::Failure;
use backstop::alerts::{Notification, NotificationKind, Severity, Sink, SinkFormat, SinkKind};
use serde_json::{Value, json};

use super::fmt::{duration, rfc3339};

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

/// The notification as backstop's own JSON body.
pub fn backstop_body(n: &Notification, at_ms: u64) -> Value {
    json!({
        "at": rfc3339(at_ms),
        "kind": n.kind,
        "severity": n.severity,
        "rule": n.rule,
        "targets": n.targets,
        "dedup_key": n.dedup_key,
        "summary": n.summary,
        "payload": n.payload,
    })
}

/// A PagerDuty Events v2 body; the target name is the routing key.
pub fn pagerduty_body(n: &Notification, target: &str, source: &str) -> Value {
    let action = match n.kind {
        NotificationKind::Resolve => "resolve",
        _ => "trigger",
    };
    // Events v2 knows critical, error, warning and info.
    let severity = match n.severity {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    };
    json!({
        "routing_key": target,
        "event_action": action,
        "dedup_key": pagerduty_dedup_key(&n.dedup_key),
        "payload": {
            "summary": n.summary,
            "severity": severity,
            "source": source,
            "custom_details": n.payload,
        },
    })
}

/// PagerDuty refuses a dedup_key over 255 characters: a longer key (a long
/// run id) becomes a prefix of it and the SHA-256 of the whole, still stable
/// across redeliveries and still distinct per alert.
pub fn pagerduty_dedup_key(key: &str) -> String {
    const MAX: usize = 255;
    if key.chars().count() <= MAX {
        return key.to_string();
    }
    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let prefix: String = key.chars().take(MAX - 1 - hash.len()).collect();
    format!("{prefix}~{hash}")
}

/// `pipeline/step` from the payload, else the caller's.
fn source_of(n: &Notification, fallback: &str) -> String {
    let field = |k: &str| n.payload.get(k).and_then(Value::as_str).map(str::to_string);
    match (field("pipeline"), field("step")) {
        (Some(p), Some(s)) => format!("{p}/{s}"),
        (Some(p), None) => p,
        _ => fallback.to_string(),
    }
}

/// The exact line a sink gets for a notification: what the outbox stores
/// and the courier (`cli/outbox.rs`) delivers, however often it retries.
/// `source` is PagerDuty's `source` when the payload names no pipeline/step.
pub fn line(sink: &Sink, n: &Notification, at_ms: u64, source: &str) -> Result<String> {
    let body = if sink.format == SinkFormat::Pagerduty {
        let target = if sink.target == "*" {
            n.targets.first().map(String::as_str).unwrap_or("*")
        } else {
            sink.target.as_str()
        };
        pagerduty_body(n, target, &source_of(n, source))
    } else {
        backstop_body(n, at_ms)
    };
    Ok(serde_json::to_string(&body)?)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagerduty_dedup_keys_fit_255_characters_and_stay_distinct() {
        let short = "nightly/train/failed";
        assert_eq!(pagerduty_dedup_key(short), short);
        let a = format!("nightly/train/{}a", "x".repeat(400));
        let b = format!("nightly/train/{}b", "x".repeat(400));
        let (ka, kb) = (pagerduty_dedup_key(&a), pagerduty_dedup_key(&b));
        assert_eq!(ka.chars().count(), 255);
        assert_ne!(ka, kb);
        assert_eq!(ka, pagerduty_dedup_key(&a), "stable");
        assert!(ka.starts_with("nightly/train/"));
        let exact = "é".repeat(255);
        assert_eq!(pagerduty_dedup_key(&exact), exact);
    }
}
