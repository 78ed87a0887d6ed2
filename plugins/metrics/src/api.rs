//! The operations: list points, and a metric's time series.

use dashtray_core::{
    dates::{self, DateParam},
    db::{DbError, Row},
    json::JsonRows,
    listing::{Limit, Offset, Pagination},
    params::Patterned,
    ApiError, Db, Json, Principal,
};
use poem::{web::Data, Request};
use poem_openapi::{
    param::{Path, Query},
    ApiResponse, Enum, Object, OpenApi, Tags,
};

use crate::{
    points::{self, Cursor, Filter, MetricIdListRule, MetricIdRule},
    timeseries::{self, Aggregate, Interval},
};

#[derive(Tags)]
enum MetricsTag {
    /// Metric data points and their time series.
    #[oai(rename = "metrics")]
    Metrics,
}

/// One measurement of a metric.
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "MetricPoint", rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
struct MetricPoint {
    /// The point's id (`pt_...`).
    id: String,
    /// The metric measured, e.g. `mrr`.
    metric_id: String,
    /// The integration the point came from, if any.
    integration_id: Option<String>,
    value: f64,
    /// When, in milliseconds since the Unix epoch.
    timestamp: i64,
}

/// Writes a row of `metric_points` into the page as a [`MetricPoint`], with no owned
/// copy of its text (`JsonRows` checks in tests that it is written as a `MetricPoint`
/// is), and answers its position for the next page's cursor.
fn write_point<'r>(
    row: &Row<'r>,
    page: &mut JsonRows<MetricPoint>,
) -> Result<(i64, &'r str), DbError> {
    // Read in the columns' order, which makes each lookup by name one comparison.
    let id: &str = row.get("id")?;
    let metric_id: &str = row.get("metric_id")?;
    let integration_id: Option<&str> = row.get("integration_id")?;
    let value: f64 = row.get("value")?;
    let timestamp: i64 = row.get("ts")?;
    page.push_object(|point| {
        point
            .field("id", id)
            .field("metricId", metric_id)
            .field("integrationId", integration_id)
            .field("value", value)
            .field("timestamp", timestamp);
    });
    Ok((timestamp, id))
}

/// About the bytes of one point as JSON, to size a page's buffer once.
const POINT_BYTES: usize = 110;

/// A page of points.
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "MetricPointPage")]
struct MetricPointPage {
    data: JsonRows<MetricPoint>,
    pagination: Pagination,
}

#[derive(ApiResponse)]
enum ListResponse {
    /// The page; `Link` points at the next and previous pages where they exist.
    #[oai(status = 200)]
    Ok(
        Json<MetricPointPage>,
        #[oai(header = "Link")] Option<String>,
    ),
}

/// The width of a time-series bucket (UTC; weeks start on Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, serde::Serialize)]
#[oai(rename = "TimeSeriesInterval", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
enum IntervalParam {
    Hour,
    Day,
    Week,
    Month,
}

/// How a bucket's points become its value (`last`: the latest point's value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, serde::Serialize)]
#[oai(rename = "TimeSeriesAggregate", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
enum AggregateParam {
    Sum,
    Avg,
    Min,
    Max,
    Last,
}

/// One bucket of a time series.
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "TimeSeriesBucket")]
struct Bucket {
    /// The bucket's start, in milliseconds since the Unix epoch.
    timestamp: i64,
    /// The aggregate of the bucket's points; null when it has none.
    value: Option<f64>,
}

/// A metric's time series over the applied range.
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "TimeSeries", rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
struct TimeSeries {
    metric_id: String,
    interval: IntervalParam,
    agg: AggregateParam,
    /// The applied start (inclusive), in milliseconds since the Unix epoch.
    start_date: i64,
    /// The applied end (inclusive), in milliseconds since the Unix epoch.
    end_date: i64,
    buckets: Vec<Bucket>,
}

/// `{"data": <time series>}`
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "TimeSeriesResponse")]
struct TimeSeriesResponse {
    data: TimeSeries,
}

pub struct MetricsApi {
    pub db: Db,
}

#[OpenApi(tag = "MetricsTag::Metrics")]
impl MetricsApi {
    /// List metrics
    ///
    /// The project's metric data points, ordered by timestamp then id, filtered and
    /// paginated. Date bounds are inclusive; a date-only `end_date` includes its whole
    /// day (UTC).
    #[oai(path = "/metrics", method = "get", operation_id = "listMetrics")]
    #[allow(clippy::too_many_arguments)]
    async fn list_metrics(
        &self,
        req: &Request,
        principal: Data<&Principal>,
        /// Number of results (1-1000).
        limit: Query<Limit>,
        /// Results to skip (for deep pages, prefer `cursor`).
        offset: Query<Offset>,
        /// The position to continue from: `pagination.nextCursor` of the previous page.
        /// Stays fast however deep the list goes; use it instead of `offset`.
        // A cursor is never empty: saying so in the schema keeps generated clients and
        // fuzzers from sending the `cursor=` the server refuses.
        #[oai(validator(min_length = 1))]
        cursor: Query<Option<String>>,
        /// One metric id, or several separated by commas (`mrr,churn`).
        metric_id: Query<Option<Patterned<MetricIdListRule>>>,
        /// From this date (`2024-01-01`) or date-time with offset (`2024-01-01T00:00:00Z`), inclusive.
        /// Not after `end_date`: a later start is refused with 400.
        start_date: Query<Option<DateParam>>,
        /// Up to this date or date-time, inclusive; a date includes its whole day (UTC).
        /// Not before `start_date`: an earlier end is refused with 400.
        end_date: Query<Option<DateParam>>,
    ) -> Result<ListResponse, ApiError> {
        let filter = Filter::parse(
            metric_id.0.as_ref().map(Patterned::as_str),
            start_date.0.as_ref().map(DateParam::as_str),
            end_date.0.as_ref().map(DateParam::as_str),
        )?;
        let project = &principal.project_id;
        let mut data = JsonRows::with_capacity(limit.get().min(100) as usize, POINT_BYTES);
        // The last row's position, for the next page's cursor: one buffer for every row.
        let mut last = Cursor::default();
        let write = |row: &Row<'_>| {
            let (timestamp, id) = write_point(row, &mut data)?;
            last.move_to(timestamp, id);
            Ok(())
        };
        let pagination = match cursor.0.as_deref() {
            Some(text) => {
                if offset.get() > 0 {
                    return Err(ApiError::invalid_parameter(
                        "cursor",
                        "goes without `offset`: a cursor is itself the position",
                    ));
                }
                let after = Cursor::decode(text)
                    .map_err(|message| ApiError::invalid_parameter("cursor", message))?;
                let read =
                    points::page_after(&self.db, project, &filter, limit.get(), &after, write)
                        .await?;
                let next = (read.more && !data.is_empty()).then(|| last.encode());
                Pagination::after_cursor(limit.get(), read.total, next)
            }
            None => {
                let read =
                    points::page(&self.db, project, &filter, limit.get(), offset.get(), write)
                        .await?;
                let next = (read.more && !data.is_empty()).then(|| last.encode());
                Pagination::new(limit.get(), offset.get(), read.total).with_next_cursor(next)
            }
        };
        let link = pagination.link_header(req);
        Ok(ListResponse::Ok(
            Json(MetricPointPage { data, pagination }),
            link,
        ))
    }

    /// Get a metric's time series
    ///
    /// The metric's points between `start_date` and `end_date` (inclusive), in buckets of
    /// `interval` (UTC; weeks start on Monday), each the `agg` of its points; buckets
    /// without points have `value: null`. 404 when the project has no point of the metric.
    #[oai(
        path = "/metrics/:metric_id/timeseries",
        method = "get",
        operation_id = "getMetricTimeSeries"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn time_series(
        &self,
        principal: Data<&Principal>,
        /// The metric, e.g. `mrr`.
        metric_id: Path<Patterned<MetricIdRule>>,
        /// From this date or date-time, inclusive. Not after `end_date`: a later start is
        /// refused with 400.
        start_date: Query<DateParam>,
        /// Up to this date or date-time, inclusive; a date includes its whole day (UTC).
        /// Not before `start_date`: an earlier end is refused with 400.
        end_date: Query<DateParam>,
        /// Bucket width; `day` when absent.
        // Optional rather than `#[oai(default)]`: a default beside the enum's `$ref` is
        // written as `allOf`, which openapi-generator types as `Any`; OpenAPI 3.0 has no
        // other place for it, so the description states it.
        interval: Query<Option<IntervalParam>>,
        /// How a bucket's points are combined; `sum` when absent.
        agg: Query<Option<AggregateParam>>,
    ) -> Result<Json<TimeSeriesResponse>, ApiError> {
        let metric_id = metric_id.0.into_inner();
        let (start, end) = dates::range(Some(start_date.0.as_str()), Some(end_date.0.as_str()))?;
        let (start, end) = (start.expect("given"), end.expect("given"));
        let interval_param = interval.0.unwrap_or(IntervalParam::Day);
        let agg_param = agg.0.unwrap_or(AggregateParam::Sum);
        let interval = to_interval(interval_param);
        let buckets = interval.buckets(start, end).ok_or_else(|| {
            ApiError::invalid_parameter(
                "interval",
                format!(
                    "this range holds more than {} buckets of this interval; choose a longer interval or a shorter range",
                    timeseries::MAX_BUCKETS
                ),
            )
        })?;
        let project = &principal.project_id;
        let values = timeseries::series(
            &self.db,
            project,
            &metric_id,
            (start, end),
            interval,
            to_aggregate(agg_param),
            &buckets,
        )
        .await?;
        // A range with points shows that the metric exists; only an empty one asks.
        let empty = values.iter().all(|(_, value)| value.is_none());
        if empty && !timeseries::exists(&self.db, project, &metric_id).await? {
            return Err(ApiError::not_found(format!(
                "This project has no points of the metric `{metric_id}`."
            )));
        }
        Ok(Json(TimeSeriesResponse {
            data: TimeSeries {
                metric_id,
                interval: interval_param,
                agg: agg_param,
                start_date: start,
                end_date: end,
                buckets: values
                    .into_iter()
                    .map(|(timestamp, value)| Bucket { timestamp, value })
                    .collect(),
            },
        }))
    }
}

fn to_interval(param: IntervalParam) -> Interval {
    match param {
        IntervalParam::Hour => Interval::Hour,
        IntervalParam::Day => Interval::Day,
        IntervalParam::Week => Interval::Week,
        IntervalParam::Month => Interval::Month,
    }
}

fn to_aggregate(param: AggregateParam) -> Aggregate {
    match param {
        AggregateParam::Sum => Aggregate::Sum,
        AggregateParam::Avg => Aggregate::Avg,
        AggregateParam::Min => Aggregate::Min,
        AggregateParam::Max => Aggregate::Max,
        AggregateParam::Last => Aggregate::Last,
    }
}
