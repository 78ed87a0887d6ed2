//! The admin listener: what operators' tools ask of a running server (Prometheus's
//! scrape, an orchestrator's probes), on an address of its own (`server.admin_bind`),
//! never the public one.
//!
//! - `GET /metrics`: every metric, in the Prometheus text format (`dashtray_ready` as
//!   `/readyz` would answer);
//! - `GET /livez`: 200 while the process answers at all;
//! - `GET /readyz`: 200 when the server should get traffic; 503 while its migrations
//!   run, while the database does not answer, and once shutdown has begun.

use std::{
    fmt,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use poem::{
    endpoint::{make, make_sync},
    get,
    http::{header, StatusCode},
    Endpoint, Response, Route,
};

use crate::{services::Services, telemetry::metrics::CONTENT_TYPE};

/// What the server has been through that readiness depends on, besides its database.
#[derive(Debug, Default)]
pub struct Lifecycle {
    migrated: AtomicBool,
    stopping: AtomicBool,
}

impl Lifecycle {
    pub fn new() -> Arc<Lifecycle> {
        Arc::default()
    }

    /// Every plugin's migrations have been applied.
    pub fn migrated(&self) {
        self.migrated.store(true, Ordering::Release);
    }

    /// Shutdown has begun: in-flight requests finish, new traffic should go elsewhere.
    pub fn stopping(&self) {
        self.stopping.store(true, Ordering::Release);
    }
}

/// Why `/readyz` answers 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NotReady {
    Migrating,
    DatabaseDown,
    Stopping,
}

impl fmt::Display for NotReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotReady::Migrating => "migrations are pending",
            NotReady::DatabaseDown => "the database does not answer",
            NotReady::Stopping => "shutting down",
        })
    }
}

/// Whether the server should get traffic; the database's state is the one its own
/// checks keep (`/api/v1/health`'s), so a probe costs no query.
async fn not_ready(services: &Services, lifecycle: &Lifecycle) -> Option<NotReady> {
    if lifecycle.stopping.load(Ordering::Acquire) {
        Some(NotReady::Stopping)
    } else if !lifecycle.migrated.load(Ordering::Acquire) {
        Some(NotReady::Migrating)
    } else if !services.database.is_ok().await {
        Some(NotReady::DatabaseDown)
    } else {
        None
    }
}

/// The admin routes; anything else is a 404.
pub fn app(services: Services, lifecycle: Arc<Lifecycle>) -> impl Endpoint<Output = Response> {
    let scraped = (services.clone(), lifecycle.clone());
    Route::new()
        .at(
            "/metrics",
            get(make(move |_| {
                let (services, lifecycle) = scraped.clone();
                async move {
                    let ready = not_ready(&services, &lifecycle).await.is_none();
                    let text = services.metrics.render(&services.db, ready);
                    plain(StatusCode::OK, CONTENT_TYPE, text)
                }
            })),
        )
        .at(
            "/livez",
            get(make_sync(|_| plain(StatusCode::OK, TEXT, "ok\n".into()))),
        )
        .at(
            "/readyz",
            get(make(move |_| {
                let (services, lifecycle) = (services.clone(), lifecycle.clone());
                async move { readyz(&services, &lifecycle).await }
            })),
        )
}

const TEXT: &str = "text/plain; charset=utf-8";

async fn readyz(services: &Services, lifecycle: &Lifecycle) -> Response {
    match not_ready(services, lifecycle).await {
        None => plain(StatusCode::OK, TEXT, "ready\n".into()),
        Some(why) => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            TEXT,
            format!("not ready: {why}\n"),
        ),
    }
}

/// A probe's or a scrape's answer: never cached, whoever sits in between.
fn plain(status: StatusCode, content_type: &'static str, body: String) -> Response {
    Response::builder()
        .status(status)
        .content_type(content_type)
        .header(header::CACHE_CONTROL, "no-store")
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        config::Config,
        db::Db,
        testing::{Backend, TestDb},
    };
    use poem::test::TestClient;

    fn services() -> Services {
        let config = Config::default();
        Services::system(config.clone(), Db::lazy(&config.database).unwrap())
    }

    /// The order an orchestrator sees: not ready while migrating; ready once migrated
    /// (the database answers: SQLite in a scratch folder); not ready again once
    /// stopping, while in-flight requests still finish.
    #[tokio::test]
    async fn readiness_follows_migration_then_shutdown() {
        let test_db = TestDb::new(Backend::Sqlite).await.expect("SQLite");
        let mut config = Config::default();
        config.database = test_db.config();
        let db = test_db.connect().await;
        crate::registry::Registry::new(vec![])
            .unwrap()
            .migrate(&db, &config)
            .await
            .unwrap();
        let services = Services::system(config, db);
        let lifecycle = Lifecycle::new();
        let client = TestClient::new(app(services, lifecycle.clone()));

        let resp = client.get("/readyz").send().await;
        resp.assert_status(StatusCode::SERVICE_UNAVAILABLE);
        resp.assert_text("not ready: migrations are pending\n")
            .await;
        lifecycle.migrated();
        client.get("/readyz").send().await.assert_status_is_ok();
        lifecycle.stopping();
        let resp = client.get("/readyz").send().await;
        resp.assert_status(StatusCode::SERVICE_UNAVAILABLE);
        resp.assert_text("not ready: shutting down\n").await;
        client.get("/livez").send().await.assert_status_is_ok();
    }

    /// The scrape says what `/readyz` would: a server still migrating is not ready.
    #[tokio::test]
    async fn the_scrape_is_prometheus_text_with_readiness() {
        let client = TestClient::new(app(services(), Lifecycle::new()));
        let resp = client.get("/metrics").send().await;
        resp.assert_status_is_ok();
        resp.assert_content_type(CONTENT_TYPE);
        let text = resp.0.into_body().into_string().await.unwrap();
        assert!(text.contains("# TYPE dashtray_ready gauge\n"), "{text}");
        assert!(text.contains("\ndashtray_ready 0\n"), "{text}");
    }
}
