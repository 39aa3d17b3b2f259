//! Results: JSON lines per run, the side-by-side table, the sweep's CSV and its plot.

use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::load::Stats;

/// One run, as written to `--json-out`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub label: String,
    pub endpoint: String,
    pub scenario: String,
    pub clients: usize,
    #[serde(flatten)]
    pub stats: Stats,
    /// Set when the target lacks the scenario's API.
    pub unsupported: Option<String>,
    /// Set when the scenario could not be prepared for another reason.
    pub failed: Option<String>,
}

pub fn append(path: &Path, r: &Record) -> Result<(), String> {
    let line = serde_json::to_string(r).map_err(|e| e.to_string())?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open `{}`: {e}", path.display()))?;
    writeln!(f, "{line}").map_err(|e| e.to_string())
}

pub fn load(path: &Path) -> Result<Vec<Record>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("`{}`: {e}", path.display())))
        .collect()
}

fn fmt_rate(r: f64) -> String {
    if r >= 100.0 {
        let n = r.round() as u64;
        let s = n.to_string();
        let mut out = String::new();
        for (i, ch) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(ch);
        }
        out
    } else {
        format!("{r:.1}")
    }
}

fn fmt_ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2} ms")
    } else {
        format!("{v:.1} ms")
    }
}

fn cell(r: Option<&Record>) -> (String, String, String, Option<f64>) {
    match r {
        None => ("—".into(), "—".into(), "—".into(), None),
        Some(r) if r.unsupported.is_some() => {
            ("not supported".into(), "—".into(), "—".into(), None)
        }
        Some(r) if r.failed.is_some() => ("failed".into(), "—".into(), "—".into(), None),
        Some(r) => {
            let mut rate = fmt_rate(r.stats.rps);
            if r.stats.errors > 0 {
                rate.push_str(&format!(" ({} errors)", r.stats.errors));
            }
            (
                rate,
                fmt_ms(r.stats.p50_ms),
                fmt_ms(r.stats.p99_ms),
                Some(r.stats.rps),
            )
        }
    }
}

/// The side-by-side table of `a` (iamvault) and `b` (moto), in markdown.
pub fn table(records: &[Record], a: &str, b: &str) -> String {
    let mut keys: Vec<(String, usize)> = Vec::new();
    for r in records {
        let k = (r.scenario.clone(), r.clients);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let find = |label: &str, k: &(String, usize)| {
        records
            .iter()
            .rev()
            .find(|r| r.label == label && r.scenario == k.0 && r.clients == k.1)
    };
    let mut out = format!(
        "| Scenario | Clients | {a} ops/s | {a} p50 | {a} p99 | {b} ops/s | {b} p50 | {b} p99 | Ratio |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    );
    let mut notes = Vec::new();
    for k in &keys {
        let (ra, pa50, pa99, va) = cell(find(a, k));
        let (rb, pb50, pb99, vb) = cell(find(b, k));
        let ratio = match (va, vb) {
            (Some(x), Some(y)) if y > 0.0 => format!("**{:.1}×**", x / y),
            _ => "—".into(),
        };
        out.push_str(&format!(
            "| {} | {} | {ra} | {pa50} | {pa99} | {rb} | {pb50} | {pb99} | {ratio} |\n",
            k.0, k.1
        ));
        for label in [a, b] {
            if let Some(r) = find(label, k) {
                if let Some(u) = &r.unsupported {
                    let note = format!("{label} lacks `{}`: {u}", k.0);
                    if !notes.contains(&note) {
                        notes.push(note);
                    }
                }
                if let Some(f) = &r.failed {
                    notes.push(format!("{label} `{}` at {} clients failed: {f}", k.0, k.1));
                }
                let st = &r.stats;
                if r.unsupported.is_none() && r.failed.is_none() && st.requests > st.ops {
                    notes.push(format!(
                        "{label} `{}` at {} clients, per request ({:.1} requests per operation): p50 {}, p99 {}, p99.9 {}",
                        k.0,
                        k.1,
                        st.requests as f64 / st.ops.max(1) as f64,
                        fmt_ms(st.req_p50_ms),
                        fmt_ms(st.req_p99_ms),
                        fmt_ms(st.req_p999_ms)
                    ));
                }
                if let (Some(e), true) = (&r.stats.first_error, r.stats.errors > 0) {
                    notes.push(format!(
                        "{label} `{}` at {} clients: {} errors, first: {e}",
                        k.0, k.1, r.stats.errors
                    ));
                }
            }
        }
    }
    for n in notes {
        out.push_str(&format!("\n- {n}"));
    }
    out.push('\n');
    out
}

pub const CSV_HEADER: &str = "label,scenario,clients,ops,errors,seconds,ops_per_s,p50_ms,p99_ms,p999_ms,max_ms,requests,req_p50_ms,req_p99_ms";

pub fn csv_line(r: &Record) -> String {
    let s = &r.stats;
    format!(
        "{},{},{},{},{},{:.3},{:.1},{:.3},{:.3},{:.3},{:.3},{},{:.3},{:.3}",
        r.label,
        r.scenario,
        r.clients,
        s.ops,
        s.errors,
        s.secs,
        s.rps,
        s.p50_ms,
        s.p99_ms,
        s.p999_ms,
        s.max_ms,
        s.requests,
        s.req_p50_ms,
        s.req_p99_ms
    )
}

/// Reads a CSV written by `sweep`.
pub fn read_csv(path: &Path) -> Result<Vec<(String, usize, f64)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if let (Some(l), Some(s), Some(c), Some(r)) = (f.first(), f.get(1), f.get(2), f.get(6))
            && let (Ok(c), Ok(r)) = (c.parse(), r.parse())
        {
            out.push((format!("{l} {s}"), c, r));
        }
    }
    Ok(out)
}

const FONTS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Draws throughput against clients (log-log), one line per series. Text needs a TrueType
/// font file (`IAMVAULT_BENCH_FONT` or DejaVu Sans); without one no PNG is drawn.
pub fn plot(rows: &[(String, usize, f64)], out: &Path, title: &str) -> Result<(), String> {
    use plotters::prelude::*;
    let font = std::env::var("IAMVAULT_BENCH_FONT")
        .ok()
        .into_iter()
        .chain(FONTS.iter().map(|s| (*s).to_owned()))
        .find_map(|p| std::fs::read(p).ok())
        .ok_or("no TrueType font found (set IAMVAULT_BENCH_FONT to a .ttf file); PNG skipped")?;
    // plotters keeps registered fonts for the life of the process: leaking the one font
    // file read per run is what it asks for.
    let font: &'static [u8] = Box::leak(font.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, font)
        .map_err(|_| "the font file is not a usable TrueType font")?;

    let mut series: Vec<String> = Vec::new();
    for (s, _, _) in rows {
        if !series.contains(s) {
            series.push(s.clone());
        }
    }
    let max_c = rows.iter().map(|r| r.1).max().unwrap_or(32).max(2) as f64;
    let max_r = rows.iter().map(|r| r.2).fold(10.0, f64::max) * 2.0;
    let min_r = rows.iter().map(|r| r.2).fold(f64::MAX, f64::min).max(1.0) / 2.0;
    let e = |e: &dyn std::fmt::Display| format!("plot: {e}");
    let root = BitMapBackend::new(out, (1000, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(80)
        .build_cartesian_2d((1.0..max_c).log_scale(), (min_r..max_r).log_scale())
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc("concurrent clients")
        .y_desc("operations per second")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(|x| e(&x))?;
    for (i, s) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let pts: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| &r.0 == s)
            .map(|r| (r.1 as f64, r.2))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(|x| e(&x))?
            .label(s.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 4, color.filled())))
            .map_err(|x| e(&x))?;
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(label: &str, scenario: &str, ops: u64, requests: u64) -> Record {
        Record {
            label: label.into(),
            endpoint: "http://127.0.0.1:1".into(),
            scenario: scenario.into(),
            clients: 32,
            stats: Stats {
                ops,
                secs: 1.0,
                rps: ops as f64,
                p50_ms: 4.0,
                p99_ms: 9.0,
                requests,
                req_p50_ms: 2.0,
                req_p99_ms: 4.5,
                req_p999_ms: 6.0,
                ..Stats::default()
            },
            unsupported: None,
            failed: None,
        }
    }

    #[test]
    fn the_table_gives_per_request_latency_only_where_an_operation_is_several_requests() {
        let records = [
            rec("iamvault", "get-caller-identity", 1000, 1000),
            rec("moto", "get-caller-identity", 20, 20),
            rec("iamvault", "create-delete-access-key", 500, 1000),
            rec("moto", "create-delete-access-key", 25, 50),
        ];
        let t = table(&records, "iamvault", "moto");
        assert!(t.contains("| create-delete-access-key | 32 | 500 | 4.00 ms | 9.00 ms | 25.0 |"));
        assert!(t.contains(
            "iamvault `create-delete-access-key` at 32 clients, per request (2.0 requests per operation): p50 2.00 ms, p99 4.50 ms, p99.9 6.00 ms"
        ));
        assert!(t.contains("moto `create-delete-access-key` at 32 clients, per request"));
        assert!(!t.contains("`get-caller-identity` at 32 clients, per request"));
        // Results written before the per-request figures still load, without them.
        let old: Record = serde_json::from_str(
            r#"{"label":"iamvault","endpoint":"e","scenario":"assume-role","clients":1,"ops":3,"errors":0,"secs":1.0,"rps":3.0,"p50_ms":1.0,"p99_ms":1.0,"p999_ms":1.0,"max_ms":1.0,"first_error":null,"unsupported":null,"failed":null}"#,
        )
        .unwrap();
        assert_eq!(old.stats.requests, 0);
        assert!(!table(&[old], "iamvault", "moto").contains("per request"));
    }
}
