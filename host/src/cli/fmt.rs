//! Human-readable durations and bars, shared by `plan`, `run` and `stats`.

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
    fn bars_scale_to_the_maximum() {
        assert_eq!(bar(0, 100, 10), "");
        assert_eq!(bar(100, 100, 10), "█".repeat(10));
        assert_eq!(bar(50, 100, 10), "█".repeat(5));
        assert_eq!(bar(1, 1_000_000, 10), "▏");
        assert_eq!(bar(5, 80, 10), "▋");
    }
}
