//! What the request path's keyed steps cost, in process (no sockets), against the same
//! trivial handler:
//! - auth: a public operation (no key) vs a keyed one with a warm key cache, and with
//!   the cache off (a lookup per request) on SQLite and Postgres;
//! - rate limits: a keyed operation that is not counted (limiting off) vs counted on
//!   each backend: memory, database (SQLite, Postgres), Redis.
//!
//! `cargo bench -p dashtray-core --bench request_path` (Postgres and Redis cases need
//! `DASHTRAY_TEST_POSTGRES_URL` and `DASHTRAY_TEST_REDIS_URL`).

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use dashtray_core::{
    clock::SystemClock,
    config::{RateLimitBackend, SecretUrl},
    testing::{service_url, Backend, TestApp, TestDb, REDIS_ENV},
    Config, Mounted, Plugin, PluginContext, PluginError,
};
use poem_openapi::{payload::PlainText, OpenApi};

struct Bench;
struct BenchApi;

#[OpenApi]
impl BenchApi {
    #[oai(path = "/open", method = "get", operation_id = "open")]
    async fn open(&self) -> PlainText<&'static str> {
        PlainText("ok")
    }

    #[oai(path = "/keyed", method = "get", operation_id = "keyed")]
    async fn keyed(&self) -> PlainText<&'static str> {
        PlainText("ok")
    }

    #[oai(path = "/uncounted", method = "get", operation_id = "uncounted")]
    async fn uncounted(&self) -> PlainText<&'static str> {
        PlainText("ok")
    }
}

impl Plugin for Bench {
    fn name(&self) -> &str {
        "bench"
    }

    fn mount(&self, _cx: &PluginContext) -> Result<Mounted, PluginError> {
        Ok(Mounted::from_api(BenchApi)?
            .public(&["open"])
            .uncounted(&["uncounted"])
            .scope("bench:read"))
    }
}

async fn app(db: &TestDb, ttl_secs: u64, backend: RateLimitBackend) -> (TestApp, String) {
    let mut config = Config::default();
    config.auth.cache_ttl_secs = ttl_secs;
    config.ratelimit.backend = backend;
    if backend == RateLimitBackend::Redis {
        let url = service_url(REDIS_ENV, "Redis").expect("checked by the caller");
        config.ratelimit.redis_url = Some(serde_json::from_value::<SecretUrl>(url.into()).unwrap());
    }
    let app = TestApp::start(db, vec![Arc::new(Bench)], config, Arc::new(SystemClock)).await;
    let bearer = app.bearer_for_new_project(&["bench:read"]).await;
    (app, bearer)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let run = |c: &mut Criterion,
               name: String,
               app: &TestApp,
               path: &'static str,
               bearer: Option<&str>| {
        c.bench_function(&name, |b| {
            b.to_async(&rt).iter(|| async {
                let client = app.client();
                let mut request = client.get(path);
                if let Some(bearer) = bearer {
                    request = request.header("Authorization", bearer);
                }
                request.send().await.assert_status_is_ok()
            })
        });
    };

    let sqlite = rt.block_on(TestDb::new(Backend::Sqlite)).unwrap();
    let (memory, bearer) = rt.block_on(app(&sqlite, 3600, RateLimitBackend::Memory));
    run(
        c,
        "auth/public operation, no key".into(),
        &memory,
        "/api/v1/open",
        None,
    );
    run(
        c,
        "auth/keyed, warm cache, not counted".into(),
        &memory,
        "/api/v1/uncounted",
        Some(&bearer),
    );
    run(
        c,
        "ratelimit/memory".into(),
        &memory,
        "/api/v1/keyed",
        Some(&bearer),
    );

    let postgres = rt.block_on(TestDb::new(Backend::Postgres));
    for db in [Some(&sqlite), postgres.as_ref()].into_iter().flatten() {
        let backend = db.backend();
        let (cold, bearer) = rt.block_on(app(db, 0, RateLimitBackend::Memory));
        run(
            c,
            format!("auth/keyed, cold lookup, {backend:?}, not counted"),
            &cold,
            "/api/v1/uncounted",
            Some(&bearer),
        );
        let (counted, bearer) = rt.block_on(app(db, 3600, RateLimitBackend::Database));
        run(
            c,
            format!("ratelimit/database, {backend:?}"),
            &counted,
            "/api/v1/keyed",
            Some(&bearer),
        );
    }
    if service_url(REDIS_ENV, "Redis").is_some() {
        let (redis, bearer) = rt.block_on(app(&sqlite, 3600, RateLimitBackend::Redis));
        run(
            c,
            "ratelimit/redis".into(),
            &redis,
            "/api/v1/keyed",
            Some(&bearer),
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
