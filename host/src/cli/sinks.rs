//! Alert delivery: the policy's `[[alerts.sinks]]` read on the host (the guest
//! has validated them already), and delivery of notifications through them:
//! stdout, a JSON-lines file, a command, or a webhook whose retries are planned
//! by our own planner, with a dead-letter file when it gives up.

use super::mask::{mask_urls, masked_url};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use backstop::alerts::{Notification, NotificationKind, Severity};
use backstop::{AttemptFailure, Failure, Format, Policy, RetryState, Session, SharedState};
use serde_json::{Value, json};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    Stdout,
    File,
    Webhook,
    Command,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sink {
    pub target: String,
    pub kind: SinkKind,
    /// The file path, the url, or the command's argv.
    pub location: Vec<String>,
    pub pagerduty: bool,
    pub timeout: Duration,
    pub dead_letter: Option<PathBuf>,
}

impl Sink {
    /// How the alert log names it.
    pub fn label(&self) -> String {
        let first = self.location.first().map(String::as_str).unwrap_or("");
        match self.kind {
            SinkKind::Stdout => "stdout".into(),
            SinkKind::File => format!("file:{first}"),
            SinkKind::Webhook => format!("webhook:{}", masked_url(first)),
            SinkKind::Command => format!("command:{first}"),
        }
    }
}

/// What the host needs from a policy's alert section.
#[derive(Debug, Clone, Default)]
pub struct AlertSection {
    /// The document has alert rules at all (`[alerts]` or the seed's format).
    pub present: bool,
    pub sinks: Vec<Sink>,
}

/// Read the alert section of a policy document (already validated by the guest).
pub fn read_section(source: &str, format: Format) -> Result<AlertSection> {
    let doc: Value = match format {
        Format::Toml => {
            let table: toml::Table = toml::from_str(source)?;
            serde_json::to_value(table)?
        }
        Format::Json if source.trim().is_empty() => Value::Null,
        Format::Json => jsonc_parser::parse_to_serde_value(source, &Default::default())?,
    };
    let seed = doc.get("rules").is_some() && doc.get("alerts").is_none();
    let section = if seed { Some(&doc) } else { doc.get("alerts") };
    let Some(section) = section else {
        return Ok(AlertSection::default());
    };
    let mut sinks = Vec::new();
    if let Some(Value::Array(items)) = section.get("sinks") {
        for item in items {
            sinks.push(read_sink(item)?);
        }
    }
    Ok(AlertSection {
        present: true,
        sinks,
    })
}

fn read_sink(item: &Value) -> Result<Sink> {
    let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_string);
    let kind = match text("type").as_deref() {
        Some("stdout") => SinkKind::Stdout,
        Some("file") => SinkKind::File,
        Some("webhook") => SinkKind::Webhook,
        Some("command") => SinkKind::Command,
        other => bail!("unknown sink type {other:?}"),
    };
    let key = match kind {
        SinkKind::Stdout => None,
        SinkKind::File => Some("path"),
        SinkKind::Webhook => Some("url"),
        SinkKind::Command => Some("command"),
    };
    let location = match key.and_then(|k| item.get(k)) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let timeout = text("timeout")
        .and_then(|t| humantime::parse_duration(t.trim()).ok())
        .unwrap_or(Duration::from_secs(10));
    Ok(Sink {
        target: text("target").unwrap_or_else(|| "*".into()),
        kind,
        location,
        pagerduty: text("format").as_deref() == Some("pagerduty"),
        timeout,
        dead_letter: text("dead_letter").map(PathBuf::from),
    })
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
            Route::Sink(s) => s.label(),
            Route::Stderr(target) => format!("stderr:{target}"),
        }
    }
}

pub fn rfc3339(ms: u64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms);
    if ms.is_multiple_of(1000) {
        humantime::format_rfc3339_seconds(t).to_string()
    } else {
        humantime::format_rfc3339_millis(t).to_string()
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

    /// The exact line a sink gets for a notification (what the outbox stores).
    pub fn line(&self, sink: &Sink, n: &Notification, at_ms: u64) -> Result<String> {
        let body = if sink.pagerduty {
            let target = if sink.target == "*" {
                n.targets.first().map(String::as_str).unwrap_or("*")
            } else {
                sink.target.as_str()
            };
            pagerduty_body(n, target, &source_of(n, &self.source))
        } else {
            backstop_body(n, at_ms)
        };
        Ok(serde_json::to_string(&body)?)
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
                    kind_name(n.kind),
                    severity_name(n.severity),
                    n.rule,
                    n.summary,
                    n.dedup_key
                );
                return Ok(());
            }
            Route::Sink(sink) => *sink,
        };
        let body = if sink.pagerduty {
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
            SinkKind::Command => run_command(&sink.location, &line, sink.timeout),
            SinkKind::Webhook => {
                let url = sink
                    .location
                    .first()
                    .context("a webhook sink without url")?;
                match self.post_with_retries(session, url, &line, sink.timeout) {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        let path = sink
                            .dead_letter
                            .clone()
                            .unwrap_or_else(|| self.dead_letter.clone());
                        let record = json!({
                            "at": rfc3339(now_ms()),
                            "sink": sink.label(),
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
            let (failure, error, retry_after) = match post(url, body, timeout) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let outcome = AttemptFailure {
                failure,
                duration_ms: started.elapsed().as_millis() as u64,
                pushback_ms: retry_after,
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
                super::fmt::duration(decision.delay_ms)
            );
            std::thread::sleep(Duration::from_millis(decision.delay_ms));
        }
    }
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
                super::fmt::duration(timeout.as_millis() as u64)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn kind_name(k: NotificationKind) -> &'static str {
    match k {
        NotificationKind::Trigger => "trigger",
        NotificationKind::Escalate => "escalate",
        NotificationKind::Repeat => "repeat",
        NotificationKind::Resolve => "resolve",
    }
}

pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
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

    #[test]
    fn sinks_are_read_from_toml_and_the_seed_format() {
        let s = read_section(
            "[alerts]\n[[alerts.rules]]\ncondition = \"true\"\n[[alerts.sinks]]\ntarget = \"oncall\"\ntype = \"webhook\"\nurl = \"http://x\"\nformat = \"pagerduty\"\ntimeout = \"2s\"\n",
            Format::Toml,
        )
        .unwrap();
        assert!(s.present);
        assert_eq!(s.sinks[0].kind, SinkKind::Webhook);
        assert!(s.sinks[0].pagerduty);
        assert_eq!(s.sinks[0].timeout, Duration::from_secs(2));
        let seed = read_section("{\"rules\": [], \"payload\": []}", Format::Json).unwrap();
        assert!(seed.present && seed.sinks.is_empty());
        assert!(!read_section("[retry]\n", Format::Toml).unwrap().present);
    }
}
