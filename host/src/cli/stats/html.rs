//! `backstop stats --html FILE`: one self-contained page (inline CSS and
//! SVG, no script, no external resource) with the trends of each pipeline
//! and step as charts, and the figures as a table under them.

use std::fmt::Write as _;

use super::render::{Window, date, give_ups, ms, percent, pipeline_label, ratio};
use super::trends::{Figures, Group};

const W: f64 = 520.0;
const H: f64 = 200.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 34.0;
const COLOURS: [&str; 3] = ["#2b6cb0", "#dd6b20", "#c53030"];

/// Text and attribute values: names come from users' run ids and steps.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// How a chart draws its series.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Bars,
    Lines,
}

struct Series<'a> {
    name: &'a str,
    values: Vec<Option<f64>>,
}

/// One SVG chart: the buckets along x, `series` up y from 0 to the largest
/// value (or `max`); `label` formats a value for the axis and the tooltips.
fn chart(
    metric: &str,
    title: &str,
    labels: &[String],
    series: &[Series<'_>],
    kind: Kind,
    max: Option<f64>,
    label: &dyn Fn(f64) -> String,
) -> String {
    let top = max
        .unwrap_or_else(|| {
            series
                .iter()
                .flat_map(|s| s.values.iter().flatten().copied())
                .fold(0.0, f64::max)
        })
        .max(f64::MIN_POSITIVE);
    let (plot_w, plot_h) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let n = labels.len().max(1) as f64;
    let slot = plot_w / n;
    let y = |v: f64| TOP + plot_h * (1.0 - (v / top).clamp(0.0, 1.0));
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<figure><figcaption>{title}</figcaption><svg class="chart" data-metric="{metric}" xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="{title}">"#
    );
    // Axes, the top value and the buckets' dates.
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b}" stroke="#888"/><line x1="{LEFT}" y1="{b}" x2="{r}" y2="{b}" stroke="#888"/><text class="axis" x="{tx}" y="{ty}" text-anchor="end">{top_label}</text><text class="axis" x="{tx}" y="{b}" text-anchor="end">0</text>"##,
        b = TOP + plot_h,
        r = W - RIGHT,
        tx = LEFT - 4.0,
        ty = TOP + 4.0,
        top_label = escape(&label(top)),
    );
    let every = (labels.len() / 6).max(1);
    for (i, text) in labels.iter().enumerate() {
        if i % every == 0 {
            let _ = write!(
                svg,
                r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                LEFT + slot * (i as f64 + 0.5),
                H - BOTTOM + 16.0,
                escape(text.get(5..).unwrap_or(text)),
            );
        }
    }
    let width = slot * 0.8 / series.len().max(1) as f64;
    for (k, s) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let mut points = Vec::new();
        for (i, v) in s.values.iter().enumerate() {
            let Some(v) = *v else { continue };
            let tip = format!("{} {}: {}", labels[i], s.name, label(v));
            match kind {
                Kind::Bars => {
                    let x = LEFT + slot * i as f64 + slot * 0.1 + width * k as f64;
                    let _ = write!(
                        svg,
                        r#"<rect class="bar" data-series="{name}" data-bucket="{bucket}" data-value="{v}" x="{x:.1}" y="{ry:.1}" width="{width:.1}" height="{h:.1}" fill="{colour}"><title>{tip}</title></rect>"#,
                        name = escape(s.name),
                        bucket = labels[i],
                        ry = y(v),
                        h = TOP + plot_h - y(v),
                        tip = escape(&tip),
                    );
                }
                Kind::Lines => {
                    let (px, py) = (LEFT + slot * (i as f64 + 0.5), y(v));
                    points.push(format!("{px:.1},{py:.1}"));
                    let _ = write!(
                        svg,
                        r#"<circle class="point" data-series="{name}" data-bucket="{bucket}" data-value="{v}" cx="{px:.1}" cy="{py:.1}" r="3" fill="{colour}"><title>{tip}</title></circle>"#,
                        name = escape(s.name),
                        bucket = labels[i],
                        tip = escape(&tip),
                    );
                }
            }
        }
        if kind == Kind::Lines && points.len() > 1 {
            // Later series dashed, so equal values (p95 = max) stay visible.
            let dash = ["", " stroke-dasharray=\"8 4\"", " stroke-dasharray=\"2 3\""][k % 3];
            let _ = write!(
                svg,
                r#"<polyline class="series" data-series="{}" points="{}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>"#,
                escape(s.name),
                points.join(" ")
            );
        }
    }
    svg.push_str("</svg>");
    if series.len() > 1 {
        svg.push_str(r#"<div class="legend">"#);
        for (k, s) in series.iter().enumerate() {
            let _ = write!(
                svg,
                r#"<span><i style="background:{}"></i>{}</span>"#,
                COLOURS[k % COLOURS.len()],
                escape(s.name)
            );
        }
        svg.push_str("</div>");
    }
    svg.push_str("</figure>");
    svg
}

fn figures_row(label: &str, f: &Figures) -> String {
    let cells = [
        ("runs", f.runs.to_string()),
        ("succeeded", f.succeeded.to_string()),
        ("gave-up", f.gave_up.to_string()),
        ("success-rate", percent(f.success_rate)),
        ("retries", f.retries.to_string()),
        ("retries-per-run", ratio(f.retries_per_run)),
        ("ttr-median", ms(f.ttr_median_ms)),
        ("ttr-p95", ms(f.ttr_p95_ms)),
        ("ttr-max", ms(f.ttr_max_ms)),
        ("give-ups", give_ups(f)),
        ("pages", f.pages.to_string()),
        ("infos", f.infos.to_string()),
    ];
    let mut out = format!(
        r#"<tr data-bucket="{}"><th>{}</th>"#,
        escape(label),
        escape(label)
    );
    for (field, value) in cells {
        let _ = write!(out, r#"<td data-field="{field}">{}</td>"#, escape(&value));
    }
    out.push_str("</tr>");
    out
}

fn group(g: &Group, window: &Window) -> String {
    let labels: Vec<String> = g.buckets.iter().map(|f| date(f.start_ms)).collect();
    let per = |f: &dyn Fn(&Figures) -> Option<f64>| -> Vec<Option<f64>> {
        g.buckets.iter().map(f).collect()
    };
    let seconds = |v: Option<u64>| v.map(|ms| ms as f64);
    let by = window.by.name();
    let mut out = format!(
        r#"<section class="group" data-pipeline="{p}" data-step="{s}"><h2>{pl} / {s}</h2><div class="charts">"#,
        p = escape(&g.pipeline),
        pl = escape(pipeline_label(&g.pipeline)),
        s = escape(&g.step),
    );
    out.push_str(&chart(
        "success-rate",
        &format!("Success rate per {by}"),
        &labels,
        &[Series {
            name: "success rate",
            values: per(&|f| f.success_rate),
        }],
        Kind::Bars,
        Some(1.0),
        &|v| format!("{:.0}%", v * 100.0),
    ));
    out.push_str(&chart(
        "retries-per-run",
        &format!("Retries per run, per {by}"),
        &labels,
        &[Series {
            name: "retries per run",
            values: per(&|f| f.retries_per_run),
        }],
        Kind::Bars,
        None,
        &|v| format!("{v:.2}"),
    ));
    out.push_str(&chart(
        "time-to-recovery",
        &format!("Time to recovery per {by}"),
        &labels,
        &[
            Series {
                name: "median",
                values: per(&|f| seconds(f.ttr_median_ms)),
            },
            Series {
                name: "p95",
                values: per(&|f| seconds(f.ttr_p95_ms)),
            },
            Series {
                name: "max",
                values: per(&|f| seconds(f.ttr_max_ms)),
            },
        ],
        Kind::Lines,
        None,
        &|v| super::super::fmt::duration(v as u64),
    ));
    out.push_str(&chart(
        "notifications",
        &format!("Pages and infos per {by}"),
        &labels,
        &[
            Series {
                name: "pages",
                values: per(&|f| Some(f.pages as f64)),
            },
            Series {
                name: "infos",
                values: per(&|f| Some(f.infos as f64)),
            },
        ],
        Kind::Bars,
        None,
        &|v| format!("{v:.0}"),
    ));
    out.push_str("</div>");
    let _ = write!(
        out,
        r#"<table class="figures"><thead><tr><th>{by}</th><th>runs</th><th>ok</th><th>gave up</th><th>success</th><th>retries</th><th>per run</th><th>TTR median</th><th>TTR p95</th><th>TTR max</th><th>give-ups</th><th>pages</th><th>infos</th></tr></thead><tbody>"#
    );
    for (f, label) in g.buckets.iter().zip(&labels) {
        out.push_str(&figures_row(label, f));
    }
    out.push_str(&figures_row("total", &g.total));
    out.push_str("</tbody></table></section>");
    out
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1a202c;background:#fff}\
h1{font-size:20px}h2{font-size:16px;margin-top:28px}\
.charts{display:flex;flex-wrap:wrap;gap:12px}\
figure{margin:0;border:1px solid #e2e8f0;padding:8px}figcaption{font-weight:600}\
.axis{font-size:10px;fill:#4a5568}\
.legend span{margin-right:12px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}\
table{border-collapse:collapse;margin-top:12px}th,td{border:1px solid #e2e8f0;padding:2px 8px;text-align:right;white-space:nowrap}\
p.note{color:#4a5568;font-size:12px}";

/// The whole page.
pub fn page(groups: &[Group], window: &Window, state: &str) -> String {
    let mut out = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>backstop stats</title><style>{STYLE}</style></head><body><h1>backstop stats</h1><p class="window">{} in {}</p>"#,
        escape(&window.describe()),
        escape(state),
    );
    if groups.is_empty() {
        out.push_str(r#"<p class="empty">no runs in this window</p>"#);
    }
    for g in groups {
        out.push_str(&group(g, window));
    }
    out.push_str(
        r#"<p class="note">Time to recovery (TTR): from the end of a run's first failed attempt to the end of the attempt that succeeded; median and p95 are nearest-rank. Pages: high and critical notifications; infos: info ones (resolves not counted); both are the pipeline's. See docs/STATS.md.</p></body></html>"#,
    );
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::super::trends::By;
    use super::*;

    #[test]
    fn the_page_is_self_contained_and_escapes_names() {
        let f = Figures {
            start_ms: 1_704_067_200_000,
            runs: 2,
            succeeded: 2,
            success_rate: Some(1.0),
            retries_per_run: Some(0.5),
            ttr_median_ms: Some(1_000),
            ttr_p95_ms: Some(2_000),
            ttr_max_ms: Some(2_000),
            pages: 1,
            ..Figures::default()
        };
        let g = Group {
            pipeline: "<night>".into(),
            step: "train".into(),
            buckets: vec![f.clone(), Figures::default()],
            total: f,
        };
        let window = Window {
            since_ms: 1_704_067_200_000,
            until_ms: 1_705_276_800_000,
            by: By::Week,
        };
        let html = page(&[g], &window, "state.db");
        assert!(!html.contains("<night>"), "names are escaped");
        assert!(html.contains("&lt;night&gt;"));
        assert!(!html.contains("src=") && !html.contains("href=") && !html.contains("@import"));
        assert_eq!(html.matches(r#"<svg class="chart""#).count(), 4);
        assert!(html.contains(r#"data-metric="success-rate""#));
        assert!(html.contains(r#"<td data-field="success-rate">100.0%</td>"#));
    }
}
