//! End to end: a step prints a secret of every covered family on stderr and
//! stdout under `backstop run`, with every sink type (stdout, file, command,
//! and a webhook on 127.0.0.1 that fails, with credentials in its URL). Every
//! file backstop wrote, every row of the state database (and its raw bytes),
//! every HTTP body, backstop's own output and `stats --json` is searched for
//! the raw values: zero hits.
//!
//! The step's own output passes through to the terminal unchanged, as it does
//! without backstop (stdout is the step's, inherited): what is checked there
//! is what backstop itself writes (`backstop:` lines and the stdout sink's
//! notifications).

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::Value;

struct Secret {
    family: &'static str,
    /// How the step prints it (shell-quoted by the test).
    line: String,
    /// What must never be found.
    value: String,
}

fn secrets() -> Vec<Secret> {
    let s = |family, line: &str, value: &str| Secret {
        family,
        line: line.to_string(),
        value: value.to_string(),
    };
    let pem_lines = [
        "MIIEowIBAAKCAQEAv3QwPn5Ld9e7Qk2XcWm8JrT6hYp0sNa4LbFz1gKuVxDiEq7c",
        "Hn2Ls8Rt4Yw6Pq1Zx9Vb3Nm5Kj7Gf0Da2Sd4Fg6Hj8Kl1Qw3Er5Ty7Ui9Op0AsDf",
    ];
    let long_token = "Ym9zcy1sb25nLXRva2VuLQ".repeat(240); // > 4 KB on one line
    let mut out = vec![
        s(
            "aws-access-key-id",
            "boto: using key AKIAQWERTYUIOPASDF23 now",
            "AKIAQWERTYUIOPASDF23",
        ),
        s(
            "aws-secret-access-key",
            "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY9",
            "wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY9",
        ),
        s(
            "gcp-api-key",
            "maps key=AIzaSyD3x9Lq_4fKp2mNzR8tVw0bYcXe1uGhJ5k",
            "AIzaSyD3x9Lq_4fKp2mNzR8tVw0bYcXe1uGhJ5k",
        ),
        s(
            "gcp-service-account",
            r#"{"type": "service_account", "private_key_id": "5f3e2d1c0b9a88776655443322110ffeeddccbba"}"#,
            "5f3e2d1c0b9a88776655443322110ffeeddccbba",
        ),
        s(
            "azure-storage-key",
            "DefaultEndpointsProtocol=https;AccountName=ml;AccountKey=Zk9vYmFyQmF6UXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6QUJD==;EndpointSuffix=core.windows.net",
            "Zk9vYmFyQmF6UXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6QUJD",
        ),
        s(
            "azure-sas",
            "GET https://a.blob.core.windows.net/c/m.pt?sv=2022-11-02&sig=Q2hlY2tTYXNTaWduYXR1cmUxMjM0NTY3ODkw%3D 403",
            "Q2hlY2tTYXNTaWduYXR1cmUxMjM0NTY3ODkw",
        ),
        s(
            "github-token",
            "remote: token ghp_R4nd0mT0k3nV4lu3F0rT3st1ngXyZ0123456 rejected",
            "ghp_R4nd0mT0k3nV4lu3F0rT3st1ngXyZ0123456",
        ),
        s(
            "gitlab-token",
            "glab auth login --token glpat-Xy12Zq34Wv56Ut78Sr90",
            "glpat-Xy12Zq34Wv56Ut78Sr90",
        ),
        s(
            "slack-token",
            "slack: xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx failed",
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        ),
        s(
            "stripe-key",
            "Invalid API Key provided: sk_live_51Hx9Qk2Lm3Nn4Oo5Pp6Qq7Rr8",
            "sk_live_51Hx9Qk2Lm3Nn4Oo5Pp6Qq7Rr8",
        ),
        s(
            "openai-api-key",
            "Incorrect API key provided: sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78.",
            "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78",
        ),
        s(
            "huggingface-token",
            "hub: login hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
            "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
        ),
        s(
            "jwt",
            "id_token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0cmFpbmVyIiwiZXhwIjo5OTk5fQ.c2lnbmF0dXJlLXZhbHVlLWhlcmUtMTIz",
            "eyJzdWIiOiJ0cmFpbmVyIiwiZXhwIjo5OTk5fQ",
        ),
        s(
            "url-password-slash",
            "fetch https://admin:pa/ss8Wq@registry.example/v2 failed",
            "pa/ss8Wq",
        ),
        s(
            "url-password-at",
            "psql postgres://u:p@ssS04xy@db.internal/features",
            "p@ssS04xy",
        ),
        s(
            "quoted-password",
            r#"connect(password="correct horse S08", host="db")"#,
            "correct horse S08",
        ),
        s(
            "flag-password",
            "mysqldump --password Fl4gP4ss-77 features",
            "Fl4gP4ss-77",
        ),
        s(
            "authorization-token",
            "Authorization: Token 8d1f0e2c9b7a6d5e4f3a2b1c0d9e8f7a6b5c4d3e",
            "8d1f0e2c9b7a6d5e4f3a2b1c0d9e8f7a6b5c4d3e",
        ),
        s(
            "curl-user",
            "+ curl -sf -u admin:CurlPw-9931 https://nexus.internal/x",
            "CurlPw-9931",
        ),
        s(
            "cookie",
            "Cookie: sessionid=C00k13S3ss10nV4lu3xyz; theme=dark",
            "C00k13S3ss10nV4lu3xyz",
        ),
        s(
            "entropy-near-name",
            "using token Qm8xLp2Vr7Tz9Ws4Yk6Hn3Jd for upload",
            "Qm8xLp2Vr7Tz9Ws4Yk6Hn3Jd",
        ),
    ];
    out.push(Secret {
        family: "bearer-over-4kb",
        line: format!("> Authorization: Bearer {long_token}"),
        value: long_token[..40].to_string(),
    });
    for (i, l) in pem_lines.iter().enumerate() {
        out.push(Secret {
            family: "private-key",
            line: if i == 0 {
                format!("-----BEGIN RSA PRIVATE KEY-----\n{l}")
            } else {
                format!("{l}\n-----END RSA PRIVATE KEY-----")
            },
            value: l.to_string(),
        });
    }
    out
}

/// The webhook's credentials, which must not be printed or recorded either.
const HOOK_USER_PASSWORD: &str = "Wh00kP4ssw0rd";
const HOOK_QUERY_TOKEN: &str = "QueryT0kenZ9";

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A server that records request bodies and answers 503, then 400 (a retry
/// with a stderr message, then a permanent failure and a dead letter).
fn failing_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            answer(stream, if i % 2 == 0 { 503 } else { 400 }, &seen);
        }
    });
    (port, bodies)
}

fn answer(mut stream: TcpStream, status: u16, seen: &Mutex<Vec<String>>) {
    let Some(body) = common::read_request_body(&mut stream) else {
        return;
    };
    seen.lock().unwrap().push(body);
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-length: 4\r\nconnection: close\r\n\r\nnope"
    );
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Every text cell of every table.
fn database_cells(path: &Path) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut cells = Vec::new();
    for table in tables {
        let mut stmt = db.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns: Vec<String> = stmt.column_names().map(|c| c.to_string()).collect();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for (i, column) in columns.iter().enumerate() {
                let text = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        String::from_utf8_lossy(t).into_owned()
                    }
                    _ => continue,
                };
                cells.push((format!("{table}.{column}"), text));
            }
        }
    }
    cells
}

fn backstop(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backstop"))
        .args(args)
        .current_dir(dir)
        .env(
            "BACKSTOP_CACHE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
        )
        .env("BACKSTOP_STATE", dir.join("state.db"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn no_secret_leaves_through_any_sink_file_row_body_or_stream() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let secrets = secrets();

    // The step: every secret on stderr, and again on stdout, then exit 3.
    let mut script = String::from("#!/bin/sh\n");
    for s in &secrets {
        script.push_str(&format!("printf '%s\\n' {} >&2\n", sh_quote(&s.line)));
        script.push_str(&format!("printf '%s\\n' {}\n", sh_quote(&s.line)));
    }
    script.push_str("echo 'training failed' >&2\nexit 3\n");
    let step = dir.path().join("step.sh");
    std::fs::write(&step, script).unwrap();

    let (port, bodies) = failing_server();
    let hook =
        format!("http://hook:{HOOK_USER_PASSWORD}@127.0.0.1:{port}/hook?token={HOOK_QUERY_TOKEN}");
    let policy = format!(
        r#"version = 1
[retry]
max_attempts = 2
base_delay = "10ms"
max_delay = "10ms"
unknown_max_attempts = 2

[alerts]
payload = ["pipeline", "step", "run_id", "error_message", "last_log_lines", "labels"]

[[alerts.rules]]
id = "failed"
condition = "run.failure_count >= 1"
severity = "high"
notify = ["oncall"]

[[alerts.sinks]]
type = "stdout"

[[alerts.sinks]]
type = "file"
path = "{file}"

[[alerts.sinks]]
type = "command"
command = ["sh", "-c", "cat >> {cmd}"]

[[alerts.sinks]]
type = "webhook"
url = "{hook}"
timeout = "2s"
dead_letter = "{dead}"
"#,
        file = work.join("alerts.jsonl").display(),
        cmd = work.join("command.out").display(),
        dead = work.join("dead-letter.jsonl").display(),
    );
    let policy_path = dir.path().join("nightly.toml");
    std::fs::write(&policy_path, &policy).unwrap();

    let run_id = "r1; rm -rf ~ #";
    let out = backstop(
        &work,
        &[
            "run",
            "--policy",
            policy_path.to_str().unwrap(),
            "--run-id",
            run_id,
            "--step",
            "train",
            "--",
            "sh",
            step.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(3), "{stderr}");

    // What backstop itself wrote to its streams (the step's lines pass through).
    let own_stderr: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("backstop:"))
        .collect();
    let notifications: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("dedup_key").is_some())
        .collect();
    assert!(
        !notifications.is_empty(),
        "the stdout sink printed nothing:\n{stdout}"
    );
    assert!(
        own_stderr
            .iter()
            .any(|l| l.contains("webhook") && l.contains("retrying in")),
        "the webhook was not retried: {own_stderr:?}"
    );

    let stats = backstop(&work, &["stats", "--json"]);
    assert!(
        stats.status.success(),
        "{}",
        String::from_utf8_lossy(&stats.stderr)
    );
    let list = backstop(&work, &["alerts", "list"]);

    let mut haystacks: Vec<(String, String)> = vec![
        ("backstop's stderr".into(), own_stderr.join("\n")),
        (
            "stdout sink".into(),
            notifications
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        (
            "stats --json".into(),
            String::from_utf8_lossy(&stats.stdout).into_owned(),
        ),
        (
            "alerts list".into(),
            String::from_utf8_lossy(&list.stdout).into_owned()
                + &String::from_utf8_lossy(&list.stderr),
        ),
    ];
    let received = bodies.lock().unwrap().clone();
    assert!(
        received.len() >= 2,
        "the webhook got {} requests",
        received.len()
    );
    for (i, body) in received.iter().enumerate() {
        haystacks.push((format!("HTTP body #{i}"), body.clone()));
    }
    // Every file backstop wrote: sinks, dead letters, the database (raw bytes too).
    let files = files_under(&work);
    for name in ["alerts.jsonl", "command.out", "dead-letter.jsonl"] {
        assert!(
            work.join(name).exists(),
            "{name} was not written; files: {files:?}"
        );
    }
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        haystacks.push((
            path.display().to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    let db = work.join("state.db");
    let cells = database_cells(&db);
    assert!(
        cells.iter().any(|(c, _)| c.starts_with("alert_log.")),
        "no alert_log rows"
    );
    let mut checked_cells = 0;
    for (column, text) in cells {
        // The stored policy is the user's own configuration (it names the
        // webhook, credentials and all, as the policy file does).
        if column.ends_with(".policy_source") {
            continue;
        }
        checked_cells += 1;
        haystacks.push((format!("state.db {column}"), text));
    }
    assert!(checked_cells > 10);

    let mut hits = Vec::new();
    for s in &secrets {
        for (where_, text) in &haystacks {
            if text.contains(&s.value) {
                hits.push(format!("{} ({}) in {where_}", s.family, s.value));
            }
        }
    }
    for value in [HOOK_USER_PASSWORD, HOOK_QUERY_TOKEN] {
        for (where_, text) in &haystacks {
            let raw_file_of_db = where_.ends_with("state.db") || where_.ends_with("-wal");
            if !raw_file_of_db && text.contains(value) {
                hits.push(format!("webhook credential {value} in {where_}"));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "{} leaks:\n{}",
        hits.len(),
        hits.join("\n")
    );

    // The payload kept context and the runbook quoted the hostile run id.
    let payload = &notifications[0]["payload"];
    let lines = payload["last_log_lines"].as_array().unwrap();
    let joined: Vec<&str> = lines.iter().filter_map(Value::as_str).collect();
    assert!(
        joined
            .iter()
            .any(|l| l.contains("Authorization: Bearer [REDACTED]")),
        "{joined:?}"
    );
    assert_eq!(
        payload["runbook"]["how_to_retry"],
        "backstop run --run-id 'r1; rm -rf ~ #' --step train -- <the step's command>"
    );
}

#[test]
fn bad_run_ids_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let touch = format!("touch {}", marker.display());
    let long = "x".repeat(257);
    for (id, why) in [
        ("", "blank"),
        ("   ", "blank"),
        (long.as_str(), "257 bytes"),
        ("a\nb", "U+000A"),
    ] {
        let out = backstop(
            dir.path(),
            &["run", "--run-id", id, "--", "sh", "-c", &touch],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{id:?}: {stderr}");
        assert!(
            stderr.contains("--run-id") && stderr.contains(why),
            "{id:?}: {stderr}"
        );
    }
    let out = backstop(
        dir.path(),
        &[
            "run", "--run-id", "ok", "--step", "a\u{7}b", "--", "sh", "-c", &touch,
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!marker.exists(), "a command ran despite a refused id");
}
