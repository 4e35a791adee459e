//! Loading a policy for `plan` and `run`: the file, then the quick overrides
//! (`--max-attempts` ...) applied to its `[retry]` table. The overridden
//! document is loaded into the guest too, so an override is validated exactly
//! like the same setting in a file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use backstop::{Error, Format, Policy, PolicyError, Session};
use clap::Args;

use super::{read_policy, render_diagnostic, render_diagnostics};

#[derive(Args, Debug, Clone, Default)]
pub struct PolicyArgs {
    /// Policy file (.toml or .json); the built-in rules and default retry settings when omitted.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: Overrides,
}

/// Replace one `[retry]` setting of the policy (or of the defaults).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Retry overrides (replace the policy's [retry] settings)")]
pub struct Overrides {
    /// Attempts in all, the first included [retry.max_attempts]
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,
    /// Wait after the first failure, e.g. 500ms, 2s [retry.base_delay]
    #[arg(long, value_name = "DURATION")]
    pub base_delay: Option<String>,
    /// Longest wait between attempts [retry.max_delay]
    #[arg(long, value_name = "DURATION")]
    pub max_delay: Option<String>,
    /// Growth of the wait per failure, 1 to 100 [retry.multiplier]
    #[arg(long, value_name = "X")]
    pub multiplier: Option<f64>,
    /// none, full, equal, decorrelated or additive [retry.jitter]
    #[arg(long, value_name = "MODE")]
    pub jitter: Option<String>,
    /// Timeout of each attempt, e.g. 10m [retry.attempt_timeout]
    #[arg(long, value_name = "DURATION")]
    pub attempt_timeout: Option<String>,
    /// Overall deadline, counted from the first attempt's start [retry.deadline]
    #[arg(long, value_name = "DURATION")]
    pub deadline: Option<String>,
}

/// One override: the `[retry]` key it sets, its flag, and the value.
struct Setting {
    key: &'static str,
    flag: &'static str,
    value: Scalar,
}

enum Scalar {
    Integer(i64),
    Float(f64),
    Text(String),
}

impl Overrides {
    fn settings(&self) -> Vec<Setting> {
        let mut out = Vec::new();
        let mut text = |key, flag, value: &Option<String>| {
            if let Some(v) = value {
                out.push(Setting {
                    key,
                    flag,
                    value: Scalar::Text(v.clone()),
                });
            }
        };
        text("base_delay", "base-delay", &self.base_delay);
        text("max_delay", "max-delay", &self.max_delay);
        text("jitter", "jitter", &self.jitter);
        text("attempt_timeout", "attempt-timeout", &self.attempt_timeout);
        text("deadline", "deadline", &self.deadline);
        if let Some(n) = self.max_attempts {
            out.push(Setting {
                key: "max_attempts",
                flag: "max-attempts",
                value: Scalar::Integer(i64::from(n)),
            });
        }
        if let Some(x) = self.multiplier {
            out.push(Setting {
                key: "multiplier",
                flag: "multiplier",
                value: Scalar::Float(x),
            });
        }
        out
    }
}

/// A policy file alone (for `classify`). Diagnostics are printed; `None` when invalid.
pub fn load_plain(session: &mut Session, path: Option<&Path>) -> Result<Option<Policy>> {
    let Some(path) = path else {
        return Ok(Some(session.default_policy()?));
    };
    let source = read_policy(path)?;
    load_source(
        session,
        &source,
        Format::from_path(path),
        &path.display().to_string(),
    )
}

fn load_source(
    session: &mut Session,
    source: &str,
    format: Format,
    label: &str,
) -> Result<Option<Policy>> {
    match session.load_policy(source, format) {
        Ok(policy) => Ok(Some(policy)),
        Err(Error::InvalidPolicy(errors)) => {
            render_diagnostics(label, source, &errors);
            Ok(None)
        }
        Err(other) => Err(other.into()),
    }
}

/// The policy file with the overrides applied. Diagnostics are printed (an
/// override's under its flag name); `None` when the result is invalid.
pub fn load(session: &mut Session, args: &PolicyArgs) -> Result<Option<Policy>> {
    let settings = args.overrides.settings();
    let (source, format, label) = match &args.policy {
        Some(path) => {
            let source = read_policy(path)?;
            let format = Format::from_path(path);
            let label = path.display().to_string();
            // The file on its own first, so its diagnostics point at its own lines.
            let Some(policy) = load_source(session, &source, format, &label)? else {
                return Ok(None);
            };
            if settings.is_empty() {
                return Ok(Some(policy));
            }
            (source, format, label)
        }
        None if settings.is_empty() => return Ok(Some(session.default_policy()?)),
        None => (String::new(), Format::Toml, "defaults".to_string()),
    };
    let effective = apply(&source, format, &settings)
        .with_context(|| format!("applying the overrides to {label}"))?;
    match session.load_policy(&effective, format) {
        Ok(policy) => Ok(Some(policy)),
        Err(Error::InvalidPolicy(errors)) => {
            for error in &errors {
                eprintln!("{}", render_override_error(&label, &settings, error));
            }
            Ok(None)
        }
        Err(other) => Err(other.into()),
    }
}

fn render_override_error(label: &str, settings: &[Setting], error: &PolicyError) -> String {
    let setting = error
        .path
        .strip_prefix("retry.")
        .and_then(|key| settings.iter().find(|s| s.key == key));
    match setting {
        Some(s) => format!("backstop: --{}: {}", s.flag, error.message),
        // A check across settings (max_delay below an overridden base_delay):
        // the re-serialised document's lines mean nothing to the user.
        None => {
            let error = PolicyError {
                line: None,
                column: None,
                ..error.clone()
            };
            format!("{} (with the overrides)", render_diagnostic(label, &error))
        }
    }
}

/// The document with `retry.<key> = value` set for every override, in its own format.
fn apply(source: &str, format: Format, settings: &[Setting]) -> Result<String> {
    match format {
        Format::Toml => {
            let mut doc: toml::Table = toml::from_str(source)?;
            let retry = doc
                .entry("retry")
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let Some(retry) = retry.as_table_mut() else {
                bail!("`retry` is not a table");
            };
            for s in settings {
                let value = match &s.value {
                    Scalar::Integer(n) => toml::Value::Integer(*n),
                    Scalar::Float(x) => toml::Value::Float(*x),
                    Scalar::Text(t) => toml::Value::String(t.clone()),
                };
                retry.insert(s.key.to_string(), value);
            }
            Ok(toml::to_string(&doc)?)
        }
        Format::Json => {
            // Policies are JSON with comments, as the guest reads them.
            let mut doc: serde_json::Value = if source.trim().is_empty() {
                serde_json::Value::Object(Default::default())
            } else {
                jsonc_parser::parse_to_serde_value(source, &Default::default())?
            };
            let Some(root) = doc.as_object_mut() else {
                bail!("the document is not an object");
            };
            let retry = root
                .entry("retry")
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            let Some(retry) = retry.as_object_mut() else {
                bail!("`retry` is not an object");
            };
            for s in settings {
                let value = match &s.value {
                    Scalar::Integer(n) => serde_json::Value::from(*n),
                    // JSON has no NaN or infinity: null, which the guest reports as the wrong type.
                    Scalar::Float(x) => serde_json::Value::from(*x),
                    Scalar::Text(t) => serde_json::Value::from(t.clone()),
                };
                retry.insert(s.key.to_string(), value);
            }
            Ok(serde_json::to_string_pretty(&doc)?)
        }
    }
}

/// The `[retry]` string setting `key` of a policy file the guest has already
/// accepted, as written (`None` when absent: the guest's default applies).
/// For what the guest does not report back, e.g. the jitter mode `export`
/// needs to bound the orchestrator's own waits.
pub fn retry_text(path: &Path, key: &str) -> Result<Option<String>> {
    let source = read_policy(path)?;
    let text = match Format::from_path(path) {
        Format::Toml => {
            let doc: toml::Table = toml::from_str(&source)?;
            doc.get("retry")
                .and_then(|r| r.get(key))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        }
        Format::Json => {
            let doc: serde_json::Value = if source.trim().is_empty() {
                serde_json::Value::Null
            } else {
                jsonc_parser::parse_to_serde_value(&source, &Default::default())?
            };
            doc.get("retry")
                .and_then(|r| r.get(key))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        }
    };
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Vec<Setting> {
        Overrides {
            max_attempts: Some(7),
            base_delay: Some("10ms".into()),
            multiplier: Some(1.5),
            ..Default::default()
        }
        .settings()
    }

    #[test]
    fn toml_overrides_replace_and_add_retry_keys() {
        let out = apply(
            "version = 1\n[retry]\nmax_attempts = 3\njitter = \"none\"\n",
            Format::Toml,
            &settings(),
        )
        .unwrap();
        let doc: toml::Table = toml::from_str(&out).unwrap();
        let retry = doc["retry"].as_table().unwrap();
        assert_eq!(retry["max_attempts"].as_integer(), Some(7));
        assert_eq!(retry["base_delay"].as_str(), Some("10ms"));
        assert_eq!(retry["multiplier"].as_float(), Some(1.5));
        assert_eq!(retry["jitter"].as_str(), Some("none"));
        assert_eq!(doc["version"].as_integer(), Some(1));
    }

    #[test]
    fn json_overrides_accept_comments_and_keep_other_sections() {
        let out = apply(
            "// nightly\n{\"classify\": {\"builtin_rules\": true}}",
            Format::Json,
            &settings(),
        )
        .unwrap();
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(doc["retry"]["max_attempts"], 7);
        assert_eq!(doc["retry"]["base_delay"], "10ms");
        assert_eq!(doc["classify"]["builtin_rules"], true);
    }

    #[test]
    fn overrides_without_a_file_start_from_an_empty_document() {
        let out = apply("", Format::Toml, &settings()).unwrap();
        assert!(out.contains("[retry]"), "{out}");
    }
}
