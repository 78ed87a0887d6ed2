//! Dynamic plugins, from the example's shared library: loaded from `plugins.dir`, served
//! behind the same auth and budget as built-in routes, documented in the served
//! document only; a library of another ABI version and a panicking handler are survived.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{Mutex, OnceLock},
};

use reqwest::StatusCode;

use crate::support::{dashtray, get_with_auth, workspace_root, Server, TestDb};
use dashtray_core::testing::Backend;

/// Builds the example plugin (with `features`) and returns a copy of its library that
/// belongs to this variant. `cargo test` neither builds cdylibs of other crates nor lets a
/// test share its target folder, so the variants share one of their own: dependencies
/// compile once, and cargo's lock on it runs the builds one after another.
fn build(features: &str) -> PathBuf {
    let root = workspace_root();
    let fixtures = root.join("target/plugin-fixtures");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", fixtures.join("target"))
        .args([
            "build",
            "--quiet",
            "--offline",
            "-p",
            "dashtray-plugin-goals",
        ]);
    if !features.is_empty() {
        cargo.args(["--features", features]);
    }
    let output = cargo.output().expect("run cargo");
    assert!(
        output.status.success(),
        "building the plugin failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let file = format!(
        "{}dashtray_plugin_goals{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    // The next variant's build overwrites target/debug: each keeps its own copy.
    let variant = fixtures.join(if features.is_empty() {
        "plain"
    } else {
        features
    });
    std::fs::create_dir_all(&variant).expect("fixture folder");
    let built = fixtures.join("target/debug").join(&file);
    std::fs::copy(&built, variant.join(&file)).expect("copy the built library");
    variant.join(file)
}

/// One build per variant per test run; one build at a time, so that a variant's copy is
/// taken before the next build replaces the library.
fn library(features: &'static str) -> PathBuf {
    static PLAIN: OnceLock<PathBuf> = OnceLock::new();
    static WRONG_ABI: OnceLock<PathBuf> = OnceLock::new();
    static PANICS: OnceLock<PathBuf> = OnceLock::new();
    static FOREIGN_PUBLIC: OnceLock<PathBuf> = OnceLock::new();
    static BUILDING: Mutex<()> = Mutex::new(());
    let cell = match features {
        "" => &PLAIN,
        "fixture-wrong-abi" => &WRONG_ABI,
        "fixture-foreign-public" => &FOREIGN_PUBLIC,
        "fixture-panic" => &PANICS,
        other => panic!("no fixture `{other}`"),
    };
    cell.get_or_init(|| {
        let _one_at_a_time = BUILDING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        build(features)
    })
    .clone()
}

/// A project and a key made with the plugins loaded, so the key gets their scopes too.
fn project_with_plugin_key(db: &TestDb, name: &str, plugins: &str) -> (String, String) {
    let scratch = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| -> serde_json::Value {
        let output = dashtray(
            scratch.path(),
            &[
                ("DASHTRAY_DATABASE__URL", db.url()),
                ("DASHTRAY_PLUGINS__DIR", plugins),
            ],
        )
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let project = run(&["projects", "create", "--name", name]);
    let id = project["id"].as_str().unwrap().to_owned();
    let key = run(&["keys", "create", "--project", &id, "--name", "k"]);
    assert!(
        key["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "goals:read"),
        "{key}"
    );
    (id, key["key"].as_str().unwrap().to_owned())
}

/// A plugins folder holding `library` under the name the loader looks for.
fn plugins_dir(library: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(library, dir.path().join(library.file_name().unwrap())).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamic_route_is_served_like_a_built_in_one() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let dir = plugins_dir(&library(""));
    let plugins = dir.path().to_str().unwrap();
    let (project_id, key) = project_with_plugin_key(&db, "Goal Setters", plugins);
    let targets = "{ mrr = 60000, signups = 120 }";
    let own = format!("{{ {project_id} = {{ mrr = 75000 }} }}");
    let env = [
        ("DASHTRAY_PLUGINS__DIR", plugins),
        ("DASHTRAY_PLUGIN__GOALS__TARGETS", targets),
        ("DASHTRAY_PLUGIN__GOALS__PROJECTS", own.as_str()),
    ];
    let server = Server::on(&db, &env);
    let bearer = format!("Bearer {key}");

    let (status, headers, body) = get_with_auth(&server.url("/api/v1/goals"), Some(&bearer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"],
        serde_json::json!([{"metricId": "mrr", "target": 75000.0}, {"metricId": "signups", "target": 120.0}])
    );
    assert_eq!(headers["x-ratelimit-remaining"], "999");
    let (_, headers, _) = get_with_auth(&server.url("/api/v1/projects"), Some(&bearer)).await;
    assert_eq!(
        headers["x-ratelimit-remaining"], "998",
        "one budget for built-in and dynamic routes"
    );

    let (status, headers, body) = get_with_auth(&server.url("/api/v1/goals"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"dashtray\"");
    assert_eq!(body["error"], "unauthorized");

    let (_, _, served) = get_with_auth(&server.url("/api/v1/openapi.json"), None).await;
    let goals = &served["paths"]["/api/v1/goals"]["get"];
    assert_eq!(goals["operationId"], "listGoals");
    assert_eq!(goals["x-dashtray-scope"], "goals:read");
    assert!(
        goals["responses"].get("429").is_some(),
        "core's shared answers are added to it"
    );
    let committed = std::fs::read_to_string(workspace_root().join("openapi.yaml")).unwrap();
    assert!(
        !committed.contains("/api/v1/goals"),
        "openapi.yaml describes the built-in set"
    );

    let listing = dashtray(
        server.dir.path(),
        &[
            ("DASHTRAY_DATABASE__URL", db.url()),
            ("DASHTRAY_PLUGINS__DIR", plugins),
        ],
    )
    .args(["plugins", "--json"])
    .output()
    .unwrap();
    let listing: serde_json::Value = serde_json::from_slice(&listing.stdout).unwrap();
    let entry = listing["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "goals")
        .unwrap()
        .clone();
    assert_eq!(entry["kind"], "dynamic");
    assert_eq!(entry["abiVersion"], 1);
    assert!(entry["file"]
        .as_str()
        .unwrap()
        .ends_with(std::env::consts::DLL_SUFFIX));
}

/// With the fixture `features` in `plugins.dir`, `serve` stops and says why (its stderr
/// is returned); with `plugins.skip_invalid`, the server serves without the library,
/// which its log says it skipped. The server is returned for more checks.
async fn refused_then_skipped(db: &TestDb, features: &'static str, dir: &Path) -> (String, Server) {
    let plugins = dir.to_str().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let output = dashtray(
        scratch.path(),
        &[
            ("DASHTRAY_DATABASE__URL", db.url()),
            ("DASHTRAY_PLUGINS__DIR", plugins),
        ],
    )
    .args(["serve", "--bind", "127.0.0.1:0"])
    .output()
    .unwrap();
    assert!(!output.status.success(), "{features}: start-up stops");
    let err = String::from_utf8_lossy(&output.stderr).into_owned();

    let server = Server::on(
        db,
        &[
            ("DASHTRAY_PLUGINS__DIR", plugins),
            ("DASHTRAY_PLUGINS__SKIP_INVALID", "true"),
        ],
    );
    let (status, _, _) = get_with_auth(&server.url("/api/v1/health"), None).await;
    assert_eq!(status, StatusCode::OK, "skipped, and serving");
    let (status, _, _) = get_with_auth(&server.url("/api/v1/goals"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the library is skipped");
    assert!(
        server.logs().contains("skipping a dynamic plugin"),
        "{}",
        server.logs()
    );
    (err, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_library_of_another_abi_version_stops_start_up_or_is_skipped() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let dir = plugins_dir(&library("fixture-wrong-abi"));
    let (err, _server) = refused_then_skipped(&db, "fixture-wrong-abi", dir.path()).await;
    assert!(
        err.contains("dashtray_plugin_goals") && err.contains("ABI version 2"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_library_making_another_plugin_s_operation_public_stops_start_up_or_is_skipped() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let dir = plugins_dir(&library("fixture-foreign-public"));
    let (err, server) = refused_then_skipped(&db, "fixture-foreign-public", dir.path()).await;
    assert!(
        err.contains("dashtray_plugin_goals")
            && err.contains("`getProject`")
            && err.contains("plugin `projects`"),
        "names the library, the operation and its owner: {err}"
    );
    let (status, _, _) = get_with_auth(&server.url("/api/v1/projects"), None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "getProject still needs a key"
    );
    assert!(server.logs().contains("getProject"), "{}", server.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_a_500_and_the_server_keeps_serving() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let dir = plugins_dir(&library("fixture-panic"));
    let plugins = dir.path().to_str().unwrap();
    let (_, key) = project_with_plugin_key(&db, "Panicky", plugins);
    let server = Server::on(&db, &[("DASHTRAY_PLUGINS__DIR", plugins)]);
    let bearer = format!("Bearer {key}");
    for _ in 0..2 {
        let (status, headers, body) =
            get_with_auth(&server.url("/api/v1/goals"), Some(&bearer)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(headers["content-type"], "application/problem+json");
        assert_eq!(body["error"], "internal");
        assert!(
            !body.to_string().contains("panicked"),
            "no internals: {body}"
        );
    }
    let (status, _, _) = get_with_auth(&server.url("/api/v1/projects"), Some(&bearer)).await;
    assert_eq!(status, StatusCode::OK, "the server keeps serving");
    assert!(
        server.logs().contains("the plugin panicked"),
        "the log has the cause"
    );
}
