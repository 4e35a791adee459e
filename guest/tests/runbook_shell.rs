//! Shell round trip: render a runbook command with hostile values, let a real
//! POSIX shell (`sh -c`) parse it, and compare the argv it passes to
//! `printf` with the values (and with the runbook's argv form).

use std::process::Command;

use backstop_core::alerts::runbook::{Template, Values, default_command, sh_quote};
use proptest::prelude::*;

/// The words `sh` gives `printf '%s\0'` when it runs `command`.
fn shell_words(command: &str) -> Vec<String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(command)
        .output()
        .expect("sh runs");
    assert!(
        out.status.success(),
        "sh failed on {command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8 out");
    let mut words: Vec<String> = text.split('\0').map(str::to_string).collect();
    assert_eq!(words.pop().as_deref(), Some(""), "output ends with NUL");
    words
}

const HOSTILE: &[&str] = &[
    "x; rm -rf ~ #",
    "{step}{pipeline}",
    "{run_id}",
    "$(touch /tmp/backstop-pwned)",
    "`id`",
    "it's \"quoted\"",
    "a\\b\\\\c",
    "  spaces  around  ",
    "*",
    "~root",
    "-n",
    "$HOME ${PATH} $((1+1))",
    "tab\there",
    "new\nline",
    "ünïcødé 日本 🚀",
    "'",
    "''",
    "\"",
    "!event",
    "a|b&c>d<e",
    "--run-id=x",
    "#comment",
    "%s%n",
];

fn template() -> Template {
    Template::parse("printf '%s\\000' {run_id} {step} {pipeline} --id={run_id} x{step}y").unwrap()
}

fn check(run_id: &str, step: &str, pipeline: &str) {
    let t = template();
    let values = Values {
        run_id,
        pipeline,
        step,
    };
    let words = shell_words(&t.shell(&values));
    let expected = vec![
        run_id.to_string(),
        step.to_string(),
        pipeline.to_string(),
        format!("--id={run_id}"),
        format!("x{step}y"),
    ];
    assert_eq!(words, expected, "shell form of {run_id:?} / {step:?}");
    // The argv form says the same, without a shell.
    assert_eq!(t.argv(&values)[2..], expected[..]);
}

#[test]
fn hostile_values_come_back_as_the_same_words() {
    for (i, v) in HOSTILE.iter().enumerate() {
        let other = HOSTILE[(i + 1) % HOSTILE.len()];
        check(v, other, "nightly");
        check("r1", v, other);
    }
    assert!(!std::path::Path::new("/tmp/backstop-pwned").exists());
}

#[test]
fn the_default_command_quotes_run_id_and_step() {
    for v in HOSTILE {
        let (shell, argv) = default_command(&Values {
            run_id: v,
            pipeline: "p",
            step: "train",
        });
        let prefix = shell.strip_suffix(" -- <the step's command>").unwrap();
        let printed = prefix.replacen("backstop run", "printf '%s\\000'", 1);
        assert_eq!(shell_words(&printed), argv[2..6], "{v:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_value_round_trips_through_sh(run_id in "[^\u{0}]{1,24}", step in "[ -~]{1,12}") {
        check(&run_id, &step, "p");
        prop_assert!(!sh_quote(&run_id).is_empty());
    }
}
