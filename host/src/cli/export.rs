//! `backstop export kubernetes|argo`: the orchestrator's own retry settings
//! for a step wrapped in `backstop run --one-attempt`, derived from a policy.
//! Each pod runs one attempt; the cluster starts the next pod on the
//! retry-me status and stops on the permanent and gave-up statuses, while
//! backstop keeps the attempt count, the deadline and the planned delays in
//! the state store. The YAML is built from typed values (serde), never text.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use backstop::{Engine, Schedule};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::exit;
use super::plan::DEFAULT_STEP;
use super::policy::{self, Overrides, PolicyArgs};

/// How many attempts a policy without `max_attempts` is exported with (its
/// deadline or budget stops it earlier; backstop enforces those itself).
const UNBOUNDED_ATTEMPTS: u32 = 100;

/// The guest's jitter mode when a policy names none (docs/POLICY.md).
const DEFAULT_JITTER: &str = "additive";

/// The largest Argo backoff factor tried (the policy's multiplier is at most 100).
const MAX_ARGO_FACTOR: u64 = 100;

#[derive(Subcommand)]
pub enum ExportCommand {
    /// A Kubernetes Job: podFailurePolicy, backoffLimit, restartPolicy: Never,
    /// the container wrapped in `backstop run --one-attempt`.
    Kubernetes(ExportArgs),
    /// An Argo Workflows template: retryStrategy (limit, expression, backoff),
    /// the container wrapped in `backstop run --one-attempt`.
    Argo(ExportArgs),
}

#[derive(Args)]
pub struct ExportArgs {
    /// Policy file.
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// Where the container finds the policy [default: /etc/backstop/<the
    /// policy's file name>]; its directory is where the ConfigMap is mounted.
    #[arg(long, value_name = "PATH")]
    container_policy: Option<String>,
    /// The ConfigMap holding the policy, keyed by its file name
    /// (`kubectl create configmap NAME --from-file=POLICY`).
    #[arg(long, value_name = "NAME", default_value = "backstop-policy")]
    policy_configmap: String,
    /// Step name (`backstop run --step`); also the container's / template's name.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_STEP, value_parser = super::ids::parse)]
    step: String,
    /// The Job's name (kubernetes only).
    #[arg(long, value_name = "NAME", default_value = "backstop-step")]
    name: String,
    /// The container image.
    #[arg(
        long,
        value_name = "IMAGE",
        default_value = "registry.example.com/pipeline:latest"
    )]
    image: String,
    /// The Secret (key `url`) holding the state store's postgres:// URL.
    #[arg(long, value_name = "NAME", default_value = "backstop-state")]
    state_secret: String,
    /// Exit status of a permanent failure (`backstop run --permanent-exit-code`).
    #[arg(long, value_name = "N", default_value_t = exit::PERMANENT,
          value_parser = clap::value_parser!(u8).range(1..=255))]
    permanent_exit_code: u8,
    /// The step's command, after `--`.
    #[arg(last = true, value_name = "CMD", default_values = ["python", "-m", "pipeline.step"])]
    command: Vec<OsString>,
}

pub fn run(command: ExportCommand) -> Result<ExitCode> {
    let (kind, args) = match command {
        ExportCommand::Kubernetes(args) => (Kind::Kubernetes, args),
        ExportCommand::Argo(args) => (Kind::Argo, args),
    };
    if args.permanent_exit_code == exit::RETRY_ME {
        anyhow::bail!(
            "--permanent-exit-code {} is the retry-me status; choose another",
            exit::RETRY_ME
        );
    }
    let Some(retries) = Retries::of(&args.policy)? else {
        return Ok(ExitCode::FAILURE);
    };
    let yaml = match kind {
        Kind::Kubernetes => serde_norway::to_string(&job(&args, &retries)?),
        Kind::Argo => serde_norway::to_string(&template(&args, &retries)?),
    }
    .context("writing YAML")?;
    print!("{yaml}");
    Ok(ExitCode::SUCCESS)
}

enum Kind {
    Kubernetes,
    Argo,
}

/// What the orchestrator can take from the policy: the attempts and the
/// shortest waits the planner can choose (the planner's own waits, jitter and
/// pushback included, happen in `backstop run --one-attempt` at the next
/// pod's start, counted from the end of the previous attempt, so a wait the
/// orchestrator already did counts towards them).
#[derive(Debug, PartialEq)]
pub(crate) struct Retries {
    pub attempts: u32,
    /// The shortest wait the policy's jitter allows before attempts 2, 3, ...
    /// (docs/POLICY.md, Jitter): an orchestrator waiting longer would
    /// override the jitter that spreads a fleet's retries.
    pub floors_ms: Vec<u64>,
}

impl Retries {
    fn of(path: &std::path::Path) -> Result<Option<Retries>> {
        let mut session = Engine::new()?.session()?;
        let args = PolicyArgs {
            policy: Some(path.to_path_buf()),
            overrides: Overrides {
                jitter: Some("none".into()),
                ..Overrides::default()
            },
        };
        let Some(policy) = policy::load(&mut session, &args)? else {
            return Ok(None);
        };
        let schedule = session.plan_schedule(policy, 0, UNBOUNDED_ATTEMPTS)?;
        let jitter = policy::retry_text(path, "jitter")?;
        Ok(Some(Retries::from_schedule(
            &schedule,
            jitter.as_deref().unwrap_or(DEFAULT_JITTER),
        )))
    }

    /// From the schedule planned with jitter off (the backoff `d` of each
    /// wait) and the policy's jitter mode.
    pub(crate) fn from_schedule(schedule: &Schedule, jitter: &str) -> Retries {
        let backoff: Vec<u64> = schedule
            .attempts
            .iter()
            .skip(1)
            .map(|a| a.delay_ms)
            .collect();
        // The first wait is base_delay, whatever the multiplier.
        let base = backoff.first().copied().unwrap_or(0);
        let floors_ms = backoff
            .iter()
            .map(|&d| match jitter {
                "full" => 0,
                "equal" => d / 2,
                "decorrelated" => base,
                // none, additive: never below d.
                _ => d,
            })
            .collect();
        Retries {
            attempts: schedule.attempts.len().max(1) as u32,
            floors_ms,
        }
    }

    /// Retries after the first attempt: Job `backoffLimit`, Argo `limit`.
    fn retries(&self) -> u32 {
        self.attempts - 1
    }

    /// Argo's backoff (`duration * factor^(retry - 1)`, no cap in Argo 3.6):
    /// the first floor and the largest integer factor that keeps every Argo
    /// wait at or below the planner's floor for that retry (none when even 2
    /// would overshoot, e.g. once max_delay caps the waits: Argo then waits
    /// `duration` each time). No backoff when the first floor is 0 (full
    /// jitter): backstop's own wait in the next pod does all of it.
    fn argo_backoff(&self) -> Option<Backoff> {
        let first = *self.floors_ms.first()?;
        if first == 0 {
            return None;
        }
        let fits = |factor: u64| {
            let mut wait = first;
            self.floors_ms.iter().all(|&floor| {
                let ok = wait <= floor;
                wait = wait.saturating_mul(factor);
                ok
            })
        };
        let factor = (2..=MAX_ARGO_FACTOR).rev().find(|&f| fits(f));
        Some(Backoff {
            duration: go_duration(first),
            factor,
        })
    }
}

/// Milliseconds as a Go duration string ("1m30s", "250ms"), as Argo parses them.
fn go_duration(ms: u64) -> String {
    if ms % 1000 != 0 {
        return format!("{ms}ms");
    }
    let (h, m, s) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60);
    let mut out = String::new();
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() { "0s".into() } else { out }
}

/// Where the container reads the policy.
fn container_policy(args: &ExportArgs) -> String {
    args.container_policy.clone().unwrap_or_else(|| {
        let name = args.policy.file_name().unwrap_or_default();
        format!("/etc/backstop/{}", name.to_string_lossy())
    })
}

/// The policy's ConfigMap as a volume, and its mount at the container
/// policy's directory.
fn policy_volume(args: &ExportArgs) -> (Volume, VolumeMount) {
    let path = container_policy(args);
    let dir = match path.rsplit_once('/') {
        Some(("", _)) | None => "/".to_string(),
        Some((dir, _)) => dir.to_string(),
    };
    let name = "backstop-policy".to_string();
    (
        Volume {
            name: name.clone(),
            config_map: ConfigMapSource {
                name: args.policy_configmap.clone(),
            },
        },
        VolumeMount {
            name,
            mount_path: dir,
            read_only: true,
        },
    )
}

/// `backstop run --one-attempt ... -- CMD`, with the run id from `run_id`.
fn wrapped(args: &ExportArgs, run_id: &str) -> Vec<String> {
    let container_policy = container_policy(args);
    let code = args.permanent_exit_code.to_string();
    let fixed: [&str; 12] = [
        "backstop",
        "run",
        "--one-attempt",
        "--run-id",
        run_id,
        "--step",
        &args.step,
        "--policy",
        &container_policy,
        "--permanent-exit-code",
        &code,
        "--",
    ];
    let mut out: Vec<String> = fixed.map(str::to_string).into();
    out.extend(
        args.command
            .iter()
            .map(|c| c.to_string_lossy().into_owned()),
    );
    out
}

fn state_env(args: &ExportArgs) -> EnvVar {
    EnvVar {
        name: "BACKSTOP_STATE".into(),
        value: None,
        value_from: Some(EnvSource {
            secret_key_ref: Some(KeyRef {
                name: args.state_secret.clone(),
                key: "url".into(),
            }),
            field_ref: None,
        }),
    }
}

/// The exit statuses after which no further attempt may start.
fn final_codes(args: &ExportArgs) -> Vec<u8> {
    let mut codes = vec![args.permanent_exit_code, exit::GAVE_UP];
    codes.sort_unstable();
    codes.dedup();
    codes
}

fn job(args: &ExportArgs, retries: &Retries) -> Result<Job> {
    let container = args.step.clone();
    let (volume, mount) = policy_volume(args);
    let final_codes = final_codes(args);
    Ok(Job {
        api_version: "batch/v1",
        kind: "Job",
        metadata: Metadata {
            name: args.name.clone(),
        },
        spec: JobSpec {
            backoff_limit: retries.retries(),
            pod_failure_policy: PodFailurePolicy {
                rules: vec![
                    Rule {
                        action: "FailJob",
                        on_exit_codes: Some(OnExitCodes {
                            container_name: container.clone(),
                            operator: "In",
                            values: final_codes.clone(),
                        }),
                        on_pod_conditions: None,
                    },
                    Rule {
                        action: "Ignore",
                        on_exit_codes: None,
                        on_pod_conditions: Some(vec![PodCondition {
                            r#type: "DisruptionTarget",
                        }]),
                    },
                    Rule {
                        action: "Count",
                        on_exit_codes: Some(OnExitCodes {
                            container_name: container.clone(),
                            operator: "NotIn",
                            values: final_codes,
                        }),
                        on_pod_conditions: None,
                    },
                ],
            },
            template: PodTemplate {
                spec: PodSpec {
                    restart_policy: "Never",
                    containers: vec![Container {
                        name: container,
                        image: args.image.clone(),
                        command: wrapped(args, "$(BACKSTOP_RUN_ID)"),
                        env: vec![
                            EnvVar {
                                name: "BACKSTOP_RUN_ID".into(),
                                value: None,
                                value_from: Some(EnvSource {
                                    secret_key_ref: None,
                                    field_ref: Some(FieldRef {
                                        field_path:
                                            "metadata.labels['batch.kubernetes.io/controller-uid']"
                                                .into(),
                                    }),
                                }),
                            },
                            state_env(args),
                        ],
                        volume_mounts: vec![mount],
                    }],
                    volumes: vec![volume],
                },
            },
        },
    })
}

fn template(args: &ExportArgs, retries: &Retries) -> Result<Template> {
    let quoted = |code: u8| format!("'{code}'");
    // Retry the retry-me status, and a pod lost to the cluster (status
    // Error: evicted, deleted, node gone) unless it had ended final.
    let not_final = final_codes(args)
        .into_iter()
        .map(|c| format!("lastRetry.exitCode != {}", quoted(c)))
        .collect::<Vec<_>>()
        .join(" && ");
    let expression = format!(
        "lastRetry.exitCode == {} || (lastRetry.status == 'Error' && {not_final})",
        quoted(exit::RETRY_ME)
    );
    let (volume, mount) = policy_volume(args);
    Ok(Template {
        name: args.step.clone(),
        retry_strategy: RetryStrategy {
            limit: retries.retries(),
            retry_policy: "Always",
            expression,
            backoff: retries.argo_backoff(),
        },
        container: Container {
            name: "main".into(),
            image: args.image.clone(),
            command: wrapped(args, "{{workflow.uid}}"),
            env: vec![state_env(args)],
            volume_mounts: vec![mount],
        },
        volumes: vec![volume],
    })
}

// The subset of the Kubernetes and Argo types the export writes; the tests
// decode the golden files with the projects' own types, strictly.

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Job {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: JobSpec,
}

#[derive(Serialize)]
struct Metadata {
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JobSpec {
    backoff_limit: u32,
    pod_failure_policy: PodFailurePolicy,
    template: PodTemplate,
}

#[derive(Serialize)]
struct PodFailurePolicy {
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    on_exit_codes: Option<OnExitCodes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    on_pod_conditions: Option<Vec<PodCondition>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OnExitCodes {
    container_name: String,
    operator: &'static str,
    values: Vec<u8>,
}

#[derive(Serialize)]
struct PodCondition {
    r#type: &'static str,
}

#[derive(Serialize)]
struct PodTemplate {
    spec: PodSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodSpec {
    restart_policy: &'static str,
    containers: Vec<Container>,
    volumes: Vec<Volume>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Container {
    name: String,
    image: String,
    command: Vec<String>,
    env: Vec<EnvVar>,
    volume_mounts: Vec<VolumeMount>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Volume {
    name: String,
    config_map: ConfigMapSource,
}

#[derive(Serialize)]
struct ConfigMapSource {
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VolumeMount {
    name: String,
    mount_path: String,
    read_only: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EnvVar {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_from: Option<EnvSource>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EnvSource {
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_key_ref: Option<KeyRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field_ref: Option<FieldRef>,
}

#[derive(Serialize)]
struct KeyRef {
    name: String,
    key: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FieldRef {
    field_path: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Template {
    name: String,
    retry_strategy: RetryStrategy,
    container: Container,
    volumes: Vec<Volume>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RetryStrategy {
    limit: u32,
    retry_policy: &'static str,
    expression: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    backoff: Option<Backoff>,
}

#[derive(Serialize, Debug, PartialEq)]
struct Backoff {
    duration: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    factor: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_are_what_argo_parses() {
        assert_eq!(go_duration(20), "20ms");
        assert_eq!(go_duration(2_000), "2s");
        assert_eq!(go_duration(90_000), "1m30s");
        assert_eq!(go_duration(3_600_000), "1h");
        assert_eq!(go_duration(0), "0s");
    }

    #[test]
    fn argo_backoff_stays_under_the_planners_shortest_waits() {
        let r = Retries {
            attempts: 4,
            floors_ms: vec![20, 40, 80],
        };
        assert_eq!(
            r.argo_backoff(),
            Some(Backoff {
                duration: "20ms".into(),
                factor: Some(2),
            })
        );
        // Capped by max_delay: 2 would overshoot the 100 ms floors.
        let capped = Retries {
            attempts: 5,
            floors_ms: vec![20, 40, 80, 100],
        };
        assert_eq!(capped.argo_backoff().and_then(|b| b.factor), None);
        // A growth of 1.5 is no Argo factor.
        let r = Retries {
            attempts: 3,
            floors_ms: vec![1_000, 1_500],
        };
        assert_eq!(r.argo_backoff().and_then(|b| b.factor), None);
        // Full jitter can wait 0: Argo must not wait at all.
        let full = Retries {
            attempts: 3,
            floors_ms: vec![0, 0],
        };
        assert_eq!(full.argo_backoff(), None);
        let single = Retries {
            attempts: 1,
            floors_ms: vec![],
        };
        assert_eq!(single.argo_backoff(), None);
        assert_eq!(single.retries(), 0);
    }

    #[test]
    fn the_floors_follow_the_jitter_mode() {
        let schedule = |delays: &[u64]| Schedule {
            attempts: std::iter::once(0)
                .chain(delays.iter().copied())
                .zip(1..)
                .map(|(delay_ms, attempt)| backstop::PlannedAttempt {
                    attempt,
                    delay_ms,
                    timeout_ms: None,
                    start_ms: 0,
                })
                .collect(),
            ends_with: None,
        };
        let s = schedule(&[20, 40, 80]);
        let floors = |mode| Retries::from_schedule(&s, mode).floors_ms;
        assert_eq!(floors("none"), [20, 40, 80]);
        assert_eq!(floors("additive"), [20, 40, 80]);
        assert_eq!(floors("equal"), [10, 20, 40]);
        assert_eq!(floors("full"), [0, 0, 0]);
        assert_eq!(floors("decorrelated"), [20, 20, 20]);
        assert_eq!(Retries::from_schedule(&s, "none").attempts, 4);
    }
}
