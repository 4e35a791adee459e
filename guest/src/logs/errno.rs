//! errno names and their strerror texts: Python's `[Errno 104] Connection
//! reset by peer` (the number on Linux, or the text), getaddrinfo's
//! `[Errno -3] Temporary failure in name resolution`, C and Go messages
//! (`write /data/x: no space left on device`; Go's syscall table is the
//! glibc text in lower case), and bare names (`ECONNRESET`, as Node prints).

use std::sync::LazyLock;

use regex::Regex;

use super::merge::Fields;

pub const READER: &str = "errno";

/// (name, Linux number, glibc strerror / gai_strerror text).
const ERRNOS: &[(&str, i32, &str)] = &[
    ("EPERM", 1, "Operation not permitted"),
    ("ENOENT", 2, "No such file or directory"),
    ("EIO", 5, "Input/output error"),
    ("EAGAIN", 11, "Resource temporarily unavailable"),
    ("ENOMEM", 12, "Cannot allocate memory"),
    ("EACCES", 13, "Permission denied"),
    ("EBUSY", 16, "Device or resource busy"),
    ("EMFILE", 24, "Too many open files"),
    ("ENOSPC", 28, "No space left on device"),
    ("EROFS", 30, "Read-only file system"),
    ("EPIPE", 32, "Broken pipe"),
    ("ENETDOWN", 100, "Network is down"),
    ("ENETUNREACH", 101, "Network is unreachable"),
    ("ENETRESET", 102, "Network dropped connection on reset"),
    ("ECONNABORTED", 103, "Software caused connection abort"),
    ("ECONNRESET", 104, "Connection reset by peer"),
    ("ENOTCONN", 107, "Transport endpoint is not connected"),
    ("ETIMEDOUT", 110, "Connection timed out"),
    ("ECONNREFUSED", 111, "Connection refused"),
    ("EHOSTDOWN", 112, "Host is down"),
    ("EHOSTUNREACH", 113, "No route to host"),
    ("ESTALE", 116, "Stale file handle"),
    ("EDQUOT", 122, "Disk quota exceeded"),
    // getaddrinfo: Python reports the EAI_* value (negative on glibc).
    ("EAI_AGAIN", -3, "Temporary failure in name resolution"),
    ("EAI_NONAME", -2, "Name or service not known"),
    ("EAI_FAIL", -4, "Non-recoverable failure in name resolution"),
];

/// Texts other platforms and runtimes use for the same errors.
const ALIASES: &[(&str, &str)] = &[
    ("ETIMEDOUT", "Operation timed out"),
    ("ETIMEDOUT", "i/o timeout"),
    // The JVM's SocketException texts.
    ("ECONNRESET", "Connection reset"),
    ("EAI_NONAME", "nodename nor servname provided, or not known"),
];

/// `[Errno 104]`, and the repr form `ConnectionResetError(104, '...')`.
/// ASCII digits only: another script's digits would be the last match and
/// then not parse, in place of an earlier number.
static ERRNO_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\[Errno (-?[0-9]{1,4})\]|[A-Za-z]+Error\((-?[0-9]{1,4}), ['\x22])").unwrap()
});

static BARE_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(E[A-Z]{3,14}|EAI_[A-Z]{4,8})\b").unwrap());

static TEXTS: LazyLock<Regex> = LazyLock::new(|| {
    let alternatives: Vec<String> = ERRNOS
        .iter()
        .map(|(_, _, text)| *text)
        .chain(ALIASES.iter().map(|(_, text)| *text))
        .map(regex::escape)
        .collect();
    // ASCII case folding, as `by_text` compares: Unicode's would also take
    // `ſ` for `s` (and the Kelvin sign for `k`), making a last match that
    // `by_text` rejects in place of an earlier one, at twice the compile time.
    Regex::new(&format!(r"(?i-u)(?:{})", alternatives.join("|"))).unwrap()
});

fn by_text(found: &str) -> Option<&'static str> {
    ERRNOS
        .iter()
        .map(|(name, _, text)| (*name, *text))
        .chain(ALIASES.iter().copied())
        .find(|(_, text)| text.eq_ignore_ascii_case(found))
        .map(|(name, _)| name)
}

pub fn scan(_type_name: &str, text: &str, fields: &mut Fields) {
    if fields.error_code.is_some() {
        return;
    }
    if let Some(c) = ERRNO_NUMBER.captures_iter(text).last()
        && let Some(m) = c.get(1).or_else(|| c.get(2))
        && let Ok(n) = m.as_str().parse::<i32>()
        && let Some((name, _, _)) = ERRNOS.iter().find(|(_, number, _)| *number == n)
    {
        fields.set_code(name, READER);
        return;
    }
    // The last text is the innermost cause (`read: connection reset by peer`,
    // `('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))`).
    if let Some(m) = TEXTS.find_iter(text).last()
        && let Some(name) = by_text(m.as_str())
    {
        fields.set_code(name, READER);
        return;
    }
    for m in BARE_NAME.find_iter(text) {
        if ERRNOS.iter().any(|(name, _, _)| *name == m.as_str()) {
            fields.set_code(m.as_str(), READER);
            return;
        }
    }
}
