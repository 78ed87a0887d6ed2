//! Protects what clients see of the demo data: representative answers (the project,
//! metric pages, time series, integrations, dashboards with their `Link`, a 400) are
//! pinned as insta snapshots, and both backends must produce the same snapshot.
//!
//! Nothing here depends on the clock or on random ids: the demo data set has fixed ids,
//! dates and values, and the project's `createdAt` is its first day. Only an error's
//! `requestId` is new on every request, so it is redacted.
//!
//! Floating point: SQLite and Postgres may sum fractional values in a different order and
//! disagree in the last digits (they do for `avg` or `sum` of `mrr`). The series pinned
//! here are `last` of `mrr` (no arithmetic) and `sum` of `active_users` (whole numbers,
//! summed exactly), which both backends answer identically, so the values are kept as
//! served rather than rounded.

use dashtray_core::on_each_backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{client, Server};

/// GET with the key: status, `Link` header and JSON body.
async fn get(server: &Server, key: &str, path: &str) -> (StatusCode, Option<String>, Value) {
    let resp = client()
        .get(server.url(path))
        .header("Authorization", format!("Bearer {key}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = resp.status();
    let link = resp
        .headers()
        .get("link")
        .map(|v| v.to_str().expect("a visible-ASCII Link").to_owned());
    let body = resp
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: not JSON: {e}"));
    (status, link, body)
}

/// The body of a 200 answer.
async fn ok(server: &Server, key: &str, path: &str) -> Value {
    let (status, _, body) = get(server, key, path).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

on_each_backend! {
    async fn demo_answers_match_their_snapshots(db: TestDb) {
        let (server, key) = Server::demo(&db);

        insta::assert_json_snapshot!("project", ok(&server, &key, "/api/v1/projects").await);

        insta::assert_json_snapshot!(
            "metrics_mrr_first_page",
            ok(&server, &key, "/api/v1/metrics?metric_id=mrr&limit=3").await
        );

        insta::assert_json_snapshot!(
            "metrics_signups_trial_starts_two_days",
            ok(
                &server,
                &key,
                "/api/v1/metrics?metric_id=signups,trial_starts&start_date=2025-06-01&end_date=2025-06-02",
            )
            .await
        );

        insta::assert_json_snapshot!(
            "timeseries_mrr_monthly_last_2025_h1",
            ok(
                &server,
                &key,
                "/api/v1/metrics/mrr/timeseries?interval=month&agg=last&start_date=2025-01-01&end_date=2025-06-30",
            )
            .await
        );

        insta::assert_json_snapshot!(
            "timeseries_active_users_weekly_sum_2025_03",
            ok(
                &server,
                &key,
                "/api/v1/metrics/active_users/timeseries?interval=week&agg=sum&start_date=2025-03-01&end_date=2025-03-31",
            )
            .await
        );

        insta::assert_json_snapshot!(
            "integrations",
            ok(&server, &key, "/api/v1/integrations").await
        );

        let (status, link, body) = get(&server, &key, "/api/v1/dashboards?limit=1").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        insta::assert_json_snapshot!(
            "dashboards_first_page_with_link",
            json!({ "link": link, "body": body })
        );

        insta::assert_json_snapshot!(
            "dashboard_engineering",
            ok(&server, &key, "/api/v1/dashboards/dsh_DemoEngineering1").await
        );

        let (status, _, body) = get(&server, &key, "/api/v1/metrics?limit=0").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        // A new request id on every request.
        insta::assert_json_snapshot!(
            "error_invalid_limit",
            body,
            { ".requestId" => "[request id]" }
        );
    }
}
