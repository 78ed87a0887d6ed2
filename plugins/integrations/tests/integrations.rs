//! The plugin in process, on both backends: listing, paging, fetching one, refusing bad
//! parameters, and never showing one project another's integrations.

use std::sync::Arc;

use dashtray_core::{
    on_each_backend,
    testing::{assert_problem, get, world, TestApp, TestDb},
};
use dashtray_integrations::{
    store::{self, NewIntegration},
    IntegrationsPlugin, SCOPE,
};
use poem::http::StatusCode;
use serde_json::{json, Value};

const NOW: i64 = 1_700_000_000_000;

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

/// Five integrations of the project, stored out of order; in list order they are
/// int_a, int_b, int_c (ties on `connected_at` broken by id), int_d, int_e.
async fn five_integrations(app: &TestApp, project_id: &str) {
    for (id, at) in [
        ("int_e", NOW + 4_000),
        ("int_c", NOW + 1_000),
        ("int_a", NOW),
        ("int_d", NOW + 2_000),
        ("int_b", NOW + 1_000),
    ] {
        store::insert(&app.services.db, &integration(id, project_id, at))
            .await
            .unwrap();
    }
}

on_each_backend! {
    async fn lists_integrations_with_every_field(db: TestDb) {
        let w = world(&db, Arc::new(IntegrationsPlugin), SCOPE).await;
        let project_id = w.a.id.clone();
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

        let answer = get(&w.app, &w.a.key, "/api/v1/integrations").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.link(), None, "one page has no neighbours");
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
        let w = world(&db, Arc::new(IntegrationsPlugin), SCOPE).await;
        five_integrations(&w.app, &w.a.id).await;
        let answer = get(&w.app, &w.a.key, "/api/v1/integrations").await;
        assert_eq!(answer.ids(), ["int_a", "int_b", "int_c", "int_d", "int_e"]);
    }

    async fn walks_every_page_once_with_links(db: TestDb) {
        let w = world(&db, Arc::new(IntegrationsPlugin), SCOPE).await;
        five_integrations(&w.app, &w.a.id).await;
        let mut seen = Vec::new();
        let mut links = Vec::new();
        for offset in [0, 2, 4] {
            let uri = format!("/api/v1/integrations?limit=2&offset={offset}");
            let answer = get(&w.app, &w.a.key, &uri).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
            let page = &answer.body["pagination"];
            assert_eq!(page["limit"], 2);
            assert_eq!(page["offset"], offset);
            assert_eq!(page["total"], 5);
            assert_eq!(page["hasMore"], offset < 4);
            seen.extend(answer.ids().into_iter().map(str::to_owned));
            links.push(answer.link().map(str::to_owned));
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
        let w = world(&db, Arc::new(IntegrationsPlugin), SCOPE).await;
        five_integrations(&w.app, &w.a.id).await;
        let answer = get(&w.app, &w.a.key, "/api/v1/integrations?offset=10").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body["data"], json!([]));
        assert_eq!(answer.body["pagination"]["total"], 5);
        assert_eq!(answer.body["pagination"]["hasMore"], false);
    }

    async fn refuses_out_of_range_and_malformed_paging(db: TestDb) {
        let w = world(&db, Arc::new(IntegrationsPlugin), SCOPE).await;
        for (query, parameter) in [
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=abc", "limit"),
            ("offset=-1", "offset"),
        ] {
            let answer = get(&w.app, &w.a.key, &format!("/api/v1/integrations?{query}")).await;
            assert_problem(&answer, StatusCode::BAD_REQUEST, "invalid_parameter");
            assert_eq!(answer.body["details"][0]["parameter"], parameter, "{query}: {}", answer.body);
        }
    }

    async fn gets_one_integration(db: TestDb) {
        let w = world(&db, Arc::new(IntegrationsPlugin), SCOPE).await;
        let project_id = w.a.id.clone();
        let new = NewIntegration {
            metric_ids: vec!["mrr".into(), "arr".into()],
            ..integration("int_one", &project_id, NOW)
        };
        store::insert(&w.app.services.db, &new).await.unwrap();
        let answer = get(&w.app, &w.a.key, "/api/v1/integrations/int_one").await;
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
        let w = world(&db, Arc::new(IntegrationsPlugin), SCOPE).await;
        let b_project = w.b.id.clone();
        store::insert(&w.app.services.db, &integration("int_theirs", &b_project, NOW))
            .await
            .unwrap();
        let theirs = get(&w.app, &w.a.key, "/api/v1/integrations/int_theirs").await;
        let missing = get(&w.app, &w.a.key, "/api/v1/integrations/int_nothing").await;
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
        let own = get(&w.app, &w.b.key, "/api/v1/integrations/int_theirs").await;
        assert_eq!(own.status, StatusCode::OK);
    }

    async fn lists_only_the_callers_project(db: TestDb) {
        let w = world(&db, Arc::new(IntegrationsPlugin), SCOPE).await;
        five_integrations(&w.app, &w.a.id).await;
        let b_project = w.b.id.clone();
        store::insert(&w.app.services.db, &integration("int_b_only", &b_project, NOW))
            .await
            .unwrap();
        let a = get(&w.app, &w.a.key, "/api/v1/integrations").await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(a.ids(), ["int_a", "int_b", "int_c", "int_d", "int_e"]);
        assert_eq!(a.body["pagination"]["total"], 5);
        let b = get(&w.app, &w.b.key, "/api/v1/integrations").await;
        assert_eq!(b.status, StatusCode::OK, "{}", b.body);
        assert_eq!(b.ids(), ["int_b_only"]);
        assert_eq!(b.body["pagination"]["total"], 1);
    }

    async fn inserting_twice_changes_nothing(db: TestDb) {
        let w = world(&db, Arc::new(IntegrationsPlugin), SCOPE).await;
        five_integrations(&w.app, &w.a.id).await;
        let before = get(&w.app, &w.a.key, "/api/v1/integrations").await;
        five_integrations(&w.app, &w.a.id).await;
        let after = get(&w.app, &w.a.key, "/api/v1/integrations").await;
        assert_eq!(before.status, StatusCode::OK, "{}", before.body);
        assert_eq!(before.ids().len(), 5, "{}", before.body);
        assert_eq!(before.body, after.body);
    }

    async fn needs_the_integrations_read_scope(db: TestDb) {
        let w = world(&db, Arc::new(IntegrationsPlugin), SCOPE).await;
        for uri in ["/api/v1/integrations", "/api/v1/integrations/int_a"] {
            let answer = get(&w.app, &w.unscoped_key, uri).await;
            assert_problem(&answer, StatusCode::FORBIDDEN, "insufficient_scope");
        }
    }
}
