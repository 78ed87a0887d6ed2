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

/// What the timed imports did, in rounds beside the client's bulk path.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    pub rows: u64,
    /// `rows` at the median rate, in seconds.
    pub secs: f64,
    /// The median of the rounds.
    pub rows_per_sec: f64,
    /// The same rows by the database client's own bulk path, into a table of their own.
    pub floor_rows_per_sec: f64,
    /// The median of the rounds' ratios, the import's rows per second over the floor's.
    pub ratio: f64,
    /// Each round's (import, floor) rows per second.
    pub rounds: Vec<(f64, f64)>,
}

/// Rounds of the import and its floor, in turn: one of each, one after the other, moved
/// between runs of the same code (the quick run's Postgres ratio read 0.85, then 0.80).
const ROUNDS: u32 = 3;

/// The points to import: 20 metrics, a point per metric every hour back from
/// 2026-10-31, so that every row is valid and distinct: `(metric, value, timestamp)`.
fn points(rows: u64) -> impl Iterator<Item = (String, f64, i64)> {
    const END_MS: i64 = 1_793_404_800_000; // 2026-10-31T00:00:00Z
    const HOUR_MS: i64 = 3_600_000;
    (0..rows as i64).map(|i| {
        let (metric, step) = (i % 20, i / 20);
        let value = 1000.0 + (step % 500) as f64 * 0.25 + metric as f64;
        (
            format!("metric_{metric:02}"),
            value,
            END_MS - step * HOUR_MS,
        )
    })
}

/// [`points`] as the CSV file the import reads, written once per size.
fn csv_file(dir: &Path, rows: u64) -> anyhow::Result<PathBuf> {
    let file = dir.join(format!("import-{rows}.csv"));
    if file.exists() {
        return Ok(file);
    }
    let partial = file.with_extension("csv.partial");
    let mut out = BufWriter::new(std::fs::File::create(&partial)?);
    writeln!(out, "metricId,value,timestamp")?;
    for (metric, value, timestamp) in points(rows) {
        writeln!(out, "{metric},{value},{timestamp}")?;
    }
    out.flush()?;
    drop(out);
    std::fs::rename(&partial, &file)?;
    Ok(file)
}

/// The import's floor: the same rows written into the same (fresh, migrated) table by
/// the database's own client and its bulk path: one transaction of prepared inserts
/// through rusqlite, or one binary `COPY` through tokio-postgres. Only the writing is
/// timed (the rows are made first). Returns rows per second.
///
/// The ids are the import's own (`store::new_id`, time-ordered), made before the clock starts.
pub fn floor(url: &str, rows: u64) -> anyhow::Result<f64> {
    let made: Vec<(String, String, f64, i64)> = points(rows)
        .map(|(metric, value, ts)| (dashtray_metrics::store::new_id(), metric, value, ts))
        .collect();
    let started = Instant::now();
    match url.strip_prefix("sqlite://") {
        Some(path) => sqlite_floor(path, &made)?,
        None => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(postgres_floor(url, &made))?,
    }
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}

const INSERT_COLUMNS: &str = "id, project_id, metric_id, integration_id, value, ts";

fn sqlite_floor(path: &str, rows: &[(String, String, f64, i64)]) -> anyhow::Result<()> {
    let mut conn = rusqlite::Connection::open(path)?;
    // The server's own durability (WAL, no fsync per commit) and page cache.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -4096;",
    )?;
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare(&format!(
            "INSERT INTO metric_points ({INSERT_COLUMNS}) VALUES (?1, ?2, ?3, NULL, ?4, ?5)"
        ))?;
        for (id, metric, value, ts) in rows {
            insert.execute(rusqlite::params![id, "prj_floor", metric, value, ts])?;
        }
    }
    tx.commit()?;
    Ok(())
}

async fn postgres_floor(url: &str, rows: &[(String, String, f64, i64)]) -> anyhow::Result<()> {
    use tokio_postgres::{binary_copy::BinaryCopyInWriter, types::Type};
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let sink = client
        .copy_in(&format!(
            "COPY metric_points ({INSERT_COLUMNS}) FROM STDIN BINARY"
        ))
        .await?;
    let types = [
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::FLOAT8,
        Type::INT8,
    ];
    let writer = BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);
    let none: Option<&str> = None;
    for (id, metric, value, ts) in rows {
        writer
            .as_mut()
            .write(&[id, &"prj_floor", metric, &none, value, ts])
            .await?;
    }
    writer.finish().await?;
    Ok(())
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

/// Imports `rows` points, in each of [`ROUNDS`] rounds, into a new project of the
/// migrated, otherwise empty database at `url`, timed from spawn to exit, and writes the
/// same number by the client's bulk path into `floor_url`, the two in the bench's
/// alternating order.
pub fn measure(bins: &Bins, url: &str, floor_url: &str, rows: u64) -> anyhow::Result<Imported> {
    let file = csv_file(&bins.dir, rows)?;
    let path = file.to_str().context("a UTF-8 path")?;
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        // Rows per second: [the import's, the floor's].
        let mut pair = [0.0; 2];
        for side in super::round_order(2, round) {
            pair[side] = match side {
                0 => rows as f64 / import_once(bins, url, path, rows, round)?,
                _ => floor(floor_url, rows)?,
            };
        }
        eprintln!(
            "  round {}: {:.0} rows/s; the client's own bulk path {:.0} rows/s",
            round + 1,
            pair[0],
            pair[1]
        );
        rounds.push((pair[0], pair[1]));
    }
    let rows_per_sec = crate::load::median(rounds.iter().map(|r| r.0));
    Ok(Imported {
        rows,
        secs: rows as f64 / rows_per_sec,
        rows_per_sec,
        floor_rows_per_sec: crate::load::median(rounds.iter().map(|r| r.1)),
        ratio: super::median_ratio(rounds.iter().copied()),
        rounds,
    })
}

/// One `dashtray import metrics` of `path` into a project of its own: seconds taken.
fn import_once(bins: &Bins, url: &str, path: &str, rows: u64, round: u32) -> anyhow::Result<f64> {
    let name = format!("Import bench {}", round + 1);
    let project = dashtray(bins, url, &["projects", "create", "--name", &name])?;
    let id = project["id"].as_str().context("no project id")?.to_owned();
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
    Ok(secs)
}
