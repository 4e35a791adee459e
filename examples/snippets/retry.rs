// Read a file from object storage, retrying 503s under the nightly policy.
// Needs `backstop` (a path dependency on this repository's host/) and `ureq` 3;
// run it from the repository root with DATA_URL set.
use backstop::retrying::{Retry, SystemClock, ToFailure, failure_from_error};
use backstop::{Engine, Failure, Format};

/// ureq's error as the classifier sees it: an HTTP status, or the error chain.
#[derive(Debug)]
pub struct Fetch(ureq::Error);

impl std::fmt::Display for Fetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Fetch {}

impl ToFailure for Fetch {
    fn to_failure(&self) -> Failure {
        match &self.0 {
            ureq::Error::StatusCode(status) => Failure {
                http_status: Some(*status),
                ..Failure::default()
            },
            other => failure_from_error(other),
        }
    }
}

pub fn read(policy_file: &str, url: &str) -> Result<String, Box<dyn std::error::Error>> {
    let engine = Engine::new()?;
    let mut session = engine.session()?;
    let source = std::fs::read_to_string(policy_file)?;
    let policy = session.load_policy(&source, Format::Toml)?;
    let body = Retry::new(&mut session, policy)
        .idempotency_key("nightly-2024-01-01/extract")
        .run(&SystemClock, |_attempt| {
            let response = ureq::get(url).call().map_err(Fetch)?;
            response.into_body().read_to_string().map_err(Fetch)
        })?;
    Ok(body)
}

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATA_URL")?;
    println!("{}", read("examples/nightly.toml", &url)?);
    Ok(())
}
