//! Alert delivery through the policy's sinks (which the guest validated and
//! hands over through the WIT's `sinks`): stdout, a JSON-lines file, a
//! command, or a webhook whose retries are planned by our own planner, with a
//! dead-letter file when it gives up.

use super::mask::{mask_urls, masked_url};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use backstop::alerts::{Notification, NotificationKind, Severity, Sink, SinkFormat, SinkKind};
use backstop::{AttemptFailure, Failure, Format, Policy, RetryState, Session, SharedState};
use serde_json::{Value, json};

use super::fmt::{duration, now_ms, rfc3339};

/// The retry policy webhook deliveries use (planned by the guest, like any retry).
const WEBHOOK_RETRY: &str = "\
[retry]
max_attempts = 4
unknown_max_attempts = 4
base_delay = \"200ms\"
multiplier = 2
max_delay = \"2s\"
jitter = \"equal\"
deadline = \"2m\"
";

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
        "dedup_key": n.dedup_key,
        "payload": {
            "summary": n.summary,
            "severity": severity,
            "source": source,
            "custom_details": n.payload,
        },
    })
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

/// Delivers notifications; holds the planner policy for webhook retries.
pub struct Deliverer {
    retry: Option<Policy>,
    /// `pipeline/step` for PagerDuty's `source` when the payload lacks them.
    pub source: String,
    /// Where a webhook sink without `dead_letter` puts what it gave up on.
    pub dead_letter: PathBuf,
}

impl Deliverer {
    pub fn new(source: String, dead_letter: PathBuf) -> Deliverer {
        Deliverer {
            retry: None,
            source,
            dead_letter,
        }
    }

    /// Deliver through one route; `Err` carries the last error when it gave up.
    pub fn deliver(
        &mut self,
        session: &mut Session,
        route: &Route<'_>,
        n: &Notification,
        at_ms: u64,
    ) -> Result<()> {
        let sink = match route {
            Route::Stderr(target) => {
                eprintln!(
                    "backstop: alert for {target} (no sink): {} {} [{}] {} ({})",
                    n.kind.as_str(),
                    n.severity.as_str(),
                    n.rule,
                    n.summary,
                    n.dedup_key
                );
                return Ok(());
            }
            Route::Sink(sink) => *sink,
        };
        let body = if sink.format == SinkFormat::Pagerduty {
            let target = if sink.target == "*" {
                n.targets.first().map(String::as_str).unwrap_or("*")
            } else {
                sink.target.as_str()
            };
            pagerduty_body(n, target, &source_of(n, &self.source))
        } else {
            backstop_body(n, at_ms)
        };
        let line = serde_json::to_string(&body)?;
        match sink.kind {
            SinkKind::Stdout => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{line}")?;
                out.flush()?;
                Ok(())
            }
            SinkKind::File => {
                let path = sink.location.first().context("a file sink without path")?;
                append_line(Path::new(path), &line)
            }
            SinkKind::Command => run_command(
                &sink.location,
                &line,
                Duration::from_millis(sink.timeout_ms),
            ),
            SinkKind::Webhook => {
                let url = sink
                    .location
                    .first()
                    .context("a webhook sink without url")?;
                let timeout = Duration::from_millis(sink.timeout_ms);
                match self.post_with_retries(session, url, &line, timeout) {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        let path = sink
                            .dead_letter
                            .as_ref()
                            .map_or_else(|| self.dead_letter.clone(), PathBuf::from);
                        let record = json!({
                            "at": rfc3339(now_ms()),
                            "sink": sink_label(sink),
                            "error": format!("{e:#}"),
                            "notification": backstop_body(n, at_ms),
                            "body": body,
                        });
                        let written = append_line(&path, &serde_json::to_string(&record)?);
                        match written {
                            Ok(()) => Err(e.context(format!(
                                "gave up; written to the dead-letter file {}",
                                path.display()
                            ))),
                            Err(w) => Err(e.context(format!(
                                "gave up, and the dead-letter file failed too: {w:#}"
                            ))),
                        }
                    }
                }
            }
        }
    }

    fn retry_policy(&mut self, session: &mut Session) -> Result<Policy> {
        if let Some(p) = self.retry {
            return Ok(p);
        }
        let p = session.load_policy(WEBHOOK_RETRY, Format::Toml)?;
        self.retry = Some(p);
        Ok(p)
    }

    /// POST with retries: each wait comes from the guest's planner.
    fn post_with_retries(
        &mut self,
        session: &mut Session,
        url: &str,
        body: &str,
        timeout: Duration,
    ) -> Result<()> {
        let policy = self.retry_policy(session)?;
        let mut state = RetryState {
            seed: session.derive_seed(url)?,
            ..RetryState::default()
        };
        let mut shared = SharedState::default();
        loop {
            let permit = session.begin_attempt(policy, &state, &shared, now_ms())?;
            if let Some(reason) = permit.refused {
                bail!("webhook {}: no further attempt ({reason})", masked_url(url));
            }
            state = permit.state;
            shared = permit.shared;
            let started = Instant::now();
            let (failure, error) = match post(url, body, timeout) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let outcome = AttemptFailure {
                failure,
                duration_ms: started.elapsed().as_millis() as u64,
                pushback_ms: None,
            };
            let decision = session.after_failure(policy, &state, &shared, &outcome, now_ms())?;
            state = decision.state;
            shared = decision.shared;
            if let Some(reason) = decision.give_up {
                bail!(
                    "webhook {}: {error} (attempt {}; gave up: {reason})",
                    masked_url(url),
                    permit.attempt
                );
            }
            eprintln!(
                "backstop: webhook {}: {error}; retrying in {}",
                masked_url(url),
                duration(decision.delay_ms)
            );
            std::thread::sleep(Duration::from_millis(decision.delay_ms));
        }
    }
}

/// One POST: `Err` with the failure for the planner and a message.
#[allow(clippy::result_large_err)]
fn post(url: &str, body: &str, timeout: Duration) -> Result<(), (Failure, String)> {
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
            Err((failure, format!("HTTP {status}{detail}")))
        }
        Err(e) => {
            let code = error_code(&e);
            let failure = Failure {
                error_code: Some(code.to_string()),
                message: Some(mask_urls(&e.to_string())),
                ..Failure::default()
            };
            Err((failure, mask_urls(&format!("{e} ({code})"))))
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
fn run_command(argv: &[String], line: &str, timeout: Duration) -> Result<()> {
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
