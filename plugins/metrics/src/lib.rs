//! The `metrics` plugin: a project's metric data points, listed with filters, and
//! aggregated into time series by the database.
//!
//! - [`api`]: the operations and their schemas;
//! - [`points`]: the filtered, paginated list of points;
//! - [`timeseries`]: buckets by hour, day, week or month;
//! - [`store`]: writing points (the demo data and `dashtray import`).

pub mod api;
pub mod points;
pub mod store;
pub mod timeseries;

use dashtray_core::{Migration, Mounted, Plugin, PluginContext, PluginError};

/// The scope a key needs to read metrics.
pub const SCOPE: &str = "metrics:read";

/// Points are found by project and metric, or by project alone, always in
/// (timestamp, id) order: two indexes serve every query the plugin makes.
const MIGRATIONS: [Migration; 1] = [Migration::portable(
    1,
    "metric points",
    "CREATE TABLE metric_points (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        metric_id TEXT NOT NULL,
        integration_id TEXT,
        value DOUBLE PRECISION NOT NULL,
        ts BIGINT NOT NULL
    );
    CREATE INDEX metric_points_by_metric ON metric_points (project_id, metric_id, ts, id);
    CREATE INDEX metric_points_by_time ON metric_points (project_id, ts, id);",
)];

pub struct MetricsPlugin;

impl Plugin for MetricsPlugin {
    fn name(&self) -> &str {
        "metrics"
    }

    fn migrations(&self) -> Vec<Migration> {
        MIGRATIONS.to_vec()
    }

    fn mount(&self, cx: &PluginContext) -> Result<Mounted, PluginError> {
        let api = api::MetricsApi {
            db: cx.db().clone(),
        };
        Ok(Mounted::from_api(api)?.scope(SCOPE).link(
            "listMetrics",
            "getMetricTimeSeries",
            "metric_id",
            "metricId",
        ))
    }
}
