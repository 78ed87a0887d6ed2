//! Operation policies at mount: a plugin's `public` and `uncounted` name its own
//! operations only; a misspelt id or another plugin's operation stops the mount, naming
//! the plugin (and the owner), and what is declared reaches the document.

use std::sync::Arc;

use dashtray_core::{Config, Mounted, Plugin, PluginContext, PluginError, Registry};
use poem::{endpoint::make_sync, EndpointExt};
use serde_json::json;

/// A plugin with one operation, `list<Name>`, declaring `public` and `uncounted`.
struct Declaring {
    name: &'static str,
    public: &'static [&'static str],
    uncounted: &'static [&'static str],
}

impl Plugin for Declaring {
    fn name(&self) -> &str {
        self.name
    }

    fn mount(&self, _cx: &PluginContext) -> Result<Mounted, PluginError> {
        let spec = json!({"paths": {format!("/{}", self.name): {"get": {
            "operationId": operation_of(self.name),
            "responses": {"200": {"description": "ok"}}
        }}}});
        let endpoint = make_sync(|_| "").map_to_response().boxed();
        Ok(Mounted::new(endpoint, spec)
            .scope(&format!("{}:read", self.name))
            .public(self.public)
            .uncounted(self.uncounted))
    }
}

fn operation_of(name: &str) -> String {
    let mut chars = name.chars();
    let first = chars.next().expect("a name").to_ascii_uppercase();
    format!("list{first}{}", chars.as_str())
}

fn plugin(
    name: &'static str,
    public: &'static [&'static str],
    uncounted: &'static [&'static str],
) -> Arc<dyn Plugin> {
    Arc::new(Declaring {
        name,
        public,
        uncounted,
    })
}

async fn mount(plugins: Vec<Arc<dyn Plugin>>) -> Result<serde_json::Value, String> {
    let registry = Registry::new(plugins).expect("unique names");
    registry
        .document(&Config::default())
        .await
        .map(|document| document.value().clone())
        .map_err(|err| format!("{err:#}"))
}

#[tokio::test]
async fn a_misspelt_operation_id_is_a_mount_error_naming_the_plugin() {
    for stray in [
        plugin("things", &["listThing"], &[]),
        plugin("things", &[], &["listThing"]),
    ] {
        let err = mount(vec![stray]).await.unwrap_err();
        assert!(
            err.contains("plugin `things`") && err.contains("`listThing`"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_plugin_cannot_set_the_policy_of_another_plugin_s_operation() {
    for stray in [
        plugin("intruder", &["listThings"], &[]),
        plugin("intruder", &[], &["listThings"]),
    ] {
        let err = mount(vec![plugin("things", &[], &[]), stray])
            .await
            .unwrap_err();
        assert!(
            err.contains("plugin `intruder`")
                && err.contains("`listThings`")
                && err.contains("plugin `things`"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn declared_policies_reach_the_document() {
    let document = mount(vec![
        plugin("things", &[], &["listThings"]),
        plugin("open", &["listOpen"], &[]),
    ])
    .await
    .unwrap();
    let things = &document["paths"]["/api/v1/things"]["get"];
    assert_eq!(things["x-dashtray-scope"], "things:read");
    assert!(things.get("security").is_some(), "keyed: {things}");
    let open = &document["paths"]["/api/v1/open"]["get"];
    assert!(open.get("security").is_none(), "public: {open}");
    assert!(open.get("x-dashtray-scope").is_none(), "public: {open}");

    let registry = Registry::new(vec![plugin("things", &[], &["listThings"])]).unwrap();
    let operations = registry.operations(&Config::default()).await.unwrap();
    let things = operations
        .iter()
        .find(|op| op.operation_id == "listThings")
        .unwrap();
    assert!(!things.counted && !things.public, "{things:?}");
}
