//! The plugin registry: which plugins are loaded, their migrations, and mounting them
//! into one route table and one document.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use poem::Route;

use crate::{
    config::Config,
    db::Db,
    migrate::{self, MigrateError, MigrationReport},
    plugin::{Plugin, PluginContext, PluginError},
    policy::{self, NotItsOperation, Policies},
    services::Services,
    spec::{ApiDocument, Fragment, MergeError, OperationInfo, API_PREFIX},
    system::{self, DocumentSlot, SystemPlugin},
};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("two plugins are named `{0}`; plugin names must be unique")]
    DuplicateName(String),
    #[error("invalid configuration `plugins.disabled`: no plugin is named `{0}` (loaded: {1})")]
    UnknownDisabled(String, String),
    #[error(
        "invalid configuration `plugins.disabled`: `{0}` is part of core and cannot be disabled"
    )]
    CoreDisabled(String),
    #[error("invalid configuration `plugin.{0}`: no loaded plugin is named `{0}` (loaded: {1})")]
    UnknownSection(String, String),
    #[error("plugin `{plugin}` could not be mounted: {source}")]
    Mount {
        plugin: String,
        #[source]
        source: PluginError,
    },
    #[error("the plugins' OpenAPI documents clash: {0}")]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    #[error(transparent)]
    Unrouted(#[from] crate::http::router::Unrouted),
}

/// A plugin as errors name it: a dynamic one by its file too.
fn describe(plugin: &dyn Plugin) -> String {
    match plugin.origin() {
        Some((file, _)) => format!("{} ({})", plugin.name(), file.display()),
        None => plugin.name().to_owned(),
    }
}

/// A plugin's policy named an operation not its own: say whose it is when another plugin
/// already mounted has it, so the operator sees both.
fn naming_owner(err: NotItsOperation, mounted: &[Fragment]) -> String {
    let owner = mounted
        .iter()
        .find(|f| policy::operation_ids(&f.spec).contains(&err.operation_id));
    match owner {
        Some(owner) => format!(
            "{err}: it belongs to plugin `{}`, and a plugin sets the policy of its own operations only",
            owner.plugin
        ),
        None => err.to_string(),
    }
}

/// `plugins.skip_invalid` applies to dynamic plugins only: a built-in one failing is a bug.
fn skips(plugin: &dyn Plugin, config: &Config) -> bool {
    plugin.origin().is_some() && config.plugins.skip_invalid
}

/// Every plugin that ships, core's own first.
pub struct Registry {
    plugins: Vec<Arc<dyn Plugin>>,
    document: DocumentSlot,
    description: Option<String>,
}

/// The mounted API: the document and the routes it describes.
pub struct MountedApi {
    pub document: Arc<ApiDocument>,
    pub routes: Route,
}

impl Registry {
    pub fn new(plugins: Vec<Arc<dyn Plugin>>) -> Result<Registry, RegistryError> {
        let document = DocumentSlot::default();
        let mut all: Vec<Arc<dyn Plugin>> = vec![Arc::new(SystemPlugin::new(document.clone()))];
        all.extend(plugins);
        let mut names = BTreeSet::new();
        for plugin in &all {
            if !names.insert(plugin.name().to_owned()) {
                return Err(RegistryError::DuplicateName(plugin.name().to_owned()));
            }
        }
        Ok(Registry {
            plugins: all,
            document,
            description: None,
        })
    }

    /// What the document's `info.description` says of the API these plugins make up:
    /// the server that ships them knows, core does not.
    pub fn with_description(mut self, description: &str) -> Registry {
        self.description = Some(description.to_owned());
        self
    }

    /// Every loaded plugin, disabled or not.
    pub fn plugins(&self) -> impl Iterator<Item = &Arc<dyn Plugin>> {
        self.plugins.iter()
    }

    fn loaded_names(&self) -> String {
        let names: Vec<&str> = self.plugins.iter().map(|p| p.name()).collect();
        names.join(", ")
    }

    /// The plugins to mount: all but `plugins.disabled`, which must name loaded plugins.
    pub fn enabled(&self, config: &Config) -> Result<Vec<Arc<dyn Plugin>>, RegistryError> {
        let known: BTreeSet<&str> = self.plugins.iter().map(|p| p.name()).collect();
        for name in &config.plugins.disabled {
            if name == system::NAME {
                return Err(RegistryError::CoreDisabled(name.clone()));
            }
            if !known.contains(name.as_str()) {
                return Err(RegistryError::UnknownDisabled(
                    name.clone(),
                    self.loaded_names(),
                ));
            }
        }
        for name in config.plugin.keys() {
            if !known.contains(name.as_str()) {
                return Err(RegistryError::UnknownSection(
                    name.clone(),
                    self.loaded_names(),
                ));
            }
        }
        Ok(self
            .plugins
            .iter()
            .filter(|p| !config.plugins.disabled.iter().any(|d| d == p.name()))
            .cloned()
            .collect())
    }

    /// Applies the migrations of every enabled plugin.
    pub async fn migrate(
        &self,
        db: &Db,
        config: &Config,
    ) -> Result<Vec<MigrationReport>, RegistryError> {
        let mut reports = Vec::new();
        for plugin in self.enabled(config)? {
            reports.push(migrate::apply(db, plugin.name(), &plugin.migrations()).await?);
        }
        Ok(reports)
    }

    /// Mounts every enabled plugin and merges their documents.
    pub fn mount(&self, services: &Services) -> Result<MountedApi, RegistryError> {
        let config = &services.config;
        let mut fragments = Vec::new();
        let mut policies = Policies::new();
        let mut endpoints = BTreeMap::new();
        for plugin in self.enabled(config)? {
            let name = plugin.name().to_owned();
            let cx = PluginContext::new(services.clone(), config.plugin_section(&name));
            let checked = plugin.mount(&cx).and_then(|mounted| {
                let own = mounted
                    .policies()
                    .map_err(|err| PluginError::new(naming_owner(err, &fragments)))?;
                Ok((mounted, own))
            });
            let (mounted, own) = match checked.map_err(|source| RegistryError::Mount {
                plugin: describe(plugin.as_ref()),
                source,
            }) {
                Ok(mounted) => mounted,
                Err(err) if skips(plugin.as_ref(), config) => {
                    tracing::warn!(error = %err, "skipping a dynamic plugin (plugins.skip_invalid)");
                    continue;
                }
                Err(err) => return Err(err),
            };
            fragments.push(Fragment {
                plugin: name.clone(),
                spec: mounted.spec,
            });
            // A dynamic plugin's fragment is checked as it arrives, so a clash is pinned
            // on its file (and, with skip_invalid, leaves the rest serving).
            if plugin.origin().is_some() {
                if let Err(err) = ApiDocument::build(&fragments, &policies) {
                    let err = RegistryError::Mount {
                        plugin: describe(plugin.as_ref()),
                        source: PluginError::new(err.to_string()),
                    };
                    fragments.pop();
                    if skips(plugin.as_ref(), config) {
                        tracing::warn!(error = %err, "skipping a dynamic plugin (plugins.skip_invalid)");
                        continue;
                    }
                    return Err(err);
                }
            }
            policies.extend(own);
            endpoints.insert(name, mounted.endpoints);
        }
        let mut document = ApiDocument::build(&fragments, &policies)?;
        if let Some(description) = &self.description {
            document = document.with_description(description);
        }
        let document = Arc::new(document);
        self.document.fill(&document);
        let routes = crate::http::router::api_routes(&document, endpoints, API_PREFIX, services)?;
        Ok(MountedApi { document, routes })
    }

    /// The document alone, for tools (`cargo xtask openapi`, `dashtray openapi`): needs no
    /// database, since mounting connects lazily.
    pub async fn document(&self, config: &Config) -> Result<Arc<ApiDocument>, anyhow::Error> {
        let db = Db::lazy(&config.database)?;
        let services = Services::system(config.clone(), db);
        Ok(self.mount(&services)?.document)
    }

    /// Every scope the enabled plugins require: what `keys create` accepts.
    pub async fn scopes(&self, config: &Config) -> Result<BTreeSet<String>, anyhow::Error> {
        Ok(self
            .operations(config)
            .await?
            .into_iter()
            .filter_map(|op| op.scope)
            .collect())
    }

    /// The operations of every enabled plugin, for `dashtray plugins`.
    pub async fn operations(&self, config: &Config) -> Result<Vec<OperationInfo>, anyhow::Error> {
        Ok(self.document(config).await?.operations().to_vec())
    }
}
