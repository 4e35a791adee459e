//! Canonical names for gRPC status codes and POSIX signals (Linux numbering).

/// Longest run id, step or pipeline name, in bytes (UTF-8).
pub const MAX_ID_BYTES: usize = 256;

/// The one policy for run ids, step and pipeline names, in every host and at
/// `backstop run`: not blank, at most [`MAX_ID_BYTES`] bytes, no control
/// characters (they would forge log lines and break a pasted command).
/// Returns what is wrong, as the end of a sentence ("is blank").
pub fn check_id(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("is blank".into());
    }
    if value.len() > MAX_ID_BYTES {
        return Err(format!(
            "is {} bytes; the limit is {MAX_ID_BYTES}",
            value.len()
        ));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(format!(
            "contains the control character U+{:04X}; use printable characters",
            u32::from(c)
        ));
    }
    Ok(())
}

/// gRPC status codes in numeric order (`GRPC_CODES[n]` is code `n`).
pub const GRPC_CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// Parse a gRPC status by number (`"14"`) or name, case-insensitively and with
/// or without underscores (`UNAVAILABLE`, `Unavailable`, `DeadlineExceeded`).
pub fn grpc_code(text: &str) -> Option<u8> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u8>() {
        return (usize::from(n) < GRPC_CODES.len()).then_some(n);
    }
    let wanted: String = text
        .chars()
        .filter(|c| *c != '_')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    // "CANCELED" is the spelling Go and some SDKs use.
    let wanted = if wanted == "CANCELED" {
        "CANCELLED".to_string()
    } else {
        wanted
    };
    GRPC_CODES
        .iter()
        .position(|name| name.replace('_', "") == wanted)
        .map(|i| i as u8)
}

pub fn grpc_name(code: u8) -> &'static str {
    GRPC_CODES.get(usize::from(code)).copied().unwrap_or("?")
}

/// Linux signal numbers (x86-64, arm64) for the standard signals.
const SIGNALS: [(&str, u8); 31] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// Highest signal number accepted (real-time signals included).
pub const MAX_SIGNAL: u8 = 64;

/// Parse a signal by number (`"9"`) or name (`SIGKILL`, `kill`, `IOT` = `ABRT`).
pub fn signal(text: &str) -> Option<u8> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u8>() {
        return (1..=MAX_SIGNAL).contains(&n).then_some(n);
    }
    let upper = text.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    let bare = match bare {
        "IOT" => "ABRT",
        "POLL" => "IO",
        other => other,
    };
    SIGNALS
        .iter()
        .find(|(name, _)| *name == bare)
        .map(|(_, n)| *n)
}

/// `SIGKILL` for a standard signal, the number itself for others (`40`).
pub fn signal_name(number: u8) -> String {
    SIGNALS
        .iter()
        .find(|(_, n)| *n == number)
        .map_or_else(|| number.to_string(), |(name, _)| format!("SIG{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_names_and_numbers() {
        assert_eq!(grpc_code("UNAVAILABLE"), Some(14));
        assert_eq!(grpc_code("unavailable"), Some(14));
        assert_eq!(grpc_code("DeadlineExceeded"), Some(4));
        assert_eq!(grpc_code("Canceled"), Some(1));
        assert_eq!(grpc_code("16"), Some(16));
        assert_eq!(grpc_code("17"), None);
        assert_eq!(grpc_code("NOPE"), None);
        assert_eq!(grpc_name(14), "UNAVAILABLE");
    }

    #[test]
    fn signal_names_and_numbers() {
        assert_eq!(signal("SIGKILL"), Some(9));
        assert_eq!(signal("term"), Some(15));
        assert_eq!(signal("9"), Some(9));
        assert_eq!(signal("0"), None);
        assert_eq!(signal("65"), None);
        assert_eq!(signal("SIGNOPE"), None);
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(40), "40");
    }
}
