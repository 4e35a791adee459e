//! Rendering a simulated fleet: the terminal table and one self-contained
//! HTML page with inline SVG charts (no script, no stylesheet or font from
//! the network). Pure functions of the statistics.

use std::fmt::Write as _;

use super::stats::Summary;
use crate::cli::fmt::duration;

/// What the page and the table say about the run.
pub struct Header<'a> {
    pub policy: &'a str,
    /// One line describing the scenario (workers, outage, capacity...).
    pub scenario: String,
    pub bucket_ms: u64,
}

fn recovery_cells(s: &Summary) -> [String; 3] {
    match &s.recovery {
        Some(r) => [
            duration(r.median_ms),
            duration(r.p95_ms),
            duration(r.max_ms),
        ],
        None => ["-".into(), "-".into(), "-".into()],
    }
}

/// The terminal table: one row per variant.
pub fn table(header: &Header, rows: &[Summary]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", header.scenario);
    let peak = format!("peak/{}", duration(header.bucket_ms));
    let titles = [
        "jitter",
        "protection",
        "calls",
        "wasted",
        "in outage",
        peak.as_str(),
        "after",
        "recovered",
        "median",
        "p95",
        "max",
    ];
    let mut cells: Vec<Vec<String>> = vec![titles.iter().map(|t| t.to_string()).collect()];
    for s in rows {
        let [median, p95, max] = recovery_cells(s);
        cells.push(vec![
            s.jitter.clone(),
            s.protection.clone(),
            s.total_calls.to_string(),
            s.wasted_calls.to_string(),
            s.calls_during_outage.to_string(),
            s.peak_calls.to_string(),
            s.peak_after_outage.to_string(),
            format!("{}/{}", s.recovered, s.recovered + s.not_recovered),
            median,
            p95,
            max,
        ]);
    }
    let widths: Vec<usize> = (0..titles.len())
        .map(|c| {
            cells
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &cells {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            // Names left-aligned, figures right-aligned.
            if c < 2 {
                let _ = write!(line, "{cell:<w$}  ", w = widths[c]);
            } else {
                let _ = write!(line, "{cell:>w$}  ", w = widths[c]);
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(
        out,
        "peak: most calls in one {bucket}; after: the same from the end of the outage on; \
         recovery: from the end of the outage to the worker's first successful call",
        bucket = duration(header.bucket_ms)
    );
    out
}

/// Escape text for HTML content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Line colours, one per jitter mode in order (readable on white, distinct
/// for common colour blindness: the Okabe-Ito palette).
const COLOURS: [&str; 6] = [
    "#000000", "#E69F00", "#0072B2", "#009E73", "#CC79A7", "#D55E00",
];

const W: f64 = 720.0;
const H: f64 = 260.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 130.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 40.0;

/// A line chart of calls per bucket, one line per summary.
fn load_chart(title: &str, rows: &[&Summary], bucket_ms: u64, outage_ms: u64) -> String {
    let buckets = rows.iter().map(|s| s.load.len()).max().unwrap_or(0).max(1);
    let peak = rows
        .iter()
        .flat_map(|s| s.load.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let x = |i: usize| LEFT + plot_w * i as f64 / buckets as f64;
    let y = |v: u64| TOP + plot_h * (1.0 - v as f64 / peak as f64);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="{}">"#,
        esc(title)
    );
    let _ = write!(svg, "<title>{}</title>", esc(title));
    // The outage as a shaded band.
    let outage_end = LEFT + plot_w * (outage_ms as f64 / (buckets as u64 * bucket_ms) as f64);
    let _ = write!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{plot_h}" fill="#f3d6d6"/>"##,
        (outage_end.min(LEFT + plot_w) - LEFT).max(0.0)
    );
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#a33">outage</text>"##,
        LEFT + 4.0,
        TOP + 12.0
    );
    // Axes, with the peak and the time span labelled.
    let _ = write!(
        svg,
        r##"<path d="M{LEFT} {TOP} V{:.1} H{:.1}" fill="none" stroke="#444"/>"##,
        TOP + plot_h,
        LEFT + plot_w
    );
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{peak}</text><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">0</text>"##,
        LEFT - 6.0,
        TOP + 4.0,
        LEFT - 6.0,
        TOP + plot_h
    );
    let _ = write!(
        svg,
        r##"<text x="{LEFT}" y="{:.1}" font-size="11">0</text><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">calls per {} (time from the start of the outage)</text>"##,
        TOP + plot_h + 14.0,
        LEFT + plot_w,
        TOP + plot_h + 14.0,
        esc(&duration(buckets as u64 * bucket_ms)),
        LEFT + plot_w / 2.0,
        TOP + plot_h + 30.0,
        esc(&duration(bucket_ms))
    );
    for (i, s) in rows.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut d = String::new();
        // A step line: flat across each bucket.
        for (b, &v) in s.load.iter().enumerate() {
            let cmd = if b == 0 { 'M' } else { 'L' };
            let _ = write!(
                d,
                "{cmd}{:.1} {:.1} L{:.1} {:.1} ",
                x(b),
                y(v),
                x(b + 1),
                y(v)
            );
        }
        let _ = write!(
            svg,
            r#"<path d="{}" fill="none" stroke="{colour}" stroke-width="1.5"><title>{}</title></path>"#,
            d.trim_end(),
            esc(&s.jitter)
        );
        let ly = TOP + 14.0 + 16.0 * i as f64;
        let _ = write!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="12" height="3" fill="{colour}"/><text x="{:.1}" y="{:.1}" font-size="12">{}</text>"#,
            W - RIGHT + 12.0,
            ly - 4.0,
            W - RIGHT + 28.0,
            ly,
            esc(&s.jitter)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A horizontal bar chart: one bar per summary, `value` gives its length.
fn bar_chart(
    title: &str,
    rows: &[Summary],
    value: impl Fn(&Summary) -> Option<u64>,
    label: impl Fn(u64) -> String,
) -> String {
    let bar_h = 16.0;
    let gap = 6.0;
    let left = 190.0;
    let height = TOP + rows.len() as f64 * (bar_h + gap) + 10.0;
    let max = rows.iter().filter_map(&value).max().unwrap_or(0).max(1);
    let plot_w = W - left - 90.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height:.0}" viewBox="0 0 {W} {height:.0}" role="img" aria-label="{}">"#,
        esc(title)
    );
    let _ = write!(svg, "<title>{}</title>", esc(title));
    for (i, s) in rows.iter().enumerate() {
        let y = TOP + i as f64 * (bar_h + gap);
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end">{} · {}</text>"#,
            left - 8.0,
            y + 12.0,
            esc(&s.jitter),
            esc(&s.protection)
        );
        match value(s) {
            Some(v) => {
                let w = plot_w * v as f64 / max as f64;
                let _ = write!(
                    svg,
                    r##"<rect x="{left}" y="{y:.1}" width="{w:.1}" height="{bar_h}" fill="#0072B2"/><text x="{:.1}" y="{:.1}" font-size="12">{}</text>"##,
                    left + w + 6.0,
                    y + 12.0,
                    esc(&label(v))
                );
            }
            None => {
                let _ = write!(
                    svg,
                    r#"<text x="{:.1}" y="{:.1}" font-size="12">not all recovered</text>"#,
                    left + 6.0,
                    y + 12.0
                );
            }
        }
    }
    svg.push_str("</svg>");
    svg
}

/// The page: the table as HTML, a load chart per protection setting, and
/// bars for total calls and p95 recovery. Well-formed XML (every element
/// closed) so it also parses as XHTML.
pub fn html(header: &Header, rows: &[Summary], outage_ms: u64) -> String {
    let mut page = String::new();
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n");
    let _ = writeln!(
        page,
        "<title>Backstop fleet simulation: {}</title>",
        esc(header.policy)
    );
    page.push_str(
        "<style>body{font-family:sans-serif;margin:2em;max-width:60em}\
         table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd}\
         td.n{text-align:right}figure{margin:1.5em 0}</style>\n</head>\n<body>\n",
    );
    let _ = writeln!(page, "<h1>Fleet simulation: {}</h1>", esc(header.policy));
    let _ = writeln!(page, "<p>{}</p>", esc(&header.scenario));
    page.push_str("<table>\n<tr><th>jitter</th><th>protection</th><th>calls</th><th>wasted</th><th>in outage</th><th>peak</th><th>peak after</th><th>recovered</th><th>median</th><th>p95</th><th>max</th></tr>\n");
    for s in rows {
        let [median, p95, max] = recovery_cells(s);
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}/{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&s.jitter),
            esc(&s.protection),
            s.total_calls,
            s.wasted_calls,
            s.calls_during_outage,
            s.peak_calls,
            s.peak_after_outage,
            s.recovered,
            s.recovered + s.not_recovered,
            esc(&median),
            esc(&p95),
            esc(&max)
        );
    }
    page.push_str("</table>\n<p>Recovery: time from the end of the outage to the worker's first successful call. Wasted: calls that failed.</p>\n");
    // One load chart per protection setting, in the order they first appear.
    let mut protections: Vec<&str> = Vec::new();
    for s in rows {
        if !protections.contains(&s.protection.as_str()) {
            protections.push(&s.protection);
        }
    }
    for p in protections {
        let group: Vec<&Summary> = rows.iter().filter(|s| s.protection == p).collect();
        let title = format!("Load on the dependency, protection: {p}");
        let _ = writeln!(
            page,
            "<figure>\n<figcaption>{}</figcaption>\n{}\n</figure>",
            esc(&title),
            load_chart(&title, &group, header.bucket_ms, outage_ms)
        );
    }
    let title = "Total calls per variant";
    let _ = writeln!(
        page,
        "<figure>\n<figcaption>{title}</figcaption>\n{}\n</figure>",
        bar_chart(title, rows, |s| Some(s.total_calls), |v| v.to_string())
    );
    let title = "p95 recovery time after the outage";
    let _ = writeln!(
        page,
        "<figure>\n<figcaption>{title}</figcaption>\n{}\n</figure>",
        bar_chart(
            title,
            rows,
            |s| if s.not_recovered == 0 {
                s.recovery.map(|r| r.p95_ms)
            } else {
                None
            },
            duration
        )
    );
    page.push_str("</body>\n</html>\n");
    page
}
