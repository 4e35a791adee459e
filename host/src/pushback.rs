//! Server pushback: HTTP `Retry-After` (RFC 9110 §10.2.3) and gRPC's
//! `grpc-retry-pushback-ms` (gRPC A6). Every Backstop host maps the same
//! header text to the same wait (`tests/helpers/*.json`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use httpdate::HttpDate;

/// A server's answer to "when may I retry?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushback {
    /// Wait this long (it replaces the backoff; the policy caps it at `max_pushback`).
    After(Duration),
    /// Do not retry at all: a negative or unparseable `grpc-retry-pushback-ms`.
    /// The retry loop gives up with `pushback-beyond-deadline`, unless the
    /// planner gives up for a reason of its own first.
    Never,
}

/// A `Retry-After` value: RFC 9110's delay-seconds (digits only) or
/// HTTP-date (IMF-fixdate, or the obsolete RFC 850 and asctime forms, parsed by
/// the `httpdate` crate, exactly: a wrong weekday or a day that does not exist
/// is refused), as a wait from `now`; a date in the past is zero. `None` for
/// anything else, fractions and signs included.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    // Optional whitespace around a field value is not part of it.
    let text = value.trim_matches([' ', '\t']);
    if is_digits(text) {
        return Some(Duration::from_secs(text.parse().unwrap_or(u64::MAX)));
    }
    let at = http_date(text, now)?;
    let wait = at.duration_since(now).unwrap_or(Duration::ZERO);
    // Whole milliseconds, rounded up: a retry never comes early.
    Some(Duration::from_millis(
        u64::try_from(wait.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX),
    ))
}

/// A `grpc-retry-pushback-ms` value: the wait, or [`Pushback::Never`] when it
/// is negative or unparseable ("do not retry", gRPC A6).
pub fn parse_grpc_pushback(value: &str) -> Pushback {
    let text = value.trim_matches([' ', '\t']);
    if !is_digits(text) {
        return Pushback::Never;
    }
    Pushback::After(Duration::from_millis(text.parse().unwrap_or(u64::MAX)))
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn http_date(text: &str, now: SystemTime) -> Option<SystemTime> {
    // httpdate reads fixed-width fields with `str::parse`, which would take
    // "+1" for a day; the grammar has no sign anywhere.
    if text.contains('+') {
        return None;
    }
    let date: HttpDate = text.parse().ok()?;
    let mut at = SystemTime::from(date);
    // A round trip recomputes the weekday and normalises 31 Feb to March:
    // the parsed date must survive it unchanged.
    if HttpDate::from(at) != date {
        return None;
    }
    if is_rfc850(text) {
        // RFC 9110: a two-digit year more than 50 years in the future is the
        // most recent past year with those digits (httpdate pivots at 70).
        let parsed = year_of(at);
        let now_year = year_of(now);
        let mut year = now_year / 100 * 100 + parsed % 100;
        if year > now_year + 50 {
            year -= 100;
        }
        if year != parsed {
            at = with_year(date, year)?;
        }
    }
    Some(at)
}

fn is_rfc850(text: &str) -> bool {
    text.split(',').next().is_some_and(|day| day.len() > 3)
}

fn year_of(t: SystemTime) -> i64 {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    civil_year(secs.div_euclid(86_400))
}

/// The proleptic Gregorian year of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_year(days: i64) -> i64 {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(month <= 2)
}

/// `date` moved to `year`: its IMF-fixdate text with the year replaced, read
/// back (httpdate computes the instant from the fields, not the weekday).
fn with_year(date: HttpDate, year: i64) -> Option<SystemTime> {
    let text = date.to_string(); // "Thu, 01 Jan 2026 00:00:05 GMT"
    let moved = format!("{}{year:04}{}", &text[..12], &text[16..]);
    moved.parse::<HttpDate>().ok().map(SystemTime::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        // 2025-01-01T12:00:00Z
        UNIX_EPOCH + Duration::from_secs(1_735_732_800)
    }

    #[test]
    fn retry_after_accepts_exactly_rfc_9110() {
        let ok = |v: &str, secs: u64| {
            assert_eq!(
                parse_retry_after(v, now()),
                Some(Duration::from_secs(secs)),
                "{v}"
            );
        };
        ok("120", 120);
        ok(" 0 ", 0);
        ok("Wed, 01 Jan 2025 12:00:30 GMT", 30);
        ok("Wednesday, 01-Jan-25 12:00:30 GMT", 30);
        ok("Wed Jan  1 12:00:30 2025", 30);
        ok("Wed Jan 01 12:00:30 2025", 30);
        ok("Wed, 01 Jan 2025 11:00:00 GMT", 0);
        for bad in [
            "1.5",
            "+5",
            "-5",
            "",
            "soon",
            "wed, 01 jan 2025 12:00:30 GMT",
            "Thu, 01 Jan 2025 12:00:30 GMT",
            "Wed, 01 Jan 2025 12:00:30 +0000",
            "Tue, 31 Feb 2025 12:00:30 GMT",
            "Wed, +1 Jan 2025 12:00:30 GMT",
            "2025-01-01T12:00:30Z",
        ] {
            assert_eq!(parse_retry_after(bad, now()), None, "{bad}");
        }
    }

    #[test]
    fn grpc_pushback_negative_or_unparseable_means_never() {
        assert_eq!(
            parse_grpc_pushback("250"),
            Pushback::After(Duration::from_millis(250))
        );
        for bad in ["-1", "soon", "1.5", ""] {
            assert_eq!(parse_grpc_pushback(bad), Pushback::Never, "{bad}");
        }
    }
}
