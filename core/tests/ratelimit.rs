//! Rate limits in process: exact counts under concurrency on every backend, the
//! published headers, the window's reset on a moved clock, shared and separate budgets,
//! and the store-failure policies.

use std::{collections::BTreeSet, sync::Arc};

use dashtray_core::{
    auth::{store, store::NewProject, Plan, Principal},
    clock::ManualClock,
    config::{RateLimitBackend, RateLimitConfig, StoreFailurePolicy},
    on_each_backend,
    ratelimit::{
        store::{CounterStore, DatabaseStore, MemoryStore, RedisStore},
        Limiter,
    },
    telemetry::metrics::{Decision, Metrics, RateLimitDecisions},
    testing::{service_url, TestApp, TestDb, REDIS_ENV},
    Config,
};
use poem::http::StatusCode;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z, on the hour

fn principal(project_id: &str, limit: Option<i64>) -> Principal {
    Principal {
        key_id: "k".into(),
        project_id: project_id.into(),
        plan: Plan::Scale,
        scopes: Default::default(),
        rate_limit_per_hour: limit,
        expires_at: None,
    }
}

/// A generous store timeout: these tests are about counts, and a loaded CI machine may
/// take a while; the failure policies are tested with a store that fails at once.
fn limiter_config(policy: StoreFailurePolicy) -> RateLimitConfig {
    let mut config = Config::default().ratelimit;
    config.on_store_failure = policy;
    config.timeout_ms = 30_000;
    config
}

/// A limiter on `store` and the decisions it records.
fn limiter(
    policy: StoreFailurePolicy,
    store: Box<dyn CounterStore>,
) -> (Limiter, RateLimitDecisions) {
    let decisions = Metrics::new().ratelimit_decisions();
    let limiter = Limiter::new(&limiter_config(policy), store, decisions.clone());
    (limiter, decisions)
}

/// How many requests got each decision: (allowed, limited, store_error).
fn decided(decisions: &RateLimitDecisions) -> (u64, u64, u64) {
    (
        decisions.count(Decision::Allowed),
        decisions.count(Decision::Limited),
        decisions.count(Decision::StoreError),
    )
}

/// 1,500 requests at once against a budget of 1,000: exactly 1,000 pass, and the
/// decisions metric says so.
async fn exact_under_concurrency(store: Box<dyn CounterStore>) {
    let (limiter, decisions) = limiter(StoreFailurePolicy::Closed, store);
    let limiter = Arc::new(limiter);
    let project = format!("prj_{}", dashtray_core::auth::key::random_base62(16));
    let caller = principal(&project, Some(1000));
    let tasks: Vec<_> = (0..1500)
        .map(|_| {
            let (limiter, caller) = (limiter.clone(), caller.clone());
            tokio::spawn(async move { limiter.hit(&caller, T0 + 5).await.unwrap().allowed })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        allowed += usize::from(task.await.unwrap());
    }
    assert_eq!(allowed, 1000);
    let usage = limiter.peek(&caller, T0 + 5).await.unwrap();
    assert_eq!((usage.used, usage.remaining), (1000, 0));
    assert_eq!(decided(&decisions), (1000, 500, 0), "a look is no decision");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_backend_is_exact_under_concurrency() {
    exact_under_concurrency(Box::new(MemoryStore::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_backend_is_exact_under_concurrency() {
    let Some(url) = service_url(REDIS_ENV, "Redis") else {
        return;
    };
    exact_under_concurrency(Box::new(RedisStore::new(
        &url,
        std::time::Duration::from_secs(2),
    )))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_fails_open_or_closed_as_configured() {
    // Nothing listens on port 9 here: every call fails at once.
    let dead = || {
        Box::new(RedisStore::new(
            "redis://127.0.0.1:9",
            std::time::Duration::from_millis(250),
        ))
    };
    let caller = principal("prj_x", Some(2));

    let (open, open_decisions) = limiter(StoreFailurePolicy::Open, dead());
    let first = open.hit(&caller, T0).await.expect("open: served");
    assert!(first.allowed);
    let second = open.hit(&caller, T0).await.unwrap();
    assert!(second.allowed, "open serves the node's whole budget");
    let third = open.hit(&caller, T0).await.unwrap();
    assert!(!third.allowed, "open still caps per node");
    assert_eq!(
        decided(&open_decisions),
        (0, 0, 3),
        "every decision the store failed to make is a store error, served or not"
    );

    let (closed, closed_decisions) = limiter(StoreFailurePolicy::Closed, dead());
    let err = closed.hit(&caller, T0).await.unwrap_err();
    assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(decided(&closed_decisions), (0, 0, 1));
}

on_each_backend! {
    async fn database_backend_is_exact_under_concurrency(test_db: TestDb) {
        let db = test_db.connect().await;
        let registry = dashtray_core::Registry::new(Vec::new()).unwrap();
        registry.migrate(&db, &Config::default()).await.unwrap();
        exact_under_concurrency(Box::new(DatabaseStore::new(db))).await;
    }

    async fn headers_count_down_then_429_until_the_next_window(db: TestDb) {
        let f = Fixture::new(&db, RateLimitBackend::Database, None).await;
        for n in 1..=1000u64 {
            let resp = f.get(&f.keys[0], "/api/v1/whoami").await;
            resp.assert_status_is_ok();
            resp.assert_header("x-ratelimit-limit", "1000");
            resp.assert_header("x-ratelimit-remaining", (1000 - n).to_string());
            resp.assert_header("x-ratelimit-used", n.to_string());
            if n == 1 {
                resp.assert_header("x-ratelimit-reset", ((T0 + 3_600_000) / 1000).to_string());
                resp.assert_header("ratelimit-policy", "\"project\";q=1000;w=3600");
                resp.assert_header("ratelimit", "\"project\";r=999;t=3600");
            }
        }
        f.clock.advance_secs(600);
        let resp = f.get(&f.keys[0], "/api/v1/whoami").await;
        resp.assert_status(StatusCode::TOO_MANY_REQUESTS);
        resp.assert_header("retry-after", "3000");
        resp.assert_header("x-ratelimit-remaining", "0");
        let body = resp.json().await;
        body.value().object().get("error").assert_string("rate_limited");
        body.value().object().get("retryAfter").assert_i64(3000);

        f.clock.advance_secs(3000);
        let resp = f.get(&f.keys[0], "/api/v1/whoami").await;
        resp.assert_status_is_ok();
        resp.assert_header("x-ratelimit-remaining", "999");
    }

    async fn keys_of_a_project_share_a_budget_and_projects_do_not(db: TestDb) {
        let f = Fixture::new(&db, RateLimitBackend::Memory, Some(3)).await;
        f.get(&f.keys[0], "/api/v1/whoami").await.assert_status_is_ok();
        f.get(&f.keys[1], "/api/v1/whoami").await.assert_status_is_ok();
        f.get(&f.keys[0], "/api/v1/whoami").await.assert_status_is_ok();
        f.get(&f.keys[1], "/api/v1/whoami").await.assert_status(StatusCode::TOO_MANY_REQUESTS);
        let other = f.get(&f.other_key, "/api/v1/whoami").await;
        other.assert_status_is_ok();
        other.assert_header("x-ratelimit-remaining", "2");
    }

    async fn reading_the_budget_does_not_spend_it(db: TestDb) {
        let f = Fixture::new(&db, RateLimitBackend::Database, Some(10)).await;
        f.get(&f.keys[0], "/api/v1/whoami").await.assert_status_is_ok();
        for _ in 0..3 {
            let resp = f.get(&f.keys[0], "/api/v1/rate_limit").await;
            resp.assert_status_is_ok();
            resp.assert_header("x-ratelimit-remaining", "9");
            let body = resp.json().await;
            let data = body.value().object().get("data").object();
            data.get("limit").assert_i64(10);
            data.get("remaining").assert_i64(9);
            data.get("used").assert_i64(1);
            data.get("reset").assert_i64((T0 + 3_600_000) / 1000);
        }
    }

    async fn error_answers_carry_the_window_too(db: TestDb) {
        let f = Fixture::new(&db, RateLimitBackend::Memory, Some(10)).await;
        let missing = f.get(&f.keys[0], "/api/v1/whoami/nothing").await;
        missing.assert_status(StatusCode::NOT_FOUND);
        missing.assert_header("x-ratelimit-remaining", "9");
        let forbidden = f.get(&f.narrow_key, "/api/v1/whoami").await;
        forbidden.assert_status(StatusCode::FORBIDDEN);
        forbidden.assert_header("x-ratelimit-limit", "10");
        let unauthenticated = f.app.client().get("/api/v1/whoami").send().await;
        unauthenticated.assert_status(StatusCode::UNAUTHORIZED);
        unauthenticated.assert_header_is_not_exist("x-ratelimit-limit");
        let public = f.app.client().get("/api/v1/health").send().await;
        public.assert_header_is_not_exist("x-ratelimit-limit");
    }
}

mod whoami {
    use dashtray_core::{ApiError, Mounted, Plugin, PluginContext, PluginError, Principal};
    use poem::web::Data;
    use poem_openapi::{param::Path, payload::PlainText, OpenApi};

    pub struct Whoami;
    struct Api;

    #[OpenApi]
    impl Api {
        #[oai(path = "/whoami", method = "get", operation_id = "whoami")]
        async fn whoami(&self, principal: Data<&Principal>) -> PlainText<String> {
            PlainText(principal.project_id.clone())
        }

        #[oai(path = "/whoami/:thing", method = "get", operation_id = "whoamiThing")]
        async fn thing(&self, thing: Path<String>) -> Result<PlainText<String>, ApiError> {
            Err(ApiError::not_found(format!("no {}", thing.0)))
        }
    }

    impl Plugin for Whoami {
        fn name(&self) -> &str {
            "whoami"
        }

        fn mount(&self, _cx: &PluginContext) -> Result<Mounted, PluginError> {
            Ok(Mounted::from_api(Api)?.scope("whoami:read"))
        }
    }
}

struct Fixture {
    app: TestApp,
    clock: ManualClock,
    /// two keys of one project
    keys: [String; 2],
    /// a key of another project
    other_key: String,
    /// a key of the first project without the whoami scope
    narrow_key: String,
}

impl Fixture {
    async fn new(db: &TestDb, backend: RateLimitBackend, limit: Option<i64>) -> Fixture {
        let clock = ManualClock::at(T0);
        let mut config = Config::default();
        config.ratelimit.backend = backend;
        // Counts, not latency, are under test: a slow store must not fall back to the
        // node's own count halfway through.
        config.ratelimit.timeout_ms = 30_000;
        let app = TestApp::start(
            db,
            vec![Arc::new(whoami::Whoami)],
            config,
            Arc::new(clock.clone()),
        )
        .await;
        let project = |name: &'static str| NewProject {
            name: name.into(),
            slug: None,
            plan: Plan::Scale,
            rate_limit_per_hour: limit,
        };
        let db_handle = &app.services.db;
        let hasher = app.services.authenticator.hasher().clone();
        let a = store::create_project(db_handle, project("A"), T0)
            .await
            .unwrap();
        let b = store::create_project(db_handle, project("B"), T0)
            .await
            .unwrap();
        let scoped: BTreeSet<String> = ["whoami:read".to_owned()].into();
        let narrow: BTreeSet<String> = ["other:read".to_owned()].into();
        let key = |project: String, scopes: BTreeSet<String>| {
            let hasher = hasher.clone();
            async move {
                store::create_key(db_handle, &hasher, &project, "k", &scopes, None, T0)
                    .await
                    .unwrap()
                    .1
            }
        };
        Fixture {
            keys: [
                key(a.id.clone(), scoped.clone()).await,
                key(a.id.clone(), scoped.clone()).await,
            ],
            other_key: key(b.id.clone(), scoped).await,
            narrow_key: key(a.id.clone(), narrow).await,
            app,
            clock,
        }
    }

    async fn get(&self, key: &str, path: &str) -> poem::test::TestResponse {
        self.app
            .client()
            .get(path)
            .header("Authorization", format!("Bearer {key}"))
            .send()
            .await
    }
}
