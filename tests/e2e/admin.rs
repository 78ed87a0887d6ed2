//! The admin listener as operators use it: Prometheus scrapes `/metrics` and sees every
//! answer counted once under its operation and status; an orchestrator's probes see
//! `/livez` and `/readyz`, which turns 503 while the database is away and while the
//! server shuts down; none of it is on the public address.

use std::time::Duration;

use dashtray_core::{on_each_backend, testing::Backend};
use reqwest::StatusCode;

use crate::support::{
    cli_json, client, dashtray, eventually, project_with_key, proxy::Proxy, HeldRequest, Server,
    TestDb,
};

/// The scrape's text.
async fn scrape(server: &Server) -> String {
    let resp = client()
        .get(server.admin_url("/metrics"))
        .send()
        .await
        .expect("the scrape");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8",
        "the Prometheus text format"
    );
    resp.text().await.expect("the scrape's body")
}

/// The value of one series (`name{labels}` exactly as exposed), 0 when not exposed yet.
fn sample(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().expect("a sample's value"))
        .unwrap_or(0.0)
}

/// What each series moved by between two scrapes.
fn moved(before: &str, after: &str, series: &str) -> f64 {
    sample(after, series) - sample(before, series)
}

async fn get(url: &str, key: Option<&str>) -> StatusCode {
    let mut request = client().get(url);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.expect("an answer").status()
}

async fn status_of(url: &str) -> StatusCode {
    get(url, None).await
}

/// Waits (up to 5 s) for `/readyz` at `url` to answer 503, and returns why it says so.
async fn readyz_turns_503(url: &str, what: &str) -> String {
    eventually(Duration::from_secs(5), what, || async {
        status_of(url).await == StatusCode::SERVICE_UNAVAILABLE
    })
    .await;
    let resp = client().get(url).send().await.expect("readyz");
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    resp.text().await.expect("readyz's body")
}

on_each_backend! {
    /// 7 answers of `getProject` 200, 3 of it 401 (no key), 2 unknown paths 404: each
    /// series moves by exactly that, and the failures and the limiter's decisions too.
    async fn each_answer_is_counted_once_under_its_operation_and_status(db: TestDb) {
        let server = Server::on_with_admin(&db);
        let (_, _, key) = project_with_key(&db, "Counted", "scale", None);
        let before = scrape(&server).await;
        let projects = server.url("/api/v1/projects");
        for _ in 0..7 {
            assert_eq!(get(&projects, Some(&key)).await, StatusCode::OK);
        }
        for _ in 0..3 {
            assert_eq!(get(&projects, None).await, StatusCode::UNAUTHORIZED);
        }
        for _ in 0..2 {
            assert_eq!(status_of(&server.url("/no-such-page")).await, StatusCode::NOT_FOUND);
        }
        let after = scrape(&server).await;
        let requests = |labels: &str| {
            moved(&before, &after, &format!("dashtray_http_requests_total{{{labels}}}"))
        };
        assert_eq!(requests(r#"operation="getProject",status="200""#), 7.0, "{after}");
        assert_eq!(requests(r#"operation="getProject",status="401""#), 3.0, "{after}");
        assert_eq!(requests(r#"operation="unmatched",status="404""#), 2.0, "{after}");
        assert_eq!(
            moved(
                &before,
                &after,
                r#"dashtray_http_request_duration_seconds_count{operation="getProject"}"#
            ),
            10.0,
            "every answer is timed"
        );
        assert_eq!(moved(&before, &after, "dashtray_auth_failures_total"), 3.0);
        assert_eq!(
            moved(&before, &after, r#"dashtray_ratelimit_decisions_total{outcome="allowed"}"#),
            7.0,
            "only authenticated requests reach the limiter"
        );
        let pool = sample(&after, r#"dashtray_db_pool_connections{state="idle"}"#)
            + sample(&after, r#"dashtray_db_pool_connections{state="used"}"#);
        assert!(pool >= 1.0, "the pool holds the connections it served with:\n{after}");
        assert_eq!(sample(&after, "dashtray_ready"), 1.0);
    }

    /// A project with a budget of 2: the third request is a 429, counted as `limited`.
    async fn a_429_is_counted_as_limited(db: TestDb) {
        let server = Server::on_with_admin(&db);
        let project = cli_json(
            &db,
            &["projects", "create", "--name", "Small", "--plan", "scale", "--rate-limit", "2"],
        );
        let id = project["id"].as_str().unwrap();
        let key = cli_json(&db, &["keys", "create", "--project", id, "--name", "k"]);
        let key = key["key"].as_str().unwrap();
        let before = scrape(&server).await;
        let projects = server.url("/api/v1/projects");
        crate::support::with_window_left(std::time::Duration::from_secs(30)).await;
        let statuses = [
            get(&projects, Some(key)).await,
            get(&projects, Some(key)).await,
            get(&projects, Some(key)).await,
        ];
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::OK, StatusCode::TOO_MANY_REQUESTS]
        );
        let after = scrape(&server).await;
        let decisions = |outcome: &str| {
            moved(
                &before,
                &after,
                &format!("dashtray_ratelimit_decisions_total{{outcome=\"{outcome}\"}}"),
            )
        };
        assert_eq!(
            (decisions("allowed"), decisions("limited"), decisions("store_error")),
            (2.0, 1.0, 0.0),
            "{after}"
        );
        assert_eq!(
            moved(
                &before,
                &after,
                r#"dashtray_http_requests_total{operation="getProject",status="429"}"#
            ),
            1.0
        );
    }

    /// The public address serves the API, not the operators' endpoints.
    async fn the_public_address_does_not_serve_metrics_or_probes(db: TestDb) {
        let server = Server::on_with_admin(&db);
        for path in ["/metrics", "/livez", "/readyz"] {
            assert_eq!(status_of(&server.url(path)).await, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(status_of(&server.admin_url(path)).await, StatusCode::OK, "{path}");
        }
        assert_eq!(
            status_of(&server.admin_url("/api/v1/health")).await,
            StatusCode::NOT_FOUND,
            "and the admin address serves nothing of the API"
        );
    }
}

#[tokio::test]
async fn without_admin_bind_there_is_no_admin_listener() {
    let server = Server::start(&[]);
    assert_eq!(
        server.announced()["admin"],
        serde_json::Value::Null,
        "nothing announced"
    );
    assert_eq!(
        status_of(&server.url("/metrics")).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_bad_admin_bind_stops_start_up_naming_the_key_and_flag() {
    let dir = tempfile::tempdir().unwrap();
    let output = dashtray(dir.path(), &[])
        .args(["serve", "--admin-bind", "localhost"])
        .output()
        .expect("run dashtray");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`server.admin_bind`") && stderr.contains("--admin-bind"),
        "{stderr}"
    );
}

/// The database goes away: `/readyz` turns 503 (traffic should go elsewhere) while
/// `/livez` stays 200 (nothing a restart would fix), and both recover by themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_while_the_database_is_away() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let (proxy, url) = Proxy::in_front_of(&db).await;
    let server = Server::with_admin(&[
        ("DASHTRAY_DATABASE__URL", url.as_str()),
        ("DASHTRAY_DATABASE__ACQUIRE_TIMEOUT_MS", "1000"),
    ]);
    let (readyz, livez) = (server.admin_url("/readyz"), server.admin_url("/livez"));
    assert_eq!(status_of(&readyz).await, StatusCode::OK);

    proxy.take_down();
    assert_eq!(
        readyz_turns_503(&readyz, "readyz reports the outage").await,
        "not ready: the database does not answer\n"
    );
    assert_eq!(
        status_of(&livez).await,
        StatusCode::OK,
        "alive all the same"
    );
    assert_eq!(sample(&scrape(&server).await, "dashtray_ready"), 0.0);

    proxy.bring_up();
    eventually(Duration::from_secs(3), "readyz recovers", || async {
        status_of(&readyz).await == StatusCode::OK
    })
    .await;
}

/// Once SIGTERM arrives, `/readyz` answers 503 while a request in flight finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_once_shutdown_begins() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let mut server = Server::with_admin(&[
        ("DASHTRAY_DATABASE__URL", db.url()),
        ("DASHTRAY_DATABASE__ACQUIRE_TIMEOUT_MS", "20000"),
    ]);
    let (_, _, key) = project_with_key(&db, "Draining", "scale", None);
    let readyz = server.admin_url("/readyz");
    assert_eq!(status_of(&readyz).await, StatusCode::OK);
    let held = HeldRequest::hold(&server, &db, &key).await;

    server.signal("TERM");
    assert_eq!(
        readyz_turns_503(&readyz, "readyz reports the shutdown").await,
        "not ready: shutting down\n"
    );

    held.release().await;
    server.wait_clean_exit();
}
