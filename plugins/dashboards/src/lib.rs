//! The `dashboards` plugin: `GET /api/v1/dashboards` and `GET /api/v1/dashboards/{id}`,
//! the caller's project's dashboards with their widgets.
//!
//! The API only reads; rows are written through [`store::insert`] by the demo loader and
//! by tests.

mod api;
pub mod store;

use dashtray_core::{Migration, Mounted, Plugin, PluginContext, PluginError};

/// The scope a key needs to read its project's dashboards.
pub const SCOPE: &str = "dashboards:read";

pub struct DashboardsPlugin;

impl Plugin for DashboardsPlugin {
    fn name(&self) -> &str {
        "dashboards"
    }

    fn migrations(&self) -> Vec<Migration> {
        store::MIGRATIONS.to_vec()
    }

    fn mount(&self, cx: &PluginContext) -> Result<Mounted, PluginError> {
        let api = api::DashboardsApi::new(cx.db().clone());
        Ok(Mounted::from_api(api)?.scope(SCOPE).link(
            "listDashboards",
            "getDashboard",
            "dashboard_id",
            "id",
        ))
    }
}
