//! Property tests for redaction: a generated secret of any covered family,
//! in generated log text, never leaves the redactor, whatever the splitting
//! into lines, the trimming to the last lines, the clipping of each line and
//! the encoding around it (invalid UTF-8 decoded lossily, ANSI colour codes).

use backstop_core::alerts::{redact_lines, runbook};
use backstop_core::redaction::Redactor;
use proptest::prelude::*;

/// A family's secret in a realistic line: (line, the secret's pieces that
/// must not survive).
fn secret() -> impl Strategy<Value = (String, Vec<String>)> {
    let one = |pattern: &'static str, context: &'static str| {
        pattern.prop_map(move |s| (context.replace("{}", &s), vec![s]))
    };
    let pem = proptest::collection::vec("[A-Za-z0-9+/]{64}", 2..8).prop_map(|lines| {
        let block = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----",
            lines.join("\n")
        );
        (block, lines)
    });
    // Passwords with any printable character a URL or quotes can carry.
    let url_password = "[A-Za-z][A-Za-z0-9!#$%&()*+,./:;=?@\\[\\]^_{|}~-]{9,30}";
    let spaced = "[A-Za-z0-9][A-Za-z0-9 !#$%&()*+,./:;=?@_~-]{9,30}[A-Za-z0-9]";
    prop_oneof![
        one(
            "(AKIA|ASIA)[A-Z2-7]{16}",
            "botocore: using access key {} from env"
        ),
        one("[A-Za-z0-9/+]{40}", "AWS_SECRET_ACCESS_KEY={}"),
        one("AIza[0-9A-Za-z_-]{35}", "GET /maps?key={} 403"),
        one(
            "[0-9a-f]{40}",
            r#"{"type": "service_account", "private_key_id": "{}"}"#
        ),
        one(
            "[A-Za-z0-9+/]{86}==",
            "DefaultEndpointsProtocol=https;AccountName=a;AccountKey={};EndpointSuffix=core.windows.net"
        ),
        one(
            "[A-Za-z0-9]{30,43}",
            "https://a.blob.core.windows.net/c/b?sv=2022&sig={}&se=1"
        ),
        one("gh[pousr]_[A-Za-z0-9]{36}", "remote: token {} rejected"),
        one("glpat-[A-Za-z0-9_-]{20}", "glab login --token {}"),
        one(
            "xox[bp]-[0-9]{10,12}-[A-Za-z0-9]{24}",
            "slack: auth with {} failed"
        ),
        one(
            "(sk|rk)_(live|test)_[A-Za-z0-9]{24,60}",
            "stripe: Invalid API Key provided: {}"
        ),
        one(
            "sk-proj-[A-Za-z0-9_-]{40,80}",
            "openai: Incorrect API key provided: {}."
        ),
        one("hf_[A-Za-z]{34}", "huggingface_hub: login {}"),
        one(
            "eyJ[A-Za-z0-9_-]{20}\\.eyJ[A-Za-z0-9_-]{30}\\.[A-Za-z0-9_-]{43}",
            "id_token={}"
        ),
        one(
            url_password,
            "could not connect to postgres://etl:{}@db.internal:5432/features"
        ),
        one(spaced, "db.connect(password=\"{}\", host=\"db\")"),
        one(spaced, "PGPASSWORD='{}' psql"),
        one(
            "[A-Za-z0-9][A-Za-z0-9!#%()*+,./:=?@_~-]{9,30}",
            "mysqldump --password {} db"
        ),
        one("[A-Za-z0-9._~+/-]{20,60}", "> Authorization: Bearer {}"),
        one(
            "[A-Za-z0-9][A-Za-z0-9 ._~+/=-]{20,60}",
            "Authorization: Token {}"
        ),
        one("[A-Za-z0-9=]{20,40}", "Cookie: session={}; theme=dark"),
        one(
            "[A-Za-z0-9!#%()*+,./:=?@_~-]{10,30}",
            "+ curl -sf -u admin:{} https://nexus.internal/x"
        ),
        one("[A-Za-z0-9]{24,40}", "using token {} for upload"),
        pem,
    ]
}

/// Noise around the secret: log lines, ANSI codes, invalid bytes.
fn noise() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            Just(b"\x1b[31m".to_vec()),
            Just(b"\x1b[0m".to_vec()),
            Just(b"\x1b]0;title\x07".to_vec()),
            Just(vec![0xff]),
            Just(vec![0xc3]),
            Just(vec![0xe2, 0x82]),
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b" ".to_vec()),
            "[a-z ]{0,20}".prop_map(String::into_bytes),
            Just("INFO epoch 3 loss=0.41 – ✓".as_bytes().to_vec()),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

/// The secret's pieces, and every 16-character window of them: none may survive.
fn forbidden(pieces: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for p in pieces {
        let chars: Vec<char> = p.chars().collect();
        if chars.len() <= 16 {
            out.push(p.clone());
        } else {
            out.extend(chars.windows(16).map(|w| w.iter().collect::<String>()));
        }
    }
    out
}

fn assert_clean(outputs: &[String], forbidden: &[String]) -> Result<(), TestCaseError> {
    for out in outputs {
        for f in forbidden {
            prop_assert!(!out.contains(f.as_str()), "{f:?} survived in {out:?}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_generated_secret_survives(
        (line, pieces) in secret(),
        before in noise(),
        after in noise(),
        ansi_inside in any::<bool>(),
        max_lines in 1usize..60,
        max_chars in 1usize..5000,
    ) {
        let line = if ansi_inside {
            // A colour change at the start of the value, as coloured loggers do.
            line.replacen(pieces[0].as_str(), &format!("\x1b[1m{}", pieces[0]), 1)
        } else {
            line
        };
        let mut bytes = before;
        bytes.push(b'\n');
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        bytes.extend(after);
        // What every host does with a child's bytes.
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let forbidden = forbidden(&pieces);
        let redactor = Redactor::builtin();

        // 1. The whole tail at once (the host's `redact` call).
        let whole = redactor.redact(&text);
        prop_assert!(whole.total() >= 1);
        assert_clean(std::slice::from_ref(&whole.text), &forbidden)?;

        // 2. Then split, trimmed to the last lines and clipped, either end kept.
        let lines: Vec<String> = whole.text.split('\n').map(str::to_string).collect();
        let skip = lines.len().saturating_sub(max_lines);
        let clipped: Vec<String> = lines[skip..]
            .iter()
            .flat_map(|l| {
                let chars: Vec<char> = l.chars().collect();
                let head: String = chars.iter().take(max_chars).collect();
                let tail: String = chars[chars.len().saturating_sub(max_chars)..].iter().collect();
                [head, tail]
            })
            .collect();
        assert_clean(&clipped, &forbidden)?;

        // 3. The alert payload path: the host hands lines, the guest redacts them joined.
        let host_lines: Vec<String> = text.lines().map(str::to_string).collect();
        let payload = redact_lines(&redactor, &host_lines, max_lines, max_chars);
        assert_clean(&payload, &forbidden)?;

        // Redacting again changes nothing and finds nothing.
        let again = redactor.redact(&whole.text);
        prop_assert_eq!(&again.text, &whole.text);
        prop_assert_eq!(again.total(), 0);
    }

    #[test]
    fn the_redactor_never_panics(text in "\\PC{0,300}", ansi in "(\x1b\\[[0-9;]{0,6}[A-Za-z]?)?") {
        let input = format!("{ansi}{text}");
        let report = Redactor::builtin().redact(&input);
        prop_assert!(report.text.len() <= input.len() + 10 * report.total() as usize + 16);
    }

    #[test]
    fn runbook_values_are_one_word_and_never_re_expanded(
        run_id in "\\PC{1,40}",
        step in "[{}a-z_ '\"$;`\\\\]{1,20}",
    ) {
        let t = runbook::Template::parse("backstop run --run-id {run_id} --step {step} -- {pipeline}").unwrap();
        let values = runbook::Values { run_id: &run_id, pipeline: "p", step: &step };
        let argv = t.argv(&values);
        prop_assert_eq!(argv, vec!["backstop", "run", "--run-id", run_id.as_str(), "--step", step.as_str(), "--", "p"]);
        let shell = t.shell(&values);
        // The value is quoted as a unit: its quoted form appears whole.
        let quoted = runbook::sh_quote(&run_id);
        prop_assert!(shell.contains(&quoted));
    }
}
