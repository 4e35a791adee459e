//! The order readers run in and how their findings merge. Documented in
//! docs/POLICY.md ("Log readers"); every rule here has vectors.
//!
//! 1. **Which error.** The error readers (Python, JVM, Node, Go, native) each
//!    report the last error they recognise and the line it ends on. The one
//!    ending *latest* in the tail wins (the last error printed is the one that
//!    ended the process); on a tie the earlier reader in [`ERROR_READERS`]
//!    wins. Only when none recognises anything does the single-line fallback
//!    ([`exception_line`]) look for a `module.TypeError: message` line.
//! 2. **Which fields.** The field readers scan the winning error's chain,
//!    outermost first, then its extra text; for each field (`error_code`,
//!    `http_status`, `grpc_code`) the first value found wins, and within one
//!    message the readers run in the order provider, HTTP, gRPC, errno. With
//!    no error recognised they scan the last [`FALLBACK_LINES`] lines, newest
//!    first.
//! 3. **Pushback and markers** are read from the whole tail: the newest
//!    Retry-After wins; marker lines are appended to the message.
//! 4. **Base classes** of the chain's types come from [`hierarchy`].

use super::{
    Found, LogReport, errno, exception_line, golang, grpc, hierarchy, http, jvm, markers, native,
    node, provider, pushback, python,
};
use crate::classify::Failure;

/// With no error recognised, the field readers and the message use at most
/// this many of the last lines.
pub const FALLBACK_LINES: usize = 20;
/// The failure's message is at most this long.
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024;
/// One chain entry contributes at most this much to the message.
const MAX_ENTRY_BYTES: usize = 2048;

type ErrorReader = fn(&[String]) -> Option<Found>;

/// In tie-break order.
pub const ERROR_READERS: [ErrorReader; 5] = [
    python::read,
    jvm::read,
    node::read,
    golang::read,
    native::read,
];

/// Codes the field readers found, and which readers found them.
#[derive(Debug, Default)]
pub struct Fields {
    pub http_status: Option<u16>,
    pub grpc_code: Option<String>,
    pub error_code: Option<String>,
    pub readers: Vec<&'static str>,
}

impl Fields {
    pub fn note(&mut self, reader: &'static str) {
        if !self.readers.contains(&reader) {
            self.readers.push(reader);
        }
    }

    pub fn set_http(&mut self, status: u16, reader: &'static str) {
        if self.http_status.is_none() && (100..=599).contains(&status) {
            self.http_status = Some(status);
            self.note(reader);
        }
    }

    pub fn set_grpc(&mut self, code: &str, reader: &'static str) {
        if self.grpc_code.is_none()
            && let Some(n) = crate::names::grpc_code(code)
        {
            self.grpc_code = Some(crate::names::grpc_name(n).to_string());
            self.note(reader);
        }
    }

    pub fn set_code(&mut self, code: &str, reader: &'static str) {
        if self.error_code.is_none() && !code.is_empty() && code.len() <= 128 {
            self.error_code = Some(code.to_string());
            self.note(reader);
        }
    }
}

/// Run every field reader over one piece of text that belongs to an error of
/// type `type_name` (empty when unknown).
fn scan(type_name: &str, text: &str, fields: &mut Fields) {
    provider::scan(type_name, text, fields);
    http::scan(type_name, text, fields);
    grpc::scan(type_name, text, fields);
    errno::scan(type_name, text, fields);
}

pub fn read(lines: &[String], exit_code: Option<i32>, signal: Option<String>) -> LogReport {
    let mut found: Option<Found> = None;
    for reader in ERROR_READERS {
        if let Some(candidate) = reader(lines)
            && found.as_ref().is_none_or(|best| candidate.end > best.end)
        {
            found = Some(candidate);
        }
    }
    if found.is_none() {
        found = exception_line::read(lines);
    }

    let mut fields = Fields::default();
    let mut readers: Vec<&'static str> = Vec::new();
    let mut message = String::new();
    match &found {
        Some(f) => {
            readers.push(f.reader);
            if let Some(code) = &f.code {
                fields.set_code(code, f.reader);
            }
            for raised in &f.chain {
                scan(&raised.type_name, &raised.message, &mut fields);
            }
            for extra in &f.extra {
                scan("", extra, &mut fields);
            }
            // Each cause's message once (wrappers often repeat their cause's).
            let mut seen: Vec<&str> = Vec::new();
            for raised in &f.chain {
                let text = raised.message.trim();
                if text.is_empty() || seen.contains(&text) {
                    continue;
                }
                seen.push(text);
                if !message.is_empty() {
                    message.push('\n');
                }
                push_bounded(&mut message, text, MAX_ENTRY_BYTES);
            }
        }
        None => {
            let recent: Vec<&String> = lines
                .iter()
                .rev()
                .filter(|l| !l.trim().is_empty())
                .take(FALLBACK_LINES)
                .collect();
            for line in &recent {
                scan("", line, &mut fields);
            }
            let mut text = String::new();
            for line in recent.iter().rev() {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(line.trim_end());
            }
            message = tail_bounded(&text, MAX_MESSAGE_BYTES / 2);
        }
    }
    for reader in &fields.readers {
        if !readers.contains(reader) {
            readers.push(reader);
        }
    }

    let pushback_ms = pushback::read(lines);
    if pushback_ms.is_some() {
        readers.push(pushback::READER);
    }
    // Marker lines not already part of the error's message (the exception
    // line itself often is one).
    let mut added = false;
    for line in markers::read(lines) {
        let line = line.trim();
        let known = message.contains(line)
            || message
                .lines()
                .any(|m| m.trim().len() >= 16 && line.contains(m.trim()));
        if known {
            continue;
        }
        if !message.is_empty() {
            message.push('\n');
        }
        message.push_str(line);
        added = true;
    }
    if added {
        readers.push(markers::READER);
    }
    let message = head_bounded(&message, MAX_MESSAGE_BYTES);

    let error_types: Vec<String> = found
        .as_ref()
        .map(|f| f.chain.iter().map(|r| r.type_name.clone()).collect())
        .unwrap_or_default();
    let error_bases = hierarchy::bases(&error_types);
    let summary = summarise(
        found.as_ref(),
        &fields,
        exit_code,
        signal.as_deref(),
        &message,
    );
    LogReport {
        failure: Failure {
            http_status: fields.http_status,
            grpc_code: fields.grpc_code,
            exit_code,
            signal,
            error_types,
            error_bases,
            error_code: fields.error_code,
            message: (!message.is_empty()).then_some(message),
        },
        readers: readers.into_iter().map(str::to_string).collect(),
        summary,
        pushback_ms,
    }
}

fn summarise(
    found: Option<&Found>,
    fields: &Fields,
    exit_code: Option<i32>,
    signal: Option<&str>,
    message: &str,
) -> String {
    let mut out = String::new();
    if let Some(f) = found
        && let Some(top) = f.chain.first()
    {
        out.push_str(&top.type_name);
    }
    let mut codes = Vec::new();
    if let Some(code) = &fields.error_code {
        codes.push(code.clone());
    }
    if let Some(status) = fields.http_status {
        codes.push(format!("HTTP {status}"));
    }
    if let Some(code) = &fields.grpc_code {
        codes.push(format!("gRPC {code}"));
    }
    if !codes.is_empty() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&codes.join(", "));
    }
    let first_line = message.lines().next().unwrap_or("").trim();
    if found.is_some() && !first_line.is_empty() {
        out.push_str(": ");
        push_bounded(&mut out, first_line, 160);
    }
    if out.is_empty() {
        out.push_str("no error recognised");
    }
    match (signal, exit_code) {
        (Some(signal), _) => {
            let name = crate::names::signal(signal)
                .map(crate::names::signal_name)
                .unwrap_or_else(|| signal.to_string());
            out.push_str(&format!(" (killed by {name})"));
        }
        (None, Some(code)) => out.push_str(&format!(" (exit code {code})")),
        (None, None) => {}
    }
    out
}

/// Append at most `limit` bytes of `text`, cut on a character boundary.
fn push_bounded(out: &mut String, text: &str, limit: usize) {
    if text.len() <= limit {
        out.push_str(text);
        return;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    out.push_str(&text[..end]);
    out.push_str("...");
}

fn head_bounded(text: &str, limit: usize) -> String {
    let mut out = String::new();
    push_bounded(&mut out, text, limit);
    out
}

fn tail_bounded(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut start = text.len() - limit;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}
