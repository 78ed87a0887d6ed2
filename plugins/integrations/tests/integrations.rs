//! The plugin in process, on both backends: listing, paging, fetching one, refusing bad
//! parameters, and never showing one project another's integrations.

use std::{collections::BTreeSet, sync::Arc};

use dashtray_core::{
    auth::{store as auth_store, store::NewProject, Plan},
    clock::SystemClock,
    on_each_backend,
    testing::{TestApp, TestDb},
    Config,
};
use dashtray_integrations::{
    store::{self, NewIntegration},
    IntegrationsPlugin, SCOPE,
};
use poem::http::{header, HeaderMap, StatusCode};
use serde_json::{json, Value};

const NOW: i64 = 1_700_000_000_000;

/// Two projects, A and B, each with a key holding the plugin's scope, and a key of A
/// without it.
struct World {
    app: TestApp,
    a_key: String,
    b_key: String,
    unscoped_key: String,
}

async fn world(db: &TestDb) -> World {
    let app = TestApp::start(
        db,
        vec![Arc::new(IntegrationsPlugin)],
        Config::default(),
        Arc::new(SystemClock),
    )
    .await;
    let a = project(&app, "Project A").await;
    let b = project(&app, "Project B").await;
    World {
        a_key: key(&app, &a, &[SCOPE]).await,
        b_key: key(&app, &b, &[SCOPE]).await,
        unscoped_key: key(&app, &a, &["projects:read"]).await,
        app,
    }
}

async fn project(app: &TestApp, name: &str) -> String {
    let new = NewProject {
        name: name.into(),
        slug: None,
        plan: Plan::Scale,
        rate_limit_per_hour: None,
    };
    auth_store::create_project(&app.services.db, new, NOW)
        .await
        .unwrap()
        .id
}

async fn key(app: &TestApp, project_id: &str, scopes: &[&str]) -> String {
    let scopes: BTreeSet<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
    let services = &app.services;
    let (_, key) = auth_store::create_key(
        &services.db,
        services.authenticator.hasher(),
        project_id,
        "t",
        &scopes,
        None,
        NOW,
    )
    .await
    .unwrap();
    key
}

fn integration(id: &str, project_id: &str, connected_at: i64) -> NewIntegration {
    NewIntegration {
        id: id.into(),
        project_id: project_id.into(),
        provider: "stripe".into(),
        name: format!("Integration {id}"),
        status: "connected".into(),
        connected_at,
        last_sync_at: Some(connected_at + 60_000),
        metric_ids: vec!["mrr".into()],
    }
}

/// Five integrations of the key's project, stored out of order; in list order they are
/// int_a, int_b, int_c (ties on `connected_at` broken by id), int_d, int_e.
async fn five_integrations(app: &TestApp, key: &str) -> String {
    let project_id = project_of(app, key).await;
    for (id, at) in [
        ("int_e", NOW + 4_000),
        ("int_c", NOW + 1_000),
        ("int_a", NOW),
        ("int_d", NOW + 2_000),
        ("int_b", NOW + 1_000),
    ] {
        store::insert(&app.services.db, &integration(id, &project_id, at))
            .await
            .unwrap();
    }
    project_id
}

async fn project_of(app: &TestApp, key: &str) -> String {
    let public_id = dashtray_core::auth::key::parse(key).unwrap();
    auth_store::find_key(&app.services.db, public_id)
        .await
        .unwrap()
        .unwrap()
        .principal
        .project_id
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn get(app: &TestApp, key: &str, uri: &str) -> Answer {
    let resp = app
        .client()
        .get(uri)
        .header("Authorization", format!("Bearer {key}"))
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

fn ids(body: &Value) -> Vec<&str> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect()
}

fn link(answer: &Answer) -> Option<&str> {
    answer
        .headers
        .get(header::LINK)
        .map(|v| v.to_str().unwrap())
}

fn assert_problem(answer: &Answer, status: StatusCode, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
    assert_eq!(answer.body["error"], code, "{}", answer.body);
    assert_eq!(answer.body["status"], status.as_u16());
    assert!(answer.body["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
}

on_each_backend! {
    async fn lists_integrations_with_every_field(db: TestDb) {
        let w = world(&db).await;
        let project_id = project_of(&w.app, &w.a_key).await;
        let never_synced = NewIntegration {
            id: "int_new".into(),
            project_id: project_id.clone(),
            provider: "google_analytics".into(),
            name: "GA4".into(),
            status: "syncing".into(),
            connected_at: NOW + 5_000,
            last_sync_at: None,
            metric_ids: vec!["sessions".into(), "bounce_rate".into(), "pageviews".into()],
        };
        let stripe = NewIntegration {
            status: "error".into(),
            metric_ids: vec!["mrr".into(), "churn".into()],
            ..integration("int_old", &project_id, NOW)
        };
        store::insert(&w.app.services.db, &never_synced).await.unwrap();
        store::insert(&w.app.services.db, &stripe).await.unwrap();

        let answer = get(&w.app, &w.a_key, "/api/v1/integrations").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(link(&answer), None, "one page has no neighbours");
        assert_eq!(answer.body, json!({
            "data": [
                {
                    "id": "int_old",
                    "provider": "stripe",
                    "name": "Integration int_old",
                    "status": "error",
                    "connectedAt": NOW,
                    "lastSyncAt": NOW + 60_000,
                    "metricIds": ["churn", "mrr"],
                },
                {
                    "id": "int_new",
                    "provider": "google_analytics",
                    "name": "GA4",
                    "status": "syncing",
                    "connectedAt": NOW + 5_000,
                    "lastSyncAt": null,
                    "metricIds": ["bounce_rate", "pageviews", "sessions"],
                },
            ],
            "pagination": {"limit": 100, "offset": 0, "total": 2, "hasMore": false},
        }));
    }

    async fn orders_by_connection_time_then_id(db: TestDb) {
        let w = world(&db).await;
        five_integrations(&w.app, &w.a_key).await;
        let answer = get(&w.app, &w.a_key, "/api/v1/integrations").await;
        assert_eq!(ids(&answer.body), ["int_a", "int_b", "int_c", "int_d", "int_e"]);
    }

    async fn walks_every_page_once_with_links(db: TestDb) {
        let w = world(&db).await;
        five_integrations(&w.app, &w.a_key).await;
        let mut seen = Vec::new();
        let mut links = Vec::new();
        for offset in [0, 2, 4] {
            let uri = format!("/api/v1/integrations?limit=2&offset={offset}");
            let answer = get(&w.app, &w.a_key, &uri).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
            let page = &answer.body["pagination"];
            assert_eq!(page["limit"], 2);
            assert_eq!(page["offset"], offset);
            assert_eq!(page["total"], 5);
            assert_eq!(page["hasMore"], offset < 4);
            seen.extend(ids(&answer.body).into_iter().map(str::to_owned));
            links.push(link(&answer).map(str::to_owned));
        }
        assert_eq!(seen, ["int_a", "int_b", "int_c", "int_d", "int_e"]);
        assert_eq!(
            links,
            [
                Some(r#"</api/v1/integrations?limit=2&offset=2>; rel="next""#.to_owned()),
                Some(
                    r#"</api/v1/integrations?limit=2&offset=4>; rel="next", </api/v1/integrations?limit=2&offset=0>; rel="prev""#
                        .to_owned()
                ),
                Some(r#"</api/v1/integrations?limit=2&offset=2>; rel="prev""#.to_owned()),
            ]
        );
    }

    async fn an_offset_past_the_end_is_an_empty_page(db: TestDb) {
        let w = world(&db).await;
        five_integrations(&w.app, &w.a_key).await;
        let answer = get(&w.app, &w.a_key, "/api/v1/integrations?offset=10").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body["data"], json!([]));
        assert_eq!(answer.body["pagination"]["total"], 5);
        assert_eq!(answer.body["pagination"]["hasMore"], false);
    }

    async fn refuses_out_of_range_and_malformed_paging(db: TestDb) {
        let w = world(&db).await;
        for (query, parameter) in [
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=abc", "limit"),
            ("offset=-1", "offset"),
        ] {
            let answer = get(&w.app, &w.a_key, &format!("/api/v1/integrations?{query}")).await;
            assert_problem(&answer, StatusCode::BAD_REQUEST, "invalid_parameter");
            assert_eq!(answer.body["details"][0]["parameter"], parameter, "{query}: {}", answer.body);
        }
    }

    async fn gets_one_integration(db: TestDb) {
        let w = world(&db).await;
        let project_id = project_of(&w.app, &w.a_key).await;
        let new = NewIntegration {
            metric_ids: vec!["mrr".into(), "arr".into()],
            ..integration("int_one", &project_id, NOW)
        };
        store::insert(&w.app.services.db, &new).await.unwrap();
        let answer = get(&w.app, &w.a_key, "/api/v1/integrations/int_one").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body, json!({
            "data": {
                "id": "int_one",
                "provider": "stripe",
                "name": "Integration int_one",
                "status": "connected",
                "connectedAt": NOW,
                "lastSyncAt": NOW + 60_000,
                "metricIds": ["arr", "mrr"],
            }
        }));
    }

    async fn another_projects_integration_is_not_found_like_a_missing_one(db: TestDb) {
        let w = world(&db).await;
        let b_project = project_of(&w.app, &w.b_key).await;
        store::insert(&w.app.services.db, &integration("int_theirs", &b_project, NOW))
            .await
            .unwrap();
        let theirs = get(&w.app, &w.a_key, "/api/v1/integrations/int_theirs").await;
        let missing = get(&w.app, &w.a_key, "/api/v1/integrations/int_nothing").await;
        assert_problem(&theirs, StatusCode::NOT_FOUND, "not_found");
        assert_problem(&missing, StatusCode::NOT_FOUND, "not_found");
        assert_eq!(theirs.body["message"], "No integration `int_theirs` in this project.");
        // Alike but for the id asked for and the request id.
        let alike = |body: &Value, id: &str| {
            let mut body: Value = serde_json::from_str(&body.to_string().replace(id, "ID")).unwrap();
            body.as_object_mut().unwrap().remove("requestId");
            body
        };
        assert_eq!(alike(&theirs.body, "int_theirs"), alike(&missing.body, "int_nothing"));
        // The owner still sees it.
        let own = get(&w.app, &w.b_key, "/api/v1/integrations/int_theirs").await;
        assert_eq!(own.status, StatusCode::OK);
    }

    async fn lists_only_the_callers_project(db: TestDb) {
        let w = world(&db).await;
        five_integrations(&w.app, &w.a_key).await;
        let b_project = project_of(&w.app, &w.b_key).await;
        store::insert(&w.app.services.db, &integration("int_b_only", &b_project, NOW))
            .await
            .unwrap();
        let a = get(&w.app, &w.a_key, "/api/v1/integrations").await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(ids(&a.body), ["int_a", "int_b", "int_c", "int_d", "int_e"]);
        assert_eq!(a.body["pagination"]["total"], 5);
        let b = get(&w.app, &w.b_key, "/api/v1/integrations").await;
        assert_eq!(b.status, StatusCode::OK, "{}", b.body);
        assert_eq!(ids(&b.body), ["int_b_only"]);
        assert_eq!(b.body["pagination"]["total"], 1);
    }

    async fn inserting_twice_changes_nothing(db: TestDb) {
        let w = world(&db).await;
        five_integrations(&w.app, &w.a_key).await;
        let before = get(&w.app, &w.a_key, "/api/v1/integrations").await;
        five_integrations(&w.app, &w.a_key).await;
        let after = get(&w.app, &w.a_key, "/api/v1/integrations").await;
        assert_eq!(before.status, StatusCode::OK, "{}", before.body);
        assert_eq!(ids(&before.body).len(), 5, "{}", before.body);
        assert_eq!(before.body, after.body);
    }

    async fn needs_the_integrations_read_scope(db: TestDb) {
        let w = world(&db).await;
        for uri in ["/api/v1/integrations", "/api/v1/integrations/int_a"] {
            let answer = get(&w.app, &w.unscoped_key, uri).await;
            assert_problem(&answer, StatusCode::FORBIDDEN, "insufficient_scope");
        }
    }
}
