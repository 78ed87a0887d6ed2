//! The plugin in process, on both backends: listing with widgets, paging, fetching one,
//! refusing bad parameters, and never showing one project another's dashboards.

use std::sync::Arc;

use dashtray_core::{
    on_each_backend,
    testing::{assert_problem, get, world, TestApp, TestDb},
};
use dashtray_dashboards::{
    store::{self, NewDashboard, NewWidget},
    DashboardsPlugin, SCOPE,
};
use poem::http::StatusCode;
use serde_json::{json, Value};

const NOW: i64 = 1_700_000_000_000;

fn widget(id: &str, widget_type: &str, metric_ids: &[&str], x: i32) -> NewWidget {
    NewWidget {
        id: id.into(),
        widget_type: widget_type.into(),
        title: format!("Widget {id}"),
        metric_ids: metric_ids.iter().map(|m| (*m).to_owned()).collect(),
        x,
        y: 0,
        w: 6,
        h: 4,
    }
}

fn dashboard(id: &str, project_id: &str, created_at: i64) -> NewDashboard {
    NewDashboard {
        id: id.into(),
        project_id: project_id.into(),
        name: format!("Dashboard {id}"),
        description: String::new(),
        created_at,
        updated_at: created_at,
        widgets: vec![widget(&format!("wgt_{id}"), "number", &["mrr"], 0)],
    }
}

/// Five dashboards of the key's project, stored out of order; in list order they are
/// dsh_a, dsh_b, dsh_c (ties on `created_at` broken by id), dsh_d, dsh_e.
async fn five_dashboards(app: &TestApp, project_id: &str) {
    for (id, at) in [
        ("dsh_e", NOW + 4_000),
        ("dsh_c", NOW + 1_000),
        ("dsh_a", NOW),
        ("dsh_d", NOW + 2_000),
        ("dsh_b", NOW + 1_000),
    ] {
        store::insert(&app.services.db, &dashboard(id, project_id, at))
            .await
            .unwrap();
    }
}

/// A dashboard whose widgets are stored in an order their ids would not give.
fn revenue_dashboard(project_id: &str) -> NewDashboard {
    NewDashboard {
        id: "dsh_revenue".into(),
        project_id: project_id.into(),
        name: "Revenue".into(),
        description: "MRR and churn at a glance".into(),
        created_at: NOW,
        updated_at: NOW + 86_400_000,
        widgets: vec![
            NewWidget {
                y: 2,
                w: 12,
                h: 3,
                ..widget("wgt_z", "line", &["mrr", "arr"], 0)
            },
            widget("wgt_a", "number", &["churn"], 6),
            widget("wgt_m", "table", &[], 0),
        ],
    }
}

fn revenue_json() -> Value {
    json!({
        "id": "dsh_revenue",
        "name": "Revenue",
        "description": "MRR and churn at a glance",
        "widgets": [
            {
                "id": "wgt_z",
                "type": "line",
                "title": "Widget wgt_z",
                "metricIds": ["mrr", "arr"],
                "position": {"x": 0, "y": 2, "w": 12, "h": 3},
            },
            {
                "id": "wgt_a",
                "type": "number",
                "title": "Widget wgt_a",
                "metricIds": ["churn"],
                "position": {"x": 6, "y": 0, "w": 6, "h": 4},
            },
            {
                "id": "wgt_m",
                "type": "table",
                "title": "Widget wgt_m",
                "metricIds": [],
                "position": {"x": 0, "y": 0, "w": 6, "h": 4},
            },
        ],
        "createdAt": NOW,
        "updatedAt": NOW + 86_400_000,
    })
}

on_each_backend! {
    async fn lists_dashboards_with_their_widgets_in_position_order(db: TestDb) {
        let w = world(&db, Arc::new(DashboardsPlugin), SCOPE).await;
        let project_id = w.a.id.clone();
        let empty = NewDashboard {
            id: "dsh_empty".into(),
            project_id: project_id.clone(),
            name: "Empty".into(),
            description: String::new(),
            created_at: NOW + 1,
            updated_at: NOW + 1,
            widgets: Vec::new(),
        };
        store::insert(&w.app.services.db, &empty).await.unwrap();
        store::insert(&w.app.services.db, &revenue_dashboard(&project_id)).await.unwrap();

        let answer = get(&w.app, &w.a.key, "/api/v1/dashboards").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.link(), None, "one page has no neighbours");
        assert_eq!(answer.body, json!({
            "data": [
                revenue_json(),
                {
                    "id": "dsh_empty",
                    "name": "Empty",
                    "description": "",
                    "widgets": [],
                    "createdAt": NOW + 1,
                    "updatedAt": NOW + 1,
                },
            ],
            "pagination": {"limit": 100, "offset": 0, "total": 2, "hasMore": false},
        }));
    }

    async fn orders_by_creation_time_then_id(db: TestDb) {
        let w = world(&db, Arc::new(DashboardsPlugin), SCOPE).await;
        five_dashboards(&w.app, &w.a.id).await;
        let answer = get(&w.app, &w.a.key, "/api/v1/dashboards").await;
        assert_eq!(answer.ids(), ["dsh_a", "dsh_b", "dsh_c", "dsh_d", "dsh_e"]);
        // Each page row carries its own widgets, not a neighbour's.
        for dashboard in answer.body["data"].as_array().unwrap() {
            let own = format!("wgt_{}", dashboard["id"].as_str().unwrap());
            assert_eq!(dashboard["widgets"][0]["id"], own.as_str());
            assert_eq!(dashboard["widgets"].as_array().unwrap().len(), 1);
        }
    }

    async fn walks_every_page_once_with_links(db: TestDb) {
        let w = world(&db, Arc::new(DashboardsPlugin), SCOPE).await;
        five_dashboards(&w.app, &w.a.id).await;
        let mut seen = Vec::new();
        let mut links = Vec::new();
        for offset in [0, 2, 4] {
            let uri = format!("/api/v1/dashboards?limit=2&offset={offset}");
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
        assert_eq!(seen, ["dsh_a", "dsh_b", "dsh_c", "dsh_d", "dsh_e"]);
        assert_eq!(
            links,
            [
                Some(r#"</api/v1/dashboards?limit=2&offset=2>; rel="next""#.to_owned()),
                Some(
                    r#"</api/v1/dashboards?limit=2&offset=4>; rel="next", </api/v1/dashboards?limit=2&offset=0>; rel="prev""#
                        .to_owned()
                ),
                Some(r#"</api/v1/dashboards?limit=2&offset=2>; rel="prev""#.to_owned()),
            ]
        );
    }

    async fn an_offset_past_the_end_is_an_empty_page(db: TestDb) {
        let w = world(&db, Arc::new(DashboardsPlugin), SCOPE).await;
        five_dashboards(&w.app, &w.a.id).await;
        let answer = get(&w.app, &w.a.key, "/api/v1/dashboards?offset=10").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body["data"], json!([]));
        assert_eq!(answer.body["pagination"]["total"], 5);
        assert_eq!(answer.body["pagination"]["hasMore"], false);
    }

    async fn refuses_out_of_range_and_malformed_paging(db: TestDb) {
        let w = world(&db, Arc::new(DashboardsPlugin), SCOPE).await;
        for (query, parameter) in [
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=abc", "limit"),
            ("offset=-1", "offset"),
        ] {
            let answer = get(&w.app, &w.a.key, &format!("/api/v1/dashboards?{query}")).await;
            assert_problem(&answer, StatusCode::BAD_REQUEST, "invalid_parameter");
            assert_eq!(answer.body["details"][0]["parameter"], parameter, "{query}: {}", answer.body);
        }
    }

    async fn gets_one_dashboard(db: TestDb) {
        let w = world(&db, Arc::new(DashboardsPlugin), SCOPE).await;
        let project_id = w.a.id.clone();
        store::insert(&w.app.services.db, &revenue_dashboard(&project_id)).await.unwrap();
        let answer = get(&w.app, &w.a.key, "/api/v1/dashboards/dsh_revenue").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body, json!({"data": revenue_json()}));
    }

    async fn another_projects_dashboard_is_not_found_like_a_missing_one(db: TestDb) {
        let w = world(&db, Arc::new(DashboardsPlugin), SCOPE).await;
        let b_project = w.b.id.clone();
        store::insert(&w.app.services.db, &dashboard("dsh_theirs", &b_project, NOW))
            .await
            .unwrap();
        let theirs = get(&w.app, &w.a.key, "/api/v1/dashboards/dsh_theirs").await;
        let missing = get(&w.app, &w.a.key, "/api/v1/dashboards/dsh_nothing").await;
        assert_problem(&theirs, StatusCode::NOT_FOUND, "not_found");
        assert_problem(&missing, StatusCode::NOT_FOUND, "not_found");
        assert_eq!(theirs.body["message"], "No dashboard `dsh_theirs` in this project.");
        // Alike but for the id asked for and the request id.
        let alike = |body: &Value, id: &str| {
            let mut body: Value = serde_json::from_str(&body.to_string().replace(id, "ID")).unwrap();
            body.as_object_mut().unwrap().remove("requestId");
            body
        };
        assert_eq!(alike(&theirs.body, "dsh_theirs"), alike(&missing.body, "dsh_nothing"));
        // The owner still sees it.
        let own = get(&w.app, &w.b.key, "/api/v1/dashboards/dsh_theirs").await;
        assert_eq!(own.status, StatusCode::OK);
    }

    async fn lists_only_the_callers_project(db: TestDb) {
        let w = world(&db, Arc::new(DashboardsPlugin), SCOPE).await;
        five_dashboards(&w.app, &w.a.id).await;
        let b_project = w.b.id.clone();
        store::insert(&w.app.services.db, &dashboard("dsh_b_only", &b_project, NOW))
            .await
            .unwrap();
        let a = get(&w.app, &w.a.key, "/api/v1/dashboards").await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(a.ids(), ["dsh_a", "dsh_b", "dsh_c", "dsh_d", "dsh_e"]);
        assert_eq!(a.body["pagination"]["total"], 5);
        let b = get(&w.app, &w.b.key, "/api/v1/dashboards").await;
        assert_eq!(b.status, StatusCode::OK, "{}", b.body);
        assert_eq!(b.ids(), ["dsh_b_only"]);
        assert_eq!(b.body["pagination"]["total"], 1);
    }

    async fn inserting_twice_changes_nothing(db: TestDb) {
        let w = world(&db, Arc::new(DashboardsPlugin), SCOPE).await;
        five_dashboards(&w.app, &w.a.id).await;
        let before = get(&w.app, &w.a.key, "/api/v1/dashboards").await;
        five_dashboards(&w.app, &w.a.id).await;
        let after = get(&w.app, &w.a.key, "/api/v1/dashboards").await;
        assert_eq!(before.status, StatusCode::OK, "{}", before.body);
        assert_eq!(before.ids().len(), 5, "{}", before.body);
        assert_eq!(before.body, after.body);
    }

    async fn needs_the_dashboards_read_scope(db: TestDb) {
        let w = world(&db, Arc::new(DashboardsPlugin), SCOPE).await;
        for uri in ["/api/v1/dashboards", "/api/v1/dashboards/dsh_a"] {
            let answer = get(&w.app, &w.unscoped_key, uri).await;
            assert_problem(&answer, StatusCode::FORBIDDEN, "insufficient_scope");
        }
    }
}
