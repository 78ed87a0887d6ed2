//! The `dashtray` server and command line, and the one list of the plugins that ship.

pub mod cli;
pub mod demo;
pub mod import;

use std::sync::Arc;

use dashtray_core::{auth::READ_SCOPES, site::Site, Config, Plugin, Registry};

/// Every built-in plugin. The server, the CLI, xtask and the tests all start here, so this
/// is the one place that says what ships. Core's own operations (health, the document)
/// are added by the registry itself.
pub fn builtin_plugins() -> Vec<Arc<dyn Plugin>> {
    vec![
        Arc::new(dashtray_projects::ProjectsPlugin),
        Arc::new(dashtray_metrics::MetricsPlugin),
        Arc::new(dashtray_integrations::IntegrationsPlugin),
        Arc::new(dashtray_dashboards::DashboardsPlugin),
    ]
}

/// The registry of the built-in plugins: what `openapi.yaml` describes.
pub fn registry() -> Registry {
    Registry::new(builtin_plugins()).expect("built-in plugin names are unique")
}

/// The built-in plugins and the dynamic ones in `plugins.dir`: what a server runs.
pub fn registry_for(config: &Config) -> anyhow::Result<Registry> {
    let mut plugins = builtin_plugins();
    if let Some(dir) = &config.plugins.dir {
        plugins.extend(dashtray_core::dynamic::load_dir(
            dir,
            config.plugins.skip_invalid,
        )?);
    }
    Ok(Registry::new(plugins)?)
}

/// The sites served beside the API: the console, unless `console.enabled = false`,
/// offering every scope the registry's plugins know and the read scopes.
pub async fn sites(config: &Config, registry: &Registry) -> anyhow::Result<Vec<Arc<dyn Site>>> {
    if !config.console.enabled {
        return Ok(Vec::new());
    }
    let mut scopes = registry.scopes(config).await?;
    scopes.extend(READ_SCOPES.iter().map(|s| (*s).to_owned()));
    Ok(vec![Arc::new(dashtray_console::Console::new(scopes))])
}
