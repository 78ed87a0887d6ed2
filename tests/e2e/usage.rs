//! Usage history through real servers: answers of every outcome, spread over two
//! replicas, add up exactly in `GET /api/v1/usage` once flushed; a server stopped with
//! SIGTERM flushes what it counted; bad parameters are a 400 naming them.

use std::time::{Duration, Instant};

use dashtray_core::testing::Backend;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{
    assert_problem, cli_json, dashtray, get_with_auth, project_with_key, Server, TestDb,
};

/// What request `i` of the mix asks for, and what it is answered while budget remains.
fn mixed_request(i: usize) -> (&'static str, StatusCode) {
    match i % 4 {
        0 => ("/api/v1/projects", StatusCode::OK),
        1 => ("/api/v1/metrics?limit=0", StatusCode::BAD_REQUEST),
        2 => (
            "/api/v1/integrations/int_NotThere000001",
            StatusCode::NOT_FOUND,
        ),
        _ => ("/api/v1/metrics", StatusCode::OK),
    }
}

async fn get(
    server: &Server,
    path: &str,
    key: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    get_with_auth(&server.url(path), Some(&format!("Bearer {key}"))).await
}

/// The requests `getUsage` itself answered (readings are history too), from one report
/// grouped by operation.
fn usage_reads(report: &Value) -> u64 {
    report["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["group"] == "getUsage")
        .flat_map(|s| s["buckets"].as_array().unwrap())
        .map(|b| b["requests"].as_u64().unwrap())
        .sum()
}

dashtray_core::on_each_backend! {
    async fn mixed_answers_over_two_replicas_appear_exactly_in_usage(db: TestDb) {
        let project = cli_json(
            &db,
            &["projects", "create", "--name", "Counted", "--rate-limit", "450"],
        );
        let project_id = project["id"].as_str().unwrap();
        let key = cli_json(&db, &["keys", "create", "--project", project_id, "--name", "k"]);
        let key = key["key"].as_str().unwrap();
        let env = [
            ("DASHTRAY_RATELIMIT__BACKEND", "database"),
            ("DASHTRAY_RATELIMIT__TIMEOUT_MS", "30000"),
            ("DASHTRAY_USAGE__FLUSH_SECS", "1"),
        ];
        let replicas = [Server::on(&db, &env), Server::on(&db, &env)];
        let mut expected = std::collections::BTreeMap::new();
        crate::support::with_window_left(Duration::from_secs(180)).await;
        for i in 0..500 {
            let (path, answer) = mixed_request(i);
            let want = if i < 450 { answer } else { StatusCode::TOO_MANY_REQUESTS };
            // Every kind of request goes to both replicas, so both add to the same rows.
            let (status, _, body) = get(&replicas[(i / 4) % 2], path, key).await;
            assert_eq!(status, want, "request {i} ({path}): {body}");
            *expected.entry(status.as_u16()).or_insert(0u64) += 1;
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        let report = loop {
            let (status, _, body) = get(&replicas[0], "/api/v1/usage?group_by=operation", key).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let report = body["data"].clone();
            if report["totals"]["requests"].as_u64().unwrap() - usage_reads(&report) >= 500 {
                break report;
            }
            assert!(Instant::now() < deadline, "not all 500 answers flushed: {report}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let reads = usage_reads(&report);
        let totals = &report["totals"];
        assert_eq!(totals["requests"].as_u64().unwrap() - reads, 500, "{report}");
        assert_eq!(totals["succeeded"].as_u64().unwrap() - reads, expected[&200], "{report}");
        assert_eq!(totals["clientErrors"], expected[&400] + expected[&404], "{report}");
        assert_eq!(totals["rateLimited"], 50, "{report}");
        assert_eq!(totals["serverErrors"], 0, "{report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stopped_with_sigterm_flushes_what_it_counted() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let (project_id, key_id, key) = project_with_key(&db, "Stopped", "scale", None);
    // Far longer than the test: only the flush at shutdown can write the counts.
    let env = [("DASHTRAY_USAGE__FLUSH_SECS", "3600")];
    let mut first = Server::on(&db, &env);
    for _ in 0..7 {
        assert_eq!(
            get(&first, "/api/v1/projects", &key).await.0,
            StatusCode::OK
        );
    }
    first.signal("TERM");
    assert!(first.wait_exit(Duration::from_secs(30)).success());

    let second = Server::on(&db, &env);
    let (_, _, body) = get(&second, "/api/v1/usage?group_by=status", &key).await;
    let report = &body["data"];
    assert_eq!(report["totals"]["requests"], 7, "{body}");
    assert_eq!(report["series"][0]["group"], "2xx", "{body}");
    assert_eq!(report["interval"], "hour");
    assert_eq!(
        report["series"][0]["buckets"].as_array().unwrap().len(),
        25,
        "24 hours back, to this one"
    );

    // The command line reads the same history, and the key's last use.
    let usage = cli_json(&db, &["usage", "--project", &project_id]);
    assert_eq!(usage["data"]["totals"]["requests"], 7, "{usage}");
    let table = dashtray(second.dir.path(), &[("DASHTRAY_DATABASE__URL", db.url())])
        .args([
            "usage",
            "--project",
            &project_id,
            "--since",
            "7d",
            "--group-by",
            "operation",
        ])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("getProject") && table.contains("total 7 requests"),
        "{table}"
    );
    let keys = cli_json(&db, &["keys", "list", "--project", &project_id]);
    let listed = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == key_id.as_str())
        .unwrap();
    assert!(listed["lastUsedAt"].is_i64(), "{keys}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_refuses_bad_parameters_naming_them_and_costs_no_budget() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    // Any valid key of the project reads it, whatever its scopes.
    let (_, _, key) = project_with_key(&db, "Reader", "scale", Some("metrics:read"));
    let server = Server::on(&db, &[]);
    for (query, parameter) in [
        ("interval=week", "interval"),
        ("group_by=colour", "group_by"),
        ("start_date=yesterday", "start_date"),
        ("end_date=2025-13-01", "end_date"),
        ("start_date=2025-02-01&end_date=2025-01-01", "start_date"),
        ("start_date=2025-01-01&end_date=2025-02-01", "start_date"),
        (
            "interval=day&start_date=2024-01-01&end_date=2025-01-02",
            "start_date",
        ),
    ] {
        let (status, headers, body) = get(&server, &format!("/api/v1/usage?{query}"), &key).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_problem(&headers, &body, 400, "invalid_parameter");
        assert_eq!(
            body["details"][0]["parameter"], parameter,
            "{query}: {body}"
        );
    }
    let (status, _, body) = get(
        &server,
        "/api/v1/usage?interval=day&start_date=2024-01-01&end_date=2024-12-31",
        &key,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "366 days by day: {body}");
    assert_eq!(
        body["data"]["series"][0]["buckets"]
            .as_array()
            .unwrap()
            .len(),
        366
    );
    let (_, before, _) = get(&server, "/api/v1/usage", &key).await;
    let (_, after, _) = get(&server, "/api/v1/usage", &key).await;
    assert_eq!(
        before["x-ratelimit-used"], after["x-ratelimit-used"],
        "reading usage is free"
    );
}
