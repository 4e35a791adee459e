//! The README's snippets are files under `examples/snippets/`, and they run:
//! the README's code blocks must equal those files, the shell snippets run
//! against the built `backstop`, and the Rust snippet reads from a local HTTP
//! server that answers 503 and then 200. (Node, Python and Go run theirs in
//! their own suites.)

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[path = "../../examples/snippets/retry.rs"]
#[allow(dead_code)] // its `main` is for users; the test calls `read`
mod snippet;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn snippets_dir() -> PathBuf {
    root().join("examples/snippets")
}

/// Every file under `examples/snippets`, relative to it.
fn snippet_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(&snippets_dir(), &snippets_dir(), &mut out);
    out.sort();
    out
}

/// The README's fenced code blocks, without their fences.
fn readme_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        if line.starts_with("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some(String::new()),
            }
        } else if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    assert!(current.is_none(), "README.md has an unclosed code block");
    blocks
}

#[test]
fn the_readme_shows_each_snippet_file_exactly() {
    let files: Vec<(PathBuf, String)> = snippet_files()
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "go.sum"))
        .map(|f| {
            let text = std::fs::read_to_string(snippets_dir().join(&f)).unwrap();
            (f, text)
        })
        .collect();
    let blocks = readme_blocks();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let orchestrator_section = readme
        .split_once("\n## On your orchestrator")
        .map_or("", |(_, rest)| {
            rest.split_once("\n## ").map_or(rest, |(s, _)| s)
        });
    for block in &blocks {
        let is_snippet = files.iter().any(|(_, text)| text == block);
        // The only other kind of block: one line naming a script of the repository.
        let is_script = block.lines().count() == 1 && root().join(block.trim()).is_file();
        // Orchestrator blocks are excerpts of the runnable examples under
        // examples/<orchestrator>/; python/tests/test_orchestration.py checks
        // them against those files and the orchestrator suites run the files.
        let is_orchestrator_excerpt = orchestrator_section.contains(block.as_str());
        assert!(
            is_snippet || is_script || is_orchestrator_excerpt,
            "this README block is not a file under examples/snippets/ (copy it there, or \
             update the file it came from):\n{block}"
        );
    }
    for (file, text) in &files {
        assert!(
            blocks.contains(text),
            "examples/snippets/{} differs from its README block (or is not in the README)",
            file.display()
        );
    }
}

/// A directory for the shell snippets: `examples` linked in (they run from
/// the repository root), `backstop` on the PATH, and a `cargo` stand-in that
/// runs the built binary, so the test needs no second build. It logs its
/// arguments so the test can check the commands the snippet gives cargo.
struct Shell {
    dir: tempfile::TempDir,
}

impl Shell {
    fn new() -> Shell {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_backstop"), bin.join("backstop")).unwrap();
        let cargo = bin.join("cargo");
        std::fs::write(
            &cargo,
            "#!/bin/sh\n\
             echo \"$*\" >> \"$CARGO_STANDIN_LOG\"\n\
             case \"$1\" in\n\
             install) exit 0 ;;\n\
             run) while [ \"$1\" != -- ]; do shift; done; shift; exec backstop \"$@\" ;;\n\
             esac\n\
             echo \"cargo stand-in: unexpected $*\" >&2; exit 2\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap();
        std::os::unix::fs::symlink(root().join("examples"), work.join("examples")).unwrap();
        Shell { dir }
    }

    fn run(&self, snippet: &str) -> Output {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new("sh")
            .args(["-e", &format!("examples/snippets/{snippet}")])
            .current_dir(self.dir.path().join("work"))
            .env("PATH", path)
            .env("CARGO_STANDIN_LOG", self.dir.path().join("cargo.log"))
            .env("BACKSTOP_STATE", self.dir.path().join("state.db"))
            .env("FLAKY_STEP_DIR", self.dir.path().join("flaky"))
            .env(
                "BACKSTOP_CACHE_DIR",
                concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
            )
            .output()
            .unwrap()
    }

    fn cargo_calls(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("cargo.log")).unwrap_or_default()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The expected output a snippet shows as `#   ...` lines after a command.
fn shown_output(snippet: &str) -> Vec<String> {
    std::fs::read_to_string(snippets_dir().join(snippet))
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("#   "))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_main_job_recovers_the_flaky_step() {
    let sh = Shell::new();
    let out = sh.run("main-job.sh");
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        sh.cargo_calls()
            .starts_with("run --release -p backstop -- run --policy examples/nightly.toml"),
        "{}",
        sh.cargo_calls()
    );
    assert!(text(&out.stdout).contains("train: model written"), "{err}");
    assert!(err.contains("attempt 3 succeeded"), "{err}");
}

#[test]
fn the_quickstart_runs_and_prints_what_it_shows() {
    let sh = Shell::new();
    let out = sh.run("quickstart.sh");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", text(&out.stderr));
    assert_eq!(sh.cargo_calls(), "install --path host\n");
    let shown = shown_output("quickstart.sh");
    assert_eq!(shown.len(), 3, "{shown:?}");
    for line in shown {
        assert!(
            stdout.lines().any(|l| l.trim_end() == line.trim_end()),
            "the quickstart shows `{line}`, but printed:\n{stdout}"
        );
    }
    assert!(sh.dir.path().join("work/backstop.prom").is_file());
}

#[test]
fn the_alerts_snippet_runs_and_its_summary_is_true() {
    let sh = Shell::new();
    let out = sh.run("alerts.sh");
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}\n{stdout}");
    assert!(
        stdout.contains("no firing or acknowledged alerts"),
        "{stdout}"
    );
    assert!(stderr.contains("tick: nothing due"), "{stderr}");
    // The summary the snippet shows is the one simulate prints.
    let summary = shown_output("alerts.sh")
        .into_iter()
        .find_map(|l| l.strip_prefix("summary: ").map(str::to_string))
        .expect("a summary line");
    let rows = [
        ("notifications", "notifications"),
        ("pages (high/critical)", "pages (high/critical)"),
        ("infos", "infos"),
        ("resolved", "resolved"),
        ("suppressed", "suppressed"),
        ("duplicate", "duplicate"),
        ("time paged", "time paged"),
    ];
    for (shown_label, printed_label) in rows {
        let value = summary
            .split(shown_label)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .map(|v| v.trim_end_matches([',', ')']))
            .unwrap_or_else(|| panic!("`{shown_label}` in {summary}"));
        assert!(
            stdout.lines().any(|l| {
                let l = l.trim();
                l.starts_with(printed_label)
                    && l[printed_label.len()..].trim_start().starts_with(value)
                    && l.ends_with(value)
            }),
            "the snippet shows {shown_label} {value}; simulate printed:\n{stdout}"
        );
    }
}

/// The seed's Example 1 as the README shows it: `extract.py` is the user's
/// step, here one that fails its first attempt the way a requests download of
/// a 503 does and then succeeds; `step.log` is that failure saved.
#[test]
fn the_example_1_snippet_retries_the_step_and_classifies_its_log() {
    const TRACEBACK: &str = "Traceback (most recent call last):\n  \
        File \"extract.py\", line 9, in <module>\n    response.raise_for_status()\n\
        requests.exceptions.HTTPError: 503 Server Error: Service Unavailable for url: \
        http://storage.local/features/part-0001.parquet\n";
    let sh = Shell::new();
    let work = sh.dir.path().join("work");
    std::fs::write(
        work.join("extract.py"),
        format!(
            "import os, sys\n\
             if os.environ['BACKSTOP_ATTEMPT'] == '1':\n    \
             sys.stderr.write({TRACEBACK:?})\n    sys.exit(1)\n\
             print('extracted 1 partition')\n"
        ),
    )
    .unwrap();
    std::fs::write(work.join("step.log"), TRACEBACK).unwrap();
    let out = sh.run("example-1.sh");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}\n{stdout}");
    assert!(
        stderr.contains("attempt 1 failed (transient, rule storage-5xx"),
        "{stderr}"
    );
    assert!(stdout.contains("extracted 1 partition"), "{stdout}");
    // `classify --log` reads the saved log with the same readers.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("transient (rule storage-5xx)")),
        "{stdout}"
    );
}

#[test]
fn the_policy_snippet_is_valid() {
    let out = Command::new(env!("CARGO_BIN_EXE_backstop"))
        .args(["check", "--policy"])
        .arg(snippets_dir().join("policy.toml"))
        .env(
            "BACKSTOP_CACHE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A local HTTP server that answers 503 first, then 200 with `body`; returns
/// its url and how many requests it has seen.
fn flaky_server(body: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/part-0.csv", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let (status, text) = if count.fetch_add(1, Ordering::SeqCst) == 0 {
                ("503 Service Unavailable", "try again")
            } else {
                ("200 OK", body)
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (url, seen)
}

#[test]
fn the_rust_snippet_retries_a_503() {
    let (url, seen) = flaky_server("a,b\n1,2\n");
    let policy = root().join("examples/nightly.toml");
    let body = snippet::read(policy.to_str().unwrap(), &url).unwrap();
    assert_eq!(body, "a,b\n1,2\n");
    assert_eq!(seen.load(Ordering::SeqCst), 2, "one 503, then the retry");
}

#[path = "common/month.rs"]
mod month;

/// A shown line and a printed one, with every duration (`153ms`, `1m10s`,
/// `15.3s`) replaced and runs of spaces collapsed: what a game day measures
/// varies from run to run, the rest of its report does not.
fn without_durations(line: &str) -> String {
    line.split_whitespace()
        .map(|word| {
            let core = word.trim_matches(|c: char| "()<=,;[]".contains(c));
            let is_duration = !core.is_empty()
                && core.starts_with(|c: char| c.is_ascii_digit())
                && core.ends_with(['s', 'm', 'h', 'd'])
                && core
                    .chars()
                    .all(|c| c.is_ascii_digit() || "._mshd".contains(c));
            if is_duration {
                word.replace(core, "<duration>")
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_gameday_snippet_prints_what_it_shows() {
    let sh = Shell::new();
    let out = sh.run("gameday.sh");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", text(&out.stderr));
    let printed: Vec<String> = stdout.lines().map(without_durations).collect();
    let shown = shown_output("gameday.sh");
    assert!(shown.len() > 20, "{shown:?}");
    for line in shown {
        assert!(
            printed.contains(&without_durations(&line)),
            "the game day snippet shows `{line}`, but printed:\n{stdout}"
        );
    }
    assert!(stdout.contains("PASS: 20 expectation(s) met"), "{stdout}");
}

/// The weekly stats the README shows are those of the generated month
/// (host/tests/common/month.rs, checked figure by figure in stats_trends.rs).
#[test]
fn the_stats_snippet_prints_what_it_shows_for_the_generated_month() {
    let sh = Shell::new();
    month::generate(&sh.dir.path().join("state.db"));
    let out = sh.run("stats.sh");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", text(&out.stderr));
    let shown = shown_output("stats.sh");
    let printed: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        shown, printed,
        "the stats snippet shows other lines than it prints"
    );
    let page = std::fs::read_to_string(sh.dir.path().join("work/stats.html")).unwrap();
    assert_eq!(page.matches(r#"<svg class="chart""#).count(), 4);
}

#[test]
fn the_kubernetes_snippet_exports_the_golden_files_and_its_pods_recover_the_step() {
    let sh = Shell::new();
    let out = sh.run("kubernetes.sh");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", text(&out.stderr));
    // What it exports is what host/tests/export.rs and tests/manifests check.
    for (written, golden) in [
        ("job.yaml", "examples/kubernetes/job.yaml"),
        ("template.yaml", "examples/argo/template.yaml"),
    ] {
        let written = std::fs::read_to_string(sh.dir.path().join("work").join(written)).unwrap();
        let golden = std::fs::read_to_string(root().join(golden)).unwrap();
        assert_eq!(written, golden, "{golden}");
    }
    // The pods' statuses, as shown: retry me twice, then success, then the
    // succeeded run id is not run again (the step's third try is its last).
    let shown = shown_output("kubernetes.sh");
    let printed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("pod ")).collect();
    assert_eq!(printed, shown, "{stdout}\n{}", text(&out.stderr));
    assert_eq!(stdout.matches("train: run").count(), 3, "{stdout}");
    assert!(text(&out.stderr).contains("already succeeded"));
}
