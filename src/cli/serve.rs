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
}

impl ServeArgs {
    pub fn flags(&self, sources: ConfigSources) -> ConfigSources {
        match &self.bind {
            Some(bind) => sources.flag("server.bind", bind, "--bind"),
            None => sources,
        }
    }
}

pub async fn run(cx: &Context, _args: ServeArgs) -> anyhow::Result<()> {
    let registry = crate::registry();
    let db = Db::connect(&cx.config.database).await?;
    let announce = |addr: SocketAddr| {
        let url = format!("http://{addr}");
        cx.print(
            &json!({"listening": addr.to_string(), "url": url, "docs": format!("{url}/docs")}),
            || format!("Dashtray API listening on {url} (reference at {url}/docs)"),
        );
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
