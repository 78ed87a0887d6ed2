//! Object-level isolation: with project A's key, every operation answers only A's data,
//! and B's ids are 404 exactly like ids that do not exist.

use dashtray_core::on_each_backend;
use reqwest::StatusCode;

use crate::support::{cli_json, get_with_auth, project_with_key, Server};

on_each_backend! {
    async fn a_key_sees_only_its_project_on_every_operation(db: TestDb) {
        // B is the demo project (full of data); A is empty.
        let demo = cli_json(&db, &["demo"]);
        let b_key = demo["key"].as_str().unwrap().to_owned();
        let (a_id, _, a_key) = project_with_key(&db, "Alpha", "scale", None);
        let server = Server::on(&db, &[]);
        let as_a = |path: &str| {
            let url = server.url(path);
            let bearer = format!("Bearer {a_key}");
            async move { get_with_auth(&url, Some(&bearer)).await }
        };

        let (_, _, project) = as_a("/api/v1/projects").await;
        assert_eq!(project["data"]["id"], a_id.as_str());
        for list in ["/api/v1/metrics", "/api/v1/integrations", "/api/v1/dashboards"] {
            let (status, _, body) = as_a(list).await;
            assert_eq!(status, StatusCode::OK, "{list}");
            assert_eq!(body["pagination"]["total"], 0, "{list} shows another project's data: {body}");
        }
        let (_, _, missing) = as_a("/api/v1/integrations/int_doesNotExist0001").await;
        for path in [
            "/api/v1/integrations/int_DemoStripe000001",
            "/api/v1/dashboards/dsh_DemoRevenue00001",
            "/api/v1/metrics/mrr/timeseries?start_date=2025-01-01&end_date=2025-01-31",
        ] {
            let (status, _, body) = as_a(path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(body["error"], "not_found");
            assert_eq!(body["type"], missing["type"]);
        }
        let (_, _, usage) = as_a("/api/v1/rate_limit").await;
        assert_eq!(usage["data"]["used"], 8, "A's own budget only");

        let (status, _, b_integration) = get_with_auth(
            &server.url("/api/v1/integrations/int_DemoStripe000001"),
            Some(&format!("Bearer {b_key}")),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "the owner still sees it");
        assert_eq!(b_integration["data"]["name"], "Stripe");
    }
}
