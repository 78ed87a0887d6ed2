//! The server's Prometheus metrics (docs/operations.md lists them), and the handles the
//! request path records through.
//!
//! Recording allocates nothing: an operation's handle is made with its route, an answer's
//! counter is created the first time its (operation, status) is seen and found again by
//! a hash lookup, and the limiter's and the auth step's counters are atomics made once.

use std::{sync::Arc, time::Duration};

use prometheus_client::{
    encoding::{prometheus_text, EncodeLabelSet},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

use crate::db::Db;

/// The `operation` of answers no operation gave: unknown paths, other methods, `/docs`.
pub const UNMATCHED: &str = "unmatched";

/// The Prometheus text format (0.0.4), as `/metrics` answers.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Upper bounds of the duration histogram, in seconds: a page from the database takes
/// about a millisecond, and a request waiting on an unreachable one gives up after
/// seconds (`database.acquire_timeout_ms`, `http.request_timeout_secs`).
const DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: Arc<str>,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

type Durations = Family<OperationLabels, Histogram, fn() -> Histogram>;

/// One server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Durations,
    decisions: RateLimitDecisions,
    auth_failures: Counter,
    pool_idle: Gauge,
    pool_used: Gauge,
    ready: Gauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("dashtray");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Answers given, by operationId (or `unmatched`) and status code",
            requests.clone(),
        );
        let durations = Durations::new_with_constructor(|| Histogram::new(DURATION_BUCKETS));
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its answer, by operationId",
            durations.clone(),
        );
        let outcomes = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "ratelimit_decisions",
            "Counted requests by the limiter's decision: allowed, limited, or decided by \
             `ratelimit.on_store_failure` because the store failed (store_error)",
            outcomes.clone(),
        );
        let outcome = |outcome| outcomes.get_or_create_owned(&OutcomeLabels { outcome });
        let decisions = RateLimitDecisions {
            allowed: outcome("allowed"),
            limited: outcome("limited"),
            store_error: outcome("store_error"),
        };
        let auth_failures = Counter::default();
        registry.register(
            "auth_failures",
            "Requests refused for a missing, malformed, unknown, revoked or expired key",
            auth_failures.clone(),
        );
        let pool = Family::<StateLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database connections open in the pool: idle, or lent to a request",
            pool.clone(),
        );
        let state = |state| pool.get_or_create_owned(&StateLabels { state });
        let ready = Gauge::default();
        registry.register(
            "ready",
            "1 when the server should get traffic (`/readyz` answers 200), else 0",
            ready.clone(),
        );
        Metrics {
            ready,
            pool_idle: state("idle"),
            pool_used: state("used"),
            registry,
            requests,
            durations,
            decisions,
            auth_failures,
        }
    }

    /// The handle an operation's answers are recorded through.
    pub fn operation(&self, operation_id: &str) -> Arc<OperationMetrics> {
        let operation: Arc<str> = operation_id.into();
        let duration = self.durations.get_or_create_owned(&OperationLabels {
            operation: operation.clone(),
        });
        Arc::new(OperationMetrics {
            operation,
            requests: self.requests.clone(),
            ok: std::sync::OnceLock::new(),
            duration,
        })
    }

    pub fn ratelimit_decisions(&self) -> RateLimitDecisions {
        self.decisions.clone()
    }

    pub fn auth_failures(&self) -> Counter {
        self.auth_failures.clone()
    }

    /// Every metric in the Prometheus text format; the pool's read from `db` now, and
    /// whether the server is `ready` as the caller found it.
    pub fn render(&self, db: &Db, ready: bool) -> String {
        self.ready.set(i64::from(ready));
        let pool = db.pool_status();
        self.pool_idle.set(gauge_value(pool.idle));
        self.pool_used.set(gauge_value(pool.used));
        let mut text = String::with_capacity(8 * 1024);
        prometheus_text::encode(&mut text, &self.registry).expect("writing to a String");
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn gauge_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Where one operation's answers are counted and timed.
pub struct OperationMetrics {
    operation: Arc<str>,
    requests: Family<RequestLabels, Counter>,
    /// The series of this operation's 200s, the answer nearly every request gets: the
    /// family's lookup hashes the labels under a lock, a tenth of what `health` costs.
    /// Made by the first 200, so a scrape shows no series that never counted.
    ok: std::sync::OnceLock<Counter>,
    duration: Histogram,
}

impl OperationMetrics {
    /// Shared, so that what counts answers by operation copies no text.
    pub fn operation_id(&self) -> &Arc<str> {
        &self.operation
    }

    fn series(&self, status: u16) -> Counter {
        let labels = RequestLabels {
            operation: self.operation.clone(),
            status,
        };
        self.requests.get_or_create(&labels).clone()
    }

    /// One answer with `status`, given `elapsed` after the request arrived.
    pub fn record(&self, status: u16, elapsed: Duration) {
        match status {
            200 => self.ok.get_or_init(|| self.series(status)).inc(),
            _ => self.series(status).inc(),
        };
        self.duration.observe(elapsed.as_secs_f64());
    }
}

/// The limiter's decision on a counted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Limited,
    /// The store failed or was slow: `ratelimit.on_store_failure` decided.
    StoreError,
}

/// `dashtray_ratelimit_decisions_total`, one counter per outcome.
#[derive(Clone)]
pub struct RateLimitDecisions {
    allowed: Counter,
    limited: Counter,
    store_error: Counter,
}

impl RateLimitDecisions {
    pub fn record(&self, decision: Decision) {
        match decision {
            Decision::Allowed => &self.allowed,
            Decision::Limited => &self.limited,
            Decision::StoreError => &self.store_error,
        }
        .inc();
    }

    /// How many requests got `decision` so far.
    pub fn count(&self, decision: Decision) -> u64 {
        match decision {
            Decision::Allowed => &self.allowed,
            Decision::Limited => &self.limited,
            Decision::StoreError => &self.store_error,
        }
        .get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// What a scrape shows: the series named by Prometheus conventions, with their labels.
    #[tokio::test]
    async fn the_page_shows_each_series_by_its_documented_name() {
        let metrics = Metrics::new();
        let page = metrics.operation("getProject");
        page.record(200, Duration::from_millis(3));
        page.record(200, Duration::from_millis(4));
        page.record(429, Duration::from_micros(200));
        metrics.ratelimit_decisions().record(Decision::Limited);
        metrics.auth_failures().inc();
        let db = Db::lazy(&Config::default().database).unwrap();
        let text = metrics.render(&db, true);
        for line in [
            r#"dashtray_http_requests_total{operation="getProject",status="200"} 2"#,
            r#"dashtray_http_requests_total{operation="getProject",status="429"} 1"#,
            r#"dashtray_http_request_duration_seconds_count{operation="getProject"} 3"#,
            r#"dashtray_http_request_duration_seconds_bucket{operation="getProject",le="0.0005"} 1"#,
            r#"dashtray_http_request_duration_seconds_bucket{operation="getProject",le="0.005"} 3"#,
            r#"dashtray_ratelimit_decisions_total{outcome="limited"} 1"#,
            r#"dashtray_ratelimit_decisions_total{outcome="allowed"} 0"#,
            r#"dashtray_ratelimit_decisions_total{outcome="store_error"} 0"#,
            "dashtray_auth_failures_total 1",
            r#"dashtray_db_pool_connections{state="idle"} 0"#,
            r#"dashtray_db_pool_connections{state="used"} 0"#,
            "dashtray_ready 1",
            "# TYPE dashtray_http_request_duration_seconds histogram",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "no line `{line}` in:\n{text}"
            );
        }
    }
}
