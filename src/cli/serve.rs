//! `dashtray serve`.

use std::net::SocketAddr;

use clap::Args;
use dashtray_core::{config::ConfigSources, server, Db};
use serde_json::json;

use super::Context;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address, e.g. 127.0.0.1:8080 (overrides `server.bind`; port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    bind: Option<String>,
    /// Load the demo data set first and print a key for it.
    #[arg(long)]
    demo: bool,
}

impl ServeArgs {
    pub fn flags(&self, sources: ConfigSources) -> ConfigSources {
        match &self.bind {
            Some(bind) => sources.flag("server.bind", bind, "--bind"),
            None => sources,
        }
    }
}

pub async fn run(cx: &Context, args: ServeArgs) -> anyhow::Result<()> {
    let registry = crate::registry_for(&cx.config)?;
    let demo = match args.demo {
        true => Some(crate::demo::load(&super::open_migrated(cx).await?).await?),
        false => None,
    };
    let db = Db::connect(&cx.config.database).await?;
    let announce = |addr: SocketAddr| {
        let url = format!("http://{addr}");
        let mut announced =
            json!({"listening": addr.to_string(), "url": url, "docs": format!("{url}/docs")});
        if let Some(loaded) = &demo {
            announced["demo"] = super::demo::summary(loaded);
        }
        cx.print(&announced, || {
            let listening = format!("Dashtray API listening on {url} (reference at {url}/docs)");
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
