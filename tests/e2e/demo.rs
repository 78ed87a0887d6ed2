//! `dashtray demo` and `serve --demo`: the README's first command serves a realistic
//! project at once, and loading the demo again adds nothing but a new key.

use dashtray_core::{db::query, on_each_backend};
use reqwest::StatusCode;

use crate::support::{cli_json, get_with_auth, Server, TestDb};

async fn count(db: &TestDb, table: &str) -> i64 {
    let conn = db.connect().await;
    query(format!("SELECT COUNT(*) AS n FROM {table}"))
        .fetch_one(&conn, |row| row.get("n"))
        .await
        .unwrap()
}

on_each_backend! {
    async fn serve_demo_answers_every_resource_with_the_printed_key(db: TestDb) {
        let (server, key) = Server::demo(&db);
        let bearer = format!("Bearer {key}");
        let get = |path: &str| {
            let url = server.url(path);
            let bearer = bearer.clone();
            async move { get_with_auth(&url, Some(&bearer)).await }
        };
        let (status, _, project) = get("/api/v1/projects").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(project["data"]["name"], "Acme SaaS");
        assert_eq!(project["data"]["plan"], "scale");

        let (_, _, integrations) = get("/api/v1/integrations").await;
        let providers: Vec<&str> = integrations["data"].as_array().unwrap().iter().map(|i| i["provider"].as_str().unwrap()).collect();
        assert_eq!(providers, ["stripe", "github", "google_analytics", "postgres"]);

        let (_, _, all) = get("/api/v1/metrics?limit=1").await;
        assert_eq!(all["pagination"]["total"], 12 * 730, "a dozen metrics, two years of days");
        let (_, _, mrr) = get("/api/v1/metrics/mrr/timeseries?interval=month&agg=last&start_date=2024-11-01&end_date=2026-10-31").await;
        let months = mrr["data"]["buckets"].as_array().unwrap();
        assert_eq!(months.len(), 24);
        let first = months[0]["value"].as_f64().unwrap();
        let last = months[23]["value"].as_f64().unwrap();
        assert!(last > first * 1.5, "MRR grows: {first} → {last}");

        let (_, _, dashboards) = get("/api/v1/dashboards").await;
        assert_eq!(dashboards["pagination"]["total"], 3);
        assert!(dashboards["data"].as_array().unwrap().iter().all(|d| !d["widgets"].as_array().unwrap().is_empty()));
    }

    async fn loading_the_demo_twice_adds_only_a_key(db: TestDb) {
        let first = cli_json(&db, &["demo"]);
        let tables = ["projects", "metric_points", "integrations", "integration_metrics", "dashboards", "dashboard_widgets"];
        let mut before = Vec::new();
        for table in tables {
            before.push(count(&db, table).await);
        }
        let second = cli_json(&db, &["demo"]);
        for (table, n) in tables.iter().zip(before) {
            assert_eq!(count(&db, table).await, n, "{table} grew");
        }
        assert_eq!(first["projectId"], second["projectId"]);
        assert_eq!(first["points"], 8760);
        assert_ne!(first["key"], second["key"], "a fresh key each time");
        assert_eq!(count(&db, "api_keys").await, 2);
    }
}
