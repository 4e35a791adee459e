//! `backstop export kubernetes|argo`: the golden files under
//! examples/kubernetes and examples/argo are exactly what the command prints
//! for examples/orchestrators.toml (tests/manifests, run by tests/run-go.sh,
//! decodes them with the Kubernetes and Argo projects' own types), and the
//! README's YAML excerpts are taken from them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The exact commands the golden files come from (also in their READMEs).
const KUBERNETES: &[&str] = &[
    "export",
    "kubernetes",
    "--policy",
    "examples/orchestrators.toml",
    "--name",
    "nightly-extract",
    "--step",
    "extract",
    "--",
    "python",
    "-m",
    "pipeline.extract",
];
const ARGO: &[&str] = &[
    "export",
    "argo",
    "--policy",
    "examples/orchestrators.toml",
    "--step",
    "extract",
    "--",
    "python",
    "-m",
    "pipeline.extract",
];

fn backstop(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backstop"))
        .args(args)
        .current_dir(root())
        .env(
            "BACKSTOP_CACHE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
        )
        .output()
        .unwrap()
}

fn check_golden(args: &[&str], golden: &str) {
    let out = backstop(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let path = root().join(golden);
    if std::env::var_os("BACKSTOP_BLESS").is_some() {
        std::fs::write(&path, &printed).unwrap();
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        printed,
        stored,
        "{golden} drifted from `backstop {}`; regenerate it (BACKSTOP_BLESS=1 cargo test --test export) \
         and check tests/manifests (tests/run-go.sh)",
        args.join(" ")
    );
}

#[test]
fn the_kubernetes_golden_file_is_what_export_prints() {
    check_golden(KUBERNETES, "examples/kubernetes/job.yaml");
}

#[test]
fn the_argo_golden_file_is_what_export_prints() {
    check_golden(ARGO, "examples/argo/template.yaml");
}

#[test]
fn the_readme_yaml_is_excerpted_from_the_golden_files() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let goldens = [
        "examples/kubernetes/job.yaml",
        "examples/argo/template.yaml",
    ]
    .map(|p| std::fs::read_to_string(root().join(p)).unwrap());
    for block in readme.split("```yaml\n").skip(1) {
        let block = block.split_once("```").unwrap().0;
        assert!(
            goldens.iter().any(|g| g.contains(block)),
            "this README YAML is not an excerpt of examples/kubernetes/job.yaml or \
             examples/argo/template.yaml:\n{block}"
        );
    }
}

#[test]
fn the_retry_me_status_cannot_be_the_permanent_one() {
    let out = backstop(&[
        "export",
        "kubernetes",
        "--policy",
        "examples/orchestrators.toml",
        "--permanent-exit-code",
        "75",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("retry-me"));
}

#[test]
fn an_invalid_policy_is_reported_not_exported() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("bad.toml");
    std::fs::write(&policy, "version = 1\n[retry]\nmax_attempts = 0\n").unwrap();
    let out = backstop(&["export", "argo", "--policy", policy.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        out.stdout.is_empty(),
        "nothing printed for an invalid policy"
    );
}
