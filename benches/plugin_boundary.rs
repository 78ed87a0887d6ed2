//! What the dynamic-plugin boundary costs per request: `GET /api/v1/goals` served by the
//! example plugin loaded from its shared library, against the same `Goals` logic mounted
//! as a static plugin, in the same in-process app (same auth, limiter, layers, key).
//!
//! `cargo bench -p dashtray --bench plugin_boundary`
//!
//! The difference between the two is what the C ABI adds: the request envelope as JSON,
//! the call on a blocking thread, the answer parsed back into a response.

use std::{path::PathBuf, process::Command, sync::Arc};

use criterion::{criterion_group, criterion_main, Criterion};
use dashtray_core::{
    clock::SystemClock,
    testing::{Backend, TestApp, TestDb},
    Config, Mounted, Plugin, PluginContext, PluginError, Principal,
};
use dashtray_plugin_abi::{Caller, DynamicPlugin, Request};
use dashtray_plugin_goals::Goals;
use poem::web::Data;
use poem_openapi::{payload::PlainText, OpenApi};

const SCOPE: &str = "goals:read";

/// The static twin: the example's own `Goals`, called directly from a poem-openapi
/// handler, its body passed through as it is.
struct StaticGoals(Arc<Goals>);

struct StaticGoalsApi(Arc<Goals>);

#[OpenApi]
impl StaticGoalsApi {
    #[oai(path = "/goals", method = "get", operation_id = "listGoals")]
    async fn list(&self, principal: Data<&Principal>) -> PlainText<String> {
        let request = Request {
            method: "GET".into(),
            path: "/goals".into(),
            query: String::new(),
            headers: Vec::new(),
            body: String::new(),
            caller: Some(Caller {
                project_id: principal.project_id.clone(),
                plan: "scale".into(),
                scopes: principal.scopes.iter().cloned().collect(),
                key_id: principal.key_id.clone(),
            }),
        };
        PlainText(self.0.handle(request).body)
    }
}

impl Plugin for StaticGoals {
    fn name(&self) -> &str {
        "goals"
    }

    fn mount(&self, _cx: &PluginContext) -> Result<Mounted, PluginError> {
        Ok(Mounted::from_api(StaticGoalsApi(self.0.clone()))?.scope(SCOPE))
    }
}

fn goals_config() -> serde_json::Value {
    serde_json::json!({"targets": {"mrr": 60000, "signups": 120, "churn_rate": 2.5}})
}

/// Builds the example as a release cdylib in the side target folder the end-to-end tests
/// use (the bench's own is locked by cargo while it runs) and returns a folder holding it.
fn built_library() -> tempfile::TempDir {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target/plugin-fixtures/target");
    let status = Command::new(env!("CARGO"))
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", &target)
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "dashtray-plugin-goals",
        ])
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the example plugin failed");
    let file = format!(
        "{}dashtray_plugin_goals{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let dir = tempfile::tempdir().expect("plugins folder");
    std::fs::copy(target.join("release").join(&file), dir.path().join(&file))
        .expect("copy the library");
    dir
}

async fn app(db: &TestDb, plugin: Arc<dyn Plugin>) -> (TestApp, String) {
    let mut config = Config::default();
    config.plugin.insert("goals".into(), goals_config());
    let app = TestApp::start(db, vec![plugin], config, Arc::new(SystemClock)).await;
    let bearer = app.bearer_for_new_project(&[SCOPE]).await;
    (app, bearer)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let folder = built_library();
    let mut loaded = dashtray_core::dynamic::load_dir(folder.path(), false).expect("load");
    let dynamic = loaded.pop().expect("the goals library");
    let goals = Goals::init(goals_config()).expect("goals config");
    let twins: [(&str, Arc<dyn Plugin>); 2] = [
        (
            "plugin_boundary/static",
            Arc::new(StaticGoals(Arc::new(goals))),
        ),
        ("plugin_boundary/dynamic", dynamic),
    ];
    for (name, plugin) in twins {
        let db = rt.block_on(TestDb::new(Backend::Sqlite)).expect("SQLite");
        let (app, bearer) = rt.block_on(app(&db, plugin));
        // The same answer both ways, or the comparison means nothing.
        rt.block_on(async {
            let resp = app
                .client()
                .get("/api/v1/goals")
                .header("Authorization", &bearer)
                .send()
                .await;
            resp.assert_status_is_ok();
            resp.assert_text(r#"{"data":[{"metricId":"churn_rate","target":2.5},{"metricId":"mrr","target":60000.0},{"metricId":"signups","target":120.0}]}"#)
                .await;
        });
        c.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                app.client()
                    .get("/api/v1/goals")
                    .header("Authorization", &bearer)
                    .send()
                    .await
                    .assert_status_is_ok()
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
