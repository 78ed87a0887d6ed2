//! Logs: one line per request inside a span carrying the request id; JSON on demand.

use crate::support::{client, eventually, Server};

#[tokio::test]
async fn json_logs_carry_the_request_id_of_each_request() {
    let server = Server::start(&[("DASHTRAY_LOG__FORMAT", "json")]);
    client()
        .get(server.url("/api/v1/health?token=should-not-be-logged"))
        .header("X-Request-Id", "trace-me-42")
        .send()
        .await
        .unwrap();
    eventually(
        std::time::Duration::from_secs(5),
        "the request is logged",
        || async { server.logs().contains("trace-me-42") },
    )
    .await;
    let logs = server.logs();
    let line: serde_json::Value = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "request finished" && v["span"]["request_id"] == "trace-me-42")
        .unwrap_or_else(|| panic!("no JSON line for the request in:\n{logs}"));
    assert_eq!(line["status"], 200);
    assert_eq!(line["span"]["path"], "/api/v1/health");
    assert!(
        !logs.contains("should-not-be-logged"),
        "query strings are never logged"
    );
}
