//! A plugin test's callers and requests: projects with keys, a GET as one of them, and
//! the checks every error answer must pass.

use std::{collections::BTreeSet, sync::Arc};

use poem::http::{header, HeaderMap, StatusCode};
use serde_json::Value;

use super::{TestApp, TestDb};
use crate::{
    auth::{key, store, Plan},
    clock::SystemClock,
    config::Config,
    plugin::Plugin,
};

/// A project made for a test, and a key of it.
#[derive(Debug, Clone)]
pub struct TestProject {
    /// The project's id (`prj_...`): what the plugin's rows belong to.
    pub id: String,
    /// The key's secret (`dk_...`), as `get` takes it.
    pub key: String,
}

impl TestProject {
    /// The `Authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.key)
    }
}

/// An answer read whole: status, headers and the body as JSON (`Null` when it is not).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The `Link` header, if any.
    pub fn link(&self) -> Option<&str> {
        self.headers.get(header::LINK).and_then(|v| v.to_str().ok())
    }

    /// The `id` of each item of a list's `data`, in order.
    pub fn ids(&self) -> Vec<&str> {
        self.body["data"]
            .as_array()
            .expect("a list answer has `data`")
            .iter()
            .map(|item| item["id"].as_str().expect("every item has an id"))
            .collect()
    }
}

/// GETs `uri` with `key` (the `dk_...` secret) as the caller.
pub async fn get(app: &TestApp, key: &str, uri: &str) -> Answer {
    let resp = app
        .client()
        .get(uri)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .send()
        .await;
    let status = resp.0.status();
    let headers = resp.0.headers().clone();
    let body = resp.0.into_body().into_json().await.unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

/// Asserts `answer` is SPEC's error body for `status` and the error `code`, with a
/// sentence for a person.
pub fn assert_problem(answer: &Answer, status: StatusCode, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
    assert_eq!(answer.body["error"], code, "{}", answer.body);
    assert_eq!(answer.body["status"], status.as_u16());
    assert!(
        answer.body["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        answer.body
    );
}

impl TestApp {
    /// A new Scale project with a budget no test uses up, and a key of it with `scopes`.
    pub async fn new_project(&self, scopes: &[&str]) -> TestProject {
        let project = store::create_project(
            &self.services.db,
            store::NewProject {
                name: "Test project".into(),
                // Several may share one database: the slug must not come from the name.
                slug: Some(key::random_base62(8).to_lowercase()),
                plan: Plan::Scale,
                rate_limit_per_hour: Some(1_000_000_000),
            },
            0,
        )
        .await
        .expect("create a project");
        let key = self.new_key(&project.id, scopes).await;
        TestProject {
            id: project.id,
            key,
        }
    }

    /// Another key of `project_id`, with `scopes`: its `dk_...` secret.
    pub async fn new_key(&self, project_id: &str, scopes: &[&str]) -> String {
        let scopes: BTreeSet<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        let hasher = self.services.authenticator.hasher().clone();
        let (_, key) = store::create_key(
            &self.services.db,
            &hasher,
            project_id,
            "test",
            &scopes,
            None,
            0,
        )
        .await
        .expect("create a key");
        key
    }

    /// A new project's `Authorization` header value (see [`TestApp::new_project`] for
    /// its id too).
    pub async fn bearer_for_new_project(&self, scopes: &[&str]) -> String {
        self.new_project(scopes).await.bearer()
    }
}

/// What most plugin tests start from: `plugin` mounted alone, two projects A and B each
/// with a key holding `scope`, and a key of A without it.
pub struct World {
    pub app: TestApp,
    pub a: TestProject,
    pub b: TestProject,
    /// A key of project A lacking the plugin's scope.
    pub unscoped_key: String,
}

/// Starts `plugin` on `db` (default configuration, the system clock) and makes the
/// [`World`]'s projects and keys.
pub async fn world(db: &TestDb, plugin: Arc<dyn Plugin>, scope: &str) -> World {
    let app = TestApp::start(db, vec![plugin], Config::default(), Arc::new(SystemClock)).await;
    let a = app.new_project(&[scope]).await;
    let b = app.new_project(&[scope]).await;
    let unscoped_key = app.new_key(&a.id, &["projects:read"]).await;
    World {
        app,
        a,
        b,
        unscoped_key,
    }
}
