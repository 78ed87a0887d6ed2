//! `dashtray serve`.

use clap::Args;
use dashtray_core::{
    auth::sessions,
    config::ConfigSources,
    server::{self, Listening},
    Db,
};
use serde_json::json;

use super::Context;

/// How long the sign-in link `serve --demo` prints works.
const DEMO_LINK_MS: i64 = 15 * 60_000;

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
        true => Some(load_demo(cx).await?),
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
        let console = demo
            .as_ref()
            .and_then(|(_, link)| link.as_ref())
            .map(|token| {
                let base = cx
                    .config
                    .server
                    .public_url
                    .clone()
                    .unwrap_or_else(|| url.clone());
                format!(
                    "{}{}/signin?token={token}",
                    base.trim_end_matches('/'),
                    dashtray_console::PREFIX
                )
            });
        if let Some((loaded, _)) = &demo {
            announced["demo"] = super::demo::summary(loaded);
        }
        if let Some(console) = &console {
            announced["console"] = console.as_str().into();
        }
        cx.print(&announced, || {
            let mut listening =
                format!("Dashtray API listening on {url} (reference at {url}/docs)");
            if let Some(admin) = &admin {
                listening.push_str(&format!(
                    "\nMetrics at {admin}/metrics, probes at {admin}/livez and {admin}/readyz"
                ));
            }
            if let Some(console) = &console {
                listening.push_str(&format!(
                    "\nConsole of the demo project (this link works once, for 15 minutes):\n\n    {console}\n"
                ));
            }
            match &demo {
                Some((loaded, _)) => {
                    format!("{}\n\n{listening}", super::demo::describe(loaded, &url))
                }
                None => listening,
            }
        });
    };
    let sites = crate::sites(&cx.config, &registry)?;
    server::serve_with_sites(
        &cx.config,
        &registry,
        db,
        &sites,
        announce,
        server::shutdown_signal(),
    )
    .await?;
    Ok(())
}

/// Loads the demo data set and, when the console is served, makes a sign-in link's token
/// for its project (the link's address is known once the server listens).
async fn load_demo(cx: &Context) -> anyhow::Result<(crate::demo::Loaded, Option<String>)> {
    let services = super::open_migrated(cx).await?;
    let loaded = crate::demo::load(&services).await?;
    let link = match cx.config.console.enabled {
        true => {
            let link = sessions::create_link(
                &services.db,
                &loaded.project.id,
                services.now_millis(),
                DEMO_LINK_MS,
            )
            .await?;
            Some(link.token)
        }
        false => None,
    };
    services.db.close().await;
    Ok((loaded, link))
}
