//! `dashtray console link|sessions revoke`: sign-in links to the console, and ending
//! its sessions.

use clap::{Args, Subcommand};
use dashtray_core::auth::{sessions, store};
use serde_json::json;

use super::{open_migrated, Context};

const MINUTE_MS: i64 = 60_000;

#[derive(Debug, Subcommand)]
pub enum ConsoleCommand {
    /// Print a one-time sign-in link to a project's console.
    Link(LinkArgs),
    /// Manage console sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
}

#[derive(Debug, Args)]
pub struct LinkArgs {
    /// The project's id (`prj_...`).
    #[arg(long)]
    project: String,
    /// Minutes until the link stops working (default 15; it works once either way).
    #[arg(long, value_name = "MINUTES", default_value_t = 15,
          value_parser = clap::value_parser!(u32).range(1..=10080))]
    expires_in: u32,
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// End every console session of a project.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The project's id (`prj_...`).
    #[arg(long)]
    project: String,
}

pub async fn run(cx: &Context, command: ConsoleCommand) -> anyhow::Result<()> {
    let services = open_migrated(cx).await?;
    let db = &services.db;
    let now = services.now_millis();
    let project_id = match &command {
        ConsoleCommand::Link(args) => args.project.clone(),
        ConsoleCommand::Sessions(SessionsCommand::Revoke(args)) => args.project.clone(),
    };
    let project_id = project_id.as_str();
    if store::get_project(db, project_id).await?.is_none() {
        anyhow::bail!("--project: no project `{project_id}`");
    }
    match command {
        ConsoleCommand::Link(args) => {
            if !cx.config.console.enabled {
                eprintln!("warning: console.enabled is false: servers with this configuration do not serve /console");
            }
            let valid_ms = i64::from(args.expires_in) * MINUTE_MS;
            let link = sessions::create_link(db, project_id, now, valid_ms).await?;
            let url = format!(
                "{}{}/signin?token={}",
                cx.config.server.public_url(),
                dashtray_console::PREFIX,
                link.token
            );
            cx.print(&json!({ "url": url, "expiresAt": link.expires_at }), || {
                format!(
                    "Open this link to sign in to the console of {project_id} (it works once, \
                         for {} minutes):\n\n    {url}\n",
                    args.expires_in
                )
            });
        }
        ConsoleCommand::Sessions(SessionsCommand::Revoke(_)) => {
            let ended = sessions::end_project_sessions(db, project_id).await?;
            cx.print(&json!({ "projectId": project_id, "ended": ended }), || {
                format!("Ended {ended} console session(s) of {project_id}.")
            });
        }
    }
    services.db.close().await;
    Ok(())
}
