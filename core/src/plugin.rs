//! The plugin contract: what a plugin gives the framework, and what it gets from it.
//!
//! A plugin owns one resource: its tables (as [`Migration`]s), its routes and its part of
//! the OpenAPI document. Routes and spec come from the same `OpenApiService`, so they
//! cannot disagree; core merges every plugin's document into the one it serves.

use std::collections::BTreeSet;

use poem::{endpoint::BoxEndpoint, IntoEndpoint, Response};
use poem_openapi::{OpenApi, OpenApiService};

use crate::{clock::SharedClock, config::Config, db::Db, migrate::Migration, services::Services};

pub trait Plugin: Send + Sync + 'static {
    /// Unique among loaded plugins; also the default tag of its operations.
    fn name(&self) -> &str;

    /// The plugin's own tables, applied at `migrate` and `serve`.
    fn migrations(&self) -> Vec<Migration> {
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
}

/// A mounted plugin: its endpoint and the OpenAPI document describing it.
///
/// Paths in `spec` are relative to `/api/v1`; the registry adds the prefix.
pub struct Mounted {
    pub(crate) endpoint: BoxEndpoint<'static, Response>,
    pub(crate) spec: serde_json::Value,
    pub(crate) public: BTreeSet<String>,
    pub(crate) uncounted: BTreeSet<String>,
    pub(crate) scope: Option<String>,
}

impl Mounted {
    /// Routes and spec from one poem-openapi API value (a type or a tuple of types).
    pub fn from_api<T: OpenApi + 'static>(api: T) -> Result<Mounted, PluginError> {
        let service = OpenApiService::new(api, "plugin", "0");
        let spec = serde_json::from_str(&service.spec())
            .map_err(|e| PluginError::new(format!("its spec is not valid JSON: {e}")))?;
        Ok(Mounted::new(service.into_endpoint(), spec))
    }

    /// Routes and spec supplied separately (dynamic plugins, tests).
    pub fn new(endpoint: BoxEndpoint<'static, Response>, spec: serde_json::Value) -> Mounted {
        Mounted {
            endpoint,
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

    /// Marks operations (by operationId) that are served without an API key.
    pub fn public(mut self, operation_ids: &[&str]) -> Mounted {
        self.public
            .extend(operation_ids.iter().map(|id| (*id).to_owned()));
        self
    }
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
