//! `dashtray projects create|update|list`.

use clap::{Args, Subcommand};
use dashtray_core::auth::{
    model::Project,
    notices::Notice,
    store::{self, NewProject, ProjectChanges},
    Plan,
};
use serde_json::json;

use super::{open_migrated, Context};

#[derive(Debug, Subcommand)]
pub enum ProjectsCommand {
    /// Create a project.
    Create(CreateArgs),
    /// Change a project's name, plan or rate limit.
    Update(UpdateArgs),
    /// List every project.
    List,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[arg(long)]
    name: String,
    /// URL-friendly unique name (default: made from the name).
    #[arg(long)]
    slug: Option<String>,
    #[arg(long, default_value = "scale", value_parser = parse_plan)]
    plan: Plan,
    /// The project's own hourly budget (default: its plan's).
    #[arg(long, value_name = "PER_HOUR")]
    rate_limit: Option<i64>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The project's id (`prj_...`).
    id: String,
    #[arg(long)]
    name: Option<String>,
    #[arg(long, value_parser = parse_plan)]
    plan: Option<Plan>,
    #[arg(long, value_name = "PER_HOUR", conflicts_with = "no_rate_limit")]
    rate_limit: Option<i64>,
    /// Remove the project's own budget: its plan's applies again.
    #[arg(long)]
    no_rate_limit: bool,
}

fn parse_plan(raw: &str) -> Result<Plan, String> {
    raw.parse()
}

pub async fn run(cx: &Context, command: ProjectsCommand) -> anyhow::Result<()> {
    let services = open_migrated(cx).await?;
    let db = &services.db;
    match command {
        ProjectsCommand::Create(args) => {
            let project = store::create_project(
                db,
                NewProject {
                    name: args.name,
                    slug: args.slug,
                    plan: args.plan,
                    rate_limit_per_hour: args.rate_limit,
                },
                services.now_millis(),
            )
            .await?;
            cx.print(&json!(project), || {
                format!("Created project {}", describe(&project))
            });
        }
        ProjectsCommand::Update(args) => {
            let rate_limit_per_hour = match (args.rate_limit, args.no_rate_limit) {
                (Some(n), _) => Some(Some(n)),
                (None, true) => Some(None),
                (None, false) => None,
            };
            let changes = ProjectChanges {
                name: args.name,
                plan: args.plan,
                rate_limit_per_hour,
            };
            let project = store::update_project(db, &args.id, changes).await?;
            let now = services.now_millis();
            super::announce(&services, Notice::Project(project.id.clone()), now).await;
            cx.print(&json!(project), || {
                format!("Updated project {}", describe(&project))
            });
        }
        ProjectsCommand::List => {
            let projects = store::list_projects(db).await?;
            cx.print(&json!({ "projects": projects }), || {
                if projects.is_empty() {
                    return "No projects yet: `dashtray projects create --name NAME`.".into();
                }
                projects.iter().map(describe).collect::<Vec<_>>().join("\n")
            });
        }
    }
    services.db.close().await;
    Ok(())
}

fn describe(p: &Project) -> String {
    let limit = p
        .rate_limit_per_hour
        .map(|n| format!("{n}/hour"))
        .unwrap_or_else(|| "plan default".into());
    format!(
        "{}  {}  ({}, plan {}, rate limit {limit})",
        p.id, p.name, p.slug, p.plan
    )
}
