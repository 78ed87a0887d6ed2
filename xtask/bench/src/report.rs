//! The results: a table on stderr, the ratios against the targets, and the JSON reports
//! (`report.json`, the latest run, and `report-<points>-<backend>.json`, kept per size).
//! Every ratio between sizes or servers comes from this run's own paired rounds.

use std::{path::Path, time::Duration};

use serde::Serialize;

use super::{
    dataset::Shape,
    import::Imported,
    load::{Measured, Settings},
};

/// A measured scenario.
pub struct Row {
    pub name: String,
    pub measured: Measured,
    /// Whether it measured the server under test (`dashtray serve` on this run's data
    /// set); a baseline's row (a yardstick, the full server on 100k points) does not
    /// count toward that server's peak memory.
    pub subject: bool,
}

/// Everything one run produced.
pub struct Run<'a> {
    pub backend: &'static str,
    pub shape: &'a Shape,
    pub rows: &'a [Row],
    /// Scenario → median over its paired rounds of its CPU per request over its
    /// yardstick's.
    pub cpu_ratios: &'a [(String, f64)],
    /// The median over the metrics page's rounds of its p99 at this size / at 100k
    /// points; `None` in a run of 100k points.
    pub p99_large_vs_small: Option<f64>,
    pub startup: Duration,
    /// `None` when the data set was reused.
    pub generation_secs: Option<f64>,
    /// The timed `dashtray import metrics`, unless skipped.
    pub imported: Option<Imported>,
    pub settings: Settings,
}

#[derive(Debug, Serialize)]
struct Report {
    backend: String,
    points: u64,
    scenarios: Vec<Scenario>,
    ratios: Ratios,
}

#[derive(Debug, Serialize)]
struct Scenario {
    name: String,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_us_per_req: f64,
    rss_mb: f64,
}

#[derive(Debug, Serialize)]
struct Ratios {
    /// CPU per request, the server's over its floor's (the page through the database's
    /// own client, nothing around it), and health's over a fixed body's.
    metrics_page_vs_floor: Option<f64>,
    metrics_page_1000_vs_floor: Option<f64>,
    timeseries_year_vs_floor: Option<f64>,
    health_vs_static: Option<f64>,
    /// Rows per second, the import's over the database client's own bulk path.
    import_vs_floor: Option<f64>,
    p99_large_vs_small: Option<f64>,
    deep_vs_first_page: Option<f64>,
}

/// The most CPU per request a scenario may spend over its yardstick's.
const CPU_OVER_FLOOR: f64 = 1.5;

/// A CPU ratio's line in the targets table.
fn cpu_target(
    name: &'static str,
    ratio: Option<f64>,
) -> (&'static str, String, &'static str, Option<bool>) {
    (
        name,
        ratio.map_or("n/a".to_owned(), |r| format!("{r:.3}")),
        "<= 1.5",
        ratio.map(|r| r <= CPU_OVER_FLOOR),
    )
}

fn round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

/// The server under test's highest figure over its scenarios: baselines' rows left out.
fn peak(rows: &[Row], figure: fn(&Measured) -> f64) -> f64 {
    rows.iter()
        .filter(|r| r.subject)
        .map(|r| figure(&r.measured))
        .fold(0.0, f64::max)
}

pub fn write(dir: &Path, run: &Run) -> anyhow::Result<()> {
    let scenarios: Vec<Scenario> = run
        .rows
        .iter()
        .map(|row| Scenario {
            name: row.name.clone(),
            rps: round(row.measured.rps, 1),
            p50_ms: round(row.measured.p50_ms, 3),
            p99_ms: round(row.measured.p99_ms, 3),
            cpu_us_per_req: round(row.measured.cpu_us_per_req, 1),
            rss_mb: round(row.measured.rss_mb, 1),
        })
        .collect();
    let get = |name: &str| scenarios.iter().find(|s| s.name == name);
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(round(a / b, 3)),
        _ => None,
    };
    let paired = |name: &str| {
        run.cpu_ratios
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| round(*r, 3))
    };
    let ratios = Ratios {
        metrics_page_vs_floor: paired("metrics_page"),
        metrics_page_1000_vs_floor: paired("metrics_page_1000"),
        timeseries_year_vs_floor: paired("timeseries_year"),
        health_vs_static: paired("health"),
        import_vs_floor: run.imported.as_ref().map(|i| round(i.ratio, 3)),
        p99_large_vs_small: run.p99_large_vs_small.map(|r| round(r, 3)),
        deep_vs_first_page: ratio(
            get("deep_page").map(|s| s.p50_ms),
            get("first_page").map(|s| s.p50_ms),
        ),
    };
    let peak_rss = round(peak(run.rows, |m| m.rss_mb), 1);
    let peak_anon = peak(run.rows, |m| m.anon_mb);
    let peak_pss = peak(run.rows, |m| m.pss_mb);

    eprintln!(
        "\n{} points, {}, wrk -t{} -c{} -d{}s (after {}s of warm-up), deep page offset {}",
        run.shape.points,
        run.backend,
        run.settings.threads,
        run.settings.connections,
        run.settings.duration.as_secs(),
        run.settings.warmup.as_secs(),
        run.shape.deep_offset
    );
    eprintln!(
        "scenarios with yardsticks (floor_, bare_, _100k): {} rounds, each side in turn; CPU/request over the yardstick's and \
         p99 this size/100k are medians of the rounds' ratios",
        super::PAIRED_ROUNDS
    );
    eprintln!(
        "{:<22} {:>10} {:>9} {:>9} {:>12} {:>8} {:>8} {:>8}",
        "scenario", "req/s", "p50 ms", "p99 ms", "cpu us/req", "rss MB", "pss MB", "anon MB"
    );
    for (s, row) in scenarios.iter().zip(run.rows) {
        eprintln!(
            "{:<22} {:>10.1} {:>9.3} {:>9.3} {:>12.1} {:>8.1} {:>8.1} {:>8.1}",
            s.name,
            s.rps,
            s.p50_ms,
            s.p99_ms,
            s.cpu_us_per_req,
            s.rss_mb,
            row.measured.pss_mb,
            row.measured.anon_mb
        );
    }
    let startup_ms = run.startup.as_secs_f64() * 1e3;
    let show = |x: Option<f64>| x.map_or("n/a".to_owned(), |x| format!("{x:.3}"));
    let verdict = |ok: Option<bool>| match ok {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "n/a",
    };
    let checks = [
        cpu_target("metrics page / floor", ratios.metrics_page_vs_floor),
        cpu_target("1000-row page / floor", ratios.metrics_page_1000_vs_floor),
        cpu_target("year series / floor", ratios.timeseries_year_vs_floor),
        cpu_target("health / static body", ratios.health_vs_static),
        (
            "import / client bulk path",
            show(ratios.import_vs_floor),
            ">= 0.8",
            ratios.import_vs_floor.map(|r| r >= 0.8),
        ),
        (
            "p99 this size / 100k",
            show(ratios.p99_large_vs_small),
            "<= 1.5",
            ratios.p99_large_vs_small.map(|r| r <= 1.5),
        ),
        (
            "deep / first page p50",
            show(ratios.deep_vs_first_page),
            "<= 3",
            ratios.deep_vs_first_page.map(|r| r <= 3.0),
        ),
        (
            "start-up to first 200",
            format!("{startup_ms:.0} ms"),
            "< 1000 ms",
            Some(startup_ms < 1000.0),
        ),
        (
            "peak RSS under load",
            format!("{peak_rss:.1} MB"),
            "< 150 MB",
            Some(peak_rss < 150.0),
        ),
        (
            "memory, pages once (PSS)",
            format!("{peak_pss:.1} MB"),
            "< 150 MB",
            Some(peak_pss < 150.0),
        ),
        (
            "private memory (anon)",
            format!("{peak_anon:.1} MB"),
            "< 150 MB",
            Some(peak_anon < 150.0),
        ),
    ];
    eprintln!(
        "\n{:<24} {:>10} {:>10}  verdict",
        "ratio", "value", "target"
    );
    for (name, value, target, ok) in checks {
        eprintln!("{name:<24} {value:>10} {target:>10}  {}", verdict(ok));
    }
    eprintln!(
        "load average after the run: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    if let Some(secs) = run.generation_secs {
        eprintln!("data set generated in {secs:.1}s");
    }
    if let Some(imported) = &run.imported {
        eprintln!(
            "import: {} rows in {:.1}s, {:.0} rows/s",
            imported.rows, imported.secs, imported.rows_per_sec
        );
    }

    let report = Report {
        backend: run.backend.to_owned(),
        points: run.shape.points,
        scenarios,
        ratios,
    };
    let json = serde_json::to_string_pretty(&report)? + "\n";
    std::fs::write(dir.join("report.json"), &json)?;
    std::fs::write(
        dir.join(format!("report-{}-{}.json", run.shape.points, run.backend)),
        &json,
    )?;
    // What report.json's fixed format has no room for.
    let extra = serde_json::json!({
        "backend": run.backend,
        "points": run.shape.points,
        "startup_to_first_200_ms": (startup_ms * 10.0).round() / 10.0,
        "generation_secs": run.generation_secs,
        "import": run.imported,
        "peak_rss_mb_full": peak_rss,
        "peak_anon_mb_full": (peak_anon * 10.0).round() / 10.0,
        "peak_pss_mb_full": (peak_pss * 10.0).round() / 10.0,
        "shape": run.shape,
        // Other work on the machine skews the figures: keep a trace of how busy it was.
        "loadavg_after": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
        "requests": run.rows.iter().map(|r| (r.name.clone(), r.measured.requests)).collect::<std::collections::BTreeMap<_, _>>(),
        "wrk": format!("-t{} -c{} -d{}s, {}s warm-up", run.settings.threads, run.settings.connections, run.settings.duration.as_secs(), run.settings.warmup.as_secs()),
    });
    std::fs::write(
        dir.join(format!("extra-{}-{}.json", run.shape.points, run.backend)),
        serde_json::to_string_pretty(&extra)? + "\n",
    )?;
    eprintln!("wrote {}", dir.join("report.json").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, rss_mb: f64, subject: bool) -> Row {
        Row {
            name: name.into(),
            measured: Measured {
                rps: 1.0,
                p50_ms: 1.0,
                p99_ms: 1.0,
                cpu_us_per_req: 1.0,
                rss_mb,
                anon_mb: rss_mb / 2.0,
                pss_mb: rss_mb / 4.0,
                requests: 1,
                bad: 0,
            },
            subject,
        }
    }

    #[test]
    fn baselines_do_not_count_toward_the_servers_peak_whatever_their_name() {
        let rows = [
            row("metrics_page", 100.0, true),
            row("bare_metrics_page", 400.0, false),
            row("metrics_page_100k", 300.0, false),
            row("health", 40.0, true),
        ];
        assert_eq!(peak(&rows, |m| m.rss_mb), 100.0);
        assert_eq!(peak(&rows, |m| m.anon_mb), 50.0);
        assert_eq!(peak(&rows, |m| m.pss_mb), 25.0);
    }
}
