//! The auth step in process, on both backends, with a clock the test moves: expiry,
//! the key cache, revocation, `last_used_at`, plans, scopes, and refusals alike in time.

mod support;

use std::{
    collections::BTreeSet,
    sync::Arc,
    time::{Duration, Instant},
};

use dashtray_core::{
    auth::{
        key,
        store::{self, NewProject, ProjectChanges},
        Plan,
    },
    clock::ManualClock,
    config::PositiveU32,
    db::query,
    on_each_backend,
    testing::{Backend, TestApp, TestDb},
    Config, Mounted, Plugin, PluginContext, PluginError, Principal,
};
use poem::web::Data;
use poem_openapi::{payload::PlainText, OpenApi};
use support::key_from_parts;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

/// Requests per kind of key, untimed then timed: enough for a median to shrug off a
/// machine shared with other work.
const TIMING_WARM_UP: usize = 20;
const TIMING_ROUNDS: usize = 300;
/// How much slower than the fastest kind another may be refused: the noise of a loaded
/// machine, well under one more database round trip or write for some kinds only.
const TIMING_RATIO: f64 = 1.5;
const TIMING_SLACK: Duration = Duration::from_micros(50);
const SCOPE: &str = "whoami:read";

/// A plugin whose one operation answers the caller's project id.
struct Whoami;

struct WhoamiApi;

#[OpenApi]
impl WhoamiApi {
    #[oai(path = "/whoami", method = "get", operation_id = "whoami")]
    async fn whoami(&self, principal: Data<&Principal>) -> PlainText<String> {
        PlainText(principal.project_id.clone())
    }
}

impl Plugin for Whoami {
    fn name(&self) -> &str {
        "whoami"
    }

    fn mount(&self, _cx: &PluginContext) -> Result<Mounted, PluginError> {
        Ok(Mounted::from_api(WhoamiApi)?.scope(SCOPE))
    }
}

struct Fixture {
    app: TestApp,
    clock: ManualClock,
    project_id: String,
    key_id: String,
    key: String,
}

async fn fixture(
    db: &TestDb,
    ttl_secs: u64,
    scopes: &[&str],
    expires_in_ms: Option<i64>,
) -> Fixture {
    let mut config = Config::default();
    config.auth.cache_ttl_secs = ttl_secs;
    fixture_with(db, config, scopes, expires_in_ms).await
}

async fn fixture_with(
    db: &TestDb,
    config: Config,
    scopes: &[&str],
    expires_in_ms: Option<i64>,
) -> Fixture {
    let clock = ManualClock::at(T0);
    let app = TestApp::start(db, vec![Arc::new(Whoami)], config, Arc::new(clock.clone())).await;
    let services = &app.services;
    let project = store::create_project(
        &services.db,
        NewProject {
            name: "Acme".into(),
            slug: None,
            plan: Plan::Scale,
            rate_limit_per_hour: None,
        },
        T0,
    )
    .await
    .unwrap();
    let expires_at = expires_in_ms.map(|ms| T0 + ms);
    let (key_id, key) = create_key(&app, &project.id, scopes, expires_at).await;
    Fixture {
        app,
        clock,
        project_id: project.id,
        key_id,
        key,
    }
}

/// A key of the project: its id and the key.
async fn create_key(
    app: &TestApp,
    project_id: &str,
    scopes: &[&str],
    expires_at: Option<i64>,
) -> (String, String) {
    let services = &app.services;
    let scopes: BTreeSet<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
    let (record, key) = store::create_key(
        &services.db,
        services.authenticator.hasher(),
        project_id,
        "test",
        &scopes,
        expires_at,
        T0,
    )
    .await
    .unwrap();
    (record.id, key)
}

impl Fixture {
    async fn call(&self) -> poem::test::TestResponse {
        self.call_with(&self.key).await
    }

    async fn call_with(&self, key: &str) -> poem::test::TestResponse {
        self.app
            .client()
            .get("/api/v1/whoami")
            .header("Authorization", format!("Bearer {key}"))
            .send()
            .await
    }

    /// A second key of the project, revoked.
    async fn revoked_key(&self) -> String {
        let (id, key) = create_key(&self.app, &self.project_id, &[SCOPE], None).await;
        store::revoke_key(&self.app.services.db, &id, T0)
            .await
            .unwrap();
        key
    }

    /// The median time to refuse each key, over [`TIMING_ROUNDS`] requests each, taken
    /// in turn so that a machine busy for a while slows every kind alike.
    async fn refusal_medians(&self, keys: &[String]) -> Vec<Duration> {
        let mut times = vec![Vec::with_capacity(TIMING_ROUNDS); keys.len()];
        for round in 0..TIMING_WARM_UP + TIMING_ROUNDS {
            for turn in 0..keys.len() {
                let i = (round + turn) % keys.len();
                let started = Instant::now();
                let resp = self.call_with(&keys[i]).await;
                let elapsed = started.elapsed();
                resp.assert_status(poem::http::StatusCode::UNAUTHORIZED);
                if round >= TIMING_WARM_UP {
                    times[i].push(elapsed);
                }
            }
        }
        times
            .into_iter()
            .map(|mut t| {
                t.sort();
                t[t.len() / 2]
            })
            .collect()
    }

    /// Every `last_used_at` written so far (see [`record_touches`]), in order.
    async fn touches(&self) -> Vec<i64> {
        let mut at: Vec<i64> = query("SELECT at FROM key_touches")
            .fetch_all(&self.app.services.db, |row| row.get("at"))
            .await
            .unwrap();
        at.sort();
        at
    }

    async fn last_used_at(&self) -> Option<i64> {
        query("SELECT last_used_at FROM api_keys WHERE id = $1")
            .bind(&self.key_id)
            .fetch_one(&self.app.services.db, |row| row.get("last_used_at"))
            .await
            .unwrap()
    }
}

on_each_backend! {
    async fn a_valid_key_reaches_the_handler_as_its_principal(db: TestDb) {
        let f = fixture(&db, 10, &[SCOPE], None).await;
        let resp = f.call().await;
        resp.assert_status_is_ok();
        resp.assert_text(&f.project_id).await;
    }

    async fn an_expired_key_stops_at_its_time_even_when_cached(db: TestDb) {
        let f = fixture(&db, 3600, &[SCOPE], Some(60_000)).await;
        f.call().await.assert_status_is_ok();
        f.clock.advance_millis(59_999);
        f.call().await.assert_status_is_ok();
        f.clock.advance_millis(1);
        let resp = f.call().await;
        resp.assert_status(poem::http::StatusCode::UNAUTHORIZED);
        resp.assert_header("www-authenticate", "Bearer realm=\"dashtray\"");
    }

    async fn a_plan_change_applies_once_the_cache_entry_ages_out(db: TestDb) {
        let f = fixture(&db, 10, &[SCOPE], None).await;
        f.call().await.assert_status_is_ok();
        let changes = ProjectChanges { plan: Some(Plan::Starter), ..Default::default() };
        store::update_project(&f.app.services.db, &f.project_id, changes).await.unwrap();
        f.clock.advance_secs(9);
        f.call().await.assert_status_is_ok();
        f.clock.advance_secs(1);
        let resp = f.call().await;
        resp.assert_status(poem::http::StatusCode::FORBIDDEN);
        let body = resp.json().await;
        body.value().object().get("error").assert_string("plan_required");
    }

    async fn a_revoked_key_is_refused_once_its_cached_entry_ages_out(db: TestDb) {
        let f = fixture(&db, 10, &[SCOPE], None).await;
        f.call().await.assert_status_is_ok();
        store::revoke_key(&f.app.services.db, &f.key_id, T0).await.unwrap();
        // Revoking from another process (the command line) reaches this node's cache only
        // when the entry ages out: trusted for the TTL, refused from its end.
        f.clock.advance_millis(9_999);
        f.call().await.assert_status_is_ok();
        f.clock.advance_millis(1);
        f.call().await.assert_status(poem::http::StatusCode::UNAUTHORIZED);
    }

    async fn forgetting_a_revoked_key_on_this_node_refuses_it_at_once(db: TestDb) {
        let f = fixture(&db, 3600, &[SCOPE], None).await;
        f.call().await.assert_status_is_ok();
        store::revoke_key(&f.app.services.db, &f.key_id, T0).await.unwrap();
        f.app.services.authenticator.forget_key(&f.key_id);
        f.call().await.assert_status(poem::http::StatusCode::UNAUTHORIZED);
    }

    async fn refused_keys_take_the_same_time_whatever_the_reason(db: TestDb) {
        let mut config = Config::default();
        // Hundreds of failures from one address: the limiter would answer 429 instead.
        config.auth.failed_per_minute = PositiveU32(u32::MAX);
        let f = fixture_with(&db, config, &[SCOPE], None).await;
        let public_id = key::parse(&f.key).unwrap();
        let kinds = ["unknown", "revoked", "a real key's id with another secret"];
        let keys = [
            key::generate().key,
            f.revoked_key().await,
            key_from_parts(public_id, &key::random_base62(key::SECRET_LEN)),
        ];
        let medians = f.refusal_medians(&keys).await;
        let fastest = *medians.iter().min().unwrap();
        for (kind, median) in kinds.iter().zip(&medians) {
            assert!(
                *median <= fastest.mul_f64(TIMING_RATIO) + TIMING_SLACK,
                "{kind} keys are refused in {median:?}, the fastest in {fastest:?}: {medians:?}"
            );
        }
    }

    async fn a_missing_scope_is_403_naming_it(db: TestDb) {
        let f = fixture(&db, 10, &["other:read"], None).await;
        let resp = f.call().await;
        resp.assert_status(poem::http::StatusCode::FORBIDDEN);
        resp.assert_header(
            "www-authenticate",
            "Bearer realm=\"dashtray\", error=\"insufficient_scope\", scope=\"whoami:read\"",
        );
        let body = resp.json().await;
        body.value().object().get("error").assert_string("insufficient_scope");
        let message = body.value().object().get("message").string().to_owned();
        assert!(message.contains("whoami:read"), "{message}");
    }

    async fn last_use_is_recorded_at_most_once_a_minute(db: TestDb) {
        let f = fixture(&db, 0, &[SCOPE], None).await;
        record_touches(&f.app.services.db, db.backend()).await;
        assert_eq!(f.last_used_at().await, None);
        f.call().await.assert_status_is_ok();
        wait_for(|| async { f.touches().await == [T0] }).await;
        // Uses within the minute: a write for any of them would be spawned before the
        // next minute's, so once that one is seen, any of theirs would be too.
        for secs in [30, 15, 14] {
            f.clock.advance_secs(secs);
            f.call().await.assert_status_is_ok();
        }
        f.clock.advance_secs(2);
        f.call().await.assert_status_is_ok();
        wait_for(|| async { f.touches().await.contains(&(T0 + 61_000)) }).await;
        assert_eq!(f.touches().await, [T0, T0 + 61_000], "not again within the minute");
        assert_eq!(f.last_used_at().await, Some(T0 + 61_000));
    }
}

/// Makes the database log every write of `last_used_at`, so a test sees each write, not
/// only the last one.
async fn record_touches(db: &dashtray_core::db::Db, backend: Backend) {
    let trigger = match backend {
        Backend::Sqlite => {
            "CREATE TRIGGER record_key_touch AFTER UPDATE OF last_used_at ON api_keys
             BEGIN INSERT INTO key_touches VALUES (NEW.last_used_at); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION record_key_touch() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN INSERT INTO key_touches VALUES (NEW.last_used_at); RETURN NEW; END $$;
             CREATE TRIGGER record_key_touch AFTER UPDATE OF last_used_at ON api_keys
             FOR EACH ROW EXECUTE FUNCTION record_key_touch();"
        }
    };
    db.execute_script(&format!("CREATE TABLE key_touches (at BIGINT);\n{trigger}"))
        .await
        .unwrap();
}

async fn wait_for<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..50 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the condition did not hold within 2.5 s");
}
