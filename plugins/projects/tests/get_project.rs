//! The plugin in process, on both backends: the caller's project, and only with its scope.

use std::{collections::BTreeSet, sync::Arc};

use dashtray_core::{
    auth::{store, store::NewProject, Plan},
    clock::SystemClock,
    on_each_backend,
    testing::{TestApp, TestDb},
    Config,
};
use dashtray_projects::{ProjectsPlugin, SCOPE};

async fn app_with_key(db: &TestDb, scopes: &[&str]) -> (TestApp, String, String) {
    let app = TestApp::start(
        db,
        vec![Arc::new(ProjectsPlugin)],
        Config::default(),
        Arc::new(SystemClock),
    )
    .await;
    let services = &app.services;
    let project = store::create_project(
        &services.db,
        NewProject {
            name: "Acme SaaS".into(),
            slug: None,
            plan: Plan::Scale,
            rate_limit_per_hour: None,
        },
        1_700_000_000_000,
    )
    .await
    .unwrap();
    let scopes: BTreeSet<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
    let (_, key) = store::create_key(
        &services.db,
        services.authenticator.hasher(),
        &project.id,
        "t",
        &scopes,
        None,
        1_700_000_000_000,
    )
    .await
    .unwrap();
    (app, project.id, key)
}

on_each_backend! {
    async fn answers_the_callers_project(db: TestDb) {
        let (app, project_id, key) = app_with_key(&db, &[SCOPE]).await;
        let resp = app.client().get("/api/v1/projects").header("Authorization", format!("Bearer {key}")).send().await;
        resp.assert_status_is_ok();
        let body = resp.json().await;
        let data = body.value().object().get("data").object();
        data.get("id").assert_string(&project_id);
        data.get("name").assert_string("Acme SaaS");
        data.get("slug").assert_string("acme-saas");
        data.get("plan").assert_string("scale");
        data.get("createdAt").assert_i64(1_700_000_000_000);
    }

    async fn needs_the_projects_read_scope(db: TestDb) {
        let (app, _, key) = app_with_key(&db, &["metrics:read"]).await;
        let resp = app.client().get("/api/v1/projects").header("Authorization", format!("Bearer {key}")).send().await;
        resp.assert_status(poem::http::StatusCode::FORBIDDEN);
    }
}
