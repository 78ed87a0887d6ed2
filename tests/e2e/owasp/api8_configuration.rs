//! API8: safe defaults on every answer — no sniffing, private caching, no CORS unless an
//! origin is configured — and no internals in server errors.

use reqwest::StatusCode;

use crate::support::{client, Server};

#[tokio::test]
async fn every_answer_is_nosniff_and_errors_are_not_cached() {
    let server = Server::start(&[]);
    for (path, status) in [
        ("/api/v1/health", 200),
        ("/api/v1/projects", 401),
        ("/api/v1/nope", 404),
        ("/docs", 200),
    ] {
        let resp = client().get(server.url(path)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{path}");
        assert_eq!(
            resp.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
        if status >= 400 {
            assert_eq!(resp.headers()["cache-control"], "no-store", "{path}");
        }
    }
}

#[tokio::test]
async fn no_cors_headers_unless_an_origin_is_configured() {
    let server = Server::start(&[]);
    let resp = client()
        .get(server.url("/api/v1/health"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());

    let server = Server::start(&[(
        "DASHTRAY_HTTP__CORS_ALLOWED_ORIGINS",
        "[\"https://app.example.com\"]",
    )]);
    let allowed = client()
        .get(server.url("/api/v1/health"))
        .header("Origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let exposed = allowed.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        exposed.contains("x-ratelimit-remaining") && exposed.contains("etag"),
        "{exposed}"
    );

    let preflight = client()
        .request(reqwest::Method::OPTIONS, server.url("/api/v1/projects"))
        .header("Origin", "https://app.example.com")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );

    let other = client()
        .get(server.url("/api/v1/health"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[test]
fn a_bad_cors_origin_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = crate::support::dashtray(
        dir.path(),
        &[(
            "DASHTRAY_HTTP__CORS_ALLOWED_ORIGINS",
            "[\"app.example.com/x\"]",
        )],
    )
    .arg("config")
    .output()
    .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("http.cors_allowed_origins"), "{err}");
}
