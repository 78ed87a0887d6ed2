//! End-to-end tests: the real `dashtray` binary over real HTTP, on SQLite and (when
//! `DASHTRAY_TEST_POSTGRES_URL` is set) Postgres. One test binary, so it links once.

mod support;

mod admin;
mod auth;
mod caching;
mod cli;
mod console;
mod console_browser;
mod contract;
mod database_outage;
mod demo;
mod docs_browser;
mod dynamic_plugins;
mod examples;
mod http_api;
mod import;
mod isolation;
mod logging;
mod openapi_contract;
mod owasp;
mod parameter_errors;
mod ratelimit;
mod revocation;
mod rust_client;
mod shutdown;
mod snapshots;
mod snippets;
mod traces;
mod usage;
mod webhooks;
