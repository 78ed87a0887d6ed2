//! Budgets across real replicas: two `dashtray serve` processes sharing Postgres or Redis
//! let exactly the budget through, and a Redis that dies and comes back is survived as
//! `ratelimit.on_store_failure` says.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::Duration,
};

use dashtray_core::testing::{service_url, Backend, REDIS_ENV};
use reqwest::StatusCode;

use crate::support::{client, eventually, project_with_key, require_tool, Server, TestDb};

/// Fires `count` requests at once, alternating between the servers; returns how many
/// were answered 200 and how many 429.
async fn spread(servers: &[&Server], key: &str, count: usize) -> (usize, usize) {
    let requests: Vec<_> = (0..count)
        .map(|i| {
            let url = servers[i % servers.len()].url("/api/v1/projects");
            let bearer = format!("Bearer {key}");
            tokio::spawn(async move {
                client()
                    .get(url)
                    .header("Authorization", bearer)
                    .send()
                    .await
            })
        })
        .collect();
    let (mut ok, mut limited) = (0, 0);
    for request in requests {
        match request.await.unwrap().expect("answered").status() {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            other => panic!("unexpected {other}"),
        }
    }
    (ok, limited)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_budget_through_postgres() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let project = crate::support::cli_json(
        &db,
        &[
            "projects",
            "create",
            "--name",
            "Shared",
            "--rate-limit",
            "40",
        ],
    );
    let id = project["id"].as_str().unwrap();
    let key = crate::support::cli_json(&db, &["keys", "create", "--project", id, "--name", "k"]);
    // A generous store timeout: the count is under test, not latency on a busy machine.
    let env = [
        ("DASHTRAY_RATELIMIT__BACKEND", "database"),
        ("DASHTRAY_RATELIMIT__TIMEOUT_MS", "30000"),
    ];
    let (a, b) = (Server::on(&db, &env), Server::on(&db, &env));
    crate::support::with_window_left(std::time::Duration::from_secs(60)).await;
    let (ok, limited) = spread(&[&a, &b], key["key"].as_str().unwrap(), 60).await;
    assert_eq!((ok, limited), (40, 20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_budget_through_redis() {
    let Some(redis_url) = service_url(REDIS_ENV, "Redis") else {
        return;
    };
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let project = crate::support::cli_json(
        &db,
        &[
            "projects",
            "create",
            "--name",
            "Shared",
            "--rate-limit",
            "40",
        ],
    );
    let id = project["id"].as_str().unwrap();
    let key = crate::support::cli_json(&db, &["keys", "create", "--project", id, "--name", "k"]);
    let env = [
        ("DASHTRAY_RATELIMIT__BACKEND", "redis"),
        ("DASHTRAY_RATELIMIT__REDIS_URL", redis_url.as_str()),
        ("DASHTRAY_RATELIMIT__TIMEOUT_MS", "30000"),
    ];
    let (a, b) = (Server::on(&db, &env), Server::on(&db, &env));
    crate::support::with_window_left(std::time::Duration::from_secs(60)).await;
    let (ok, limited) = spread(&[&a, &b], key["key"].as_str().unwrap(), 60).await;
    assert_eq!((ok, limited), (40, 20));
}

/// A `redis-server` of the test's own, on a free port, that the test can kill.
struct OwnRedis {
    port: u16,
    child: Child,
}

impl OwnRedis {
    fn start_on(port: u16) -> OwnRedis {
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return OwnRedis { port, child };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not start on {port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_fails_open_or_closed_and_recovers() {
    if require_tool("redis-server").is_none() {
        return;
    }
    let mut redis = OwnRedis::start_on(free_port());
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let (_, _, key) = project_with_key(&db, "Outage", "scale", None);
    let url = redis.url();
    let with_policy = |policy: &'static str| {
        let env = [
            ("DASHTRAY_RATELIMIT__BACKEND", "redis"),
            ("DASHTRAY_RATELIMIT__REDIS_URL", url.as_str()),
            ("DASHTRAY_RATELIMIT__ON_STORE_FAILURE", policy),
        ];
        Server::on(&db, &env)
    };
    let (open, closed) = (with_policy("open"), with_policy("closed"));
    let status = |server: &Server| {
        let request = client()
            .get(server.url("/api/v1/projects"))
            .header("Authorization", format!("Bearer {key}"));
        async move { request.send().await.expect("answered") }
    };
    assert_eq!(status(&open).await.status(), StatusCode::OK);
    assert_eq!(status(&closed).await.status(), StatusCode::OK);

    redis.kill();
    let started = std::time::Instant::now();
    let served = status(&open).await;
    assert_eq!(
        served.status(),
        StatusCode::OK,
        "open: served on this node's count"
    );
    assert!(served.headers().contains_key("x-ratelimit-remaining"));
    let refused = status(&closed).await;
    assert_eq!(
        refused.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "closed: 503"
    );
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no hang past the store timeout"
    );
    assert!(
        open.logs().contains("rate-limit store is failing"),
        "{}",
        open.logs()
    );

    let _redis = OwnRedis::start_on(redis.port);
    eventually(
        Duration::from_secs(15),
        "the closed server recovers",
        || async { status(&closed).await.status() == StatusCode::OK },
    )
    .await;
    assert_eq!(status(&open).await.status(), StatusCode::OK);
    assert!(!closed.logs().contains("panicked"));
}
