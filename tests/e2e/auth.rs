//! Keys against the real server, on both backends: every way to be refused, plans,
//! scopes, revocation, isolation, failed-attempt limits, and keys never stored or logged.

use std::time::Duration;

use dashtray_core::{auth::key, db::query, on_each_backend};
use reqwest::StatusCode;

use crate::support::{
    assert_answer_hides_key, assert_no_key_fragment, assert_problem, cli_json, eventually,
    get_with_auth, project_with_key, without_request_id, Server, TestDb,
};

const CHALLENGE: &str = "Bearer realm=\"dashtray\"";

/// A key of the right shape and checksum that no database holds.
fn unknown_key() -> String {
    key::generate().key
}

/// The key with one character of its secret changed: the checksum no longer matches.
fn bad_checksum(key: &str) -> String {
    let mut bytes = key.as_bytes().to_vec();
    let i = key.len() - 10;
    bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
    String::from_utf8(bytes).unwrap()
}

on_each_backend! {
    async fn every_refused_key_gets_the_same_401(db: TestDb) {
        let (_, revoked_id, revoked) = project_with_key(&db, "Revoked Co", "scale", None);
        cli_json(&db, &["keys", "revoke", &revoked_id]);
        let (_, _, valid) = project_with_key(&db, "Acme", "scale", None);
        let server = Server::on(&db, &[]);
        let url = server.url("/api/v1/projects");

        let variants: Vec<(&str, Option<String>, String)> = vec![
            ("missing header", None, url.clone()),
            ("Basic scheme", Some(format!("Basic {valid}")), url.clone()),
            ("empty bearer", Some("Bearer ".into()), url.clone()),
            ("malformed key", Some("Bearer not-a-key".into()), url.clone()),
            ("bad checksum", Some(format!("Bearer {}", bad_checksum(&valid))), url.clone()),
            ("unknown key", Some(format!("Bearer {}", unknown_key())), url.clone()),
            ("revoked key", Some(format!("Bearer {revoked}")), url.clone()),
            ("key in the query string", None, format!("{url}?api_key={valid}")),
            ("key in the query beside a valid header", Some(format!("Bearer {valid}")), format!("{url}?key={valid}")),
        ];
        let mut bodies = Vec::new();
        for (what, auth, url) in &variants {
            let (status, headers, body) = get_with_auth(url, auth.as_deref()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
            assert_eq!(headers["www-authenticate"], CHALLENGE, "{what}");
            assert_problem(&headers, &body, 401, "unauthorized");
            bodies.push((what, without_request_id(body)));
        }
        for (what, body) in &bodies[1..] {
            assert_eq!(body, &bodies[0].1, "{what} answers like a missing key");
        }

        let (status, _, body) = get_with_auth(&url, Some(&format!("Bearer {valid}"))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    async fn a_key_sees_its_own_project_and_no_other(db: TestDb) {
        let (a_id, _, a_key) = project_with_key(&db, "Alpha Analytics", "scale", None);
        let (b_id, _, b_key) = project_with_key(&db, "Beta Books", "agency", None);
        let server = Server::on(&db, &[]);
        for (id, key, name, plan) in [(&a_id, &a_key, "Alpha Analytics", "scale"), (&b_id, &b_key, "Beta Books", "agency")] {
            let (status, headers, body) =
                get_with_auth(&server.url("/api/v1/projects"), Some(&format!("Bearer {key}"))).await;
            assert_eq!(status, StatusCode::OK);
            assert!(headers["content-type"].to_str().unwrap().starts_with("application/json"));
            let data = &body["data"];
            assert_eq!(&data["id"], id);
            assert_eq!(data["name"], name);
            assert_eq!(data["plan"], plan);
            assert!(data["slug"].is_string());
            assert!(data["createdAt"].as_i64().unwrap() > 1_700_000_000_000, "milliseconds");
            assert_eq!(data.as_object().unwrap().len(), 5, "no other fields: {data}");
        }
    }

    async fn plans_below_scale_get_403_plan_required(db: TestDb) {
        let (project_id, _, key) = project_with_key(&db, "Growing", "growth", None);
        let server = Server::on(&db, &[("DASHTRAY_AUTH__CACHE_TTL_SECS", "0")]);
        let url = server.url("/api/v1/projects");
        let bearer = format!("Bearer {key}");
        let (status, headers, body) = get_with_auth(&url, Some(&bearer)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_problem(&headers, &body, 403, "plan_required");

        cli_json(&db, &["projects", "update", &project_id, "--plan", "scale"]);
        let (status, _, _) = get_with_auth(&url, Some(&bearer)).await;
        assert_eq!(status, StatusCode::OK, "upgraded");

        cli_json(&db, &["projects", "update", &project_id, "--plan", "starter"]);
        let (status, _, body) = get_with_auth(&url, Some(&bearer)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "downgraded: {body}");
    }

    async fn a_key_without_the_scope_gets_403_naming_it(db: TestDb) {
        let (_, _, key) = project_with_key(&db, "Scoped", "scale", Some("metrics:read"));
        let server = Server::on(&db, &[]);
        let (status, headers, body) =
            get_with_auth(&server.url("/api/v1/projects"), Some(&format!("Bearer {key}"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_problem(&headers, &body, 403, "insufficient_scope");
        assert!(body["message"].as_str().unwrap().contains("projects:read"), "{body}");
    }

    async fn a_revoked_key_stops_working_within_the_cache_ttl(db: TestDb) {
        let (_, key_id, key) = project_with_key(&db, "Revoking", "scale", None);
        let ttl = Duration::from_secs(2);
        let server = Server::on(&db, &[("DASHTRAY_AUTH__CACHE_TTL_SECS", "2")]);
        let url = server.url("/api/v1/projects");
        let bearer = format!("Bearer {key}");
        // Now in the server's cache; `keys revoke` tells the server (revocation.rs tests
        // that it is within a second), and the TTL bounds it should the notice be lost.
        assert_eq!(get_with_auth(&url, Some(&bearer)).await.0, StatusCode::OK);
        let revoked = cli_json(&db, &["keys", "revoke", &key_id]);
        assert!(revoked["revokedAt"].is_i64());
        // The TTL, and slack for a loaded machine: a cache that ignored the TTL, or a
        // lookup that ignored revocation, would let the key through for good.
        eventually(ttl + Duration::from_secs(8), "the revoked key is refused", || async {
            get_with_auth(&url, Some(&bearer)).await.0 == StatusCode::UNAUTHORIZED
        })
        .await;
    }

    async fn failed_attempts_are_limited_per_address_but_valid_keys_pass(db: TestDb) {
        let (_, _, key) = project_with_key(&db, "Guarded", "scale", None);
        let server = Server::on(&db, &[("DASHTRAY_AUTH__FAILED_PER_MINUTE", "5")]);
        let url = server.url("/api/v1/projects");
        let wrong = format!("Bearer {}", unknown_key());
        for attempt in 1..=5 {
            let (status, _, _) = get_with_auth(&url, Some(&wrong)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
        }
        let (status, headers, body) = get_with_auth(&url, Some(&wrong)).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_problem(&headers, &body, 429, "rate_limited");
        let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        assert_eq!(body["retryAfter"], retry_after);

        let (status, _, _) = get_with_auth(&url, Some(&format!("Bearer {key}"))).await;
        assert_eq!(status, StatusCode::OK, "a valid key still gets through");
        let (status, _, _) = get_with_auth(&server.url("/api/v1/health"), None).await;
        assert_eq!(status, StatusCode::OK, "public routes are not limited");
    }

    async fn keys_are_never_stored_shown_or_logged_after_creation(db: TestDb) {
        let (project_id, key_id, key) = project_with_key(&db, "Secretive", "scale", None);
        let server = Server::on(&db, &[("DASHTRAY_LOG__LEVEL", "trace"), ("DASHTRAY_LOG__FORMAT", "json")]);
        let requests = [
            ("/api/v1/projects".to_owned(), Some(format!("Bearer {key}"))),
            (format!("/api/v1/projects?token={key}"), None),
            ("/api/v1/projects".to_owned(), Some(format!("Bearer {}", bad_checksum(&key)))),
        ];
        for (path, auth) in &requests {
            let (_, headers, body) = get_with_auth(&server.url(path), auth.as_deref()).await;
            assert_answer_hides_key(&headers, &body.to_string(), &key, "an answer");
        }

        let logs = server.logs();
        assert!(logs.contains("request finished"), "the log was captured");
        assert_no_key_fragment(&logs, &key, "the log");

        let listing = cli_json(&db, &["keys", "list", "--project", &project_id]);
        let listed = listing.to_string();
        assert!(listed.contains(&key_id));
        assert_no_key_fragment(&listed, &key, "keys list");
        let stored = stored_rows(&db).await;
        assert!(stored.contains(&key_id), "the dump reads the keys table");
        assert_no_key_fragment(&stored, &key, "the keys table");
        assert!(!listed.contains(&hash_of_row(&stored)), "keys list shows the hash");
        if db.backend() == dashtray_core::testing::Backend::Sqlite {
            let path = db.url().trim_start_matches("sqlite://").to_owned();
            for file in [path.clone(), format!("{path}-wal")] {
                if let Ok(bytes) = std::fs::read(&file) {
                    assert_no_key_fragment(&String::from_utf8_lossy(&bytes), &key, &file);
                }
            }
        }
    }
}

/// Every column of every key row, as text.
async fn stored_rows(db: &TestDb) -> String {
    let conn = db.connect().await;
    query("SELECT id, project_id, name, key_hash, scopes FROM api_keys")
        .fetch_all(&conn, |r| {
            let columns = ["id", "project_id", "name", "key_hash", "scopes"];
            Ok(columns
                .iter()
                .map(|c| r.get::<String>(c))
                .collect::<Result<Vec<_>, _>>()?
                .join("|"))
        })
        .await
        .unwrap()
        .join("\n")
}

/// The stored hash (4th column of the first row), to check it is never shown.
fn hash_of_row(rows: &str) -> String {
    rows.lines()
        .next()
        .unwrap()
        .split('|')
        .nth(3)
        .unwrap()
        .to_owned()
}
