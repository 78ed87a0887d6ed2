//! The console over plain HTTP: sign-in links and their cookie, the plain page of a link
//! that cannot be used, CSRF, ownership, escaping, form errors, SPEC's headers, sign-out
//! and revocation from the console reaching every server. `console_browser` drives the
//! same pages in Chromium.

use std::time::Duration;

use reqwest::{header, StatusCode};

use crate::support::{
    cli_json, cli_json_with,
    console::{self, Session},
    eventually, get_with_auth, project_with_key, Server, TestDb,
};

/// A form's fields, as posted.
type Fields<'a> = Vec<(&'a str, &'a str)>;

/// Webhook endpoints on loopback allowed, as where receivers run on this machine.
const PRIVATE_TARGETS: [(&str, &str); 1] = [("DASHTRAY_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true")];

/// A CSRF token of no session.
const FORGED_CSRF: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A project's webhook endpoints, as the CLI lists them.
fn endpoints_of(db: &TestDb, project_id: &str) -> Vec<serde_json::Value> {
    cli_json(db, &["webhooks", "list", "--project", project_id])["endpoints"]
        .as_array()
        .expect("endpoints")
        .clone()
}

/// How many keys a project has, as the CLI lists them.
fn key_count(db: &TestDb, project_id: &str) -> usize {
    cli_json(db, &["keys", "list", "--project", project_id])["keys"]
        .as_array()
        .expect("keys")
        .len()
}

/// A server, a Scale project with one key, and a console session of that project.
async fn signed_in<'s>(db: &TestDb, server: &'s Server) -> (Session<'s>, String, String) {
    let (project_id, key_id, _) = project_with_key(db, "Console", "scale", None);
    let link = console::link(db, server, &project_id, None);
    (Session::open(server, &link).await, project_id, key_id)
}

/// The session's CSRF token and a valid Create API Key form with `name`.
async fn create_form(session: &Session<'_>, name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("csrf", session.csrf().await),
        ("name", name.to_owned()),
        ("scope", "projects:read".into()),
        ("expiry", "never".into()),
    ]
}

fn as_pairs<'f>(form: &'f [(&'static str, String)]) -> Vec<(&'static str, &'f str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

dashtray_core::on_each_backend! {
    async fn a_sign_in_link_sets_a_strict_http_only_cookie_for_the_console_path(db: TestDb) {
        let server = Server::on(&db, &[]);
        let (session, _, _) = signed_in(&db, &server).await;
        let flags: Vec<&str> = session.set_cookie.split(';').map(str::trim).collect();
        for flag in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age=43200"] {
            assert!(flags.contains(&flag), "{flag} missing: {}", session.set_cookie);
        }
        assert!(!flags.contains(&"Secure"), "not Secure over http: {}", session.set_cookie);
        let (status, html) = session.page("/console/keys").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("API Keys"), "{html}");
    }

    async fn the_cookie_is_secure_when_the_public_url_is_https(db: TestDb) {
        let public = "https://console.example.test";
        let server = Server::on(&db, &[("DASHTRAY_SERVER__PUBLIC_URL", public)]);
        let (project_id, _, _) = project_with_key(&db, "Https", "scale", None);
        let link = console::link(&db, &server, &project_id, Some(public));
        assert!(link.starts_with("https://console.example.test/console/signin?token="), "{link}");
        let session = Session::open(&server, &link).await;
        let flags: Vec<&str> = session.set_cookie.split(';').map(str::trim).collect();
        assert!(flags.contains(&"Secure"), "{}", session.set_cookie);
    }

    async fn a_used_expired_or_unknown_link_gets_one_plain_page(db: TestDb) {
        let server = Server::on(&db, &[]);
        let (project_id, _, _) = project_with_key(&db, "Links", "scale", None);
        let used = console::link(&db, &server, &project_id, None);
        Session::open(&server, &used).await;
        let expired = console::link(&db, &server, &project_id, None);
        dashtray_core::db::query("UPDATE console_links SET expires_at = 0 WHERE used_at IS NULL")
            .execute(&db.connect().await)
            .await
            .expect("expire the link");
        let unknown = "/console/signin?token=NoSuchTokenNoSuchTokenNoSuchTokenNoSuchTok";
        let mut pages = Vec::new();
        for path in [console::path_of(&used), console::path_of(&expired), unknown.to_owned()] {
            let resp = console::client().get(server.url(&path)).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{path}");
            assert!(resp.headers().get(header::SET_COOKIE).is_none(), "no session from {path}");
            pages.push(resp.text().await.unwrap());
        }
        assert!(pages[0].contains("This sign-in link cannot be used"), "{}", pages[0]);
        assert_eq!(pages[0], pages[1], "a used and an expired link look alike");
        assert_eq!(pages[0], pages[2], "a used and an unknown link look alike");
    }

    async fn a_post_without_its_csrf_token_is_refused_and_creates_nothing(db: TestDb) {
        let server = Server::on(&db, &[]);
        let (session, project_id, _) = signed_in(&db, &server).await;
        let before = key_count(&db, &project_id);
        let form = create_form(&session, "no token").await;
        let without: Vec<_> = as_pairs(&form).into_iter().filter(|(k, _)| *k != "csrf").collect();
        let (status, html) = session.post("/console/keys", &without).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
        let mut forged = as_pairs(&form);
        forged[0].1 = FORGED_CSRF;
        let (status, _) = session.post("/console/keys", &forged).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "a token of no session is refused");
        assert_eq!(key_count(&db, &project_id), before, "no key was made");
        // The same form with its token goes through.
        let (status, html) = session.post("/console/keys", &as_pairs(&form)).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert_eq!(key_count(&db, &project_id), before + 1);
    }

    async fn another_projects_key_id_in_a_revoke_form_is_not_found(db: TestDb) {
        let server = Server::on(&db, &[]);
        let (session, _, _) = signed_in(&db, &server).await;
        let (_, other_key_id, other_key) = project_with_key(&db, "Other", "scale", None);
        let path = format!("/console/keys/{other_key_id}/revoke");
        let (status, _) = session.page(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "its confirmation page");
        let csrf = session.csrf().await;
        let (status, html) = session.post(&path, &[("csrf", &csrf)]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{html}");
        let bearer = format!("Bearer {other_key}");
        let (status, _, _) = get_with_auth(&server.url("/api/v1/projects"), Some(&bearer)).await;
        assert_eq!(status, StatusCode::OK, "the other project's key still works");
    }

    async fn a_key_named_like_a_script_shows_as_text(db: TestDb) {
        let server = Server::on(&db, &[]);
        let (session, _, _) = signed_in(&db, &server).await;
        let name = "<script>alert(1)</script>";
        let form = create_form(&session, name).await;
        let (status, created) = session.post("/console/keys", &as_pairs(&form)).await;
        assert_eq!(status, StatusCode::OK, "{created}");
        let (_, list) = session.page("/console/keys").await;
        for (page, html) in [("the created page", &created), ("the list", &list)] {
            assert!(!html.contains(name), "{page} has the name as markup");
            assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
                || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{page}: {html}");
        }
    }

    async fn bad_form_input_shows_the_form_again_with_the_error_and_creates_nothing(db: TestDb) {
        let server = Server::on(&db, &[]);
        let (session, project_id, _) = signed_in(&db, &server).await;
        let before = key_count(&db, &project_id);
        let csrf = session.csrf().await;
        let long = "n".repeat(201);
        let cases: [(&str, Fields, &str); 5] = [
            ("an empty name", vec![("name", "  "), ("scope", "projects:read"), ("expiry", "never")], "name-error"),
            ("an over-long name", vec![("name", &long), ("scope", "projects:read"), ("expiry", "never")], "name-error"),
            ("no scope", vec![("name", "ok"), ("expiry", "30")], "scopes-error"),
            ("an unknown scope", vec![("name", "ok"), ("scope", "admin:write"), ("expiry", "30")], "scopes-error"),
            ("an unknown expiry", vec![("name", "ok"), ("scope", "projects:read"), ("expiry", "7")], "expiry-error"),
        ];
        for (what, mut fields, error_id) in cases {
            fields.push(("csrf", &csrf));
            let (status, html) = session.post("/console/keys", &fields).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{what}");
            assert!(html.contains(&format!("id=\"{error_id}\"")), "{what}: no error beside the field: {html}");
            assert!(html.contains("<h1>Create API Key</h1>"), "{what}: the form is shown again");
        }
        assert_eq!(key_count(&db, &project_id), before, "nothing was created");
    }

    async fn a_webhook_post_without_its_csrf_token_is_refused_and_stores_nothing(db: TestDb) {
        let server = Server::on(&db, &PRIVATE_TARGETS);
        let (session, project_id, _) = signed_in(&db, &server).await;
        let csrf = session.csrf().await;
        let fields = [("url", "http://127.0.0.1:9/hook"), ("description", "no token")];
        let (status, html) = session.post("/console/webhooks", &fields).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
        let forged = [("csrf", FORGED_CSRF), fields[0], fields[1]];
        let (status, _) = session.post("/console/webhooks", &forged).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "a token of no session is refused");
        assert!(endpoints_of(&db, &project_id).is_empty(), "no endpoint was stored");

        // With its token the form goes through; the endpoint's own forms need theirs too.
        let with_token = [("csrf", csrf.as_str()), fields[0], fields[1]];
        let (status, html) = session.post("/console/webhooks", &with_token).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        let endpoint_id = endpoints_of(&db, &project_id)[0]["id"].as_str().unwrap().to_owned();
        for action in ["test", "status", "rotate", "delete"] {
            let path = format!("/console/webhooks/{endpoint_id}/{action}");
            let (status, _) = session.post(&path, &[("enabled", "false")]).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{action} without its token");
        }
        let endpoints = endpoints_of(&db, &project_id);
        assert_eq!(endpoints.len(), 1, "not deleted");
        assert_eq!(endpoints[0]["status"], "enabled", "not disabled");
        let (_, page) = session.page(&format!("/console/webhooks/{endpoint_id}")).await;
        assert!(page.contains("No deliveries yet"), "no test was sent: {page}");
    }

    async fn another_projects_endpoint_or_delivery_id_in_a_webhook_form_is_not_found(db: TestDb) {
        let server = Server::on(&db, &PRIVATE_TARGETS);
        let (session, _, _) = signed_in(&db, &server).await;
        let (other_project, _, _) = project_with_key(&db, "Other", "scale", None);
        let created = cli_json_with(&db, &PRIVATE_TARGETS, &[
            "webhooks", "create", "--project", &other_project, "--url", "http://127.0.0.1:9/hook",
        ]);
        let other_endpoint = created["id"].as_str().unwrap().to_owned();
        let test = cli_json_with(&db, &PRIVATE_TARGETS, &[
            "webhooks", "test", &other_endpoint, "--project", &other_project,
        ]);
        let other_delivery = test["id"].as_str().unwrap().to_owned();
        for page in ["", "/delete"] {
            let (status, _) = session.page(&format!("/console/webhooks/{other_endpoint}{page}")).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "the page {page:?}");
        }
        let csrf = session.csrf().await;
        for action in ["test", "status", "rotate", "delete"] {
            let path = format!("/console/webhooks/{other_endpoint}/{action}");
            let (status, html) = session.post(&path, &[("csrf", &csrf), ("enabled", "false")]).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{action}: {html}");
        }
        let replay = format!("/console/webhooks/deliveries/{other_delivery}/replay");
        let (status, html) = session.post(&replay, &[("csrf", &csrf)]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "replay: {html}");
        let endpoints = endpoints_of(&db, &other_project);
        assert_eq!(endpoints.len(), 1, "the other project's endpoint is not deleted");
        assert_eq!(endpoints[0]["status"], "enabled", "nor disabled");
        assert!(endpoints[0]["previousSecretUntil"].is_null(), "nor its secret rotated");
    }

    async fn an_endpoint_described_like_a_script_shows_as_text(db: TestDb) {
        let server = Server::on(&db, &PRIVATE_TARGETS);
        let (session, project_id, _) = signed_in(&db, &server).await;
        let description = "<script>alert(1)</script>";
        let csrf = session.csrf().await;
        let fields = [("csrf", csrf.as_str()), ("url", "http://127.0.0.1:9/hook"), ("description", description)];
        let (status, created) = session.post("/console/webhooks", &fields).await;
        assert_eq!(status, StatusCode::OK, "{created}");
        let endpoint_id = endpoints_of(&db, &project_id)[0]["id"].as_str().unwrap().to_owned();
        let (_, list) = session.page("/console/webhooks").await;
        let (_, endpoint) = session.page(&format!("/console/webhooks/{endpoint_id}")).await;
        let (_, delete) = session.page(&format!("/console/webhooks/{endpoint_id}/delete")).await;
        for (page, html) in [("the secret's page", &created), ("the list", &list), ("the endpoint", &endpoint), ("the confirmation", &delete)] {
            assert!(!html.contains(description), "{page} has the description as markup");
            assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
                || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{page}: {html}");
        }
    }

    async fn a_refused_webhook_url_shows_the_form_again_with_the_error_and_stores_nothing(db: TestDb) {
        // The address rules as deployed: no private targets.
        let server = Server::on(&db, &[]);
        let (session, project_id, _) = signed_in(&db, &server).await;
        let csrf = session.csrf().await;
        let long = "d".repeat(501);
        let cases: [(&str, Fields, &str, &str); 6] = [
            ("no URL", vec![("url", " ")], "url-error", "Enter the URL"),
            ("http://", vec![("url", "http://hooks.example.com/in")], "url-error", "is not https"),
            ("loopback", vec![("url", "https://127.0.0.1/hook")], "url-error", "loopback"),
            ("a private network", vec![("url", "https://10.1.2.3/hook")], "url-error", "private"),
            ("an unknown event type", vec![("url", "https://10.1.2.3/hook"), ("event", "nothing.happened")], "events-error", "unknown event type"),
            ("an over-long description", vec![("url", "https://169.254.169.254/"), ("description", &long)], "description-error", "at most 500"),
        ];
        for (what, mut fields, error_id, says) in cases {
            fields.push(("csrf", &csrf));
            let (status, html) = session.post("/console/webhooks", &fields).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{what}");
            let error = html
                .split(&format!("id=\"{error_id}\">"))
                .nth(1)
                .unwrap_or_else(|| panic!("{what}: no error beside the field: {html}"));
            let error = error.split("</p>").next().unwrap();
            assert!(error.contains(says), "{what}: {error}");
            assert!(html.contains("<h1>Add endpoint</h1>"), "{what}: the form is shown again");
        }
        assert!(endpoints_of(&db, &project_id).is_empty(), "nothing was stored");
    }

    async fn console_answers_carry_specs_security_headers(db: TestDb) {
        let server = Server::on(&db, &[]);
        let (session, _, _) = signed_in(&db, &server).await;
        let signed_out = console::client().get(server.url("/console/keys")).send().await.unwrap();
        assert_eq!(signed_out.status(), StatusCode::UNAUTHORIZED);
        for resp in [session.get("/console/keys").await, session.get("/console/usage").await, signed_out] {
            let headers = resp.headers();
            assert_eq!(headers["content-security-policy"], "default-src 'self'");
            assert_eq!(headers["x-frame-options"], "DENY");
            assert_eq!(headers["referrer-policy"], "no-referrer");
        }
    }

    async fn sign_out_and_sessions_revoke_end_sessions(db: TestDb) {
        let server = Server::on(&db, &[]);
        let (first, project_id, _) = signed_in(&db, &server).await;
        let csrf = first.csrf().await;
        let (status, html) = first.post("/console/signout", &[("csrf", &csrf)]).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert_eq!(first.page("/console/keys").await.0, StatusCode::UNAUTHORIZED, "signed out");

        let second = Session::open(&server, &console::link(&db, &server, &project_id, None)).await;
        let third = Session::open(&server, &console::link(&db, &server, &project_id, None)).await;
        let ended = cli_json(&db, &["console", "sessions", "revoke", "--project", &project_id]);
        assert_eq!(ended["ended"], 2, "{ended}");
        for session in [second, third] {
            assert_eq!(session.page("/console/keys").await.0, StatusCode::UNAUTHORIZED);
        }
    }

    async fn serve_demo_prints_a_sign_in_link_to_the_demo_console(db: TestDb) {
        let server = Server::spawn(&[("DASHTRAY_DATABASE__URL", db.url())], &["--demo"]);
        let link = server.announced()["console"].as_str().expect("a console link").to_owned();
        assert!(link.starts_with(&format!("{}/console/signin?token=", server.base)), "{link}");
        let session = Session::open(&server, &link).await;
        let (status, html) = session.page("/console/project").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("prj_AcmeSaaSDemo0001"), "{html}");
    }

    async fn a_key_revoked_in_the_console_is_refused_by_another_server_within_a_second(db: TestDb) {
        let long_ttl = [("DASHTRAY_AUTH__CACHE_TTL_SECS", "600")];
        let (console_server, other) = (Server::on(&db, &long_ttl), Server::on(&db, &long_ttl));
        let (project_id, key_id, key) = project_with_key(&db, "Everywhere", "scale", None);
        let bearer = format!("Bearer {key}");
        let (status, _, _) = get_with_auth(&other.url("/api/v1/projects"), Some(&bearer)).await;
        assert_eq!(status, StatusCode::OK, "the key works, and the other server caches it");
        let session = Session::open(&console_server, &console::link(&db, &console_server, &project_id, None)).await;
        let csrf = session.csrf().await;
        let (status, _) = session.post(&format!("/console/keys/{key_id}/revoke"), &[("csrf", &csrf)]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (status, _, _) = get_with_auth(&console_server.url("/api/v1/projects"), Some(&bearer)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "the console's own server at once");
        eventually(Duration::from_secs(1), "the other server refuses the key", || async {
            get_with_auth(&other.url("/api/v1/projects"), Some(&bearer)).await.0 == StatusCode::UNAUTHORIZED
        })
        .await;
    }
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_address() {
    let server = Server::start(&[("DASHTRAY_AUTH__FAILED_PER_MINUTE", "3")]);
    // Seven attempts hold four in one minute even if a minute turns among them.
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let url = server.url("/console/signin?token=guessguessguessguessguessguessguessguessgue");
        statuses.push(console::client().get(url).send().await.unwrap().status());
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "no attempt was limited: {statuses:?}"
    );
}

#[tokio::test]
async fn the_console_is_off_with_console_enabled_false() {
    let server = Server::start(&[("DASHTRAY_CONSOLE__ENABLED", "false")]);
    let resp = console::client()
        .get(server.url("/console/keys"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[test]
fn console_link_for_an_unknown_project_fails_naming_the_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    for args in [
        vec!["console", "link", "--project", "prj_nope"],
        vec!["console", "sessions", "revoke", "--project", "prj_nope"],
        vec![
            "console",
            "link",
            "--project",
            "prj_nope",
            "--expires-in",
            "0",
        ],
    ] {
        let output = crate::support::dashtray(dir.path(), &[("DASHTRAY_DATABASE__URL", &db)])
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains("--project") || stderr.contains("--expires-in"),
            "{args:?}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{args:?} printed something");
    }
}
