use crate::types::PolicyError;

/// Everything a host call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The policy document was refused; every diagnostic is here.
    #[error("invalid policy: {}", summarize(.0))]
    InvalidPolicy(Vec<PolicyError>),
    /// The guest refused a decision input (or the policy handle was unknown).
    #[error(transparent)]
    Rejected(PolicyError),
    /// The guest trapped (ran out of fuel or memory, or hit a bug). The instance
    /// was replaced and its policies reloaded; the failed call is not retried.
    #[error("the policy engine trapped and was restarted: {0}")]
    Trap(String),
    /// wasmtime could not compile or instantiate the component.
    #[error("wasm runtime: {0}")]
    Runtime(String),
}

fn summarize(errors: &[PolicyError]) -> String {
    match errors {
        [] => "no diagnostics".to_string(),
        [only] => only.to_string(),
        [first, rest @ ..] => format!("{first} (and {} more)", rest.len()),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
