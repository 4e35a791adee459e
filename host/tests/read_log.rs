//! `backstop run` seeing what failed, with REAL Python steps that raise
//! uncaught errors from real libraries (botocore against a local S3 stand-in,
//! requests against a local HTTP server, a real TCP reset), the log readers
//! reading their tracebacks, the seed's Example 1 policy, and steps that
//! report their failure through the Python one-liner.
//!
//! The Python libraries are pinned in tests/read_log/requirements.txt and
//! installed once into a scratch venv under the target directory; steps that
//! import backstop use the package from python/src. Retry waits are
//! milliseconds; assertions are on outcomes, never on durations.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

const HERE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/read_log");

/// The scratch venv's python, made on first use (once per target directory).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("read-log-venv");
        let python = venv.join("bin/python");
        let requirements = PathBuf::from(HERE).join("requirements.txt");
        let wanted = std::fs::read_to_string(&requirements).unwrap();
        let marker = venv.join("installed-requirements.txt");
        if std::fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) {
            return python;
        }
        let interpreter = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let made = Command::new(&interpreter)
            .args(["-m", "venv", "--clear"])
            .arg(&venv)
            .status()
            .unwrap_or_else(|e| panic!("{interpreter} -m venv: {e} (these tests need python3)"));
        assert!(made.success(), "creating the venv {}", venv.display());
        let installed = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements)
            .status()
            .unwrap();
        assert!(
            installed.success(),
            "pip install -r {} (needs PyPI)",
            requirements.display()
        );
        std::fs::write(&marker, wanted).unwrap();
        python
    })
}

fn example(name: &str) -> String {
    format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn step(name: &str) -> String {
    format!("{HERE}/{name}")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fast retries: the policy's waits shrunk to milliseconds.
const FAST: [&str; 4] = ["--base-delay", "10ms", "--max-delay", "20ms"];

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    /// `backstop run --run-id ID <extra> -- python STEP <step_args>`.
    fn run_python(&self, run_id: &str, extra: &[&str], script: &str, step_args: &[&str]) -> Output {
        let mut args = vec!["run", "--run-id", run_id];
        args.extend_from_slice(extra);
        args.push("--");
        let python = python().to_str().unwrap().to_string();
        let script = step(script);
        args.push(&python);
        args.push(&script);
        args.extend_from_slice(step_args);
        self.backstop(&args)
    }

    fn backstop(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_backstop"))
            .args(args)
            .env(
                "BACKSTOP_CACHE_DIR",
                concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
            )
            .env("BACKSTOP_STATE", self.state())
            .env_remove("BACKSTOP_LEASE_MS")
            .env_remove(BACKSTOP_FAILURE_FILE)
            // The steps import backstop from the source tree, and botocore
            // must find no credentials or config of the machine's.
            .env(
                "PYTHONPATH",
                concat!(env!("CARGO_MANIFEST_DIR"), "/../python/src"),
            )
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// (attempt, class, rule) of each recorded attempt.
    fn attempts(&self, run_id: &str) -> Vec<(u32, Option<String>, Option<String>)> {
        let db = rusqlite::Connection::open(self.state()).unwrap();
        let mut stmt = db
            .prepare(
                "SELECT attempt, class, rule FROM attempts WHERE run_id = ?1 ORDER BY round, attempt",
            )
            .unwrap();
        stmt.query_map([run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

const BACKSTOP_FAILURE_FILE: &str = "BACKSTOP_FAILURE_FILE";

/// The lines backstop printed about failed attempts.
fn failed_lines(out: &Output) -> Vec<String> {
    text(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("backstop: attempt ") && l.contains(" failed ("))
        .map(String::from)
        .collect()
}

fn classes(attempts: &[(u32, Option<String>, Option<String>)]) -> Vec<&str> {
    attempts
        .iter()
        .map(|(_, class, _)| class.as_deref().unwrap_or("-"))
        .collect()
}

#[test]
fn a_botocore_slowdown_is_retried_to_success() {
    let sandbox = Sandbox::new();
    let out = sandbox.run_python("slowdown", &FAST, "s3_get.py", &["SlowDown", "503", "3"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let attempts = sandbox.attempts("slowdown");
    assert_eq!(attempts.len(), 3, "{err}");
    assert_eq!(classes(&attempts), ["transient", "transient", "-"], "{err}");
    let lines = failed_lines(&out);
    assert_eq!(lines.len(), 2, "{err}");
    for line in &lines {
        // The rule, and what was read: `(transient, rule R: ... SlowDown): exit status 1`.
        assert!(line.contains("(transient, rule builtin."), "{line}");
        assert!(line.contains("SlowDown"), "{line}");
        assert!(line.contains("): exit status 1; retry in "), "{line}");
    }
    assert!(err.contains("backstop: attempt 3 succeeded"), "{err}");
}

#[test]
fn a_404_fails_after_one_attempt() {
    let sandbox = Sandbox::new();
    let out = sandbox.run_python("not-found", &FAST, "http_get.py", &["404", "9"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let attempts = sandbox.attempts("not-found");
    assert_eq!(attempts.len(), 1, "{err}");
    assert_eq!(attempts[0].1.as_deref(), Some("permanent"), "{err}");
    let line = &failed_lines(&out)[0];
    assert!(line.contains("404"), "{line}");
    assert!(line.ends_with("giving up (permanent), exiting 1"), "{line}");
}

#[test]
fn a_cuda_out_of_memory_fails_fast() {
    for args in [&[][..], &["--legacy"][..]] {
        let sandbox = Sandbox::new();
        let out = sandbox.run_python("oom", &FAST, "cuda_oom.py", args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        let attempts = sandbox.attempts("oom");
        assert_eq!(attempts.len(), 1, "{args:?}: {err}");
        assert_eq!(
            attempts[0].1.as_deref(),
            Some("permanent"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_chained_connection_reset_is_transient() {
    let sandbox = Sandbox::new();
    let out = sandbox.run_python("reset", &FAST, "reset.py", &["2"]);
    let err = text(&out.stderr);
    // The traceback shows the chain: the cause, then the step's own error.
    assert!(
        err.contains("ConnectionResetError: [Errno 104] Connection reset by peer"),
        "{err}"
    );
    assert!(
        err.contains("The above exception was the direct cause"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(0), "{err}");
    let attempts = sandbox.attempts("reset");
    assert_eq!(classes(&attempts), ["transient", "-"], "{err}");
}

/// The seed's Example 1 through `backstop run`, with no extra rules: the
/// policy's five attempts for a 503, one for a 404 (and for S3's NoSuchKey).
#[test]
fn example_1_gives_five_attempts_for_a_503_and_one_for_a_404() {
    let policy = example("storage-read.toml");
    let mut extra = vec!["--policy", policy.as_str()];
    extra.extend_from_slice(&FAST);

    let sandbox = Sandbox::new();
    let out = sandbox.run_python("e1-503", &extra, "http_get.py", &["503", "99"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let attempts = sandbox.attempts("e1-503");
    assert_eq!(attempts.len(), 5, "{err}");
    assert!(
        attempts
            .iter()
            .all(|(_, class, rule)| class.as_deref() == Some("transient")
                && rule.as_deref() == Some("storage-5xx")),
        "{attempts:?}\n{err}"
    );
    assert!(
        err.contains("giving up (attempts-exhausted), exiting 1"),
        "{err}"
    );

    let out = sandbox.run_python("e1-404", &extra, "http_get.py", &["404", "99"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let attempts = sandbox.attempts("e1-404");
    assert_eq!(attempts.len(), 1, "{err}");
    assert_eq!(attempts[0].1.as_deref(), Some("permanent"), "{err}");

    let out = sandbox.run_python(
        "e1-nosuchkey",
        &extra,
        "s3_get.py",
        &["NoSuchKey", "404", "99"],
    );
    let err = text(&out.stderr);
    let attempts = sandbox.attempts("e1-nosuchkey");
    assert_eq!(attempts.len(), 1, "{err}");
    assert_eq!(
        (attempts[0].1.as_deref(), attempts[0].2.as_deref()),
        (Some("permanent"), Some("missing-partition")),
        "{err}"
    );
}

/// A step that installs `backstop.install_excepthook()` is classified on its
/// report: the NoSuchKey comes from botocore's exception object itself.
#[test]
fn a_step_reporting_through_the_python_excepthook_is_classified_on_the_report() {
    let policy = example("storage-read.toml");
    let mut extra = vec!["--policy", policy.as_str()];
    extra.extend_from_slice(&FAST);
    let sandbox = Sandbox::new();
    let out = sandbox.run_python(
        "reported",
        &extra,
        "s3_get.py",
        &["NoSuchKey", "404", "99", "--report"],
    );
    let err = text(&out.stderr);
    // The hook chains the default one: the traceback is still printed.
    assert!(
        err.contains("botocore.errorfactory.NoSuchKey: An error occurred (NoSuchKey)"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(1), "{err}");
    let line = &failed_lines(&out)[0];
    assert_eq!(
        line,
        "backstop: attempt 1 failed (permanent, rule missing-partition: reported \
         botocore.errorfactory.NoSuchKey NoSuchKey (HTTP 404)): exit status 1; giving up \
         (permanent), exiting 1"
    );
}

/// `report_failure` in an `except` block, then a quiet exit: the logs say
/// nothing a reader recognises, the report says it all.
#[test]
fn a_step_calling_report_failure_is_classified_on_the_report() {
    let sandbox = Sandbox::new();
    let script = sandbox.dir.path().join("quiet.py");
    std::fs::write(
        &script,
        r#"
import os, sys
import backstop

class Throttled(Exception):
    retry_after = 0.03

try:
    raise Throttled("the feature store is throttling this job")
except Throttled as exc:
    assert backstop.report_failure(exc)
    print("giving up on this attempt", file=sys.stderr)
    sys.exit(0 if os.environ["BACKSTOP_ATTEMPT"] == "2" else 3)
"#,
    )
    .unwrap();
    let policy = sandbox.dir.path().join("throttled.toml");
    std::fs::write(
        &policy,
        r#"version = 1
[[classify.rules]]
id = "feature-store-throttled"
class = "transient"
error_type = "__main__.Throttled"
[retry]
base_delay = "10ms"
max_delay = "20ms"
"#,
    )
    .unwrap();
    let python = python().to_str().unwrap();
    let out = sandbox.backstop(&[
        "run",
        "--run-id",
        "quiet",
        "--policy",
        policy.to_str().unwrap(),
        "--",
        python,
        script.to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let line = &failed_lines(&out)[0];
    // The report's pushback (30ms) outweighs the policy's 10ms backoff.
    assert_eq!(
        line,
        "backstop: attempt 1 failed (transient, rule feature-store-throttled: reported \
         __main__.Throttled): exit status 3; retry in 30ms"
    );
}

/// `classify --log` reads a saved traceback as `run` reads a live one.
#[test]
fn classify_log_reads_a_saved_traceback() {
    let sandbox = Sandbox::new();
    let log = sandbox.dir.path().join("step.log");
    let run = Command::new(python())
        .arg(step("s3_get.py"))
        .args(["SlowDown", "503", "9"])
        .env("BACKSTOP_ATTEMPT", "1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    std::fs::write(&log, &run.stderr).unwrap();
    let out = sandbox.backstop(&[
        "classify",
        "--log",
        log.to_str().unwrap(),
        "--exit-code",
        "1",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["class"], "transient", "{answer}");
    assert_eq!(answer["read"]["source"], "log", "{answer}");
    assert_eq!(
        answer["read"]["failure"]["error_code"], "SlowDown",
        "{answer}"
    );
    assert_eq!(answer["read"]["failure"]["exit_code"], 1, "{answer}");
}
