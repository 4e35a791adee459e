//! Human-readable durations, bars and times, shared by the commands.
//! RFC 3339 goes through `jiff`, the one codec the guest uses too.

/// `0s`, `250ms`, `2.1s`, `1m30s`, `2h5m`: short, exact enough to read.
pub fn duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    if ms < 60_000 {
        // Two significant decimals below 10 s, one above; no trailing zeros.
        let text = if ms < 10_000 {
            format!("{:.2}", ms as f64 / 1_000.0)
        } else {
            format!("{:.1}", ms as f64 / 1_000.0)
        };
        let text = text.trim_end_matches('0').trim_end_matches('.');
        return format!("{text}s");
    }
    let total_s = ms / 1_000;
    let (d, h, m, s) = (
        total_s / 86_400,
        total_s / 3_600 % 24,
        total_s / 60 % 60,
        total_s % 60,
    );
    let mut out = String::new();
    for (value, unit) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
        if value > 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    }
    out
}

/// RFC 3339 in UTC: whole seconds when the time is whole
/// (`2024-01-15T02:03:05Z`), else milliseconds (`2024-01-15T02:03:05.250Z`).
/// A time past year 9999, which RFC 3339 cannot write, prints as milliseconds.
pub fn rfc3339(ms: u64) -> String {
    let Some(t) = i64::try_from(ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
    else {
        return format!("{ms} ms after the epoch");
    };
    if ms.is_multiple_of(1000) {
        format!("{t}")
    } else {
        format!("{t:.3}")
    }
}

/// An RFC 3339 time with `Z` or a numeric offset, fractions allowed, as
/// milliseconds since the epoch (sub-millisecond digits truncated).
pub fn parse_rfc3339(text: &str) -> Result<u64, String> {
    let t: jiff::Timestamp = text.trim().parse().map_err(|e| format!("{e}"))?;
    u64::try_from(t.as_millisecond()).map_err(|_| "it is before 1970".to_string())
}

/// Milliseconds since the epoch on the wall clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A bar of `value / max × width` cells drawn with eighth blocks.
pub fn bar(value: u64, max: u64, width: usize) -> String {
    const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    if max == 0 || value == 0 {
        return String::new();
    }
    let eighths = ((value as u128 * width as u128 * 8) / max as u128).max(1) as usize;
    let mut out = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        out.push(EIGHTHS[eighths % 8]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        let cases = [
            (0, "0s"),
            (10, "10ms"),
            (999, "999ms"),
            (1_000, "1s"),
            (2_100, "2.1s"),
            (1_250, "1.25s"),
            (12_340, "12.3s"),
            (60_000, "1m"),
            (90_500, "1m30s"),
            (7_500_000, "2h5m"),
            (86_400_000 * 30, "30d"),
        ];
        for (ms, text) in cases {
            assert_eq!(duration(ms), text, "{ms}");
        }
    }

    #[test]
    fn times_format_and_parse_as_rfc_3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_705_284_185_000), "2024-01-15T02:03:05Z");
        assert_eq!(rfc3339(1_705_284_185_250), "2024-01-15T02:03:05.250Z");
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01Z"), Ok(1000));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:01+01:00"), Ok(1000));
        assert_eq!(
            parse_rfc3339(" 2024-01-15T02:03:05.250Z "),
            Ok(1_705_284_185_250)
        );
        for bad in [
            "yesterday",
            "xx€abcde",
            "2024-01-15T02:03:05",
            "1969-12-31T23:59:59Z",
            "",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
        let far = 300_000_000_000_000;
        assert_eq!(rfc3339(far), format!("{far} ms after the epoch"));
    }

    #[test]
    fn bars_scale_to_the_maximum() {
        assert_eq!(bar(0, 100, 10), "");
        assert_eq!(bar(100, 100, 10), "█".repeat(10));
        assert_eq!(bar(50, 100, 10), "█".repeat(5));
        assert_eq!(bar(1, 1_000_000, 10), "▏");
        assert_eq!(bar(5, 80, 10), "▋");
    }
}
