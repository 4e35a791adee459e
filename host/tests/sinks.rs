//! The bodies `backstop run` delivers through each sink format (PagerDuty
//! Events v2, Slack-compatible, a templated JSON body), checked exactly at a
//! real HTTP receiver on 127.0.0.1; the PagerDuty routing key read from the
//! environment at delivery and nowhere else; secrets from the step's output
//! redacted in every body.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// A routing key as PagerDuty issues them (32 characters); it must never be
/// written anywhere but the request to the receiver.
const ROUTING_KEY: &str = "R0ut1ngKeyR0ut1ngKeyR0ut1ngKey32";
const KEY_VAR: &str = "BACKSTOP_TEST_PD_ROUTING_KEY";

/// A GitHub token the failing step prints: the guest's redaction must keep it
/// out of every body.
fn leaked_token() -> String {
    format!("ghp_{}", &"aB3dE5fG7h".repeat(4)[..36])
}

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn backstop(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_backstop"));
        cmd.args(args)
            .env(
                "BACKSTOP_CACHE_DIR",
                concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
            )
            .env("BACKSTOP_STATE", self.path("state.db"))
            .env_remove(KEY_VAR)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// One attempt, a high alert to `oncall` on any failure, a runbook url,
    /// and `sinks` (TOML).
    fn policy(&self, sinks: &str) -> String {
        let text = format!(
            "version = 1\n[retry]\nmax_attempts = 1\n\n[alerts]\n\
             payload = [\"pipeline\", \"step\", \"run_id\", \"error_message\"]\n\
             [alerts.runbook]\nurl = \"https://wiki.example/runbooks/{{pipeline}}/{{step}}\"\n\n\
             [[alerts.rules]]\nid = \"failed\"\ncondition = \"run.failure_count >= 1\"\nseverity = \"high\"\n\
             notify = [\"oncall\"]\n\n{sinks}\n"
        );
        let path = self.path("nightly.toml");
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// `backstop run` of a step that prints a token and fails with status 3.
    fn failing_run(&self, policy: &str, env: &[(&str, &str)]) -> Output {
        // Quotes, braces and a placeholder-like text: filled into a template
        // string, they must stay inside it, unexpanded.
        let script = format!(
            "echo 'upload failed: {{\"token\": \"{}\"}} {{{{summary}}}}' >&2; exit 3",
            leaked_token()
        );
        self.backstop(
            &[
                "run", "--policy", policy, "--run-id", "r1", "--step", "train", "--", "sh", "-c",
                &script,
            ],
            env,
        )
    }

    /// Every byte backstop wrote to its directory (state, WAL, dead letters).
    fn written(&self) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                all.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
            }
        }
        all
    }

    /// (delivered?, dead?, tries, last_error) of every outbox row.
    fn outbox(&self) -> Vec<(bool, bool, i64, Option<String>)> {
        let db = rusqlite::Connection::open(self.path("state.db")).unwrap();
        let mut stmt = db
            .prepare(
                "SELECT delivered_at_ms IS NOT NULL, dead_at_ms IS NOT NULL, tries, last_error \
                 FROM alert_outbox ORDER BY id",
            )
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

/// A receiver on 127.0.0.1 answering 202 to every POST; returns its url and
/// the bodies it received.
fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            if let Some(body) = common::read_request_body(&mut stream) {
                seen.lock().unwrap().push(body);
            }
            let _ = write!(
                stream,
                "HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
            );
        }
    });
    (url, bodies)
}

fn sink(url: &str, extra: &str) -> String {
    format!(
        "[[alerts.sinks]]\ntarget = \"oncall\"\ntype = \"webhook\"\nurl = \"{url}\"\ntimeout = \"2s\"\n{extra}"
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The one body received, parsed, with its wall-clock fields (checked for
/// shape) replaced by `"<now>"` so the rest compares exactly.
fn only_body(bodies: &Mutex<Vec<String>>, out: &Output) -> (String, Value) {
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 1, "{bodies:?}\n{}", stderr(out));
    let text = bodies[0].clone();
    let mut body: Value = serde_json::from_str(&text).unwrap();
    for pointer in [
        "/at",
        "/payload/custom_details/runbook/when",
        "/details/runbook/when",
    ] {
        if let Some(v) = body.pointer_mut(pointer) {
            let s = v.as_str().unwrap();
            assert!(s.ends_with('Z') && s.contains('T'), "{pointer}: {s}");
            *v = json!("<now>");
        }
    }
    if let Some(ts) = body.pointer_mut("/attachments/0/ts") {
        assert!(ts.as_u64().unwrap() > 1_700_000_000, "{ts}");
        *ts = json!("<now>");
    }
    (text, body)
}

const SUMMARY: &str = "[high] nightly/train run r1 failed: unknown (failed; 1 failed attempt(s), 0 failed run(s) in a row)";
const DEDUP: &str = "backstop/failed/nightly/train/r1/";
const RUNBOOK: &str = "https://wiki.example/runbooks/nightly/train";

#[test]
fn pagerduty_gets_the_routing_key_from_the_environment_and_nothing_stores_it() {
    let sb = Sandbox::new();
    let (url, bodies) = receiver();
    let policy = sb.policy(&sink(
        &url,
        &format!("format = \"pagerduty\"\nrouting_key_env = \"{KEY_VAR}\"\n"),
    ));
    let out = sb.failing_run(&policy, &[(KEY_VAR, ROUTING_KEY)]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let (text, body) = only_body(&bodies, &out);
    let details = body["payload"]["custom_details"].clone();
    assert_eq!(
        body,
        json!({
            "routing_key": ROUTING_KEY,
            "event_action": "trigger",
            "dedup_key": DEDUP,
            "payload": {
                "summary": SUMMARY,
                "severity": "error",
                "source": "nightly/train",
                "custom_details": details,
            },
        })
    );
    assert_eq!(details["pipeline"], "nightly");
    assert_eq!(details["runbook"]["url"], RUNBOOK);
    assert!(!text.contains(&leaked_token()), "{text}");
    assert!(
        details["error_message"]
            .as_str()
            .unwrap()
            .contains("REDACTED"),
        "{details}"
    );
    // The key went to the receiver only: not the state database (rows, alert
    // log, outbox body), not a file, not the output.
    assert_eq!(sb.outbox(), vec![(true, false, 1, None)]);
    assert!(!sb.written().contains(ROUTING_KEY));
    assert!(!stderr(&out).contains(ROUTING_KEY));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(ROUTING_KEY));
}

#[test]
fn a_missing_routing_key_variable_is_a_clear_error_and_the_row_waits_for_it() {
    let sb = Sandbox::new();
    let (url, bodies) = receiver();
    let policy = sb.policy(&sink(
        &url,
        &format!("format = \"pagerduty\"\nrouting_key_env = \"{KEY_VAR}\"\n"),
    ));
    let out = sb.failing_run(&policy, &[("BACKSTOP_ALERT_DRAIN_MS", "300")]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        bodies.lock().unwrap().is_empty(),
        "nothing sent without a key"
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "the environment variable {KEY_VAR} (routing_key_env of the pagerduty sink for `oncall`) is not set"
        )),
        "{err}"
    );
    let rows = sb.outbox();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (delivered, dead, tries, error) = &rows[0];
    assert!(!delivered && !dead && *tries >= 1, "{rows:?}");
    assert!(error.as_deref().unwrap().contains(KEY_VAR), "{rows:?}");
    // Once the variable is there, the next sender delivers the same row.
    let out = sb.backstop(
        &["alerts", "tick", "--policy", &policy],
        &[(KEY_VAR, ROUTING_KEY)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (_, body) = only_body(&bodies, &out);
    assert_eq!(body["routing_key"], ROUTING_KEY);
    assert!(sb.outbox()[0].0, "{:?}", sb.outbox());
    assert!(!sb.written().contains(ROUTING_KEY));
}

#[test]
fn a_literal_routing_key_in_the_policy_is_refused_before_the_step_runs() {
    let sb = Sandbox::new();
    let policy = sb.policy(&sink(
        "http://127.0.0.1:9/hook",
        &format!("format = \"pagerduty\"\nrouting_key = \"{ROUTING_KEY}\"\n"),
    ));
    let out = sb.backstop(&["check", "--policy", &policy], &[]);
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("the sink for `oncall` has a literal `routing_key`"),
        "{err}"
    );
    assert!(err.contains("routing_key_env"), "{err}");
    assert!(
        !err.contains(ROUTING_KEY),
        "the error never echoes the key: {err}"
    );
}

#[test]
fn slack_gets_text_with_severity_summary_and_runbook_and_a_coloured_attachment() {
    let sb = Sandbox::new();
    let (url, bodies) = receiver();
    let policy = sb.policy(&sink(&url, "format = \"slack\"\n"));
    let out = sb.failing_run(&policy, &[]);
    let (text, body) = only_body(&bodies, &out);
    assert_eq!(
        body,
        json!({
            "text": format!("*[HIGH] firing* `nightly/train`: {SUMMARY}\n<{RUNBOOK}|Runbook>"),
            "attachments": [{
                "color": "#e01e5a",
                "fallback": format!("[HIGH] firing nightly/train: {SUMMARY}"),
                "fields": [
                    {"title": "Severity", "value": "high", "short": true},
                    {"title": "Source", "value": "nightly/train", "short": true},
                    {"title": "Rule", "value": "failed", "short": true},
                    {"title": "Dedup key", "value": DEDUP, "short": false},
                    {"title": "Runbook", "value": format!("<{RUNBOOK}|{RUNBOOK}>"), "short": false},
                ],
                "ts": "<now>",
            }],
        })
    );
    assert!(!text.contains(&leaked_token()), "{text}");
}

#[test]
fn a_template_is_filled_field_by_field_and_stays_valid_json() {
    let sb = Sandbox::new();
    let (url, bodies) = receiver();
    let policy = sb.policy(&sink(
        &url,
        "format = \"template\"\n[alerts.sinks.template]\n\
         title = \"{{severity}} on {{source}}\"\nwhen = \"{{at}}\"\n\
         text = \"{{summary}} -> {{runbook_url}}\"\nto = \"{{targets}}\"\nkey = \"{{dedup_key}}\"\n\
         details = \"error: {{payload.error_message}}\"\nmissing = \"{{payload.nope}}\"\nconst = [1, true, \"x\"]\n\
         labels = { pipeline = \"{{payload.pipeline}}\", run = \"run {{payload.run_id}}\" }\n",
    ));
    let out = sb.failing_run(&policy, &[]);
    let (text, mut body) = only_body(&bodies, &out);
    let details = body["details"].take();
    assert_eq!(
        body,
        json!({
            "title": "high on nightly/train",
            "when": body["when"],
            "text": format!("{SUMMARY} -> {RUNBOOK}"),
            "to": ["oncall"],
            "key": DEDUP,
            "details": null,
            "missing": null,
            "const": [1, true, "x"],
            "labels": {"pipeline": "nightly", "run": "run r1"},
        })
    );
    let when = body["when"].as_str().unwrap();
    assert!(when.ends_with('Z') && when.contains('T'), "{when}");
    let details = details.as_str().unwrap();
    assert!(
        details.starts_with("error: upload failed: {\"token\": \""),
        "{details}"
    );
    assert!(details.ends_with("\"} {{summary}}"), "{details}");
    assert!(details.contains("REDACTED"), "{details}");
    assert!(!text.contains(&leaked_token()), "{text}");
}

#[test]
fn check_notes_an_unset_routing_key_variable_without_failing() {
    let sb = Sandbox::new();
    let policy = sb.policy(&sink(
        "http://127.0.0.1:9/hook",
        &format!("format = \"pagerduty\"\nrouting_key_env = \"{KEY_VAR}\"\n"),
    ));
    let note = format!(
        "note: {KEY_VAR} (routing_key_env of the pagerduty sink for `oncall`) is not set here"
    );
    let out = sb.backstop(&["check", "--policy", &policy], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains(&note), "{}", stderr(&out));
    let out = sb.backstop(&["check", "--policy", &policy], &[(KEY_VAR, ROUTING_KEY)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("note:"), "{}", stderr(&out));
}
