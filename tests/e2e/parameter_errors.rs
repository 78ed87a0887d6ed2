//! A refused parameter is named as the client sent it, with what is allowed, and never
//! with the framework's words for it (its type names, its positional path names).

use dashtray_core::on_each_backend;
use reqwest::StatusCode;

use crate::support::{assert_problem, get_with_auth, Server};

/// Words of poem-openapi's that a client must never see.
const INTERNALS: [&str; 5] = [
    "occurred while parsing",
    "optional_",
    "string(pattern)",
    "param0",
    "failed to parse",
];

/// GETs `path` with the demo key and checks the answer is SPEC's 400 naming `parameter`
/// with `message`, in the message a person reads as in `details`.
async fn assert_refused(server: &Server, key: &str, path: &str, parameter: &str, message: &str) {
    let (status, headers, body) =
        get_with_auth(&server.url(path), Some(&format!("Bearer {key}"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
    assert_problem(&headers, &body, 400, "invalid_parameter");
    assert_eq!(
        body["details"],
        serde_json::json!([{ "parameter": parameter, "message": message }]),
        "{path}"
    );
    assert_eq!(
        body["message"],
        format!("Invalid value for `{parameter}`: {message}"),
        "{path}"
    );
    let text = body.to_string();
    for internal in INTERNALS {
        assert!(!text.contains(internal), "{path}: `{internal}` in {text}");
    }
}

on_each_backend! {
    async fn a_refused_query_parameter_is_said_without_the_framework_s_type_names(db: TestDb) {
        let (server, key) = Server::demo(&db);
        let pattern = "must match `^[A-Za-z0-9_.:-]{1,64}(,[A-Za-z0-9_.:-]{1,64})*$`";
        assert_refused(&server, &key, "/api/v1/metrics?metric_id=bad%20id", "metric_id", pattern).await;
        assert_refused(&server, &key, "/api/v1/metrics?limit=ten", "limit", "must be a whole number").await;
        assert_refused(&server, &key, "/api/v1/metrics?cursor=", "cursor", "must not be empty").await;
        assert_refused(
            &server,
            &key,
            "/api/v1/metrics/mrr/timeseries?start_date=2025-01-01&end_date=2025-03-31&interval=fortnight",
            "interval",
            "must be one of: hour, day, week, month",
        )
        .await;
    }

    async fn a_path_segment_that_is_not_utf8_is_refused_under_its_parameter_s_name(db: TestDb) {
        let (server, key) = Server::demo(&db);
        let not_utf8 = "must be valid UTF-8 once percent-decoded";
        for (path, parameter) in [
            ("/api/v1/metrics/%FF/timeseries?start_date=2025-01-01&end_date=2025-03-31", "metric_id"),
            ("/api/v1/integrations/%FF", "integration_id"),
            ("/api/v1/dashboards/%FF", "dashboard_id"),
        ] {
            assert_refused(&server, &key, path, parameter, not_utf8).await;
        }
    }
}
