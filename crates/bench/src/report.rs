//! A self-contained HTML page comparing runs: a summary table, throughput over time, latency by
//! percentile and p99 over time, each run one colour. Charts are inline SVG drawn here, so the
//! page needs no script and no network.

use crate::stats::{Output, RunResult, Second};
use std::fmt::Write;
use std::path::Path;

/// Tableau 10: distinct at a glance, and in print.
pub const COLOURS: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
    "#17becf",
];

const W: f64 = 920.0;
const H: f64 = 340.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 50.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Round tick spacing for a range: 1, 2 or 5 times a power of ten, about `n` ticks.
fn tick_step(max: f64, n: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / n;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    mag * if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    }
}

fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v.abs() >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        // 1.5, 2, 0.25, 0.05: as many decimals as the value needs, up to three.
        let t = format!("{v:.3}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

struct Series<'a> {
    colour: &'a str,
    points: Vec<(f64, f64)>,
}

/// A line chart. `x_ticks`: positions and labels (None: numeric ticks from 0).
fn chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    x_ticks: Option<Vec<(f64, String)>>,
) -> String {
    let xmax = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).fold(0.0, f64::max).max(1.0);
    let ymax = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0.0, f64::max);
    let ystep = tick_step(ymax * 1.05, 5.0);
    let ytop = (ymax * 1.05 / ystep).ceil().max(1.0) * ystep;
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let sx = |x: f64| LEFT + x / xmax * pw;
    let sy = |y: f64| TOP + ph - y / ytop * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<figure><figcaption>{}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="{}">"#,
        esc(title),
        esc(title)
    );
    let _ = write!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#999"/>"##
    );
    let mut y = 0.0;
    while y <= ytop + ystep * 0.01 {
        let py = sy(y);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            py + 4.0,
            fmt_num(y)
        );
        y += ystep;
    }
    let ticks = x_ticks.unwrap_or_else(|| {
        let step = tick_step(xmax, 8.0);
        let mut v = Vec::new();
        let mut x = 0.0;
        while x <= xmax + step * 0.01 {
            v.push((x, fmt_num(x)));
            x += step;
        }
        v
    });
    for (x, label) in ticks {
        let px = sx(x);
        let _ = write!(
            s,
            r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#eee"/><text x="{px:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"##,
            TOP + ph,
            TOP + ph + 16.0,
            esc(&label)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="axis">{}</text><text transform="translate(18,{:.1}) rotate(-90)" text-anchor="middle" class="axis">{}</text>"#,
        LEFT + pw / 2.0,
        H - 10.0,
        esc(x_label),
        TOP + ph / 2.0,
        esc(y_label)
    );
    for se in series {
        let pts: Vec<String> = se.points.iter().map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y))).collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{}" stroke-width="3" stroke-linejoin="round" points="{}"/>"#,
            se.colour,
            pts.join(" ")
        );
        // Points marked where there are few enough to tell apart.
        for &(x, y) in se.points.iter().filter(|_| se.points.len() <= 40) {
            let _ =
                write!(s, r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{}"/>"#, sx(x), sy(y), se.colour);
        }
    }
    s.push_str("</svg></figure>");
    s
}

/// Where a percentile sits on the "nines" axis: 90% at 1, 99% at 2, 99.9% at 3...
fn nines(p: f64) -> f64 {
    -(1.0 - p / 100.0).max(1e-7).log10()
}

fn legend(runs: &[&RunResult]) -> String {
    let mut s = String::from(r#"<ul class="legend">"#);
    for (i, r) in runs.iter().enumerate() {
        let _ = write!(
            s,
            r#"<li><span class="swatch" style="background:{}"></span>{}</li>"#,
            COLOURS[i % COLOURS.len()],
            esc(&r.label)
        );
    }
    s.push_str("</ul>");
    s
}

fn summary(runs: &[&RunResult]) -> String {
    let mut s = String::from(
        "<table><thead><tr><th></th><th>run</th><th>server</th><th>TLS</th><th>conns ×<br>pipeline</th>\
         <th>value</th><th>ops/s</th><th>p50 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th>\
         <th>hand-<br>shakes/s</th><th>server CPU<br>µs/req</th><th>errors</th></tr></thead><tbody>",
    );
    for (i, r) in runs.iter().enumerate() {
        let t = &r.totals;
        let c = &r.config;
        let conns = c["threads"].as_u64().unwrap_or(0) * c["clients"].as_u64().unwrap_or(0);
        let server = ["cachet_version", "valkey_version", "redis_version"]
            .iter()
            .find_map(|k| r.server.get(*k).map(|v| format!("{} {v}", k.trim_end_matches("_version"))))
            .unwrap_or_default();
        let tls = r
            .tls_session
            .as_ref()
            .map(|t| format!("{}<br><small>{}</small>", esc(&t.protocol), esc(&t.cipher_suite)))
            .unwrap_or("off".into());
        let _ = write!(
            s,
            r#"<tr><td><span class="swatch" style="background:{}"></span></td><td>{}</td><td>{}</td><td>{}</td><td>{} × {}</td><td>{} B</td><td class="n">{:.0}</td><td class="n">{:.3}</td><td class="n">{:.3}</td><td class="n">{:.3}</td><td class="n">{:.3}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            COLOURS[i % COLOURS.len()],
            esc(&r.label),
            esc(&server),
            tls,
            conns,
            c["pipeline"].as_u64().unwrap_or(0),
            c["data_size"].as_u64().unwrap_or(0),
            t.ops_per_sec,
            t.latency_ms.p50,
            t.latency_ms.p99,
            t.latency_ms.p99_9,
            t.latency_ms.max,
            t.handshakes.as_ref().map(|h| format!("{:.0}", h.per_sec)).unwrap_or("–".into()),
            t.server_cpu.as_ref().map(|c| format!("{:.3}", c.us_per_request)).unwrap_or("–".into()),
            t.error_count()
        );
    }
    s.push_str("</tbody></table>");
    s
}

/// The page for every run in `outputs`.
pub fn render(outputs: &[Output]) -> String {
    let runs: Vec<&RunResult> = outputs.iter().flat_map(|o| o.runs.iter()).collect();
    let colour = |i: usize| COLOURS[i % COLOURS.len()];
    // One series per run of a figure from its timeline.
    let over_time = |value: fn(&Second) -> f64| -> Vec<Series> {
        runs.iter()
            .enumerate()
            .map(|(i, r)| Series {
                colour: colour(i),
                points: r.timeline.iter().map(|s| (s.second as f64, value(s))).collect(),
            })
            .collect()
    };
    let throughput = over_time(|s| s.ops_per_sec);
    let p99 = over_time(|s| s.p99_ms);
    let finite_max = runs
        .iter()
        .flat_map(|r| r.percentiles.iter().filter(|p| p[0] < 100.0).map(|p| nines(p[0])))
        .fold(1.0, f64::max);
    let max_x = finite_max.ceil() + 0.5;
    let curves: Vec<Series> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| Series {
            colour: colour(i),
            points: r
                .percentiles
                .iter()
                .map(|p| (if p[0] >= 100.0 { max_x } else { nines(p[0]) }, p[1]))
                .collect(),
        })
        .collect();
    let mut ticks = vec![(nines(50.0), "50%".to_string())];
    let mut k = 1.0;
    while k <= finite_max.ceil() {
        let label = format!("{}%", 100.0 - 100.0 * 10f64.powf(-k));
        ticks.push((k, label));
        k += 1.0;
    }
    ticks.push((max_x, "max".into()));
    let hosts: Vec<String> = outputs
        .iter()
        .map(|o| {
            format!(
                "{} ({}, {} CPUs, {}, Linux {})",
                o.host.hostname, o.host.cpu_model, o.host.cpus, o.host.arch, o.host.kernel
            )
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let legend = legend(&runs);
    let mut page = String::new();
    let _ = write!(
        page,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>cachet bench report</title><style>
body {{ font: 15px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; max-width: 960px; }}
h1 {{ font-size: 22px; margin: 0 0 4px; }} .meta {{ color: #555; margin-bottom: 16px; }}
table {{ border-collapse: collapse; margin: 8px 0 24px; font-size: 13px; }} th, td {{ border: 1px solid #ccc; padding: 3px 6px; }}
th {{ background: #f0f0f0; }} td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
figure {{ margin: 0 0 8px; }} figcaption {{ font-weight: 600; margin-bottom: 4px; }}
.tick {{ font-size: 12px; fill: #444; }} .axis {{ font-size: 13px; fill: #222; }}
.legend {{ list-style: none; padding: 0; margin: 0 0 24px; display: flex; flex-wrap: wrap; gap: 16px; }}
.swatch {{ display: inline-block; width: 14px; height: 14px; margin-right: 6px; vertical-align: -2px; border-radius: 2px; }}
</style></head><body><h1>cachet bench report</h1><div class="meta">{} run(s) on {}</div>{}"#,
        runs.len(),
        esc(&hosts.join("; ")),
        summary(&runs)
    );
    page += &chart("Throughput over time", "seconds", "ops/s", &throughput, None);
    page += &legend;
    page += &chart("Latency by percentile", "percentile", "latency (ms)", &curves, Some(ticks));
    page += &legend;
    page += &chart("p99 latency over time", "seconds", "p99 (ms)", &p99, None);
    page += &legend;
    page.push_str("</body></html>\n");
    page
}

pub fn write(outputs: &[Output], path: &Path) -> Result<(), String> {
    std::fs::write(path, render(outputs)).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Latency, Totals};

    fn run(label: &str, ops: f64) -> RunResult {
        RunResult {
            label: label.into(),
            config: serde_json::json!({"threads": 1, "clients": 50, "pipeline": 16, "data_size": 32}),
            server: [("redis_version".to_string(), "7.0.15".to_string())].into(),
            tls_session: None,
            totals: Totals {
                duration_s: 2.0,
                ops: (ops * 2.0) as u64,
                ops_per_sec: ops,
                sets: 0,
                gets: 0,
                hits: 0,
                misses: 0,
                errors: Default::default(),
                latency_ms: Latency { p99: 1.5, ..Default::default() },
                handshakes: None,
                server_cpu: None,
            },
            percentiles: vec![[50.0, 0.2], [90.0, 0.5], [99.0, 1.5], [100.0, 3.0]],
            timeline: (1..=2)
                .map(|s| Second {
                    second: s,
                    warmup: false,
                    ops_per_sec: ops,
                    p50_ms: 0.2,
                    p99_ms: 1.5,
                    errors: 0,
                    handshakes: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn every_run_is_drawn_in_its_colour_and_listed() {
        let out = crate::output(vec![run("cachet <TLS>", 1e6), run("redis TLS", 5e5)], None);
        let html = render(&[out]);
        assert_eq!(html.matches("<svg").count(), 3);
        for c in &COLOURS[..2] {
            assert_eq!(html.matches(&format!(r#"<polyline fill="none" stroke="{c}""#)).count(), 3, "{c}");
        }
        assert!(html.contains("cachet &lt;TLS&gt;") && !html.contains("cachet <TLS>"), "labels are escaped");
        assert!(html.contains(">99%<") && html.contains(">max<"), "percentile axis labelled in nines");
        assert!(html.contains("1000000"), "summary holds ops/s");
        assert!(!html.contains("<script"), "no script needed");
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(1000.0, 5.0), 200.0);
        assert_eq!(tick_step(7.0, 5.0), 2.0);
        assert_eq!(tick_step(0.0, 5.0), 1.0);
        assert!((nines(99.9) - 3.0).abs() < 1e-9);
    }
}
