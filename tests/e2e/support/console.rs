//! The console over plain HTTP: sign-in links from the CLI, and a session that carries
//! its cookie by hand (so tests can read the cookie's flags and post forms with or
//! without their CSRF token).

use reqwest::{header, redirect::Policy, Response, StatusCode};

use super::{dashtray, Server, TestDb};

/// A one-time sign-in link for `project_id` made by `dashtray console link`, under the
/// server's address as `server.public_url` (or under `public_url` when given).
pub fn link(db: &TestDb, server: &Server, project_id: &str, public_url: Option<&str>) -> String {
    let dir = tempfile::tempdir().expect("scratch folder");
    let public_url = public_url.unwrap_or(&server.base);
    let output = dashtray(
        dir.path(),
        &[
            ("DASHTRAY_DATABASE__URL", db.url()),
            ("DASHTRAY_SERVER__PUBLIC_URL", public_url),
        ],
    )
    .args(["console", "link", "--project", project_id, "--json"])
    .output()
    .expect("run dashtray console link");
    assert!(
        output.status.success(),
        "console link failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one object");
    assert!(printed["expiresAt"].is_i64(), "{printed}");
    printed["url"].as_str().expect("url").to_owned()
}

/// The link's path and query (`/console/signin?token=…`), to open on any server.
pub fn path_of(link: &str) -> String {
    let url = url::Url::parse(link).expect("a URL");
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

/// A client that shows redirects instead of following them.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// A signed-in console session.
pub struct Session<'s> {
    pub server: &'s Server,
    /// The `Set-Cookie` the sign-in answered with.
    pub set_cookie: String,
    cookie: String,
}

impl<'s> Session<'s> {
    /// Opens `link` on `server`; fails the test unless it starts a session.
    pub async fn open(server: &'s Server, link: &str) -> Session<'s> {
        let resp = client()
            .get(server.url(&path_of(link)))
            .send()
            .await
            .expect("open the link");
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "the link signs in");
        let set_cookie = resp
            .headers()
            .get(header::SET_COOKIE)
            .expect("a session cookie")
            .to_str()
            .unwrap()
            .to_owned();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        Session {
            server,
            set_cookie,
            cookie,
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        client()
            .get(self.server.url(path))
            .header(header::COOKIE, &self.cookie)
            .send()
            .await
            .expect("GET")
    }

    /// A page's status and HTML.
    pub async fn page(&self, path: &str) -> (StatusCode, String) {
        let resp = self.get(path).await;
        (resp.status(), resp.text().await.expect("body"))
    }

    /// Posts `fields` as a form, as they are (add [`Session::csrf`] for a valid form).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let resp = client()
            .post(self.server.url(path))
            .header(header::COOKIE, &self.cookie)
            .form(fields)
            .send()
            .await
            .expect("POST");
        (resp.status(), resp.text().await.expect("body"))
    }

    /// The CSRF token the session's pages carry.
    pub async fn csrf(&self) -> String {
        let (status, html) = self.page("/console/keys").await;
        assert_eq!(status, StatusCode::OK, "{html}");
        csrf_in(&html)
    }
}

/// The CSRF token in a page's forms.
pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a form with a CSRF token") + marker.len();
    html[start..]
        .split('"')
        .next()
        .expect("the token")
        .to_owned()
}
