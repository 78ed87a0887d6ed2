//! The console under `/console`: Settings → API Keys, Usage, Webhooks and the project, as
//! server-rendered pages (minijinja templates, SVG charts drawn here with plotters, one
//! stylesheet and one small script for the Copy button, all served from this crate).
//!
//! - [`session`]: the sign-in cookie, the session it stands for, and CSRF tokens;
//! - [`signin`]: opening a one-time link, signing out;
//! - [`pages`]: one module per section of the navigation;
//! - [`render`]: the templates, the navigation, and pages for errors;
//! - [`chart`]: bar charts as SVG;
//! - [`form`]: reading a posted form;
//! - [`assets`]: the stylesheet and the script;
//! - [`error`]: what can go wrong, and the status each answers with.
//!
//! A new section is one module in `pages/`, its templates in `templates/`
//! (listed in `render::Templates::new`), its entry in [`render::SECTIONS`] and its
//! routes in `routes()` below.

pub mod assets;
pub mod chart;
pub mod error;
pub mod form;
pub mod pages;
pub mod render;
pub mod session;
pub mod signin;

use std::{collections::BTreeSet, sync::Arc};

use dashtray_core::{
    auth::READ_SCOPES, events::BUILT_IN_TYPES, site::Site, spec::ApiDocument,
    webhooks::store::Rules, Services,
};
use poem::{endpoint::BoxEndpoint, get, middleware::SetHeader, post, EndpointExt, Response, Route};

pub use error::ConsoleError;

/// Where the console is served.
pub const PREFIX: &str = "/console";

/// The console, as the binary mounts it.
#[derive(Debug, Default)]
pub struct Console {
    /// The `<plugin>.<event>` types the loaded plugins declare, which webhook endpoints
    /// may subscribe to beside core's own.
    plugin_event_types: Vec<String>,
}

impl Console {
    pub fn new(plugin_event_types: Vec<String>) -> Console {
        Console { plugin_event_types }
    }
}

/// Every scope a key can hold: the read scopes and those the mounted operations
/// require, in the order the form lists them.
fn scopes(api: &ApiDocument) -> Vec<String> {
    let scopes: BTreeSet<String> = READ_SCOPES
        .iter()
        .map(|s| (*s).to_owned())
        .chain(api.operations().iter().filter_map(|op| op.scope.clone()))
        .collect();
    scopes.into_iter().collect()
}

/// What every handler reads: the server's services, the templates, the scopes and the
/// plugins' event types.
pub struct State {
    pub services: Services,
    pub templates: render::Templates,
    pub scopes: Vec<String>,
    pub plugin_event_types: Vec<String>,
}

impl State {
    /// Whether the console is reached over https (its cookies are then `Secure`).
    pub fn secure(&self) -> bool {
        self.services
            .config
            .server
            .public_url()
            .starts_with("https://")
    }

    /// What a webhook endpoint may be here: the same rules as the CLI's.
    pub fn webhook_rules(&self) -> Rules {
        Rules {
            allow_private_targets: self.services.config.webhooks.allow_private_targets,
            plugin_event_types: self.plugin_event_types.clone(),
        }
    }

    /// Every event type an endpoint may subscribe to, in the order the form lists them.
    pub fn event_types(&self) -> Vec<String> {
        BUILT_IN_TYPES
            .iter()
            .map(|t| (*t).to_owned())
            .chain(self.plugin_event_types.iter().cloned())
            .collect()
    }
}

impl Site for Console {
    fn prefix(&self) -> &'static str {
        PREFIX
    }

    fn endpoint(&self, services: &Services, api: &ApiDocument) -> BoxEndpoint<'static, Response> {
        let state = Arc::new(State {
            services: services.clone(),
            templates: render::Templates::new(),
            scopes: scopes(api),
            plugin_event_types: self.plugin_event_types.clone(),
        });
        let for_errors = state.clone();
        routes()
            .data(state)
            .catch_all_error(move |err| {
                let state = for_errors.clone();
                async move { render::error_response(&state, err) }
            })
            .with(security_headers())
            .boxed()
    }
}

/// Every page and form of the console, under [`PREFIX`].
fn routes() -> Route {
    use pages::{keys, project, usage, webhooks};
    Route::new()
        .at("/", get(pages::home))
        .at("/signin", get(signin::open_link))
        .at("/signout", post(signin::sign_out))
        .at("/keys", get(keys::list).post(keys::create))
        .at("/keys/new", get(keys::new_form))
        .at(
            "/keys/:id/revoke",
            get(keys::confirm_revoke).post(keys::revoke),
        )
        .at("/usage", get(usage::page))
        .at("/webhooks", get(webhooks::list).post(webhooks::create))
        .at("/webhooks/new", get(webhooks::new_form))
        .at("/webhooks/:id", get(webhooks::show))
        .at("/webhooks/:id/status", post(webhooks::set_status))
        .at("/webhooks/:id/rotate", post(webhooks::rotate))
        .at("/webhooks/:id/test", post(webhooks::send_test))
        .at(
            "/webhooks/:id/delete",
            get(webhooks::confirm_delete).post(webhooks::delete),
        )
        .at("/webhooks/deliveries/:id/replay", post(webhooks::replay))
        .at("/project", get(project::page))
        .at("/static/console.css", get(assets::stylesheet))
        .at("/static/console.js", get(assets::script))
}

/// SPEC's headers on every answer, error pages included; `no-store` because pages show
/// a key once and a session's data.
fn security_headers() -> SetHeader {
    SetHeader::new()
        .overriding("content-security-policy", "default-src 'self'")
        .overriding("x-frame-options", "DENY")
        .overriding("referrer-policy", "no-referrer")
        .overriding("cache-control", "no-store")
}
