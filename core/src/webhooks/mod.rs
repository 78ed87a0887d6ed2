//! Webhooks: endpoints a project registers, and the signed, durable, retried delivery
//! of its [events](crate::events) to them.
//!
//! - [`store`]: endpoints and deliveries, every call scoped by project (the CLI's and
//!   the console's one API);
//! - [`worker`]: the delivery loop each `dashtray serve` runs, sharing the work with
//!   replicas through leases in the database;
//! - [`outcome`]: what an answer means (delivered, retried when, failed, gone);
//! - [`signing`]: Standard Webhooks secrets and signatures;
//! - [`address`]: the rules that keep deliveries off private networks;
//! - [`config`]: the `[webhooks]` configuration section.

pub mod address;
pub mod config;
pub mod outcome;
pub mod signing;
pub mod store;
pub mod worker;

pub use config::WebhooksConfig;
pub use store::{Delivery, Endpoint, WebhookError};
pub use worker::Worker;
