//! `dashtray migrate`, `config`, `plugins` and `openapi`: the commands that set up or
//! describe the server without serving.

use clap::{Args, ValueEnum};
use dashtray_core::Db;
use serde_json::json;

use super::Context;

pub async fn migrate(cx: &Context) -> anyhow::Result<()> {
    let db = Db::connect(&cx.config.database).await?;
    let reports = crate::registry_for(&cx.config)?
        .migrate(&db, &cx.config)
        .await;
    db.close().await;
    let reports = reports?;
    cx.print(&json!({ "plugins": reports }), || {
        reports
            .iter()
            .map(|r| match r.applied.as_slice() {
                [] => format!("{}: up to date", r.plugin),
                versions => format!("{}: applied {versions:?}", r.plugin),
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

pub fn config(cx: &Context) -> anyhow::Result<()> {
    let shown = cx.config.redacted();
    cx.print(&shown, || {
        toml::to_string_pretty(&shown).unwrap_or_else(|_| shown.to_string())
    });
    Ok(())
}

pub async fn plugins(cx: &Context) -> anyhow::Result<()> {
    let registry = crate::registry_for(&cx.config)?;
    let operations = registry.operations(&cx.config).await?;
    let plugins: Vec<serde_json::Value> = registry
        .plugins()
        .map(|plugin| {
            let name = plugin.name();
            let ops: Vec<_> = operations.iter().filter(|op| op.plugin == name).collect();
            let (kind, file, abi_version) = match plugin.origin() {
                Some((file, abi)) => ("dynamic", Some(file.display().to_string()), Some(abi)),
                None => ("built-in", None, None),
            };
            json!({
                "name": name,
                "kind": kind,
                "file": file,
                "abiVersion": abi_version,
                "enabled": !cx.config.plugins.disabled.iter().any(|d| d == name),
                "operations": ops,
            })
        })
        .collect();
    cx.print(&json!({ "plugins": plugins }), || {
        let mut lines = Vec::new();
        for plugin in &plugins {
            let state = if plugin["enabled"] == true {
                ""
            } else {
                " (disabled)"
            };
            lines.push(format!(
                "{} [{}]{state}",
                plugin["name"].as_str().unwrap_or_default(),
                plugin["kind"].as_str().unwrap_or_default()
            ));
            for op in plugin["operations"].as_array().into_iter().flatten() {
                lines.push(format!(
                    "  {:<7} {:<45} {}",
                    op["method"].as_str().unwrap_or_default(),
                    op["path"].as_str().unwrap_or_default(),
                    op["operationId"].as_str().unwrap_or_default()
                ));
            }
        }
        lines.join("\n")
    });
    Ok(())
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DocumentFormat {
    Json,
    Yaml,
}

#[derive(Debug, Args)]
pub struct OpenapiArgs {
    /// Output format (`--json` implies json).
    #[arg(long, value_enum, default_value = "json")]
    format: DocumentFormat,
}

pub async fn openapi(cx: &Context, args: OpenapiArgs) -> anyhow::Result<()> {
    let document = crate::registry_for(&cx.config)?
        .document(&cx.config)
        .await?;
    match (cx.json, args.format) {
        (true, _) => println!("{}", document.value()),
        (false, DocumentFormat::Yaml) => print!("{}", document.to_yaml()),
        (false, DocumentFormat::Json) => print!("{}", document.to_json()),
    }
    Ok(())
}
