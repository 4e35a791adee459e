//! A fuzzed policy (from a fixed set of rule fragments) and a fuzzed failure:
//! classification never panics and is deterministic.
#![no_main]

use arbitrary::Arbitrary;
use backstop_core::{Failure, FailureClass, Format, Policy};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    rules: Vec<(u8, String)>,
    builtin: bool,
    http_status: Option<u16>,
    grpc_code: Option<String>,
    exit_code: Option<i32>,
    signal: Option<String>,
    error_types: Vec<String>,
    error_code: Option<String>,
    message: Option<String>,
}

const SELECTORS: [&str; 7] = ["http_status", "grpc_code", "exit_code", "signal", "error_type", "error_code", "message"];

fuzz_target!(|input: Input| {
    let mut doc = format!("[classify]\nbuiltin_rules = {}\n", input.builtin);
    for (i, (kind, value)) in input.rules.iter().take(16).enumerate() {
        let selector = SELECTORS[usize::from(*kind) % SELECTORS.len()];
        let class = ["transient", "permanent", "unknown"][usize::from(*kind / 7) % 3];
        doc.push_str(&format!(
            "[[classify.rules]]\nid = \"r{i}\"\nclass = \"{class}\"\n{selector} = {}\n",
            toml_string(value)
        ));
    }
    let Ok(policy) = Policy::load(&doc, Format::Toml) else { return };
    let failure = Failure {
        http_status: input.http_status,
        grpc_code: input.grpc_code,
        exit_code: input.exit_code,
        signal: input.signal,
        error_types: input.error_types,
        error_bases: Vec::new(),
        error_code: input.error_code,
        message: input.message,
    };
    let first = policy.classify(&failure);
    assert_eq!(first, policy.classify(&failure));
    if let Ok(c) = first {
        assert_eq!(c.rule.is_none(), c.class == FailureClass::Unknown && c.reason == "no rule matched this failure");
    }
});

fn toml_string(value: &str) -> String {
    let escaped: String = value
        .chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            c if c.is_control() => format!("\\u{:04X}", c as u32).chars().collect(),
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}
