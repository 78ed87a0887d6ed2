//! `dashtray webhooks create|list|update|delete|rotate-secret|test|deliveries|replay`.
//!
//! Every command names its project: an endpoint or delivery of another project is, to
//! it, one that does not exist. A secret is printed by `create` and `rotate-secret`
//! only; nothing prints it again.

use clap::{ArgGroup, Args, Subcommand};
use dashtray_core::webhooks::store::{
    self, Delivery, Endpoint, EndpointChanges, NewEndpoint, Rules,
};
use serde_json::json;

use super::{open_migrated, Context};

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Register an endpoint and print its signing secret, the only time it is shown.
    Create(CreateArgs),
    /// List a project's endpoints (never their secrets).
    List(ProjectArg),
    /// Change an endpoint's URL, events or description, or enable or disable it.
    Update(UpdateArgs),
    /// Delete an endpoint and its deliveries.
    Delete(EndpointArg),
    /// Make a new signing secret; the old one keeps signing beside it for a while.
    RotateSecret(RotateArgs),
    /// Send a `webhook.test` event to the endpoint.
    Test(EndpointArg),
    /// An endpoint's recent deliveries: attempts, status codes, next try.
    Deliveries(DeliveriesArgs),
    /// Send a delivered or failed delivery again, with the same `webhook-id`.
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
pub struct ProjectArg {
    /// The project's id (`prj_...`).
    #[arg(long)]
    project: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    project: ProjectArg,
    /// Where deliveries are POSTed (https://…).
    #[arg(long)]
    url: String,
    /// Comma-separated event types (default: every type).
    #[arg(long, value_delimiter = ',')]
    events: Vec<String>,
    #[arg(long, default_value = "")]
    description: String,
}

#[derive(Debug, Args)]
pub struct EndpointArg {
    /// The endpoint's id (`whe_...`).
    id: String,
    #[command(flatten)]
    project: ProjectArg,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("state").args(["enable", "disable"])))]
pub struct UpdateArgs {
    #[command(flatten)]
    endpoint: EndpointArg,
    #[arg(long)]
    url: Option<String>,
    /// Comma-separated event types; an empty list means every type.
    #[arg(long)]
    events: Option<String>,
    #[arg(long)]
    description: Option<String>,
    #[arg(long)]
    enable: bool,
    #[arg(long)]
    disable: bool,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    endpoint: EndpointArg,
    /// Hours the old secret keeps signing beside the new one (0: stop at once).
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(0..=720))]
    overlap_hours: u32,
}

#[derive(Debug, Args)]
pub struct DeliveriesArgs {
    #[command(flatten)]
    endpoint: EndpointArg,
    /// Only deliveries in this state.
    #[arg(long, value_parser = ["pending", "delivered", "failed"])]
    status: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The delivery's id (`whd_...`), as `deliveries` shows it.
    delivery_id: String,
    #[command(flatten)]
    project: ProjectArg,
}

pub async fn run(cx: &Context, command: WebhooksCommand) -> anyhow::Result<()> {
    let services = open_migrated(cx).await?;
    let db = &services.db;
    let now = services.now_millis();
    let rules = rules(cx)?;
    match command {
        WebhooksCommand::Create(args) => {
            let new = NewEndpoint {
                url: args.url,
                description: args.description,
                events: args.events,
            };
            let (endpoint, secret) =
                store::create(db, &args.project.project, new, &rules, now).await?;
            let mut shown = json!(endpoint);
            shown["secret"] = json!(secret);
            cx.print(&shown, || {
                format!(
                    "Created {}\nIts signing secret is shown only now; store it:\n\n    {secret}\n",
                    describe(&endpoint)
                )
            });
        }
        WebhooksCommand::List(args) => {
            let endpoints = store::list(db, &args.project).await?;
            cx.print(&json!({ "endpoints": endpoints }), || {
                if endpoints.is_empty() {
                    return format!("No webhook endpoints for {}.", args.project);
                }
                endpoints
                    .iter()
                    .map(describe)
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        WebhooksCommand::Update(args) => {
            let changes = EndpointChanges {
                url: args.url,
                description: args.description,
                events: args
                    .events
                    .map(|list| list.split(',').map(str::to_owned).collect()),
                enabled: match (args.enable, args.disable) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
            };
            let EndpointArg { id, project } = &args.endpoint;
            let endpoint = store::update(db, &project.project, id, changes, &rules).await?;
            cx.print(&json!(endpoint), || {
                format!("Updated {}", describe(&endpoint))
            });
        }
        WebhooksCommand::Delete(args) => {
            let endpoint = store::delete(db, &args.project.project, &args.id).await?;
            cx.print(&json!(endpoint), || format!("Deleted {}", endpoint.id));
        }
        WebhooksCommand::RotateSecret(args) => {
            let EndpointArg { id, project } = &args.endpoint;
            let (endpoint, secret) =
                store::rotate_secret(db, &project.project, id, args.overlap_hours, now).await?;
            let mut shown = json!(endpoint);
            shown["secret"] = json!(secret);
            cx.print(&shown, || {
                let overlap = match args.overlap_hours {
                    0 => "The old secret no longer signs.".to_owned(),
                    h => format!("The old secret keeps signing beside it for {h} hours."),
                };
                format!(
                    "New signing secret for {id} (shown only now):\n\n    {secret}\n\n{overlap}"
                )
            });
        }
        WebhooksCommand::Test(args) => {
            let delivery = store::send_test(db, &args.project.project, &args.id, now).await?;
            cx.print(&json!(delivery), || {
                format!(
                    "Queued a webhook.test event for {} (delivery {}); a running \
                     `dashtray serve` sends it.",
                    args.id, delivery.id
                )
            });
        }
        WebhooksCommand::Deliveries(args) => {
            let EndpointArg { id, project } = &args.endpoint;
            let deliveries =
                store::deliveries(db, &project.project, id, args.status.as_deref()).await?;
            cx.print(&json!({ "deliveries": deliveries }), || {
                if deliveries.is_empty() {
                    return format!("No deliveries for {id}.");
                }
                deliveries
                    .iter()
                    .map(describe_delivery)
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        WebhooksCommand::Replay(args) => {
            let delivery = store::replay(db, &args.project.project, &args.delivery_id, now).await?;
            cx.print(&json!(delivery), || {
                format!("Queued delivery {} to be sent again.", delivery.id)
            });
        }
    }
    services.db.close().await;
    Ok(())
}

/// What an endpoint may be: the deployment's address rules and its plugins' event types.
fn rules(cx: &Context) -> anyhow::Result<Rules> {
    let registry = crate::registry_for(&cx.config)?;
    Ok(Rules {
        allow_private_targets: cx.config.webhooks.allow_private_targets,
        plugin_event_types: crate::plugin_event_types(&cx.config, &registry)?,
    })
}

fn describe(e: &Endpoint) -> String {
    let events = match e.events.is_empty() {
        true => "every event".to_owned(),
        false => e.events.join(","),
    };
    let status = match &e.disabled_reason {
        Some(reason) if e.status == "disabled" => format!("disabled ({reason})"),
        _ => e.status.clone(),
    };
    format!("{}  {}  {status}  {events}", e.id, e.url)
}

fn describe_delivery(d: &Delivery) -> String {
    let codes = d
        .attempt_log
        .iter()
        .map(|a| a.status_code.map_or("-".to_owned(), |c| c.to_string()))
        .collect::<Vec<_>>()
        .join(",");
    let next = d
        .next_attempt_at
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map_or(String::new(), |t| {
            format!("  next try {}", t.format("%Y-%m-%d %H:%M:%S UTC"))
        });
    let error = d
        .last_error
        .as_deref()
        .map_or(String::new(), |e| format!("  ({e})"));
    format!(
        "{}  {}  {:<9}  {} attempts [{codes}]{next}{error}",
        d.id, d.event_type, d.status, d.attempts
    )
}
