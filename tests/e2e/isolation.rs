//! Object-level isolation: with project A's key, every operation of the document answers
//! only A's data, and B's ids are 404 exactly like ids that do not exist.

use dashtray_core::on_each_backend;
use reqwest::StatusCode;

use crate::support::{
    cli_json,
    document::{demo_value, documented_operations, Operation},
    get_with_auth, project_with_key, without_request_id, Server,
};

/// For each path parameter, a value no project has.
const MISSING: [(&str, &str); 3] = [
    ("dashboard_id", "dsh_NoSuchThing00001"),
    ("integration_id", "int_NoSuchThing00001"),
    ("metric_id", "no_such_metric"),
];

on_each_backend! {
    async fn a_key_sees_only_its_project_on_every_operation(db: TestDb) {
        // B is the demo project (full of data); A is empty.
        let demo = cli_json(&db, &["demo"]);
        let b_bearer = format!("Bearer {}", demo["key"].as_str().unwrap());
        let b_id = demo["projectId"].as_str().unwrap().to_owned();
        let (a_id, _, a_key) = project_with_key(&db, "Alpha", "scale", None);
        let a_bearer = format!("Bearer {a_key}");
        let server = Server::on(&db, &[]);

        let mut counted = 0;
        for op in documented_operations().into_iter().filter(|op| op.keyed) {
            let path = op.demo_path();
            let (status, _, b_body) = get_with_auth(&server.url(&path), Some(&b_bearer)).await;
            assert_eq!(status, StatusCode::OK, "{path} exists for its owner: {b_body}");
            if ["getRateLimit", "getUsage"].contains(&op.id.as_str()) {
                continue; // not counted: the window is checked below, once A's requests are done
            }
            counted += 1;
            let (status, _, a_body) = get_with_auth(&server.url(&path), Some(&a_bearer)).await;
            if op.path_parameters().is_empty() {
                assert_eq!(status, StatusCode::OK, "{path}: {a_body}");
                assert_only_own_data(&a_body, &a_id, &b_id, &path);
                continue;
            }
            counted += 1;
            let missing_path = op.demo_path_with(&MISSING);
            let (_, _, missing) = get_with_auth(&server.url(&missing_path), Some(&a_bearer)).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: another project's id");
            assert_eq!(missing["error"], "not_found", "{missing_path}: {missing}");
            assert_eq!(
                without_request_id(as_if_missing(&a_body, &op)),
                without_request_id(missing),
                "{path}: another project's id answers like one that does not exist"
            );
        }
        let (_, _, usage) = get_with_auth(&server.url("/api/v1/rate_limit"), Some(&a_bearer)).await;
        assert_eq!(usage["data"]["used"], counted, "A's own budget only");
    }
}

/// An answer about B's ids with them read as the missing ones': the message names the
/// id asked for.
fn as_if_missing(body: &serde_json::Value, op: &Operation) -> serde_json::Value {
    let mut text = body.to_string();
    for name in op.path_parameters() {
        let missing = MISSING.iter().find(|(n, _)| *n == name);
        let (_, missing) = missing.unwrap_or_else(|| panic!("no missing value for `{name}`"));
        text = text.replace(demo_value(name).unwrap(), missing);
    }
    serde_json::from_str(&text).unwrap()
}

/// An answer to A that shows no trace of B: lists empty, the project A's.
fn assert_only_own_data(body: &serde_json::Value, a_id: &str, b_id: &str, path: &str) {
    let text = body.to_string();
    assert!(!text.contains(b_id), "{path} shows another project: {body}");
    if let Some(total) = body.get("pagination").map(|p| &p["total"]) {
        assert_eq!(total, 0, "{path} shows another project's data: {body}");
    }
    if let Some(id) = body["data"].get("id") {
        assert_eq!(id, a_id, "{path}");
    }
}
