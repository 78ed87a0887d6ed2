//! `GET /usage`: the caller's project's history, as series of hourly or daily buckets
//! with every empty bucket present, and totals by outcome.

use std::collections::BTreeMap;

use poem::web::Data;
use poem_openapi::{param::Query, Enum, Object, OpenApi, Tags};

use super::{Count, HOUR_MS};
use crate::{
    auth::Principal,
    clock::SharedClock,
    dates::{self, DateParam},
    db::{Db, DbError},
    error::ApiError,
    json::Json,
};

const DAY_MS: i64 = 24 * HOUR_MS;
/// The longest range per interval: a month of hours, a year of days.
const MAX_HOUR_RANGE_DAYS: i64 = 31;
const MAX_DAY_RANGE_DAYS: i64 = 366;

#[derive(Tags)]
enum UsageTag {
    /// The project's request history.
    #[oai(rename = "usage")]
    Usage,
}

/// Bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, serde::Serialize)]
#[oai(rename = "UsageInterval", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    Hour,
    Day,
}

impl Interval {
    fn millis(self) -> i64 {
        match self {
            Interval::Hour => HOUR_MS,
            Interval::Day => DAY_MS,
        }
    }

    fn max_range_days(self) -> i64 {
        match self {
            Interval::Hour => MAX_HOUR_RANGE_DAYS,
            Interval::Day => MAX_DAY_RANGE_DAYS,
        }
    }
}

/// What the series are split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "UsageGroupBy", rename_all = "lowercase")]
pub enum GroupBy {
    Key,
    Operation,
    Status,
}

/// One bucket of a series.
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "UsageBucket")]
pub struct Bucket {
    /// The bucket's start, in milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// Requests answered in the bucket; 0 for none.
    pub requests: u64,
}

/// Requests over time for one group.
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "UsageSeries")]
pub struct Series {
    /// The key id, operation id or status class (`2xx`, `3xx`, `4xx`, `429`, `5xx`) of
    /// this series; null without `group_by`.
    pub group: Option<String>,
    pub buckets: Vec<Bucket>,
}

/// The range's requests by outcome.
#[derive(Debug, Default, PartialEq, Eq, Object, serde::Serialize)]
#[oai(rename = "UsageTotals", rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub requests: u64,
    /// Answered 2xx or 3xx.
    pub succeeded: u64,
    /// Answered 4xx other than 429.
    pub client_errors: u64,
    /// Answered 429.
    pub rate_limited: u64,
    /// Answered 5xx.
    pub server_errors: u64,
}

/// The history over the applied range.
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "Usage", rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub interval: Interval,
    /// The first bucket's start, in milliseconds since the Unix epoch.
    pub start_date: i64,
    /// The last bucket's end (inclusive), in milliseconds since the Unix epoch.
    pub end_date: i64,
    pub series: Vec<Series>,
    pub totals: Totals,
}

/// `{"data": <usage>}`
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "UsageResponse")]
struct UsageResponse {
    data: Report,
}

pub struct UsageApi {
    pub db: Db,
    pub clock: SharedClock,
}

#[OpenApi(tag = "UsageTag::Usage")]
impl UsageApi {
    /// Get usage history
    ///
    /// The caller's project's requests over time, in buckets of an hour or a day (UTC),
    /// every bucket present (0 when empty), optionally split by key, operation or status
    /// class, with totals by outcome. Defaults to the last 24 hours by hour. The range is
    /// at most 31 days by hour and 366 days by day. Counts reach the history every
    /// `usage.flush_secs`. Reading it does not count against the rate limit; any valid key
    /// of the project may read it.
    #[oai(path = "/usage", method = "get", operation_id = "getUsage")]
    async fn usage(
        &self,
        principal: Data<&Principal>,
        /// Start of the range (inclusive), a date or a date-time with an offset; default
        /// 24 hours before `end_date`. Not after `end_date`, and not further from it than
        /// 31 days by hour or 366 days by day: either is refused with 400.
        start_date: Query<Option<DateParam>>,
        /// End of the range (inclusive); a date-only value includes its whole day (UTC);
        /// default now. Not before `start_date`: an earlier end is refused with 400.
        end_date: Query<Option<DateParam>>,
        /// Bucket width.
        #[oai(default = "default_interval")]
        interval: Query<Interval>,
        /// Split the series by key, operation or status class.
        group_by: Query<Option<GroupBy>>,
    ) -> Result<Json<UsageResponse>, ApiError> {
        let (start, end) = dates::range(
            start_date.0.as_ref().map(DateParam::as_str),
            end_date.0.as_ref().map(DateParam::as_str),
        )?;
        let range = Range::new(start, end, interval.0, self.clock.now_millis())?;
        let data = history(&self.db, &principal.project_id, range, group_by.0).await?;
        Ok(Json(UsageResponse { data }))
    }
}

/// A project's history over `range`: what `GET /usage` and `dashtray usage` show.
pub async fn history(
    db: &Db,
    project_id: &str,
    range: Range,
    group_by: Option<GroupBy>,
) -> Result<Report, DbError> {
    let counts = super::store::read(db, project_id, range.first, range.end()).await?;
    Ok(range.report(&counts, group_by))
}

fn default_interval() -> Interval {
    Interval::Hour
}

/// The applied range, as the starts of its first and last buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    interval: Interval,
    first: i64,
    last: i64,
}

impl Range {
    /// The buckets that `[start, end]` touches; `Err` names the parameter at fault.
    pub fn new(
        start: Option<i64>,
        end: Option<i64>,
        interval: Interval,
        now: i64,
    ) -> Result<Range, ApiError> {
        let end = end.unwrap_or(now);
        let start = start.unwrap_or(end - DAY_MS + 1);
        if start > end {
            return Err(ApiError::invalid_parameter(
                "start_date",
                "must not be after `end_date` (default: now)",
            ));
        }
        let max_days = interval.max_range_days();
        if end - start >= max_days * DAY_MS {
            return Err(ApiError::invalid_parameter(
                "start_date",
                format!(
                    "the range is at most {MAX_HOUR_RANGE_DAYS} days with `interval=hour` \
                     and {MAX_DAY_RANGE_DAYS} days with `interval=day`"
                ),
            ));
        }
        let width = interval.millis();
        Ok(Range {
            interval,
            first: start - start.rem_euclid(width),
            last: end - end.rem_euclid(width),
        })
    }

    /// The last bucket's last millisecond: a day's bucket holds hours after its start.
    fn end(&self) -> i64 {
        self.last + self.interval.millis() - 1
    }

    fn bucket_of(&self, hour_start: i64) -> usize {
        let width = self.interval.millis();
        ((hour_start - hour_start.rem_euclid(width) - self.first) / width) as usize
    }

    fn buckets(&self) -> usize {
        self.bucket_of(self.last) + 1
    }

    fn report(&self, counts: &[Count], group_by: Option<GroupBy>) -> Report {
        let mut groups: BTreeMap<Option<String>, Vec<u64>> = BTreeMap::new();
        if group_by.is_none() {
            groups.insert(None, vec![0; self.buckets()]);
        }
        let mut totals = Totals::default();
        for count in counts {
            let group = group_by.map(|by| group_of(count, by));
            let series = groups
                .entry(group)
                .or_insert_with(|| vec![0; self.buckets()]);
            series[self.bucket_of(count.hour_start)] += count.count;
            totals.add(count.status, count.count);
        }
        let width = self.interval.millis();
        let series = groups
            .into_iter()
            .map(|(group, requests)| Series {
                group,
                buckets: requests
                    .into_iter()
                    .enumerate()
                    .map(|(i, requests)| Bucket {
                        timestamp: self.first + i as i64 * width,
                        requests,
                    })
                    .collect(),
            })
            .collect();
        Report {
            interval: self.interval,
            start_date: self.first,
            end_date: self.end(),
            series,
            totals,
        }
    }
}

impl Totals {
    fn add(&mut self, status: u16, count: u64) {
        self.requests += count;
        let outcome = match status {
            429 => &mut self.rate_limited,
            500.. => &mut self.server_errors,
            400.. => &mut self.client_errors,
            _ => &mut self.succeeded,
        };
        *outcome += count;
    }
}

/// A status's class as `group_by=status` names it; 429 stands apart from other 4xx.
fn status_class(status: u16) -> String {
    match status {
        429 => "429".to_owned(),
        _ => format!("{}xx", status / 100),
    }
}

fn group_of(count: &Count, by: GroupBy) -> String {
    match by {
        GroupBy::Key => count.key_id.clone(),
        GroupBy::Operation => count.operation_id.clone(),
        GroupBy::Status => status_class(count.status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(key: &str, status: u16, hour_start: i64, n: u64) -> Count {
        Count {
            project_id: "prj".into(),
            key_id: key.into(),
            operation_id: "listMetrics".into(),
            status,
            hour_start,
            count: n,
        }
    }

    #[test]
    fn the_default_range_is_the_last_24_hours_by_hour() {
        let now = 100 * DAY_MS + 30 * 60_000;
        let range = Range::new(None, None, Interval::Hour, now).unwrap();
        assert_eq!(
            range.buckets(),
            25,
            "the hour 24 hours ago, to the current one"
        );
        assert_eq!(range.last, 100 * DAY_MS);
    }

    #[test]
    fn ranges_longer_than_the_interval_allows_name_start_date() {
        let day = |d: i64| Some(d * DAY_MS);
        assert!(Range::new(day(0), Some(31 * DAY_MS - 1), Interval::Hour, 0).is_ok());
        let err = Range::new(day(0), day(31), Interval::Hour, 0).unwrap_err();
        assert_eq!(err.details()[0].parameter, "start_date");
        assert!(Range::new(day(0), day(365), Interval::Day, 0).is_ok());
        assert!(Range::new(day(0), day(366), Interval::Day, 0).is_err());
    }

    #[test]
    fn empty_buckets_are_zero_and_totals_sort_outcomes() {
        let range = Range::new(Some(0), Some(3 * HOUR_MS), Interval::Hour, 0).unwrap();
        let counts = [
            count("a", 200, 0, 3),
            count("a", 304, 0, 1),
            count("b", 404, 2 * HOUR_MS, 2),
            count("b", 429, 2 * HOUR_MS, 5),
            count("b", 503, 3 * HOUR_MS, 1),
        ];
        let report = range.report(&counts, None);
        let requests: Vec<u64> = report.series[0]
            .buckets
            .iter()
            .map(|b| b.requests)
            .collect();
        assert_eq!(requests, [4, 0, 7, 1]);
        assert_eq!(
            report.totals,
            Totals {
                requests: 12,
                succeeded: 4,
                client_errors: 2,
                rate_limited: 5,
                server_errors: 1
            }
        );
        let by_status = range.report(&counts, Some(GroupBy::Status));
        let groups: Vec<_> = by_status
            .series
            .iter()
            .map(|s| s.group.clone().unwrap())
            .collect();
        assert_eq!(groups, ["2xx", "3xx", "429", "4xx", "5xx"]);
    }

    #[test]
    fn daily_buckets_add_their_hours() {
        let range = Range::new(Some(0), Some(2 * DAY_MS - 1), Interval::Day, 0).unwrap();
        let counts = [
            count("a", 200, HOUR_MS, 1),
            count("a", 200, 23 * HOUR_MS, 2),
        ];
        let report = range.report(&counts, Some(GroupBy::Key));
        let requests: Vec<u64> = report.series[0]
            .buckets
            .iter()
            .map(|b| b.requests)
            .collect();
        assert_eq!(requests, [3, 0]);
        assert_eq!(report.end_date, 2 * DAY_MS - 1);
    }
}
