//! The command line: one subcommand per module, all reading the same configuration.
//!
//! Convention (SPEC "Command line"): `--json` prints exactly one JSON object on stdout;
//! a failure prints one line on stderr and exits non-zero.

mod console;
mod demo;
mod import;
mod inspect;
mod keys;
mod projects;
mod serve;
mod usage;
mod webhooks;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use dashtray_core::{auth::notices::Notice, config::ConfigSources, Config, Db, Services};

#[derive(Debug, Parser)]
#[command(
    name = "dashtray",
    version,
    about = "Dashtray API: serve a project's data as a REST API"
)]
pub struct Cli {
    /// Configuration file (default: ./dashtray.toml if it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print exactly one JSON object on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database, then serve until SIGINT/SIGTERM.
    Serve(serve::ServeArgs),
    /// Apply every plugin's pending migrations.
    Migrate,
    /// Show the effective configuration, secrets redacted.
    Config,
    /// List the plugins and their operations.
    Plugins,
    /// Print the merged OpenAPI document, as served.
    Openapi(inspect::OpenapiArgs),
    /// Create, change and list projects.
    #[command(subcommand)]
    Projects(projects::ProjectsCommand),
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Load the demo data set (idempotent) and print a fresh key for it.
    Demo,
    /// Import data into a project.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// A project's request history, by hour or day.
    Usage(usage::UsageArgs),
    /// Sign-in links to the console, and its sessions.
    #[command(subcommand)]
    Console(console::ConsoleCommand),
    /// Register webhook endpoints and see their deliveries.
    #[command(subcommand)]
    Webhooks(webhooks::WebhooksCommand),
}

/// What every command gets: the loaded configuration and the output mode.
pub struct Context {
    pub config: Config,
    pub json: bool,
}

impl Context {
    /// Prints `value` as the command's one JSON object, or `human` as text.
    pub fn print(&self, value: &serde_json::Value, human: impl FnOnce() -> String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{}", human());
        }
    }
}

/// The database, migrated, for commands that read or write it.
pub async fn open_migrated(cx: &Context) -> anyhow::Result<Services> {
    let db = Db::connect(&cx.config.database).await?;
    crate::registry_for(&cx.config)?
        .migrate(&db, &cx.config)
        .await?;
    Ok(Services::system(cx.config.clone(), db))
}

/// Tells running servers of a change the command made. The change itself is done, so a
/// notice that cannot be sent is a warning: servers then see it within
/// `auth.cache_ttl_secs`.
pub async fn announce(services: &Services, notice: Notice, now: i64) {
    if let Err(err) = services.notices.announce(&notice, now).await {
        eprintln!(
            "warning: running servers were not told ({err}); they will see the change within \
             auth.cache_ttl_secs"
        );
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            // --help and --version
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            // clap adds a hint line; SPEC asks for one line on stderr.
            let rendered = err.to_string();
            eprintln!(
                "{}",
                rendered
                    .lines()
                    .next()
                    .unwrap_or("error: invalid arguments")
            );
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut sources = ConfigSources {
        file: cli.config.clone(),
        ..Default::default()
    };
    if let Command::Serve(args) = &cli.command {
        sources = args.flags(sources);
    }
    let config = Config::load(&sources)?;
    // Kept to the end: dropping it sends the spans still waiting for the collector.
    let _telemetry = dashtray_core::telemetry::init(&config.log, &config.telemetry)?;
    let cx = Context {
        config,
        json: cli.json,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(&cx, args).await,
            Command::Migrate => inspect::migrate(&cx).await,
            Command::Config => inspect::config(&cx),
            Command::Plugins => inspect::plugins(&cx).await,
            Command::Openapi(args) => inspect::openapi(&cx, args).await,
            Command::Projects(command) => projects::run(&cx, command).await,
            Command::Keys(command) => keys::run(&cx, command).await,
            Command::Demo => demo::run(&cx).await,
            Command::Import(command) => import::run(&cx, command).await,
            Command::Usage(args) => usage::run(&cx, args).await,
            Command::Console(command) => console::run(&cx, command).await,
            Command::Webhooks(command) => webhooks::run(&cx, command).await,
        }
    })
}

/// The error and its causes on one line, as SPEC asks of a failing command.
fn one_line(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for (i, cause) in err.chain().enumerate() {
        let cause = cause.to_string();
        if i > 0 && text.contains(&cause) {
            continue;
        }
        if i > 0 {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text.replace('\n', " ")
}
