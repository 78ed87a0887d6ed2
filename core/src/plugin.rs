//! The plugin contract: what a plugin gives the framework, and what it gets from it.
//!
//! A plugin owns one resource: its tables (as [`Migration`]s), its routes and its part of
//! the OpenAPI document. Routes and spec come from the same poem-openapi type, so they
//! cannot disagree; core merges every plugin's document into the one it serves.

use std::{
    collections::{BTreeSet, HashMap},
    marker::PhantomData,
    sync::Arc,
};

use poem::{endpoint::BoxEndpoint, http::Method, Response};
use poem_openapi::{
    registry::{MetaApi, Registry},
    OpenApi, OpenApiService,
};

use crate::{clock::SharedClock, config::Config, db::Db, migrate::Migration, services::Services};

pub trait Plugin: Send + Sync + 'static {
    /// Unique among loaded plugins; also the default tag of its operations.
    fn name(&self) -> &str;

    /// The plugin's own tables, applied at `migrate` and `serve`.
    fn migrations(&self) -> Vec<Migration> {
        Vec::new()
    }

    /// The `<plugin>.<event>` types the plugin publishes through
    /// [`PluginContext::events`], which webhook endpoints may then subscribe to.
    fn event_types(&self) -> Vec<String> {
        Vec::new()
    }

    /// Builds the plugin's routes and their spec.
    fn mount(&self, cx: &PluginContext) -> Result<Mounted, PluginError>;

    /// For a dynamic plugin: the library it was loaded from and its ABI version.
    fn origin(&self) -> Option<(std::path::PathBuf, u32)> {
        None
    }
}

/// What a plugin gets at mount time.
#[derive(Clone)]
pub struct PluginContext {
    services: Services,
    config: serde_json::Value,
}

impl PluginContext {
    pub fn new(services: Services, config: serde_json::Value) -> Self {
        PluginContext { services, config }
    }

    pub fn db(&self) -> &Db {
        &self.services.db
    }

    pub(crate) fn services(&self) -> &Services {
        &self.services
    }

    pub fn clock(&self) -> &SharedClock {
        &self.services.clock
    }

    /// The plugin's own section, `[plugin.<name>]` in the configuration (`{}` if absent).
    pub fn config(&self) -> &serde_json::Value {
        &self.config
    }

    /// The whole server configuration, for plugins that follow server-wide settings.
    pub fn settings(&self) -> &Config {
        &self.services.config
    }

    /// Publishing the plugin's `<plugin>.<event>` events, inside the transaction of the
    /// change each announces.
    pub fn events(&self) -> crate::events::Events {
        crate::events::Events::new(self.services.clock.clone())
    }
}

/// A mounted plugin: its endpoints and the OpenAPI document describing them.
///
/// Paths in `spec` are relative to `/api/v1`; the registry adds the prefix.
pub struct Mounted {
    pub(crate) endpoints: Endpoints,
    pub(crate) spec: serde_json::Value,
    pub(crate) public: BTreeSet<String>,
    pub(crate) uncounted: BTreeSet<String>,
    pub(crate) scope: Option<String>,
}

impl Mounted {
    /// Routes and spec from one poem-openapi API value (a type or a tuple of types).
    ///
    /// Each operation's own endpoint is kept, so the router, which has already matched
    /// the operation, calls it directly: poem-openapi's service would route the request a
    /// second time, through two more tables and three more boxed futures.
    pub fn from_api<T: OpenApi + 'static>(api: T) -> Result<Mounted, PluginError> {
        let service = OpenApiService::new(SpecOf::<T>(PhantomData), "plugin", "0");
        let spec = serde_json::from_str(&service.spec())
            .map_err(|e| PluginError::new(format!("its spec is not valid JSON: {e}")))?;
        let mut table = HashMap::new();
        api.add_routes(&mut table);
        Ok(Mounted::with(Endpoints::PerOperation(table), spec))
    }

    /// One endpoint for every operation in `spec`, which routes inside itself (dynamic
    /// plugins, tests).
    pub fn new(endpoint: BoxEndpoint<'static, Response>, spec: serde_json::Value) -> Mounted {
        Mounted::with(Endpoints::Shared(Arc::new(endpoint)), spec)
    }

    fn with(endpoints: Endpoints, spec: serde_json::Value) -> Mounted {
        Mounted {
            endpoints,
            spec,
            public: BTreeSet::new(),
            uncounted: BTreeSet::new(),
            scope: None,
        }
    }

    /// Marks keyed operations (by operationId) that do not count against the project's
    /// budget, such as reading the budget itself.
    pub fn uncounted(mut self, operation_ids: &[&str]) -> Mounted {
        self.uncounted
            .extend(operation_ids.iter().map(|id| (*id).to_owned()));
        self
    }

    /// The scope a key needs for this plugin's operations (e.g. `metrics:read`).
    pub fn scope(mut self, scope: &str) -> Mounted {
        self.scope = Some(scope.to_owned());
        self
    }

    /// Declares an OpenAPI link from the `200` of the list `from` to `to`, the operation
    /// that takes one of the listed items: its `parameter` is the first item's `field`
    /// (`$response.body#/data/0/<field>`). Stateful fuzzers and some client generators
    /// follow links from a list to its items.
    ///
    /// # Panics
    /// When `from` is not one of the plugin's operations or has no `200`: a mistake in
    /// the plugin's own code, which its first test shows.
    pub fn link(mut self, from: &str, to: &str, parameter: &str, field: &str) -> Mounted {
        let response = self
            .spec
            .get_mut("paths")
            .and_then(serde_json::Value::as_object_mut)
            .into_iter()
            .flat_map(|paths| paths.values_mut())
            .filter_map(serde_json::Value::as_object_mut)
            .flat_map(|item| item.values_mut())
            .find(|operation| operation["operationId"] == from)
            .and_then(|operation| operation.pointer_mut("/responses/200"))
            .unwrap_or_else(|| panic!("link from {from}: no such operation with a 200"));
        response["links"][to] = serde_json::json!({
            "operationId": to,
            "parameters": { parameter: format!("$response.body#/data/0/{field}") },
            "description": format!("`{parameter}` is a listed item's `{field}` (here the first one's)."),
        });
        self
    }

    /// Marks operations (by operationId) that are served without an API key.
    pub fn public(mut self, operation_ids: &[&str]) -> Mounted {
        self.public
            .extend(operation_ids.iter().map(|id| (*id).to_owned()));
        self
    }
}

/// An endpoint the router may hand to more than one operation.
pub(crate) type SharedEndpoint = Arc<BoxEndpoint<'static, Response>>;

/// Endpoints by poem path (`/metrics/:metric_id`) and method, as poem-openapi's
/// `add_routes` lists them.
type OperationTable = HashMap<String, HashMap<Method, BoxEndpoint<'static>>>;

/// A plugin's endpoints, found by operation.
pub(crate) enum Endpoints {
    /// One per operation.
    PerOperation(OperationTable),
    /// One for all, routing inside.
    Shared(SharedEndpoint),
}

impl Endpoints {
    /// The endpoint serving `method` at `path` (poem's form, relative to `/api/v1`).
    pub(crate) fn take(&mut self, path: &str, method: &str) -> Option<SharedEndpoint> {
        match self {
            Endpoints::PerOperation(table) => {
                let method = Method::from_bytes(method.as_bytes()).ok()?;
                table.get_mut(path)?.remove(&method).map(Arc::new)
            }
            Endpoints::Shared(endpoint) => Some(endpoint.clone()),
        }
    }
}

/// The document of `T` without a value of `T`: the service that writes the document
/// needs an API value, and the plugin's own goes to its endpoints.
struct SpecOf<T>(PhantomData<fn() -> T>);

impl<T: OpenApi> OpenApi for SpecOf<T> {
    fn meta() -> Vec<MetaApi> {
        T::meta()
    }

    fn register(registry: &mut Registry) {
        T::register(registry)
    }

    fn add_routes(self, _: &mut OperationTable) {}
}

/// A plugin could not be mounted; the message says why, for the operator.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct PluginError {
    message: String,
}

impl PluginError {
    pub fn new(message: impl Into<String>) -> Self {
        PluginError {
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use poem::{endpoint::make_sync, EndpointExt};
    use serde_json::json;

    use super::*;

    fn things() -> Mounted {
        let spec = json!({"paths": {"/things": {"get": {
            "operationId": "listThings",
            "responses": {"200": {"description": "The things."}}
        }}}});
        Mounted::new(make_sync(|_| "").map_to_response().boxed(), spec)
    }

    #[test]
    fn a_link_goes_on_the_list_s_200_and_names_the_item_s_field() {
        let mounted = things().link("listThings", "getThing", "thing_id", "id");
        let link =
            &mounted.spec["paths"]["/things"]["get"]["responses"]["200"]["links"]["getThing"];
        assert_eq!(link["operationId"], "getThing");
        assert_eq!(link["parameters"]["thing_id"], "$response.body#/data/0/id");
    }

    #[test]
    #[should_panic(expected = "link from listOthers")]
    fn a_link_from_an_unknown_operation_is_a_mistake_shown_at_once() {
        let _ = things().link("listOthers", "getThing", "thing_id", "id");
    }
}
