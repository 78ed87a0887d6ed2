//! `dashtray demo`: load the demo data set and print a fresh key for it.

use serde_json::{json, Value};

use super::{open_migrated, Context};
use crate::demo::{self, Loaded};

pub async fn run(cx: &Context) -> anyhow::Result<()> {
    let services = open_migrated(cx).await?;
    let loaded = demo::load(&services).await;
    services.db.close().await;
    let loaded = loaded?;
    let base = format!("http://{}", cx.config.server.bind);
    cx.print(&summary(&loaded), || describe(&loaded, &base));
    Ok(())
}

/// The one JSON object `--json` prints (the key is in it: the only time it is shown).
pub fn summary(loaded: &Loaded) -> Value {
    json!({
        "projectId": loaded.project.id,
        "projectName": loaded.project.name,
        "keyId": loaded.key.id,
        "key": loaded.secret,
        "integrations": loaded.integrations,
        "metrics": loaded.metrics,
        "points": loaded.points,
        "dashboards": loaded.dashboards,
    })
}

/// The same for a person, with a request to try against `base`.
pub fn describe(loaded: &Loaded, base: &str) -> String {
    format!(
        "Demo project {} ({}): {} integrations, {} metrics ({} daily points), {} dashboards.\n\
         API key, shown this once:\n\n    {}\n\n\
         Try: curl -H \"Authorization: Bearer {}\" \"{base}/api/v1/metrics?metric_id=mrr&limit=3\"",
        loaded.project.id,
        loaded.project.name,
        loaded.integrations,
        loaded.metrics,
        loaded.points,
        loaded.dashboards,
        loaded.secret,
        loaded.secret,
    )
}
