//! API5: no operation but the documented reads, whatever the key: every other method on
//! every documented path is 405 with `Allow`.

use dashtray_core::on_each_backend;
use reqwest::{Method, StatusCode};

use crate::support::{assert_problem, client, document::documented_operations, Server};

/// Every documented path, once, filled with the demo data's ids.
fn documented_paths() -> Vec<String> {
    let mut paths: Vec<String> = documented_operations()
        .iter()
        .map(|op| op.demo_path())
        .collect();
    paths.dedup();
    paths
}

on_each_backend! {
    async fn writes_are_405_on_every_path_even_with_a_valid_key(db: TestDb) {
        let (server, key) = Server::demo(&db);
        for path in documented_paths() {
            for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
                let resp = client()
                    .request(method.clone(), server.url(&path))
                    .header("Authorization", format!("Bearer {key}"))
                    .body("{}")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                let headers = resp.headers().clone();
                assert_eq!(headers["allow"], "GET, HEAD, OPTIONS", "{method} {path}");
                let body: serde_json::Value = resp.json().await.unwrap();
                assert_problem(&headers, &body, 405, "method_not_allowed");
            }
        }
    }
}
