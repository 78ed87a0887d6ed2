//! The import scenario: `dashtray import metrics` of a generated CSV file into a fresh
//! project of a database of its own (so the reused SQLite data set stays as it was),
//! timed from spawn to exit: rows per second as a user would see them.

use std::{
    io::{BufWriter, Write},
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::Context as _;
use serde::Serialize;

use super::Bins;

/// What one timed import did.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    pub rows: u64,
    pub secs: f64,
    pub rows_per_sec: f64,
}

/// The points to import: 20 metrics, a point per metric every hour back from
/// 2026-10-31, so that every row is valid and distinct. Written once per size.
fn csv_file(dir: &Path, rows: u64) -> anyhow::Result<PathBuf> {
    let file = dir.join(format!("import-{rows}.csv"));
    if file.exists() {
        return Ok(file);
    }
    let partial = file.with_extension("csv.partial");
    let mut out = BufWriter::new(std::fs::File::create(&partial)?);
    writeln!(out, "metricId,value,timestamp")?;
    const END_MS: i64 = 1_793_404_800_000; // 2026-10-31T00:00:00Z
    const HOUR_MS: i64 = 3_600_000;
    for i in 0..rows as i64 {
        let (metric, step) = (i % 20, i / 20);
        let value = 1000.0 + (step % 500) as f64 * 0.25 + metric as f64;
        writeln!(
            out,
            "metric_{metric:02},{value},{}",
            END_MS - step * HOUR_MS
        )?;
    }
    out.flush()?;
    drop(out);
    std::fs::rename(&partial, &file)?;
    Ok(file)
}

/// Runs a `dashtray` command on `url` and returns its `--json` object.
fn dashtray(bins: &Bins, url: &str, args: &[&str]) -> anyhow::Result<serde_json::Value> {
    let output = Command::new(&bins.dashtray)
        .args(args)
        .arg("--json")
        .env("DASHTRAY_DATABASE__URL", url)
        .env("DASHTRAY_LOG__LEVEL", "warn")
        .current_dir(&bins.dir)
        .output()
        .context("running dashtray")?;
    anyhow::ensure!(
        output.status.success(),
        "dashtray {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).context("dashtray printed no JSON object")
}

/// Imports `rows` points into a new project of the migrated, otherwise empty database at
/// `url` and times it.
pub fn measure(bins: &Bins, url: &str, rows: u64) -> anyhow::Result<Imported> {
    let file = csv_file(&bins.dir, rows)?;
    let project = dashtray(bins, url, &["projects", "create", "--name", "Import bench"])?;
    let id = project["id"].as_str().context("no project id")?.to_owned();
    let path = file.to_str().context("a UTF-8 path")?;
    let started = Instant::now();
    let summary = dashtray(bins, url, &["import", "metrics", "--project", &id, path])?;
    let secs = started.elapsed().as_secs_f64();
    let written = summary["rows"]
        .as_u64()
        .context("no `rows` in the summary")?;
    anyhow::ensure!(
        written == rows,
        "the import wrote {written} of {rows} rows: {summary}"
    );
    Ok(Imported {
        rows,
        secs,
        rows_per_sec: rows as f64 / secs,
    })
}
