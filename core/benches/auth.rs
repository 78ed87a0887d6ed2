//! What the auth step costs per request, in process (no sockets): a public operation
//! (no key) against the same trivial handler behind a key with a warm cache, and with
//! the cache off (a database lookup per request) on SQLite and, when
//! `DASHTRAY_TEST_POSTGRES_URL` is set, Postgres.
//!
//! `cargo bench -p dashtray-core --bench auth`

use std::{collections::BTreeSet, sync::Arc};

use criterion::{criterion_group, criterion_main, Criterion};
use dashtray_core::{
    auth::{store, store::NewProject, Plan},
    clock::SystemClock,
    testing::{Backend, TestApp, TestDb},
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
}

impl Plugin for Bench {
    fn name(&self) -> &str {
        "bench"
    }

    fn mount(&self, _cx: &PluginContext) -> Result<Mounted, PluginError> {
        Ok(Mounted::from_api(BenchApi)?
            .public(&["open"])
            .scope("bench:read"))
    }
}

async fn app(db: &TestDb, ttl_secs: u64) -> (TestApp, String) {
    let mut config = Config::default();
    config.auth.cache_ttl_secs = ttl_secs;
    let app = TestApp::start(db, vec![Arc::new(Bench)], config, Arc::new(SystemClock)).await;
    let project = store::create_project(
        &app.services.db,
        NewProject {
            name: "Bench".into(),
            slug: None,
            plan: Plan::Scale,
            rate_limit_per_hour: None,
        },
        0,
    )
    .await
    .unwrap();
    let scopes: BTreeSet<String> = ["bench:read".to_owned()].into();
    let hasher = app.services.authenticator.hasher().clone();
    let (_, key) = store::create_key(
        &app.services.db,
        &hasher,
        &project.id,
        "b",
        &scopes,
        None,
        0,
    )
    .await
    .unwrap();
    (app, key)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("auth");
    let sqlite = rt.block_on(TestDb::new(Backend::Sqlite)).unwrap();
    let (warm, key) = rt.block_on(app(&sqlite, 3600));
    let bearer = format!("Bearer {key}");
    group.bench_function("public operation, no key", |b| {
        b.to_async(&rt).iter(|| async {
            warm.client()
                .get("/api/v1/open")
                .send()
                .await
                .assert_status_is_ok()
        })
    });
    group.bench_function("keyed operation, warm cache", |b| {
        b.to_async(&rt).iter(|| async {
            warm.client()
                .get("/api/v1/keyed")
                .header("Authorization", &bearer)
                .send()
                .await
                .assert_status_is_ok()
        })
    });
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = rt.block_on(TestDb::new(backend)) else {
            continue;
        };
        let (cold, key) = rt.block_on(app(&db, 0));
        let bearer = format!("Bearer {key}");
        group.bench_function(format!("keyed operation, cold lookup, {backend:?}"), |b| {
            b.to_async(&rt).iter(|| async {
                cold.client()
                    .get("/api/v1/keyed")
                    .header("Authorization", &bearer)
                    .send()
                    .await
                    .assert_status_is_ok()
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
