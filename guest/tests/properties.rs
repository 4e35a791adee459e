//! Property tests: the loader and classifier never panic, whatever they are fed,
//! and a policy means the same in TOML and JSON.

use backstop_core::{ErrorCode, Failure, FailureClass, Format, Policy};
use proptest::prelude::*;

const STORAGE: &str = include_str!("../../examples/storage-read.toml");

fn failure() -> impl Strategy<Value = Failure> {
    (
        proptest::option::of(any::<u16>()),
        proptest::option::of(prop_oneof!["[A-Z_]{1,20}", "[0-9]{1,3}", ".{0,8}"]),
        proptest::option::of(any::<i32>()),
        proptest::option::of(prop_oneof!["(SIG)?[A-Z]{2,6}", "[0-9]{1,3}", ".{0,8}"]),
        proptest::collection::vec("[A-Za-z_.:*/]{0,30}", 0..80),
        proptest::option::of("[A-Za-z_]{0,24}"),
        proptest::option::of(".{0,200}"),
    )
        .prop_map(
            |(http_status, grpc_code, exit_code, signal, error_types, error_code, message)| {
                Failure {
                    http_status,
                    grpc_code,
                    exit_code,
                    signal,
                    error_types,
                    error_code,
                    message,
                }
            },
        )
}

/// One structured rule, rendered to both formats by the test.
#[derive(Debug, Clone)]
struct RuleSpec {
    class: &'static str,
    http: Vec<u16>,
    exit: Vec<u8>,
    codes: Vec<String>,
    types: Vec<String>,
    message: Option<String>,
}

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    (
        prop_oneof![Just("transient"), Just("permanent"), Just("unknown")],
        proptest::collection::vec(100u16..600, 0..3),
        proptest::collection::vec(any::<u8>(), 0..3),
        proptest::collection::vec("[A-Za-z]{1,12}", 0..3),
        proptest::collection::vec("[A-Za-z.]{1,12}", 0..2),
        proptest::option::of("[a-z]{1,6}"),
    )
        .prop_map(|(class, http, exit, codes, types, message)| RuleSpec {
            class,
            http,
            exit,
            codes,
            types,
            message,
        })
        .prop_filter("a rule needs a selector", |r| {
            !(r.http.is_empty()
                && r.exit.is_empty()
                && r.codes.is_empty()
                && r.types.is_empty()
                && r.message.is_none())
        })
}

fn render(rules: &[RuleSpec], builtin: bool) -> (String, String) {
    let mut toml = format!("[classify]\nbuiltin_rules = {builtin}\n");
    let mut json_rules = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        toml.push_str(&format!(
            "\n[[classify.rules]]\nid = \"r{i}\"\nclass = \"{}\"\n",
            r.class
        ));
        let mut obj = serde_json::json!({ "id": format!("r{i}"), "class": r.class });
        if !r.http.is_empty() {
            toml.push_str(&format!("http_status = {:?}\n", r.http));
            obj["http_status"] = serde_json::json!(r.http);
        }
        if !r.exit.is_empty() {
            toml.push_str(&format!("exit_code = {:?}\n", r.exit));
            obj["exit_code"] = serde_json::json!(r.exit);
        }
        if !r.codes.is_empty() {
            toml.push_str(&format!("error_code = {:?}\n", r.codes));
            obj["error_code"] = serde_json::json!(r.codes);
        }
        if !r.types.is_empty() {
            toml.push_str(&format!("error_type = {:?}\n", r.types));
            obj["error_type"] = serde_json::json!(r.types);
        }
        if let Some(m) = &r.message {
            toml.push_str(&format!("message = {m:?}\n"));
            obj["message"] = serde_json::json!(m);
        }
        json_rules.push(obj);
    }
    let json = serde_json::json!({ "classify": { "builtin_rules": builtin, "rules": json_rules } });
    (toml, serde_json::to_string_pretty(&json).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn loading_arbitrary_text_never_panics(text in ".{0,400}", json in any::<bool>()) {
        let format = if json { Format::Json } else { Format::Toml };
        if let Err(errors) = Policy::load(&text, format) {
            prop_assert!(!errors.is_empty());
            let lines = text.split('\n').count() as u32;
            for e in errors {
                if let Some(loc) = e.location {
                    prop_assert!(loc.line >= 1 && loc.line <= lines, "{e} in {lines} lines");
                    prop_assert!(loc.column >= 1);
                }
            }
        }
    }

    #[test]
    fn mutated_policies_never_panic(cut in 0usize..2000, insert in ".{0,12}") {
        let mut text = STORAGE.to_string();
        let mut at = cut.min(text.len());
        while !text.is_char_boundary(at) { at -= 1; }
        text.insert_str(at, &insert);
        let _ = Policy::load(&text, Format::Toml);
    }

    #[test]
    fn classification_is_total_and_deterministic(failure in failure()) {
        let policy = Policy::load(STORAGE, Format::Toml).unwrap();
        let first = policy.classify(&failure);
        prop_assert_eq!(&first, &policy.classify(&failure));
        match first {
            Ok(c) => prop_assert_eq!(c.rule.is_none(), c.class == FailureClass::Unknown && c.reason == "no rule matched this failure"),
            Err(e) => {
                prop_assert_eq!(e.code, ErrorCode::InvalidFailure);
                prop_assert!(e.path.starts_with("failure."));
            }
        }
    }

    #[test]
    fn toml_and_json_policies_decide_identically(
        rules in proptest::collection::vec(rule_spec(), 1..6),
        builtin in any::<bool>(),
        failures in proptest::collection::vec(failure(), 1..16),
    ) {
        let (toml, json) = render(&rules, builtin);
        let from_toml = Policy::load(&toml, Format::Toml).map_err(|e| format!("{e:?}\n{toml}")).unwrap();
        let from_json = Policy::load(&json, Format::Json).map_err(|e| format!("{e:?}\n{json}")).unwrap();
        for failure in &failures {
            prop_assert_eq!(from_toml.classify(failure), from_json.classify(failure));
        }
    }

    #[test]
    fn with_no_rules_and_no_builtins_everything_is_unknown(failure in failure()) {
        let policy = Policy::load("[classify]\nbuiltin_rules = false\n", Format::Toml).unwrap();
        if let Ok(c) = policy.classify(&failure) {
            prop_assert_eq!(c.class, FailureClass::Unknown);
            prop_assert_eq!(c.rule, None);
        }
    }
}
