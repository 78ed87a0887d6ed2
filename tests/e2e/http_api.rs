//! The HTTP surface every client meets: health, errors, request ids, methods, docs.

use dashtray_core::on_each_backend;
use reqwest::StatusCode;

use crate::support::{assert_problem, client, get_json, Server};

on_each_backend! {
    async fn health_reports_ok_with_the_database_check(db: TestDb) {
        let server = Server::on(&db, &[]);
        let (status, headers, body) = get_json(&server.url("/api/v1/health")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "ok");
        assert_eq!(body["checks"]["database"], "ok");
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(headers["cache-control"], "no-store");
        assert!(headers.contains_key("x-request-id"));
    }

    async fn unknown_routes_are_problem_json_404s(db: TestDb) {
        let server = Server::on(&db, &[]);
        for path in ["/api/v1/nope", "/api/v1/health/extra", "/", "/api/v2/health"] {
            let (status, headers, body) = get_json(&server.url(path)).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert_problem(&headers, &body, 404, "not_found");
        }
    }
}

#[tokio::test]
async fn other_methods_are_405_with_allow() {
    let server = Server::start(&[]);
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let resp = client()
            .request(method.clone(), server.url("/api/v1/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
        let headers = resp.headers().clone();
        assert_eq!(headers["allow"], "GET, HEAD, OPTIONS");
        let body = resp.json().await.unwrap();
        assert_problem(&headers, &body, 405, "method_not_allowed");
    }
}

#[tokio::test]
async fn head_and_options_follow_http_semantics() {
    let server = Server::start(&[]);
    let head = client()
        .head(server.url("/api/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.bytes().await.unwrap().len(), 0, "HEAD has no body");

    let options = client()
        .request(reqwest::Method::OPTIONS, server.url("/api/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    assert_eq!(options.headers()["allow"], "GET, HEAD, OPTIONS");
}

#[tokio::test]
async fn request_ids_are_kept_when_well_formed_and_replaced_otherwise() {
    let server = Server::start(&[]);
    let with_id = |id: &str| {
        client()
            .get(server.url("/api/v1/nope"))
            .header("X-Request-Id", id)
            .send()
    };
    let resp = with_id("client-id_1.2").await.unwrap();
    assert_eq!(resp.headers()["x-request-id"], "client-id_1.2");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["requestId"], "client-id_1.2");

    for bad in ["has space", &"x".repeat(200), "semi;colon"] {
        let resp = with_id(bad).await.unwrap();
        let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(id, bad, "a malformed id is replaced");
        assert_eq!(id.len(), 32, "by a generated one");
    }

    let a = client()
        .get(server.url("/api/v1/health"))
        .send()
        .await
        .unwrap();
    let b = client()
        .get(server.url("/api/v1/health"))
        .send()
        .await
        .unwrap();
    assert_ne!(a.headers()["x-request-id"], b.headers()["x-request-id"]);
}

#[tokio::test]
async fn docs_page_embeds_the_reference_and_loads_nothing_from_outside() {
    let server = Server::start(&[]);
    let resp = client().get(server.url("/docs")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = resp.text().await.unwrap();
    assert!(html.contains("<title>Dashtray API reference</title>"));
    assert!(
        html.contains("SwaggerUIBundle"),
        "Swagger UI's script is inlined"
    );
    assert!(
        html.contains("\"/api/v1/health\""),
        "the document is inlined"
    );
    for external in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "href='http",
        "@import",
    ] {
        assert!(
            !html.contains(external),
            "the page loads {external}… from outside"
        );
    }
}
