//! API4: one request cannot take unbounded resources — its size, its time, and a
//! connection held open without a request are all bounded.

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

use dashtray_core::testing::Backend;
use reqwest::StatusCode;

use crate::support::{assert_problem, client, project_with_key, Server, TableLock, TestDb};

#[tokio::test]
async fn an_oversized_uri_or_header_set_is_a_400_naming_it() {
    let server = Server::start(&[]);
    let long = format!("/api/v1/health?pad={}", "x".repeat(9 * 1024));
    let resp = client().get(server.url(&long)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let headers = resp.headers().clone();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_problem(&headers, &body, 400, "invalid_parameter");
    assert_eq!(body["details"][0]["parameter"], "uri");

    let mut request = client().get(server.url("/api/v1/health"));
    for i in 0..20 {
        request = request.header(format!("x-pad-{i}"), "y".repeat(1000));
    }
    let resp = request.send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["details"][0]["parameter"], "headers");
}

#[test]
fn a_connection_held_open_without_a_request_is_closed() {
    let server = Server::start(&[("DASHTRAY_HTTP__IDLE_TIMEOUT_SECS", "1")]);
    let mut idle = TcpStream::connect(server.host_port()).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let read = idle.read(&mut buf).unwrap_or(0);
    assert_eq!(read, 0, "the server closes the idle connection");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "closed after about a second"
    );

    // A live client on another connection is unaffected.
    let answer = server.raw_get("/api/v1/health");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// One keep-alive request on `stream`; the answer's status line.
fn health_on(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).unwrap(),
            1,
            "the connection stayed open"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .expect("a content-length")
        .parse()
        .unwrap();
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    head.lines().next().unwrap().to_owned()
}

#[test]
fn a_connection_is_closed_once_silent_after_its_answers_and_kept_while_it_talks() {
    let server = Server::start(&[("DASHTRAY_HTTP__IDLE_TIMEOUT_SECS", "1")]);
    let mut stream = TcpStream::connect(server.host_port()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Talking every 400 ms for 2.4 s: more than twice the timeout, on one connection.
    for _ in 0..6 {
        assert_eq!(health_on(&mut stream), "HTTP/1.1 200 OK");
        std::thread::sleep(Duration::from_millis(400));
    }
    let silent = Instant::now();
    let mut buf = [0u8; 64];
    let read = stream.read(&mut buf).unwrap_or(0);
    assert_eq!(
        read, 0,
        "the server closes the connection once it is silent"
    );
    assert!(
        silent.elapsed() < Duration::from_secs(8),
        "closed about a second after the last answer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_stuck_on_the_database_is_answered_503_at_the_timeout() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let server = Server::on(
        &db,
        &[
            ("DASHTRAY_HTTP__REQUEST_TIMEOUT_SECS", "1"),
            ("DASHTRAY_DATABASE__ACQUIRE_TIMEOUT_MS", "20000"),
        ],
    );
    let (_, _, key) = project_with_key(&db, "Stuck", "scale", None);
    let lock = TableLock::take(&db, "metric_points").await;
    let started = Instant::now();
    let read_points = || {
        client()
            .get(server.url("/api/v1/metrics?limit=1"))
            .bearer_auth(&key)
            .send()
    };
    let resp = read_points().await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let headers = resp.headers().clone();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_problem(&headers, &body, 503, "unavailable");
    assert!(
        elapsed < Duration::from_secs(5),
        "answered at the timeout, not the lock: {elapsed:?}"
    );
    drop(lock);
    let resp = read_points().await.unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "and serving again once the lock is gone"
    );
}
