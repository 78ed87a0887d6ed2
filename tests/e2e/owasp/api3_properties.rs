//! API3: no answer carries a field a client should not see — no key, no hash, no
//! internal id of another table — on any operation of the document.

use dashtray_core::on_each_backend;
use reqwest::StatusCode;

use crate::support::{assert_answer_hides_key, client, document::documented_operations, Server};

/// Words no answer may contain, lower-cased: stored secrets, and the foreign key of
/// another table in either spelling (the API is camelCase, the database snake_case).
const FORBIDDEN: [&str; 9] = [
    "hash",
    "keyhash",
    "pepper",
    "secret",
    "password",
    "project_id\"",
    "projectid\"",
    "dk_",
    "key_hash",
];

on_each_backend! {
    async fn no_answer_carries_keys_hashes_or_internal_fields(db: TestDb) {
        let (server, key) = Server::demo(&db);
        let bearer = format!("Bearer {key}");
        for op in documented_operations() {
            let path = op.demo_path();
            let resp = client().get(server.url(&path)).header("Authorization", &bearer).send().await.unwrap();
            let (status, headers) = (resp.status(), resp.headers().clone());
            let body = resp.text().await.unwrap();
            assert_eq!(status, StatusCode::OK, "{} {path}: a real answer is checked, not an error", op.id);
            assert_answer_hides_key(&headers, &body, &key, &path);
            // The document describes the key's format in words; only data must not.
            if is_the_document(&body) {
                continue;
            }
            let text = body.to_lowercase();
            for forbidden in FORBIDDEN {
                assert!(!text.contains(forbidden), "{path} shows `{forbidden}`: {body}");
            }
        }
    }
}

/// Whether `body` is the OpenAPI document itself, in JSON or YAML.
fn is_the_document(body: &str) -> bool {
    serde_yaml::from_str::<serde_json::Value>(body).is_ok_and(|doc| doc.get("openapi").is_some())
}
