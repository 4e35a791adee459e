//! `tests/postgres/shared-state.json`: the shared state as the CLI stores it
//! (serde_json of `SharedState`), byte for byte, which the Python, Go and Node
//! PostgreSQL stores encode and decode identically on the same table.

use backstop::SharedState;

#[test]
fn shared_state_json_vectors() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/postgres/shared-state.json"
    );
    let text = std::fs::read_to_string(path).expect("reading the vectors");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("the vectors are JSON");
    let vectors = doc["vectors"].as_array().expect("a vectors array");
    assert!(vectors.len() >= 10, "only {} vectors", vectors.len());
    for v in vectors {
        let name = v["name"].as_str().expect("a name");
        let json = v["json"].as_str().expect("a json string");
        let parsed: Result<SharedState, _> = serde_json::from_str(json);
        if v["reject"].as_bool() == Some(true) {
            let err = parsed.expect_err(name).to_string();
            let mentions = v["error_mentions"].as_str().unwrap_or("");
            assert!(err.contains(mentions), "{name}: {err}");
            continue;
        }
        let state = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(serde_json::to_value(state).unwrap(), v["state"], "{name}");
        if v["decode_only"].as_bool() != Some(true) {
            assert_eq!(serde_json::to_string(&state).unwrap(), json, "{name}");
        }
    }
}
