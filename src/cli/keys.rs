//! `dashtray keys create|list|revoke`. A key is printed once, by `create`; nothing
//! prints it, or its hash, ever again.

use clap::{Args, Subcommand};
use dashtray_core::auth::{
    model::{parse_scopes, KeyRecord},
    notices::Notice,
    store, READ_SCOPES,
};
use serde_json::json;

use super::{open_migrated, Context};

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it, the only time it is shown.
    Create(CreateArgs),
    /// List a project's keys (never the keys themselves).
    List(ListArgs),
    /// Revoke a key: every server sharing the database refuses it within a second.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The project's id (`prj_...`).
    #[arg(long)]
    project: String,
    /// What the key is for, e.g. "grafana export".
    #[arg(long)]
    name: String,
    /// Comma-separated scopes (default: every read scope).
    #[arg(long)]
    scopes: Option<String>,
    /// Days until the key stops working (default: never).
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=3650))]
    expires_in: Option<u32>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long)]
    project: String,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The key's id, as `keys list` shows it.
    key_id: String,
}

pub async fn run(cx: &Context, command: KeysCommand) -> anyhow::Result<()> {
    let services = open_migrated(cx).await?;
    let db = &services.db;
    let now = services.now_millis();
    match command {
        KeysCommand::Create(args) => {
            let mut known = crate::registry_for(&cx.config)?.scopes(&cx.config).await?;
            known.extend(READ_SCOPES.iter().map(|s| (*s).to_owned()));
            let scopes = match &args.scopes {
                Some(list) => parse_scopes(list, &known).map_err(anyhow::Error::msg)?,
                None => known,
            };
            let expires_at = args.expires_in.map(|days| now + i64::from(days) * DAY_MS);
            let (record, key) = store::create_key(
                db,
                services.authenticator.hasher(),
                &args.project,
                &args.name,
                &scopes,
                expires_at,
                now,
            )
            .await?;
            let mut shown = json!(record);
            shown["key"] = json!(key);
            cx.print(&shown, || {
                format!(
                    "Created key {} for project {} ({}).\n\
                     This is the only time the key is shown; store it now:\n\n    {key}\n",
                    record.id,
                    record.project_id,
                    record.scopes.join(", ")
                )
            });
        }
        KeysCommand::List(args) => {
            let keys = store::list_keys(db, &args.project).await?;
            cx.print(&json!({ "keys": keys }), || {
                if keys.is_empty() {
                    return format!("No keys for {}.", args.project);
                }
                keys.iter()
                    .map(|k| describe(k, now))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        KeysCommand::Revoke(args) => {
            let record = store::revoke_key(db, &args.key_id, now).await?;
            super::announce(&services, Notice::Key(record.id.clone()), now).await;
            cx.print(&json!(record), || format!("Revoked key {}", record.id));
        }
    }
    services.db.close().await;
    Ok(())
}

fn describe(k: &KeyRecord, now: i64) -> String {
    let state = match (k.revoked_at, k.expires_at) {
        (Some(_), _) => "revoked",
        (None, Some(at)) if at <= now => "expired",
        _ => "active",
    };
    let last_used = k
        .last_used_at
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(
            || "never used".to_owned(),
            |t| format!("last used {}", t.format("%Y-%m-%d %H:%M UTC")),
        );
    format!(
        "{}  {:<24} {:<8} {:<28} {}",
        k.id,
        k.name,
        state,
        last_used,
        k.scopes.join(",")
    )
}
