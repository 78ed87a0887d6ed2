//! dashtray-core: the framework every Dashtray plugin builds on.
//!
//! Where things live:
//! - [`plugin`]: the contract a plugin implements; [`registry`] mounts plugins;
//!   [`dynamic`] loads plugins from shared libraries;
//! - [`spec`]: merging the plugins' OpenAPI documents into the one served;
//! - [`http`]: the request path (request ids, tracing, errors, routing);
//! - [`error`]: the `ApiError` every handler returns; [`json`]: JSON response bodies;
//! - [`listing`], [`dates`]: what every list shares (pagination, `Link`, date ranges);
//!   [`params`]: text parameters with a documented pattern, checked without regexes;
//!   [`hex_digits`]: bytes as hex (request ids, key hashes, ETags, cursors);
//! - [`auth`]: projects, API keys and the auth step; [`policy`]: each operation's
//!   public/counted/scope, checked against the plugin that declares it;
//! - [`config`], [`db`], [`migrate`]: configuration, storage and schema;
//! - [`ratelimit`]: per-project budgets over memory, the database or Redis;
//! - [`services`]: what a running server shares (database, clock, auth and limits);
//! - [`server`]: `serve` with graceful shutdown; [`system`]: health and the document;
//! - [`admin`]: the admin listener (metrics, probes); [`telemetry`]: logs, metrics and
//!   traces;
//! - `poem_seams`: every reliance on poem and poem-openapi internals, each pinned by a
//!   test.
//! - [`events`]: the outbox every plugin publishes to; [`webhooks`]: endpoints and the
//!   signed, retried delivery of events to them.

pub mod admin;
pub mod auth;
pub mod clock;
pub mod config;
pub mod dates;
pub mod db;
pub mod dynamic;
pub mod error;
pub mod events;
pub mod hex_digits;
pub mod http;
pub mod json;
pub mod listing;
pub mod migrate;
pub mod params;
pub mod plugin;
pub(crate) mod poem_seams;
pub mod policy;
pub mod ratelimit;
pub mod registry;
pub mod server;
pub mod services;
pub mod site;
pub mod spec;
pub mod system;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod usage;
pub mod webhooks;

pub use auth::Principal;
pub use config::Config;
pub use db::Db;
pub use error::{ApiError, ErrorCode};
pub use json::Json;
pub use migrate::Migration;
pub use plugin::{Mounted, Plugin, PluginContext, PluginError};
pub use registry::Registry;
pub use services::Services;
