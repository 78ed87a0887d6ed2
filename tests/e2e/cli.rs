//! The command line: configuration errors, `--json` output, and the inspection commands.

use std::process::Output;

use dashtray_core::on_each_backend;

use crate::support::{assert_no_key_fragment, cli_json, dashtray, workspace_root, TestDb};

fn run(dir: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    dashtray(dir, env)
        .args(args)
        .output()
        .expect("run dashtray")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `--json` prints exactly one JSON object on stdout.
fn json_stdout(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "failed: {}", stderr(output));
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(text.trim().lines().count(), 1, "one line of JSON: {text}");
    serde_json::from_str(&text).expect("stdout is JSON")
}

#[test]
fn a_bad_backend_from_the_environment_stops_serve_naming_key_and_source() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        dir.path(),
        &[("DASHTRAY_RATELIMIT__BACKEND", "bogus")],
        &["serve", "--bind", "127.0.0.1:0"],
    );
    assert!(!output.status.success());
    let err = stderr(&output);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains("ratelimit.backend"), "{err}");
    assert!(err.contains("DASHTRAY_RATELIMIT__BACKEND"), "{err}");
    assert!(err.contains("bogus"), "{err}");
    assert!(
        !dir.path().join("dashtray.db").exists(),
        "nothing was created"
    );
}

#[test]
fn a_bad_key_in_the_config_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dashtray.toml"),
        "[http]\ncache_max_age = 5\n",
    )
    .unwrap();
    let output = run(dir.path(), &[], &["config"]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("http.cache_max_age"), "{err}");
    assert!(err.contains("dashtray.toml"), "{err}");
}

#[test]
fn a_bad_bind_flag_names_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), &[], &["serve", "--bind", "not-an-address"]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("server.bind") && err.contains("--bind"),
        "{err}"
    );
}

#[test]
fn an_unreachable_database_stops_serve_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        dir.path(),
        &[
            (
                "DASHTRAY_DATABASE__URL",
                "postgres://nobody:secret@127.0.0.1:1/none",
            ),
            ("DASHTRAY_DATABASE__ACQUIRE_TIMEOUT_MS", "2000"),
        ],
        &["serve", "--bind", "127.0.0.1:0"],
    );
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.starts_with("error: cannot open the database"), "{err}");
    assert!(
        !err.contains("secret"),
        "the password is never shown: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn config_shows_the_effective_settings_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dashtray.toml"),
        "[http]\ncache_max_age_secs = 5\n",
    )
    .unwrap();
    let output = run(
        dir.path(),
        &[(
            "DASHTRAY_DATABASE__URL",
            "postgres://app:hunter2@db.internal/dashtray",
        )],
        &["config", "--json"],
    );
    let config = json_stdout(&output);
    assert_eq!(config["http"]["cache_max_age_secs"], 5, "from the file");
    assert_eq!(config["server"]["bind"], "127.0.0.1:8080", "a default");
    assert_eq!(config["ratelimit"]["default_per_hour"], 1000);
    let url = config["database"]["url"].as_str().unwrap();
    assert!(url.contains("***") && !url.contains("hunter2"), "{url}");
}

#[test]
fn plugins_lists_each_plugin_with_its_operations() {
    let dir = tempfile::tempdir().unwrap();
    let listing = json_stdout(&run(dir.path(), &[], &["plugins", "--json"]));
    let plugin = |name: &str| {
        listing["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not listed: {listing}"))
            .clone()
    };
    let operation_ids = |plugin: &serde_json::Value| -> Vec<String> {
        plugin["operations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|op| op["operationId"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(operation_ids(&plugin("core")).contains(&"getHealth".to_owned()));
    let projects = plugin("projects");
    assert_eq!(operation_ids(&projects), ["getProject"]);
    assert_eq!(projects["operations"][0]["scope"], "projects:read");
    assert_eq!(projects["operations"][0]["public"], false);
    assert!(
        !dir.path().join("dashtray.db").exists(),
        "listing touches no database"
    );
}

#[test]
fn openapi_prints_the_committed_document() {
    let dir = tempfile::tempdir().unwrap();
    let printed = json_stdout(&run(dir.path(), &[], &["openapi", "--json"]));
    let yaml = run(dir.path(), &[], &["openapi", "--format", "yaml"]);
    assert!(yaml.status.success());
    let from_yaml: serde_json::Value = serde_yaml::from_slice(&yaml.stdout).unwrap();
    assert_eq!(printed, from_yaml);
    let committed: serde_json::Value = serde_yaml::from_str(
        &std::fs::read_to_string(workspace_root().join("openapi.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(printed, committed, "run `cargo xtask openapi`");
}

#[test]
fn an_unknown_disabled_plugin_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        dir.path(),
        &[("DASHTRAY_PLUGINS__DISABLED", "[\"metrcs\"]")],
        &["plugins"],
    );
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("plugins.disabled") && err.contains("metrcs"),
        "{err}"
    );
}

on_each_backend! {
    async fn migrate_applies_once_then_reports_up_to_date(db: TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let env = [("DASHTRAY_DATABASE__URL", db.url())];
        let first = json_stdout(&run(dir.path(), &env, &["migrate", "--json"]));
        let second = json_stdout(&run(dir.path(), &env, &["migrate", "--json"]));
        let plugins = |v: &serde_json::Value| -> Vec<String> {
            v["plugins"].as_array().unwrap().iter().map(|p| p["plugin"].as_str().unwrap().to_owned()).collect()
        };
        assert!(plugins(&first).contains(&"core".to_owned()));
        for report in second["plugins"].as_array().unwrap() {
            assert_eq!(report["applied"], serde_json::json!([]), "{second}");
        }
        let connected = db.connect().await;
        connected.check(std::time::Duration::from_secs(5)).await.expect("migrated");
    }
}

fn fails_with(db: &TestDb, args: &[&str], expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), &[("DASHTRAY_DATABASE__URL", db.url())], args);
    assert!(!output.status.success(), "{args:?} should fail");
    let err = stderr(&output);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    for part in expected {
        assert!(err.contains(part), "{args:?}: `{part}` not in {err}");
    }
}

on_each_backend! {
    async fn projects_and_keys_round_trip_through_the_cli(db: TestDb) {
        let project = cli_json(&db, &["projects", "create", "--name", "Acme SaaS", "--rate-limit", "5000"]);
        let id = project["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("prj_") && id.len() == 20, "{id}");
        assert_eq!(project["slug"], "acme-saas");
        assert_eq!(project["plan"], "scale", "the default plan has API access");
        assert_eq!(project["rateLimitPerHour"], 5000);

        let updated = cli_json(&db, &["projects", "update", &id, "--plan", "agency", "--no-rate-limit"]);
        assert_eq!(updated["plan"], "agency");
        assert!(updated["rateLimitPerHour"].is_null());

        let listed = cli_json(&db, &["projects", "list"]);
        assert_eq!(listed["projects"].as_array().unwrap().len(), 1);

        let created = cli_json(&db, &["keys", "create", "--project", &id, "--name", "ci", "--scopes", "projects:read,metrics:read", "--expires-in", "30"]);
        let key = created["key"].as_str().unwrap();
        assert!(key.starts_with("dk_"));
        assert_eq!(created["scopes"], serde_json::json!(["metrics:read", "projects:read"]));
        let days_30 = 30 * 86_400_000;
        assert_eq!(created["expiresAt"].as_i64().unwrap() - created["createdAt"].as_i64().unwrap(), days_30);

        let keys = cli_json(&db, &["keys", "list", "--project", &id]);
        let listed_key = &keys["keys"][0];
        assert_eq!(listed_key["id"], created["id"]);
        assert!(listed_key.get("key").is_none() && listed_key.get("keyHash").is_none());
        assert_no_key_fragment(&keys.to_string(), key, "keys list");
    }

    async fn bad_cli_input_is_one_clear_line(db: TestDb) {
        let project = cli_json(&db, &["projects", "create", "--name", "Taken"]);
        let id = project["id"].as_str().unwrap().to_owned();
        fails_with(&db, &["projects", "create", "--name", "Taken"], &["slug", "taken"]);
        fails_with(&db, &["projects", "create", "--name", "X", "--plan", "gold"], &["gold"]);
        fails_with(&db, &["projects", "create", "--name", "Y", "--rate-limit", "0"], &["rate limit"]);
        fails_with(&db, &["projects", "update", "prj_nope", "--plan", "scale"], &["prj_nope"]);
        fails_with(&db, &["keys", "create", "--project", "prj_nope", "--name", "k"], &["prj_nope"]);
        fails_with(&db, &["keys", "create", "--project", &id, "--name", "k", "--scopes", "metrics:write"], &["metrics:write"]);
        fails_with(&db, &["keys", "revoke", "nosuchkey"], &["nosuchkey"]);
    }
}
