//! Hostile tails through the component: each gives an answer within the
//! default fuel of one call, never a trap.

use backstop::{Engine, LogInput};

fn session() -> backstop::Session {
    Engine::builder()
        .cache(backstop::CacheMode::Disabled)
        .build()
        .unwrap()
        .session()
        .unwrap()
}

const ERROR: &str = "Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\nbotocore.exceptions.ClientError: An error occurred (SlowDown) when calling the GetObject operation: Please reduce your request rate.\n";

#[test]
fn a_megabyte_tail_is_read_within_fuel() {
    let mut s = session();
    let noise = "INFO step done, loss=0.123456 \u{1b}[32mok\u{1b}[0m\n".repeat(100_000);
    let report = s
        .read_log(&LogInput {
            text: format!("{noise}{ERROR}"),
            exit_code: Some(1),
            ..LogInput::default()
        })
        .unwrap();
    assert_eq!(report.failure.error_code.as_deref(), Some("SlowDown"));
    assert_eq!(report.readers, ["python-traceback", "botocore"]);
}

#[test]
fn a_million_line_traceback_is_read_within_fuel() {
    let mut s = session();
    let mut text = String::from("Traceback (most recent call last):\n");
    for i in 0..1_000_000 {
        text.push_str(&format!("  File \"m{i}.py\", line {i}, in f\n"));
    }
    text.push_str("RecursionError: maximum recursion depth exceeded\n");
    let report = s
        .read_log(&LogInput {
            text,
            ..LogInput::default()
        })
        .unwrap();
    assert_eq!(report.failure.error_types, ["RecursionError"]);
}

#[test]
fn invalid_utf8_is_converted_lossily_by_the_host() {
    let mut s = session();
    let mut bytes = b"\xff\xfe\xc3(garbage\n".to_vec();
    bytes.extend_from_slice(ERROR.as_bytes());
    let report = s
        .read_log(&LogInput {
            text: String::from_utf8_lossy(&bytes).into_owned(),
            ..LogInput::default()
        })
        .unwrap();
    assert_eq!(report.failure.error_code.as_deref(), Some("SlowDown"));
}

#[test]
fn endless_escapes_and_one_huge_line_give_an_answer() {
    let mut s = session();
    let report = s
        .read_log(&LogInput {
            text: "\u{1b}[31m".repeat(200_000) + &"y".repeat(1 << 20),
            signal: Some("SIGKILL".into()),
            ..LogInput::default()
        })
        .unwrap();
    assert!(report.failure.error_types.is_empty());
    assert_eq!(report.failure.signal.as_deref(), Some("SIGKILL"));
    // The same session keeps working afterwards.
    let again = s
        .read_log(&LogInput {
            text: ERROR.into(),
            ..LogInput::default()
        })
        .unwrap();
    assert_eq!(again.failure.error_code.as_deref(), Some("SlowDown"));
}

#[test]
fn an_unknown_signal_is_rejected_with_its_path() {
    let mut s = session();
    let err = s
        .read_log(&LogInput {
            text: String::new(),
            signal: Some("SIGNOPE".into()),
            ..LogInput::default()
        })
        .unwrap_err();
    match err {
        backstop::Error::Rejected(e) => assert_eq!(e.path, "log.signal"),
        other => panic!("{other}"),
    }
}
