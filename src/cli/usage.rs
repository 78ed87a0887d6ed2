//! `dashtray usage`: a project's request history, as a table of buckets or (`--json`)
//! the object `GET /api/v1/usage` answers with.

use clap::{Args, ValueEnum};
use dashtray_core::usage::api::{history, GroupBy, Interval, Range, Report};
use serde_json::json;

use super::{open_migrated, Context};

const HOUR_MS: i64 = dashtray_core::usage::HOUR_MS;

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// The project's id (`prj_...`).
    #[arg(long)]
    project: String,
    /// How far back: the last 24 hours by hour, or 7 or 30 days by day.
    #[arg(long, value_enum, default_value = "24h")]
    since: Since,
    /// Split the counts by key, operation or status class.
    #[arg(long, value_enum)]
    group_by: Option<Group>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Since {
    #[value(name = "24h")]
    Day,
    #[value(name = "7d")]
    Week,
    #[value(name = "30d")]
    Month,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Group {
    Key,
    Operation,
    Status,
}

impl Since {
    /// The range's length and its buckets' width.
    fn span(self) -> (i64, Interval) {
        match self {
            Since::Day => (24 * HOUR_MS, Interval::Hour),
            Since::Week => (7 * 24 * HOUR_MS, Interval::Day),
            Since::Month => (30 * 24 * HOUR_MS, Interval::Day),
        }
    }
}

pub async fn run(cx: &Context, args: UsageArgs) -> anyhow::Result<()> {
    let services = open_migrated(cx).await?;
    let now = services.now_millis();
    if dashtray_core::auth::store::get_project(&services.db, &args.project)
        .await?
        .is_none()
    {
        anyhow::bail!("no project `{}`", args.project);
    }
    let (length, interval) = args.since.span();
    let range = Range::new(Some(now - length + 1), Some(now), interval, now)
        .map_err(|err| anyhow::anyhow!("{}", err.message()))?;
    let group_by = args.group_by.map(|g| match g {
        Group::Key => GroupBy::Key,
        Group::Operation => GroupBy::Operation,
        Group::Status => GroupBy::Status,
    });
    let report = history(&services.db, &args.project, range, group_by).await?;
    cx.print(&json!({ "data": report }), || table(&report));
    services.db.close().await;
    Ok(())
}

/// One row per bucket, one column per series, then the totals.
fn table(report: &Report) -> String {
    let format = match report.interval {
        Interval::Hour => "%Y-%m-%d %H:00",
        Interval::Day => "%Y-%m-%d",
    };
    let mut lines = Vec::new();
    let mut header = format!("{:<16}", "UTC");
    for series in &report.series {
        let group = series.group.as_deref().unwrap_or("requests");
        header.push_str(&format!(" {group:>12}"));
    }
    lines.push(header);
    let buckets = report.series.first().map_or(0, |s| s.buckets.len());
    for i in 0..buckets {
        let at = report.series[0].buckets[i].timestamp;
        let when = chrono::DateTime::from_timestamp_millis(at)
            .map(|t| t.format(format).to_string())
            .unwrap_or_default();
        let mut line = format!("{when:<16}");
        for series in &report.series {
            line.push_str(&format!(" {:>12}", series.buckets[i].requests));
        }
        lines.push(line);
    }
    let t = &report.totals;
    lines.push(format!(
        "total {} requests: {} succeeded, {} client errors, {} rate limited, {} server errors",
        t.requests, t.succeeded, t.client_errors, t.rate_limited, t.server_errors
    ));
    lines.join("\n")
}
