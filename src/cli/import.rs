//! `dashtray import metrics --project ID FILE`.

use std::{path::PathBuf, time::Instant};

use clap::{Args, Subcommand};
use dashtray_core::auth::store;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::{open_migrated, Context};
use crate::import::{import_file, BATCH_ROWS};

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Metric points from CSV (header `metricId,value,timestamp[,integrationId]`) or
    /// JSON Lines; timestamps in milliseconds or RFC 3339.
    Metrics(MetricsArgs),
}

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// The project's id (`prj_...`).
    #[arg(long)]
    project: String,
    /// Rows written per transaction: a bad row keeps every batch before its own.
    #[arg(long, default_value_t = BATCH_ROWS, value_parser = batch_rows)]
    batch_rows: usize,
    /// The file to read.
    file: PathBuf,
}

/// The most rows a batch may hold: its points are kept in memory until written.
const MAX_BATCH_ROWS: usize = 100_000;

fn batch_rows(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n @ 1..=MAX_BATCH_ROWS) => Ok(n),
        _ => Err(format!("a whole number from 1 to {MAX_BATCH_ROWS}")),
    }
}

pub async fn run(cx: &Context, command: ImportCommand) -> anyhow::Result<()> {
    let ImportCommand::Metrics(args) = command;
    let services = open_migrated(cx).await?;
    if store::get_project(&services.db, &args.project)
        .await?
        .is_none()
    {
        anyhow::bail!("no project `{}`", args.project);
    }
    let size = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    // indicatif draws only when stderr is a terminal: scripts and logs see no bar.
    let bar = ProgressBar::new(size).with_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
            .expect("a valid template"),
    );
    let started = Instant::now();
    let result = import_file(
        &services.db,
        &args.project,
        &args.file,
        args.batch_rows,
        |progress, bytes| {
            bar.set_position(bytes);
            bar.set_message(format!("{} rows", progress.rows));
        },
    )
    .await;
    bar.finish_and_clear();
    services.db.close().await;
    let progress = result?;
    let seconds = started.elapsed().as_secs_f64();
    let rate = progress.rows as f64 / seconds.max(1e-9);
    cx.print(
        &json!({
            "projectId": args.project,
            "rows": progress.rows,
            "batches": progress.batches,
            "seconds": (seconds * 1000.0).round() / 1000.0,
        }),
        || {
            format!(
                "Imported {} points into {} in {} batches, {seconds:.2} s ({rate:.0} rows/s).",
                progress.rows, args.project, progress.batches
            )
        },
    );
    Ok(())
}
