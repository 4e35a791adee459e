//! Well-known lines that are not part of an exception but tell what ended a
//! run, appended to the failure's message so the built-in taxonomy (and a
//! policy's `message` patterns) can see them:
//! - PyTorch `ProcessGroupNCCL`'s watchdog: `Watchdog caught collective
//!   operation timeout: WorkNCCL(...) ran for 600000 milliseconds before timing
//!   out.`, `Some NCCL operations have failed or timed out`, `NCCL
//!   communicator was aborted`;
//! - the Linux OOM killer (`Out of memory: Killed process 123 (python)`,
//!   `Memory cgroup out of memory: Killed process ...`, `oom-kill:`) and
//!   Kubernetes' `OOMKilled` reason, when the host appends them;
//! - GPU out of memory printed without a traceback (`CUDA out of memory`,
//!   `CUDA error: out of memory`, `OOM when allocating tensor`);
//! - NaN/Inf loss checks (Keras `TerminateOnNaN`: `Invalid loss, terminating
//!   training`; Lightning `is not finite`; anomaly mode `returned nan values`).

use std::sync::LazyLock;

use regex::Regex;

pub const READER: &str = "markers";

/// At most this many marker lines (the newest) are kept.
const MAX_MARKERS: usize = 6;
/// A marker line is cut to this many bytes.
const MAX_MARKER_BYTES: usize = 400;

static MARKERS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:Watchdog caught collective operation timeout",
        r"|Some NCCL operations have failed or timed out",
        r"|NCCL communicator was aborted",
        r"|ProcessGroupNCCL.*(?:[Tt]imeout|timed out|abort)",
        r"|Out of memory: Killed process",
        r"|Memory cgroup out of memory",
        r"|\boom-kill:",
        r"|\bOOMKilled\b",
        r"|CUDA out of memory",
        r"|CUDA error: out of memory",
        r"|OOM when allocating tensor",
        r"|RESOURCE_EXHAUSTED: Out of memory",
        r"|Invalid loss, terminating training",
        r"|returned nan values",
        r"|(?i:\bloss\b[^\n]{0,40}?(?:\bis|\bbecame|=|\bof)\s*[-+]?(?:nan|inf)\b)",
        r"|is not finite",
        r")"
    ))
    .unwrap()
});

pub fn read(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in lines.iter().rev() {
        if out.len() >= MAX_MARKERS {
            break;
        }
        if MARKERS.is_match(line) {
            let mut end = line.len().min(MAX_MARKER_BYTES);
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            let text = line[..end].trim().to_string();
            if !out.contains(&text) {
                out.push(text);
            }
        }
    }
    out.reverse();
    out
}
