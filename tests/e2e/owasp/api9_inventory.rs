//! API9: the server answers exactly the documented operations — the routes are built
//! from the same document that is committed — and nothing else (no debug, admin or
//! metrics routes).

use reqwest::StatusCode;

use crate::support::{client, dashtray, workspace_root, Server};

#[test]
fn the_served_operations_are_the_documented_ones() {
    let text = std::fs::read_to_string(workspace_root().join("openapi.yaml")).unwrap();
    let doc: serde_json::Value = serde_yaml::from_str(&text).unwrap();
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    documented.sort();

    let dir = tempfile::tempdir().unwrap();
    let output = dashtray(dir.path(), &[])
        .args(["plugins", "--json"])
        .output()
        .unwrap();
    let listing: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut routed: Vec<(String, String)> = listing["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["operations"].as_array().unwrap().clone())
        .map(|op| {
            (
                op["method"].as_str().unwrap().to_owned(),
                op["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    routed.sort();
    assert_eq!(
        routed, documented,
        "the router serves what openapi.yaml documents, no more"
    );
}

#[tokio::test]
async fn undocumented_paths_are_404() {
    let server = Server::start(&[]);
    for path in [
        "/admin",
        "/metrics",
        "/debug",
        "/api/v1/keys",
        "/api/v1/projects/prj_AcmeSaaSDemo0001",
        "/api/v1/admin",
        "/api/v2/projects",
        "/api/v1/openapi",
        "/.env",
        "/api/v1/../../etc/passwd",
    ] {
        let resp = client().get(server.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
}
