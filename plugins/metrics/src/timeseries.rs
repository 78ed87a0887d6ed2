//! Time series: a metric's points in buckets of an hour, a day, a week (from Monday) or a
//! month, UTC, aggregated by the database; buckets without points are listed with no
//! value.

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use dashtray_core::{
    config::DatabaseKind,
    db::{query, DbError},
    Db,
};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
const WEEK_MS: i64 = 7 * DAY_MS;
/// 1970-01-05, the first Monday of the epoch: weeks are counted from it.
const FIRST_MONDAY_MS: i64 = 4 * DAY_MS;
/// The most buckets one answer may hold.
pub const MAX_BUCKETS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Hour,
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Sum,
    Avg,
    Min,
    Max,
    Last,
}

impl Interval {
    /// The start of the bucket holding `ts`.
    pub fn bucket_of(self, ts: i64) -> i64 {
        match self {
            Interval::Hour => ts - ts.rem_euclid(HOUR_MS),
            Interval::Day => ts - ts.rem_euclid(DAY_MS),
            Interval::Week => ts - (ts - FIRST_MONDAY_MS).rem_euclid(WEEK_MS),
            Interval::Month => {
                let date = utc(ts).date_naive();
                let first =
                    NaiveDate::from_ymd_opt(date.year(), date.month(), 1).expect("day 1 exists");
                first
                    .and_hms_opt(0, 0, 0)
                    .expect("midnight")
                    .and_utc()
                    .timestamp_millis()
            }
        }
    }

    /// The start of the bucket after the one starting at `bucket`.
    fn next(self, bucket: i64) -> i64 {
        match self {
            Interval::Hour => bucket + HOUR_MS,
            Interval::Day => bucket + DAY_MS,
            Interval::Week => bucket + WEEK_MS,
            Interval::Month => (utc(bucket) + Months::new(1)).timestamp_millis(),
        }
    }

    /// Every bucket start from the one holding `start` to the one holding `end`, or
    /// `None` past [`MAX_BUCKETS`].
    pub fn buckets(self, start: i64, end: i64) -> Option<Vec<i64>> {
        let mut buckets = Vec::new();
        let mut bucket = self.bucket_of(start);
        while bucket <= end {
            if buckets.len() == MAX_BUCKETS {
                return None;
            }
            buckets.push(bucket);
            bucket = self.next(bucket);
        }
        Some(buckets)
    }

    /// SQL for the start of the bucket holding column `ts` (non-negative milliseconds).
    fn bucket_sql(self, kind: DatabaseKind) -> String {
        match (self, kind) {
            (Interval::Hour, _) => format!("(ts - ts % {HOUR_MS})"),
            (Interval::Day, _) => format!("(ts - ts % {DAY_MS})"),
            (Interval::Week, _) => {
                format!("(ts - ((ts - {FIRST_MONDAY_MS}) % {WEEK_MS} + {WEEK_MS}) % {WEEK_MS})")
            }
            (Interval::Month, DatabaseKind::Sqlite) => {
                "(CAST(strftime('%s', ts / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000)"
                    .into()
            }
            (Interval::Month, DatabaseKind::Postgres) => {
                "(CAST(EXTRACT(EPOCH FROM date_trunc('month', \
                 to_timestamp(ts / 1000.0) AT TIME ZONE 'UTC')) AS BIGINT) * 1000)"
                    .into()
            }
        }
    }
}

fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The SQL that aggregates one metric's points in `[$3, $4]` per bucket.
pub fn sql(kind: DatabaseKind, interval: Interval, agg: Aggregate) -> String {
    let bucket = interval.bucket_sql(kind);
    let filter =
        "FROM metric_points WHERE project_id = $1 AND metric_id = $2 AND ts >= $3 AND ts <= $4";
    let function = match agg {
        Aggregate::Sum => "SUM",
        Aggregate::Avg => "AVG",
        Aggregate::Min => "MIN",
        Aggregate::Max => "MAX",
        Aggregate::Last => {
            return format!(
                "SELECT bucket, value FROM (SELECT {bucket} AS bucket, value, ROW_NUMBER() OVER \
                 (PARTITION BY {bucket} ORDER BY ts DESC, id DESC) AS nth {filter}) latest \
                 WHERE nth = 1 ORDER BY bucket"
            )
        }
    };
    format!(
        "SELECT bucket, {function}(value) AS value FROM (SELECT {bucket} AS bucket, value {filter}) \
         points GROUP BY bucket ORDER BY bucket"
    )
}

/// Whether the project has any point of a metric.
pub const EXISTS_QUERY: &str =
    "SELECT 1 AS one FROM metric_points WHERE project_id = $1 AND metric_id = $2 LIMIT 1";

/// True when the project has any point of `metric_id`.
pub async fn exists(db: &Db, project_id: &str, metric_id: &str) -> Result<bool, DbError> {
    let row = query(EXISTS_QUERY)
        .bind(project_id)
        .bind(metric_id)
        .fetch_optional(db, |_| Ok(()))
        .await?;
    Ok(row.is_some())
}

/// Each bucket of the range with its aggregate, `None` where it holds no point.
pub async fn series(
    db: &Db,
    project_id: &str,
    metric_id: &str,
    range: (i64, i64),
    interval: Interval,
    agg: Aggregate,
    buckets: &[i64],
) -> Result<Vec<(i64, Option<f64>)>, DbError> {
    let values: std::collections::HashMap<i64, f64> = query(sql(db.kind(), interval, agg))
        .bind(project_id)
        .bind(metric_id)
        .bind(range.0)
        .bind(range.1)
        .fetch_all(db, |row| Ok((row.get("bucket")?, row.get("value")?)))
        .await?
        .into_iter()
        .collect();
    Ok(buckets
        .iter()
        .map(|b| (*b, values.get(b).copied()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(date: &str) -> i64 {
        DateTime::parse_from_rfc3339(date)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn weeks_start_on_monday_utc() {
        // 2024-01-07 is a Sunday; its week began on Monday 2024-01-01.
        assert_eq!(
            Interval::Week.bucket_of(ms("2024-01-07T23:59:59.999Z")),
            ms("2024-01-01T00:00:00Z")
        );
        assert_eq!(
            Interval::Week.bucket_of(ms("2024-01-08T00:00:00Z")),
            ms("2024-01-08T00:00:00Z")
        );
    }

    #[test]
    fn months_have_their_own_lengths() {
        let buckets = Interval::Month
            .buckets(ms("2024-01-31T12:00:00Z"), ms("2024-03-01T00:00:00Z"))
            .unwrap();
        assert_eq!(
            buckets,
            [
                ms("2024-01-01T00:00:00Z"),
                ms("2024-02-01T00:00:00Z"),
                ms("2024-03-01T00:00:00Z")
            ]
        );
    }

    #[test]
    fn bucket_lists_cover_the_range_inclusively_and_are_bounded() {
        let days = Interval::Day
            .buckets(ms("2024-01-01T10:00:00Z"), ms("2024-01-03T00:00:00Z"))
            .unwrap();
        assert_eq!(days.len(), 3);
        assert!(
            Interval::Hour.buckets(0, 2 * 365 * DAY_MS).is_none(),
            "17,520 hours is too many"
        );
    }
}
