//! Graceful shutdown: SIGTERM (and SIGINT) stop new connections and let a request in
//! flight finish, then the process exits 0.

use std::time::Duration;

use dashtray_core::testing::Backend;
use reqwest::StatusCode;

use crate::support::{client, project_with_key, HeldRequest, Server, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_slow_request_finish() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let signal = "TERM";
    let mut server = Server::on(&db, &[("DASHTRAY_DATABASE__ACQUIRE_TIMEOUT_MS", "20000")]);
    let (_, _, key) = project_with_key(&db, "Shutdown", "scale", None);
    let held = HeldRequest::hold(&server, &db, &key).await;

    server.signal(signal);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        server.try_exit_status().is_none(),
        "the server waits for the request"
    );
    // The document needs no database, so only a refused connection fails this request:
    // a server still accepting would answer it, or (backlogged) time out, not refuse.
    let refused = client()
        .get(server.url("/api/v1/openapi.json"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    match refused {
        Err(err) if err.is_connect() => {}
        other => panic!("new connections are refused while draining: {other:?}"),
    }

    held.release().await;
    server.wait_clean_exit();
    assert!(server.logs().contains("shutting down"), "{}", server.logs());
}

#[tokio::test]
async fn sigint_stops_an_idle_server_cleanly() {
    let mut server = Server::start(&[]);
    let ok = client()
        .get(server.url("/api/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    server.signal("INT");
    let status = server.wait_exit(Duration::from_secs(15));
    assert!(
        status.success(),
        "exit status {status:?}\n{}",
        server.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_finishes_what_it_took_and_exits_0() {
    let mut server = Server::start(&[]);
    let url = server.url("/api/v1/openapi.json");
    // Eight clients in a loop, each on its own connection, until the server is gone.
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let client = client();
                let (mut ok, mut refused) = (0, 0);
                for _ in 0..400 {
                    match client.get(&url).send().await {
                        Ok(resp) => {
                            assert_eq!(
                                resp.status(),
                                StatusCode::OK,
                                "an answer during shutdown is whole"
                            );
                            resp.bytes().await.expect("the body arrives complete");
                            ok += 1;
                        }
                        Err(_) => {
                            refused += 1;
                            if refused > 3 {
                                break;
                            }
                        }
                    }
                }
                (ok, refused)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(15));
    assert!(
        status.success(),
        "exit status {status:?}\n{}",
        server.logs()
    );
    let mut answered = 0;
    for client in clients {
        let (ok, refused) = client.await.unwrap();
        answered += ok;
        assert!(refused > 0, "after shutdown, new requests are refused");
    }
    assert!(answered > 8, "the load was real: {answered} answers");
}
