//! Faults under `backstop run` on SQLite: a file-size limit (`ulimit -f` with
//! SIGXFSZ ignored, so writes fail with EFBIG as on a full disk) must either
//! keep the success or fail loudly with nothing lost; a 0-byte state file is
//! refused, never re-initialised.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn backstop(state: &Path, limit_blocks: Option<u64>, args: &[&str]) -> Output {
    let bin = env!("CARGO_BIN_EXE_backstop");
    let mut script = String::from("trap '' XFSZ; ");
    if let Some(blocks) = limit_blocks {
        script.push_str(&format!("ulimit -f {blocks}; "));
    }
    script.push_str("exec \"$@\"");
    Command::new("sh")
        .args(["-c", &script, "sh", bin])
        .args(args)
        .env(
            "BACKSTOP_CACHE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
        )
        .env("BACKSTOP_STATE", state)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The largest of the database's files, in 512-byte blocks (ulimit -f's unit).
fn blocks(state: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", state.display())).ok())
        .map(|m| m.len().div_ceil(512))
        .max()
        .unwrap_or(0)
}

#[test]
fn a_file_size_limit_keeps_the_success_or_fails_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    let marker = dir.path().join("ran");
    let step = format!("echo x >> {}", marker.display());
    // Grow the database a little, then cap every file at its current size.
    for i in 0..3 {
        let out = backstop(
            &state,
            None,
            &["run", "--run-id", &format!("warm{i}"), "--", "true"],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let mut outcomes = Vec::new();
    for (i, extra) in [0u64, 1, 2, 4, 8].iter().enumerate() {
        let run_id = format!("capped{i}");
        let limit = blocks(&state) + extra;
        let before = std::fs::read_to_string(&marker)
            .unwrap_or_default()
            .lines()
            .count();
        let out = backstop(
            &state,
            Some(limit),
            &["run", "--run-id", &run_id, "--", "sh", "-c", &step],
        );
        let count = || {
            std::fs::read_to_string(&marker)
                .unwrap_or_default()
                .lines()
                .count()
        };
        let ran = count() - before;
        let err = text(&out);
        match (out.status.code(), ran) {
            (Some(0), 1) => {
                // Kept: the same run id does not run again.
                let again = backstop(
                    &state,
                    None,
                    &["run", "--run-id", &run_id, "--", "sh", "-c", &step],
                );
                assert!(
                    text(&again).contains("already succeeded"),
                    "{}",
                    text(&again)
                );
                outcomes.push("kept");
            }
            // The command ran but its success could not be written: backstop
            // must say so, loudly.
            (Some(74), 1) => {
                assert!(err.contains("SUCCEEDED"), "{err}");
                outcomes.push("loud");
            }
            // Refused before the command ran: nothing happened to lose.
            (Some(74), 0) => {
                assert!(err.contains("state database"), "{err}");
                outcomes.push("refused before");
            }
            other => panic!("limit {limit}: (exit, ran) {other:?}: {err}"),
        }
    }
    eprintln!("file-size limit outcomes: {outcomes:?}");
}

#[test]
fn an_empty_state_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    std::fs::write(&state, "").unwrap();
    let out = backstop(&state, None, &["run", "--run-id", "r1", "--", "true"]);
    assert_eq!(out.status.code(), Some(74), "{}", text(&out));
    assert!(text(&out).contains("empty (0 bytes)"), "{}", text(&out));
    assert_eq!(std::fs::metadata(&state).unwrap().len(), 0);
}
