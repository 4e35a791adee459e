//! `backstop gameday` with real processes: each shipped scenario passes
//! against the real `backstop run`; a wrong expectation fails with a diff and
//! exit status 1; malformed scenarios are errors naming file, line and key;
//! a hung attempt is stopped by the attempt timeout.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn gameday(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backstop"))
        .arg("gameday")
        .args(args)
        .current_dir(root())
        .env(
            "BACKSTOP_CACHE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
        )
        .env_remove("BACKSTOP_STATE")
        .env_remove("BACKSTOP_LEASE_MS")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a shipped scenario, returns its JSON report after checking it passed.
fn shipped(name: &str) -> Value {
    let scenario = format!("examples/gameday/{name}.toml");
    let out = gameday(&["--scenario", &scenario, "--json", "-"]);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", text(&out.stdout), text(&out.stderr)));
    assert!(
        out.status.success(),
        "{name} failed:\n{report:#}\n{}",
        text(&out.stderr)
    );
    assert_eq!(report["passed"], true);
    assert!(!report["expectations"].as_array().unwrap().is_empty());
    report
}

#[test]
fn the_storage_read_scenario_passes() {
    let report = shipped("storage-read");
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(
        runs[0]["classes"],
        serde_json::json!(["transient", "transient", "success"])
    );
    assert_eq!(runs[1]["give_up"], "permanent");
    // The hang: attempt 1 was stopped by its (compressed) attempt timeout.
    assert_eq!(
        runs[2]["rules"],
        serde_json::json!(["builtin.attempt-timeout"])
    );
    assert!(runs[0]["recovery_ms"].as_u64().is_some());
    let changes = report["compression"]["changes"].to_string();
    assert!(
        changes.contains("retry.attempt_timeout 1m -> 600ms"),
        "{changes}"
    );
}

#[test]
fn the_training_restart_scenario_passes() {
    let report = shipped("training-restart");
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs[0]["outcome"], "worker-killed");
    // The restarted worker continued the count where the dead one stopped.
    assert_eq!(runs[1]["first_attempt"], 2);
    assert_eq!(runs[2]["outcome"], "already-succeeded");
}

#[test]
fn the_alert_escalation_scenario_passes() {
    let report = shipped("alert-escalation");
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs[0]["pages"], 0);
    assert_eq!(runs[3]["pages"], 1);
}

fn scratch_scenario(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("scenario.toml");
    let policy = root().join("examples/storage-read.toml");
    let body = body.replace("$POLICY", policy.to_str().unwrap());
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn a_wrong_expectation_fails_with_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    let path = scratch_scenario(
        dir.path(),
        r#"policy = "$POLICY"
time_scale = 0.01
[[attempts]]
exit = 1
report = { http_status = 503 }
[[attempts]]
exit = 0
[expect]
outcome = "succeeded"
attempts = 3
classes = ["transient", "permanent"]
"#,
    );
    let json = dir.path().join("report.json");
    let out = gameday(&[
        "--scenario",
        path.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("FAIL: 2 of 3 expectation(s) not met"),
        "{stdout}"
    );
    assert!(
        stdout.contains("run 1 attempts: expected 3 attempt(s), 2 ran"),
        "{stdout}"
    );
    assert!(
        stdout.contains("run 1 classes: attempt 2: expected permanent, got success"),
        "{stdout}"
    );
    // The table shows expected and actual side by side.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("1") && l.contains("outcome") && l.ends_with("ok")),
        "{stdout}"
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(report["passed"], false);
    let failed: Vec<&Value> = report["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ok"] == false)
        .collect();
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0]["expected"], "3");
    assert_eq!(failed[0]["actual"], "2");
}

#[test]
fn malformed_scenarios_name_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // A key that does not exist.
        (
            "time_scale = 0.5\n[[attempts]]\nexitt = 1\n",
            ":3: key attempts[0]",
            "exitt",
        ),
        // A value of the wrong type.
        (
            "[[attempts]]\nexit = 0\n[expect]\nattempts = \"three\"\n",
            ":4: key expect.attempts",
            "invalid type",
        ),
        // A value the checks refuse.
        (
            "[[attempts]]\nsignal = \"SIGFOO\"\n",
            ":2: key attempts[0].signal",
            "not a signal",
        ),
        (
            "time_scale = 3\n[[attempts]]\nexit = 0\n",
            ":1: key time_scale",
            "out of range",
        ),
        ("[[attempts]\nexit = 0\n", ":1", "unclosed"),
        (
            "[[runs]]\n[[runs.attempts]]\nexit = 0\n[runs.expect]\nclasses = [\"flaky\"]\n",
            ":5: key runs[0].expect.classes",
            "not a class",
        ),
    ];
    for (body, place, problem) in cases {
        let path = scratch_scenario(dir.path(), body);
        let out = gameday(&["--scenario", path.to_str().unwrap()]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{body}\n{err}");
        assert!(
            err.contains(&format!("{}{place}", path.display())),
            "{body}\nwanted {place}:\n{err}"
        );
        assert!(err.contains(problem), "{body}\nwanted {problem}:\n{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_hang_is_stopped_by_the_attempt_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = scratch_scenario(
        dir.path(),
        r#"policy = "$POLICY"
time_scale = 0.01
[[attempts]]
hang = true
[[attempts]]
exit = 0
[expect]
outcome = "succeeded"
classes = ["transient", "success"]
rules = ["builtin.attempt-timeout"]
exit_status = 0
"#,
    );
    let state = dir.path().join("state");
    let out = gameday(&[
        "--scenario",
        path.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let transcript = std::fs::read_to_string(state.join("run-1/stderr")).unwrap();
    assert!(
        transcript.contains("attempt 1 failed (transient, rule builtin.attempt-timeout")
            && transcript.contains("timed out after 600ms"),
        "{transcript}"
    );
}
