//! Test helpers: a fresh database per test on each backend under test.
//!
//! SQLite gets a new file in a temp folder; Postgres (when `DASHTRAY_TEST_POSTGRES_URL`
//! is set) gets a new schema, selected through the URL, so the server binary under test
//! sees it too. Without the variable the Postgres half of a test says loudly that it
//! skips; under CI (`CI` set) a missing service fails instead.
//!
//! A plugin's own tests start from [`world`] (the plugin mounted, two projects with
//! keys) and use [`get`] and [`assert_problem`]; [`TestApp::new_project`] makes more.

mod requests;

use std::io::Write;

pub use requests::{assert_problem, get, world, Answer, TestProject, World};

use crate::{
    config::{DatabaseConfig, DatabaseUrl},
    db::Db,
};

pub const POSTGRES_ENV: &str = "DASHTRAY_TEST_POSTGRES_URL";
pub const REDIS_ENV: &str = "DASHTRAY_TEST_REDIS_URL";

/// The storage engines every storage test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists only for one test.
pub struct TestDb {
    backend: Backend,
    url: String,
    schema: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh database, or `None` when the backend's service is not configured here.
    pub async fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => Some(TestDb::sqlite()),
            Backend::Postgres => TestDb::postgres().await,
        }
    }

    fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("create a temp folder");
        let url = format!("sqlite://{}", dir.path().join("dashtray.db").display());
        TestDb {
            backend: Backend::Sqlite,
            url,
            schema: None,
            _dir: Some(dir),
        }
    }

    async fn postgres() -> Option<TestDb> {
        let base = service_url(POSTGRES_ENV, "Postgres")?;
        let schema = format!("test_{}", crate::http::request_id::generate());
        let admin = admin_db(&base).await;
        admin
            .execute_script(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap_or_else(|e| panic!("cannot create a test schema at {base}: {e}"));
        admin.close().await;
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        Some(TestDb {
            backend: Backend::Postgres,
            url,
            schema: Some((base, schema)),
            _dir: None,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL to give the server (`DASHTRAY_DATABASE__URL`).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn config(&self) -> DatabaseConfig {
        DatabaseConfig {
            url: DatabaseUrl::parse(&self.url).expect("test URLs are valid"),
            max_connections: 5,
            acquire_timeout_ms: 5000,
        }
    }

    /// An open handle on the test database.
    pub async fn connect(&self) -> Db {
        Db::connect(&self.config())
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((base, schema)) = self.schema.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot be blocked on; a short-lived
        // thread with its own runtime removes the schema.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let admin = admin_db(&base).await;
                let _ = admin
                    .execute_script(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await;
                admin.close().await;
            });
        })
        .join();
    }
}

/// The Postgres server itself, outside any test's schema: to create and drop schemas.
async fn admin_db(base: &str) -> Db {
    let config = DatabaseConfig {
        url: DatabaseUrl::parse(base)
            .unwrap_or_else(|e| panic!("{POSTGRES_ENV}={base} is not a Postgres URL: {e}")),
        max_connections: 1,
        acquire_timeout_ms: 10_000,
    };
    Db::connect(&config)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_ENV}={base} is set but unreachable: {e}"))
}

/// A service's URL from the environment; `None` (announced) when absent on a laptop,
/// a failure when absent under CI.
pub fn service_url(var: &str, service: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{var} is not set: CI must run the {service} suites, never skip them")
        }
        _ => {
            announce_skip(&format!(
                "{var} is not set: skipping the {service} half of this test"
            ));
            None
        }
    }
}

/// Written straight to the process's stderr, past the test harness's capture, so a
/// skipped suite is visible in `cargo test` output.
pub fn announce_skip(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED: {message}");
}

/// The name `on_each_backend!` needs, alone: see the macro.
#[doc(hidden)]
pub mod test_db_name {
    pub use super::TestDb;
}

/// Runs each test body once per backend: `name::sqlite` and `name::postgres`.
///
/// ```text
/// on_each_backend! {
///     async fn migrations_apply(db: TestDb) { /* ... */ }
/// }
/// ```
#[macro_export]
macro_rules! on_each_backend {
    ($(
        $(#[$meta:meta])*
        async fn $name:ident($db:ident : TestDb) $body:block
    )*) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            // `TestDb` resolves through the test's own import when it has one (which
            // then counts as used), and through this one when it has none.
            #[allow(unused_imports)]
            use $crate::testing::test_db_name::*;

            async fn on_backend($db: TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(db) = $crate::testing::TestDb::new($crate::testing::Backend::Sqlite).await {
                    on_backend(db).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::testing::TestDb::new($crate::testing::Backend::Postgres).await {
                    on_backend(db).await;
                }
            }
        }
    )*};
}

/// The whole HTTP application in process, on a test database and a chosen clock: for
/// tests that must move time (expiry, caches) or reach into the server's state.
pub struct TestApp {
    pub services: crate::services::Services,
    endpoint: poem::endpoint::BoxEndpoint<'static, poem::Response>,
}

impl TestApp {
    pub async fn start(
        db: &TestDb,
        plugins: Vec<std::sync::Arc<dyn crate::plugin::Plugin>>,
        mut config: crate::config::Config,
        clock: crate::clock::SharedClock,
    ) -> TestApp {
        config.database = db.config();
        let registry = crate::registry::Registry::new(plugins).expect("unique plugin names");
        let connected = db.connect().await;
        registry
            .migrate(&connected, &config)
            .await
            .expect("migrate");
        let services = crate::services::Services::new(config, connected, clock);
        let api = registry.mount(&services).expect("mount");
        let endpoint = crate::http::app(api, &services);
        TestApp { services, endpoint }
    }

    pub fn client(
        &self,
    ) -> poem::test::TestClient<&poem::endpoint::BoxEndpoint<'static, poem::Response>> {
        poem::test::TestClient::new(&self.endpoint)
    }
}
