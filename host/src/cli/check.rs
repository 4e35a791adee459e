//! `backstop check`: validate a policy file.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use backstop::alerts::{Sink, SinkFormat};
use backstop::{Engine, Error, Format};

use super::{read_policy, render_diagnostics};

pub fn run(path: &Path, json: bool) -> Result<ExitCode> {
    let source = read_policy(path)?;
    let mut session = Engine::new()?.session()?;
    let errors = match session.load_policy(&source, Format::from_path(path)) {
        Ok(policy) => {
            note_unset_routing_keys(&session.alert_sinks(policy)?.unwrap_or_default());
            Vec::new()
        }
        Err(Error::InvalidPolicy(errors)) => errors,
        Err(other) => return Err(other.into()),
    };
    if json {
        let out = serde_json::json!({ "valid": errors.is_empty(), "errors": errors });
        println!("{out}");
    } else if errors.is_empty() {
        println!("{}: valid", path.display());
    } else {
        render_diagnostics(&path.display().to_string(), &source, &errors);
        eprintln!(
            "{}: {} problem{}",
            path.display(),
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        );
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A routing key lives in the environment of whatever delivers, so its
/// absence here is a note, not an error (CI checking a policy has no key).
fn note_unset_routing_keys(sinks: &[Sink]) {
    for sink in sinks.iter().filter(|s| s.format == SinkFormat::Pagerduty) {
        if let Some(var) = &sink.routing_key_env
            && std::env::var(var).map_or(true, |v| v.trim().is_empty())
        {
            eprintln!(
                "backstop: note: {var} (routing_key_env of the pagerduty sink for `{}`) is not set here; a delivery from an environment without it fails until it is set",
                sink.target
            );
        }
    }
}
