//! A database that goes away: health answers 503, the server stays up and serves what
//! needs no database, and everything recovers without a restart when it is back.

use std::time::Duration;

use dashtray_core::testing::{Backend, TestDb};
use reqwest::StatusCode;

use crate::support::{eventually, get_json, proxy::Proxy, Server};

async fn get_json_owned(
    url: String,
) -> (StatusCode, reqwest::header::HeaderMap, serde_json::Value) {
    get_json(&url).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_gives_503_then_recovers_by_itself() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let (proxy, url) = Proxy::in_front_of(&db).await;
    let mut server = Server::start(&[
        ("DASHTRAY_DATABASE__URL", url.as_str()),
        ("DASHTRAY_DATABASE__ACQUIRE_TIMEOUT_MS", "1000"),
    ]);
    let health = server.url("/api/v1/health");
    let (status, _, _) = get_json(&health).await;
    assert_eq!(status, StatusCode::OK);

    proxy.take_down();
    // The server checks its database itself, a few times a second: health reports the
    // outage within a second of it (two here, for a loaded machine), and no request
    // waits on the database to say so.
    eventually(
        Duration::from_secs(2),
        "health reports the outage",
        || async { get_json(&health).await.0 == StatusCode::SERVICE_UNAVAILABLE },
    )
    .await;
    let started = std::time::Instant::now();
    let (status, headers, body) = get_json(&health).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "answered from the server's own status, not by waiting on the database"
    );
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["database"], "unavailable");
    assert!(headers.contains_key("x-request-id"));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "health answered within its timeout, not hung"
    );
    let (status, _, _) = get_json(&server.url("/api/v1/openapi.json")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "what needs no database is still served"
    );
    // Under load too: every request is answered 503 within the timeout, none hangs.
    let started = std::time::Instant::now();
    let load: Vec<_> = (0..20)
        .map(|_| tokio::spawn(get_json_owned(health.clone())))
        .collect();
    for request in load {
        let (status, _, body) = request.await.unwrap();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        let text = body.to_string();
        assert!(
            !text.contains("postgres") && !text.contains("127.0.0.1"),
            "no internals: {body}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the load was answered, not hung"
    );
    assert!(server.try_exit_status().is_none(), "the server stays up");

    proxy.bring_up();
    eventually(
        Duration::from_secs(3),
        "health recovers within a second or so",
        || async { get_json(&health).await.0 == StatusCode::OK },
    )
    .await;
    let logs = server.logs();
    assert!(!logs.contains("panicked"), "{logs}");
}
