//! The `dashtray` server and command line, and the one list of the plugins that ship.

pub mod cli;
pub mod demo;
pub mod import;

use std::sync::Arc;

use dashtray_core::{site::Site, Config, Plugin, Registry};

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

/// The document's description of the API the built-in plugins make up.
pub const DESCRIPTION: &str = "Programmatic, read-only access to a Dashtray project's data: \
    the project, its metrics and time series, integrations and dashboards. \
    Every request except health and this document needs an API key \
    (`Authorization: Bearer dk_...`); a project's keys share one hourly \
    rate limit. Errors are `application/problem+json`.";

/// The registry of the built-in plugins: what `openapi.yaml` describes.
pub fn registry() -> Registry {
    Registry::new(builtin_plugins())
        .expect("built-in plugin names are unique")
        .with_description(DESCRIPTION)
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
    Ok(Registry::new(plugins)?.with_description(DESCRIPTION))
}

/// The `<plugin>.<event>` types the enabled plugins declare: what webhook endpoints may
/// subscribe to besides core's own, from the CLI and the console alike.
pub fn plugin_event_types(config: &Config, registry: &Registry) -> anyhow::Result<Vec<String>> {
    Ok(registry
        .enabled(config)?
        .iter()
        .flat_map(|plugin| plugin.event_types())
        .collect())
}

/// The sites served beside the API: the console, unless `console.enabled = false`.
pub fn sites(config: &Config, registry: &Registry) -> anyhow::Result<Vec<Arc<dyn Site>>> {
    Ok(match config.console.enabled {
        true => vec![Arc::new(dashtray_console::Console::new(
            plugin_event_types(config, registry)?,
        ))],
        false => Vec::new(),
    })
}
