//! The `integrations` plugin: `GET /api/v1/integrations` and `GET /api/v1/integrations/{id}`,
//! the data sources (Stripe, analytics, ...) connected to the caller's project.
//!
//! The API only reads; rows are written through [`store::insert`] by the demo loader and
//! by tests.

mod api;
pub mod store;

use dashtray_core::{Migration, Mounted, Plugin, PluginContext, PluginError};

/// The scope a key needs to read its project's integrations.
pub const SCOPE: &str = "integrations:read";

pub struct IntegrationsPlugin;

impl Plugin for IntegrationsPlugin {
    fn name(&self) -> &str {
        "integrations"
    }

    fn migrations(&self) -> Vec<Migration> {
        store::MIGRATIONS.to_vec()
    }

    fn mount(&self, cx: &PluginContext) -> Result<Mounted, PluginError> {
        let api = api::IntegrationsApi::new(cx.db().clone());
        Ok(Mounted::from_api(api)?.scope(SCOPE).link(
            "listIntegrations",
            "getIntegration",
            "integration_id",
            "id",
        ))
    }
}
