//! Redaction and runbook rendering on fuzzed input: the redactor never panics,
//! never grows the text beyond its replacements, is idempotent, and a known
//! secret planted in the fuzzed text never survives; the runbook template
//! parser never panics and its values stay one word each.
#![no_main]

use arbitrary::Arbitrary;
use backstop_core::alerts::{redact_lines, runbook};
use backstop_core::redaction::Redactor;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    text: String,
    /// Where to plant the secret (a char index into `text`), and which one.
    at: u16,
    which: u8,
    max_lines: u8,
    max_chars: u16,
    template: String,
    run_id: String,
    step: String,
}

const PLANTED: [&str; 6] = [
    " ghp_Fuzz0Token0Value0For0Testing00000001 ",
    " AKIAFUZZQWERTYUIOP23 ",
    "\nAuthorization: Bearer fuzzBearerToken0123456789\n",
    "\npassword=\"fuzz pass 0123\"\n",
    "\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----\n",
    " postgres://u:fuzz/p@ss0123@db.example/x ",
];
const VALUES: [&str; 6] = [
    "ghp_Fuzz0Token0Value0For0Testing00000001",
    "AKIAFUZZQWERTYUIOP23",
    "fuzzBearerToken0123456789",
    "fuzz pass 0123",
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
    "fuzz/p@ss0123",
];

fuzz_target!(|input: Input| {
    let redactor = Redactor::builtin();
    let report = redactor.redact(&input.text);
    assert!(report.text.len() <= input.text.len() + 10 * report.total() as usize);
    let again = redactor.redact(&report.text);
    assert_eq!(again.text, report.text, "redaction is idempotent");

    // Plant a secret between characters of the fuzzed text.
    let which = usize::from(input.which) % PLANTED.len();
    let cut = input
        .text
        .char_indices()
        .nth(usize::from(input.at))
        .map_or(input.text.len(), |(i, _)| i);
    let planted = format!(
        "{}{}{}",
        &input.text[..cut],
        PLANTED[which],
        &input.text[cut..]
    );
    let out = redactor.redact(&planted);
    assert!(
        !out.text.contains(VALUES[which]),
        "{:?} survived",
        VALUES[which]
    );
    let lines: Vec<String> = planted.split('\n').map(str::to_string).collect();
    let kept = redact_lines(
        &redactor,
        &lines,
        usize::from(input.max_lines).max(1),
        usize::from(input.max_chars).max(1),
    );
    assert!(kept.iter().all(|l| !l.contains(VALUES[which])));

    // Runbook templates: parse never panics; a parsed one renders each value as one word.
    if let Ok(t) = runbook::Template::parse(&input.template) {
        let values = runbook::Values {
            run_id: &input.run_id,
            pipeline: "p",
            step: &input.step,
        };
        let _ = t.shell(&values);
        let _ = t.argv(&values);
    }
    let t = runbook::Template::parse("x --run-id {run_id} --step {step}").unwrap();
    let values = runbook::Values {
        run_id: &input.run_id,
        pipeline: "p",
        step: &input.step,
    };
    assert_eq!(
        t.argv(&values),
        [
            "x",
            "--run-id",
            input.run_id.as_str(),
            "--step",
            input.step.as_str()
        ]
    );
    assert!(t.shell(&values).contains(&runbook::sh_quote(&input.run_id)));
});
