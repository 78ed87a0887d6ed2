//! A project with a key and points, in process on a test database.
#![allow(dead_code)]

use std::sync::Arc;

use dashtray_core::{
    clock::SystemClock,
    testing::{TestApp, TestDb},
    Config,
};
use dashtray_metrics::{
    store::{insert, NewPoint},
    MetricsPlugin, SCOPE,
};
use poem::test::TestResponse;

pub struct Fixture {
    pub app: TestApp,
    pub project_id: String,
    pub key: String,
    pub other_project_id: String,
    pub other_key: String,
}

pub async fn fixture(db: &TestDb) -> Fixture {
    let app = TestApp::start(
        db,
        vec![Arc::new(MetricsPlugin)],
        Config::default(),
        Arc::new(SystemClock),
    )
    .await;
    let alpha = app.new_project(&[SCOPE]).await;
    let beta = app.new_project(&[SCOPE]).await;
    Fixture {
        app,
        project_id: alpha.id,
        key: alpha.key,
        other_project_id: beta.id,
        other_key: beta.key,
    }
}

impl Fixture {
    /// Writes `(metric, value, timestamp)` points to `project`, ids in order p000, p001, …
    pub async fn points(&self, project: &str, points: &[(&str, f64, i64)]) {
        let rows: Vec<NewPoint> = points
            .iter()
            .enumerate()
            .map(|(i, (metric, value, ts))| NewPoint {
                id: format!("pt_{project}_{i:04}"),
                project_id: project.to_owned(),
                metric_id: (*metric).to_owned(),
                integration_id: None,
                value: *value,
                timestamp: *ts,
            })
            .collect();
        let mut tx = self.app.services.db.begin().await.unwrap();
        insert(&mut tx, &rows).await.unwrap();
        tx.commit().await.unwrap();
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.get_as(&self.key, path).await
    }

    pub async fn get_as(&self, key: &str, path: &str) -> TestResponse {
        self.app
            .client()
            .get(path)
            .header("Authorization", format!("Bearer {key}"))
            .send()
            .await
    }
}

/// Milliseconds of an RFC 3339 date-time.
pub fn ms(date: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(date)
        .unwrap()
        .timestamp_millis()
}

/// The body as JSON.
pub async fn json(resp: TestResponse) -> serde_json::Value {
    serde_json::from_str(&resp.0.into_body().into_string().await.unwrap()).unwrap()
}
