//! `backstop check`: validate a policy file.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use backstop::{Engine, Error, Format};

use super::{read_policy, render_diagnostics};

pub fn run(path: &Path, json: bool) -> Result<ExitCode> {
    let source = read_policy(path)?;
    let mut session = Engine::new()?.session()?;
    let errors = match session.load_policy(&source, Format::from_path(path)) {
        Ok(_) => Vec::new(),
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
