//! `dashtray serve`.

use clap::Args;
use dashtray_core::{
    config::ConfigSources,
    server::{self, Listening},
    Db,
};
use serde_json::json;

use super::Context;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address, e.g. 127.0.0.1:8080 (overrides `server.bind`; port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    bind: Option<String>,
    /// Admin listener address for metrics and probes, e.g. 127.0.0.1:9090 (overrides
    /// `server.admin_bind`; none serves none).
    #[arg(long, value_name = "ADDR")]
    admin_bind: Option<String>,
    /// Load the demo data set first and print a key for it.
    #[arg(long)]
    demo: bool,
}

impl ServeArgs {
    pub fn flags(&self, mut sources: ConfigSources) -> ConfigSources {
        if let Some(bind) = &self.bind {
            sources = sources.flag("server.bind", bind, "--bind");
        }
        if let Some(admin_bind) = &self.admin_bind {
            sources = sources.flag("server.admin_bind", admin_bind, "--admin-bind");
        }
        sources
    }
}

pub async fn run(cx: &Context, args: ServeArgs) -> anyhow::Result<()> {
    let registry = crate::registry_for(&cx.config)?;
    let demo = match args.demo {
        true => Some(crate::demo::load(&super::open_migrated(cx).await?).await?),
        false => None,
    };
    let db = Db::connect(&cx.config.database).await?;
    let announce = |Listening { public, admin }: Listening| {
        let url = format!("http://{public}");
        let admin = admin.map(|addr| format!("http://{addr}"));
        let mut announced =
            json!({"listening": public.to_string(), "url": url, "docs": format!("{url}/docs")});
        if let Some(admin) = &admin {
            announced["admin"] = admin.as_str().into();
        }
        if let Some(loaded) = &demo {
            announced["demo"] = super::demo::summary(loaded);
        }
        cx.print(&announced, || {
            let mut listening =
                format!("Dashtray API listening on {url} (reference at {url}/docs)");
            if let Some(admin) = &admin {
                listening.push_str(&format!(
                    "\nMetrics at {admin}/metrics, probes at {admin}/livez and {admin}/readyz"
                ));
            }
            match &demo {
                Some(loaded) => format!("{}\n\n{listening}", super::demo::describe(loaded, &url)),
                None => listening,
            }
        });
    };
    server::serve(
        &cx.config,
        &registry,
        db,
        announce,
        server::shutdown_signal(),
    )
    .await?;
    Ok(())
}
