//! The CLI contract scripts rely on: exit codes, JSON shapes, diagnostics.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn backstop(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_backstop"))
        .args(args)
        // A cache shared by these tests, so only the first compiles the component.
        .env(
            "BACKSTOP_CACHE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = stdin.unwrap_or("").to_string();
    let mut pipe = child.stdin.take().unwrap();
    std::thread::spawn(move || pipe.write_all(input.as_bytes()));
    child.wait_with_output().unwrap()
}

fn example(name: &str) -> String {
    format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn write_temp(name: &str, text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let path = path.to_string_lossy().into_owned();
    (dir, path)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_accepts_the_bundled_example() {
    let out = backstop(&["check", "--policy", &example("storage-read.toml")], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("valid"));
}

#[test]
fn check_reports_every_problem_with_location_and_exits_1() {
    let (_dir, path) = write_temp(
        "bad.toml",
        "[[classify.rules]]\nid = \"a\"\nclas = \"transient\"\nhttp_status = 700\n",
    );
    let out = backstop(&["check", "--policy", &path], None);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("{path}:3:1: error[unknown-field]: classify.rules[0].clas: unknown field `clas`; did you mean `class`?")), "{err}");
    assert!(
        err.contains(&format!(
            "{path}:4:15: error[out-of-range]: classify.rules[0].http_status"
        )),
        "{err}"
    );
    assert!(err.contains("3 problems"), "{err}");
}

#[test]
fn check_json_lists_errors() {
    let (_dir, path) = write_temp("bad.json", "{\"clasify\": {}}");
    let out = backstop(&["check", "--policy", &path, "--json"], None);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["errors"][0]["code"], "unknown-field");
    assert_eq!(v["errors"][0]["path"], "clasify");
    assert_eq!(v["errors"][0]["line"], 1);
    assert_eq!(v["errors"][0]["column"], 2);
}

#[test]
fn check_on_a_missing_file_is_an_error_not_a_verdict() {
    let out = backstop(&["check", "--policy", "/nonexistent/policy.toml"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("reading policy /nonexistent/policy.toml"));
}

#[test]
fn classify_json_has_class_rule_reason() {
    let out = backstop(&["classify", "--http-status", "503", "--json"], None);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["class"], "transient");
    assert_eq!(v["rule"], "builtin.http-transient");
    assert_eq!(
        v["reason"],
        "HTTP status 503 matched rule `builtin.http-transient`"
    );
}

#[test]
fn classify_human_output_is_short() {
    let out = backstop(
        &[
            "classify",
            "--policy",
            &example("storage-read.toml"),
            "--http-status",
            "404",
        ],
        None,
    );
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        "permanent (rule builtin.http-permanent)\n  HTTP status 404 matched rule `builtin.http-permanent`\n"
    );
}

#[test]
fn classify_walks_the_cause_chain_outermost_first() {
    let out = backstop(
        &[
            "classify",
            "--json",
            "--error-type",
            "RuntimeError",
            "--error-type",
            "urllib3.exceptions.ReadTimeoutError",
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["rule"], "builtin.network-exceptions");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("cause 1 in the chain")
    );
}

#[test]
fn classify_unmatched_is_unknown_with_null_rule() {
    let out = backstop(&["classify", "--json", "--exit-code", "-3"], None);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["class"], "unknown");
    assert!(v["rule"].is_null());
}

#[test]
fn classify_rejects_bad_input_naming_the_flag() {
    let out = backstop(&["classify", "--grpc-code", "BOGUS"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--grpc-code: `BOGUS` is not a gRPC status"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn classify_with_an_invalid_policy_prints_diagnostics() {
    let (_dir, path) = write_temp("p.toml", "[classify]\nbuiltin_rules = 1\n");
    let out = backstop(
        &["classify", "--policy", &path, "--http-status", "503"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("2:17: error[wrong-type]: classify.builtin_rules"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn batch_answers_one_line_per_failure_and_flags_bad_lines() {
    let input = "{\"http_status\": 503}\n\nnot json\n{\"grpc_code\": \"NOPE\"}\n{\"http_status\": 404, \"bogus\": 1}\n{\"error_code\": \"SlowDown\"}\n";
    let out = backstop(&["classify", "--batch"], Some(input));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a bad line makes the exit status 1"
    );
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        5,
        "blank lines are skipped, every other line answered"
    );
    assert_eq!(lines[0]["rule"], "builtin.http-transient");
    assert_eq!(lines[1]["error"]["code"], "invalid-failure");
    assert!(
        lines[1]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 3:")
    );
    assert_eq!(lines[2]["error"]["path"], "failure.grpc_code");
    assert!(
        lines[3]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `bogus`")
    );
    assert_eq!(lines[4]["rule"], "builtin.cloud-throttling");
}

#[test]
fn batch_on_the_bundled_examples_succeeds() {
    let input = std::fs::read_to_string(example("failures.jsonl")).unwrap();
    let out = backstop(
        &[
            "classify",
            "--batch",
            "--policy",
            &example("storage-read.toml"),
        ],
        Some(&input),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let first = stdout(&out).lines().next().unwrap().to_string();
    assert_eq!(
        first,
        r#"{"class":"transient","rule":"storage-5xx","reason":"object storage hiccup; safe to retry"}"#
    );
}

#[test]
fn precompiled_code_is_cached_and_reused() {
    let cache = tempfile::tempdir().unwrap();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_backstop"))
            .args(["classify", "--http-status", "503", "--json"])
            .env("BACKSTOP_CACHE_DIR", cache.path())
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success());
    let files: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].extension().is_some_and(|e| e == "cwasm"));
    let modified = std::fs::metadata(&files[0]).unwrap().modified().unwrap();
    let second = run();
    assert_eq!(first.stdout, second.stdout);
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().modified().unwrap(),
        modified,
        "reused, not rewritten"
    );

    // A corrupted cache file is not trusted: it is recompiled and replaced.
    std::fs::write(&files[0], b"garbage").unwrap();
    let third = run();
    assert!(
        third.status.success(),
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );
    assert_eq!(first.stdout, third.stdout);
    assert!(std::fs::metadata(&files[0]).unwrap().len() > 1000);
}

/// Run backstop with its stdout on a real pipe whose reader is already gone,
/// as `backstop ... | head` leaves it once head exits: every write fails.
fn into_closed_pipe(args: &[&str], state: &std::path::Path) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_backstop"))
        .args(args)
        .env(
            "BACKSTOP_CACHE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
        )
        .env("BACKSTOP_STATE", state)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn output_into_a_closed_pipe_ends_quietly_as_coreutils_do() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    let seed = example("seed-alerts.json");
    let history = example("nightly-history.jsonl");
    let policy = example("storage-read.toml");
    let commands: [&[&str]; 4] = [
        &["plan", "--policy", &policy],
        &[
            "alerts",
            "simulate",
            "--policy",
            &seed,
            "--history",
            &history,
        ],
        &["alerts", "list"],
        &["classify", "--http-status", "503"],
    ];
    for args in commands {
        let out = into_closed_pipe(args, &state);
        // Killed by SIGPIPE, with nothing on stderr: no panic, no exit 101.
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {:?} {}",
            out.status,
            stderr(&out)
        );
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

#[test]
fn a_pipe_into_head_takes_the_first_line_quietly() {
    // The shell's own pipeline, as a user types it.
    let script = format!(
        "{} plan --policy {} | head -n 1",
        env!("CARGO_BIN_EXE_backstop"),
        example("storage-read.toml")
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .env(
            "BACKSTOP_CACHE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
        )
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn yaml_policies_are_named_as_such() {
    let yaml = "retry:\n  max_attempts: 3\n  base_delay: 1s\n";
    for name in ["policy.yaml", "policy.YML"] {
        let (_dir, path) = write_temp(name, yaml);
        let out = backstop(&["check", "--policy", &path], None);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("YAML is not supported, use TOML or JSON"),
            "{}",
            stderr(&out)
        );
        let plan = backstop(&["plan", "--policy", &path], None);
        assert_eq!(plan.status.code(), Some(1), "{}", stderr(&plan));
        let run = backstop(
            &["run", "--policy", &path, "--run-id", "r", "--", "true"],
            None,
        );
        assert_eq!(run.status.code(), Some(125), "{}", stderr(&run));
        assert!(stderr(&run).contains("YAML is not supported"));
    }
    // YAML content under a .toml name: said before the TOML syntax error.
    let (_dir, path) = write_temp("policy.toml", &format!("---\n{yaml}"));
    let out = backstop(&["check", "--policy", &path], None);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("looks like YAML: YAML is not supported, use TOML or JSON"),
        "{err}"
    );
    assert!(err.contains("error[syntax]"), "{err}");
    // A TOML typo does not get the YAML hint.
    let (_dir, path) = write_temp("typo.toml", "[retry]\nmax_attempts = = 3\n");
    let out = backstop(&["check", "--policy", &path], None);
    assert!(!stderr(&out).contains("YAML"), "{}", stderr(&out));
}

#[test]
fn every_flag_of_check_and_classify_has_help() {
    for command in ["check", "classify"] {
        let out = backstop(&[command, "--help"], None);
        assert!(out.status.success());
        let help = stdout(&out);
        let mut flags = 0;
        let lines: Vec<&str> = help.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            if !trimmed.starts_with("--")
                && !trimmed.starts_with("-h")
                && !trimmed.starts_with("-V")
            {
                continue;
            }
            flags += 1;
            // Short help puts the description after the flag on its line; long
            // help on the following, more indented line.
            let same_line = trimmed
                .split_once("  ")
                .is_some_and(|(_, d)| !d.trim().is_empty());
            let next = lines.get(i + 1).copied().unwrap_or("");
            let indent = |s: &str| s.len() - s.trim_start().len();
            assert!(
                same_line || (!next.trim().is_empty() && indent(next) > indent(line)),
                "{command}: `{}` has no help:\n{help}",
                trimmed
            );
        }
        assert!(flags >= 2, "{help}");
    }
}
