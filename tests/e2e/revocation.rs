//! Revocation everywhere at once: two servers sharing one database both refuse a key
//! revoked from the command line within a second, and both see a project's new plan as
//! fast, though each had the key cached for far longer (`auth.cache_ttl_secs`).

use std::time::{Duration, Instant};

use dashtray_core::testing::Backend;
use reqwest::StatusCode;

use crate::support::{cli_json, get_with_auth, project_with_key, Server, TestDb};

/// Longer than any wait below: only a notice can make a server drop the cached key.
const LONG_TTL: [(&str, &str); 1] = [("DASHTRAY_AUTH__CACHE_TTL_SECS", "600")];

/// Two servers on `db`, each with `key` accepted and so cached.
async fn two_servers_with_cached_key(db: &TestDb, key: &str) -> [Server; 2] {
    let servers = [Server::on(db, &LONG_TTL), Server::on(db, &LONG_TTL)];
    for server in &servers {
        let (status, _, _) = status_of(server, key).await;
        assert_eq!(status, StatusCode::OK, "the key works before the change");
    }
    servers
}

async fn status_of(
    server: &Server,
    key: &str,
) -> (StatusCode, reqwest::header::HeaderMap, serde_json::Value) {
    let bearer = format!("Bearer {key}");
    get_with_auth(&server.url("/api/v1/projects"), Some(&bearer)).await
}

/// Polls every server until its answer to `key` satisfies `holds`; fails past one
/// second from now.
async fn every_server_within_a_second(
    servers: &[Server],
    key: &str,
    what: &str,
    holds: impl Fn(StatusCode, &reqwest::header::HeaderMap) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(1);
    for (i, server) in servers.iter().enumerate() {
        loop {
            let (status, headers, _) = status_of(server, key).await;
            if holds(status, &headers) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "server {i} answers {status}, not yet {what}, a second after the change"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

dashtray_core::on_each_backend! {
    async fn a_key_revoked_from_the_cli_is_refused_by_two_servers(db: TestDb) {
        let (_, key_id, key) = project_with_key(&db, "Revoked", "scale", None);
        let servers = two_servers_with_cached_key(&db, &key).await;
        cli_json(&db, &["keys", "revoke", &key_id]);
        every_server_within_a_second(&servers, &key, "401", |status, _| {
            status == StatusCode::UNAUTHORIZED
        })
        .await;
    }

    async fn a_plan_change_reaches_two_servers(db: TestDb) {
        let (project_id, _, key) = project_with_key(&db, "Downgraded", "scale", None);
        let servers = two_servers_with_cached_key(&db, &key).await;
        cli_json(&db, &["projects", "update", &project_id, "--plan", "starter"]);
        every_server_within_a_second(&servers, &key, "403", |status, _| {
            status == StatusCode::FORBIDDEN
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_change_reaches_two_servers_on_one_sqlite_file() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let (project_id, _, key) = project_with_key(&db, "Raised", "scale", None);
    let servers = two_servers_with_cached_key(&db, &key).await;
    cli_json(
        &db,
        &["projects", "update", &project_id, "--rate-limit", "77"],
    );
    every_server_within_a_second(&servers, &key, "the new limit", |_, headers| {
        headers["x-ratelimit-limit"] == "77"
    })
    .await;
}
