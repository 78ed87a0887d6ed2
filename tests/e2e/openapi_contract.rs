//! The served document is the committed contract: `/api/v1/openapi.json` and
//! `/api/v1/openapi.yaml` both equal `openapi.yaml` (parsed; key order ignored).

use serde_json::Value;

use crate::support::{client, document::openapi_yaml as committed, Server};

/// Fails with a line diff of the two documents, pretty-printed with sorted keys.
fn assert_same_document(served: &Value, committed: &Value, what: &str) {
    if served == committed {
        return;
    }
    let pretty = |v: &Value| {
        serde_json::to_string_pretty(&dashtray_core::spec::canonical(v.clone())).unwrap()
    };
    let (served, committed) = (pretty(served), pretty(committed));
    let diff = similar::TextDiff::from_lines(committed.as_str(), served.as_str());
    panic!(
        "{what} differs from openapi.yaml; run `cargo xtask openapi` if the change is intended.\n{}",
        diff.unified_diff().header("openapi.yaml", what)
    );
}

#[tokio::test]
async fn served_json_and_yaml_equal_the_committed_contract() {
    let server = Server::start(&[]);
    let json: Value = client()
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_same_document(&json, &committed(), "/api/v1/openapi.json");

    let resp = client()
        .get(server.url("/api/v1/openapi.yaml"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/yaml");
    let yaml: Value = serde_yaml::from_str(&resp.text().await.unwrap()).unwrap();
    assert_same_document(&yaml, &committed(), "/api/v1/openapi.yaml");

    // The two media types the operation declares, each when `Accept` asks for it.
    for (accept, expected) in [
        ("text/yaml", "text/yaml; charset=utf-8"),
        ("text/yaml, application/yaml", "application/yaml"),
        ("application/problem+json", "application/yaml"),
    ] {
        let resp = client()
            .get(server.url("/api/v1/openapi.yaml"))
            .header("Accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "Accept: {accept}");
        assert_eq!(resp.headers()["content-type"], expected, "Accept: {accept}");
        let yaml: Value = serde_yaml::from_str(&resp.text().await.unwrap()).unwrap();
        assert_same_document(&yaml, &committed(), "/api/v1/openapi.yaml");
    }
}

#[test]
fn every_operation_has_an_operation_id_a_tag_and_error_responses() {
    let doc = committed();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            assert!(op["operationId"].is_string(), "{at}: operationId");
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{at}: tag"
            );
            // 503 everywhere (a dependency down); health's own 503 carries its checks and
            // stands for its server errors, the others also document 500.
            assert!(op["responses"].get("503").is_some(), "{at}: 503");
            if op["operationId"] != "getHealth" {
                assert!(op["responses"].get("500").is_some(), "{at}: 500");
            }
            if op.get("security").is_some() {
                for status in ["401", "403", "429"] {
                    assert!(op["responses"].get(status).is_some(), "{at}: {status}");
                }
            }
        }
    }
}
