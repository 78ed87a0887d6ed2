//! Usage: requests per hour over 24 hours and per day over 30 days as charts, the
//! current window, rate-limited and failed requests, top operations, and per key, all
//! read through core's usage history (what has been flushed, every `usage.flush_secs`).

use std::{collections::HashMap, sync::Arc};

use dashtray_core::{
    auth::store,
    usage::{
        api::{history, GroupBy, Interval, Range, Report, Totals},
        HOUR_MS,
    },
};
use poem::{handler, web::Data, Request};
use serde::Serialize;

use crate::{
    chart,
    render::{Chrome, Page},
    session, ConsoleError, State,
};

const DAY_MS: i64 = 24 * HOUR_MS;
/// Days the daily chart and the tables cover.
const DAYS: i64 = 30;
/// Operations listed in "Top operations".
const TOP_OPERATIONS: usize = 10;

/// The budget's current window.
#[derive(Serialize)]
struct Window {
    limit: u64,
    used: u64,
    remaining: u64,
    reset_at: i64,
}

/// One row of a "requests by …" table.
#[derive(Serialize)]
struct Share {
    label: String,
    /// A key's name (the label is then its id).
    name: Option<String>,
    requests: u64,
}

/// `GET /console/usage`.
#[handler]
pub async fn page(state: Data<&Arc<State>>, req: &Request) -> Result<Page, ConsoleError> {
    let signed_in = session::signed_in(&state, req).await?;
    let services = &state.services;
    let (db, project_id) = (&services.db, signed_in.project.id.as_str());
    let now = services.now_millis();

    let last_day = range(None, Interval::Hour, now)?;
    let today = now - now.rem_euclid(DAY_MS);
    let last_month = range(Some(today - (DAYS - 1) * DAY_MS), Interval::Day, now)?;
    let hourly = history(db, project_id, last_day, None).await?;
    let daily = history(db, project_id, last_month, None).await?;
    let by_operation = history(db, project_id, last_month, Some(GroupBy::Operation)).await?;
    let by_key = history(db, project_id, last_month, Some(GroupBy::Key)).await?;

    let names: HashMap<String, String> = store::list_keys(db, project_id)
        .await?
        .into_iter()
        .map(|k| (k.id, k.name))
        .collect();
    let mut operations = shares(&by_operation, |_| None);
    operations.truncate(TOP_OPERATIONS);
    let keys = shares(&by_key, |id| names.get(id).cloned());

    let window = services
        .limiter
        .peek(&signed_in.principal(), now)
        .await
        .map_err(|err| ConsoleError::Internal(format!("reading the window: {err:?}")))?;
    let window = Window {
        limit: window.limit,
        used: window.used,
        remaining: window.remaining,
        reset_at: window.reset_at_secs * 1000,
    };
    let hourly_chart = chart::bars(&requests(&hourly), |i| hour_label(&hourly, i))?;
    let daily_chart = chart::bars(&requests(&daily), |i| day_label(&daily, i))?;
    let totals: &Totals = &daily.totals;
    state.templates.page(
        "usage.html",
        Some(Chrome::new(&signed_in, "usage")),
        minijinja::context! {
            hourly_chart, daily_chart, window, operations, keys,
            day_total => hourly.totals.requests,
            totals,
            failed => totals.client_errors + totals.server_errors,
            flush_secs => services.config.usage.flush_secs.0,
        },
    )
}

fn range(start: Option<i64>, interval: Interval, now: i64) -> Result<Range, ConsoleError> {
    Range::new(start, None, interval, now)
        .map_err(|err| ConsoleError::Internal(format!("a usage range: {err:?}")))
}

/// The one series of an ungrouped report, as counts.
fn requests(report: &Report) -> Vec<u64> {
    report
        .series
        .first()
        .map(|s| s.buckets.iter().map(|b| b.requests).collect())
        .unwrap_or_default()
}

fn bucket_time(report: &Report, i: usize) -> Option<chrono::DateTime<chrono::Utc>> {
    let bucket = report.series.first()?.buckets.get(i)?;
    chrono::DateTime::from_timestamp_millis(bucket.timestamp)
}

fn hour_label(report: &Report, i: usize) -> String {
    bucket_time(report, i).map_or_else(String::new, |t| t.format("%H:00").to_string())
}

fn day_label(report: &Report, i: usize) -> String {
    bucket_time(report, i).map_or_else(String::new, |t| t.format("%b %d").to_string())
}

/// Each group's requests over the report, most first.
fn shares(report: &Report, name: impl Fn(&str) -> Option<String>) -> Vec<Share> {
    let mut shares: Vec<Share> = report
        .series
        .iter()
        .filter_map(|series| {
            let label = series.group.clone()?;
            Some(Share {
                name: name(&label),
                requests: series.buckets.iter().map(|b| b.requests).sum(),
                label,
            })
        })
        .filter(|share| share.requests > 0)
        .collect();
    shares.sort_by(|a, b| b.requests.cmp(&a.requests).then(a.label.cmp(&b.label)));
    shares
}
