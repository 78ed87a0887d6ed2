//! The request path, outermost first:
//!
//! request id → tracing span → panic guard → auth → [rate limit] → error normaliser →
//! router (with each operation's policy) → plugin handler.
//!
//! Each concern is one layer in one module. The auth layer turns credentials into an
//! outcome without rejecting; the router, which knows the operation, enforces its
//! policy. Layers above the normaliser see finished responses.

pub mod auth;
pub mod conditional;
pub mod errors;
pub mod limits;
pub mod request_id;
pub mod router;
pub mod trace;

/// The request's URI as the client sent it, before any prefix was stripped by routing:
/// what `Link` headers are built from.
#[derive(Debug, Clone)]
pub struct RequestUri(pub poem::http::Uri);

impl RequestUri {
    pub fn of(req: &Request) -> &poem::http::Uri {
        req.extensions()
            .get::<RequestUri>()
            .map(|u| &u.0)
            .unwrap_or_else(|| req.original_uri())
    }
}

async fn remember_uri<E: Endpoint>(next: E, mut req: Request) -> poem::Result<Response> {
    let uri = req.uri().clone();
    req.extensions_mut().insert(RequestUri(uri));
    next.call(req).await.map(IntoResponse::into_response)
}

use poem::{
    endpoint::make_sync, get, middleware::CatchPanic, web::Html, Endpoint, EndpointExt,
    IntoResponse, Request, Response, Route,
};

use crate::{registry::MountedApi, services::Services, spec::API_PREFIX, system::docs_html};

/// The whole HTTP application for a mounted API.
pub fn app(api: MountedApi, services: &Services) -> impl Endpoint<Output = Response> {
    let docs = docs_html(&api.document);
    let document = api.document.clone();
    let normalise = || errors::Normalise::new(document.clone());
    let api_routes = api
        .routes
        .with(normalise())
        .with(auth::AuthLayer::new(services.authenticator.clone()));
    let http = &services.config.http;
    let routes = Route::new()
        .nest(API_PREFIX, api_routes)
        .at(
            "/docs",
            get(make_sync(move |_| Html(docs.clone()))).with(normalise()),
        )
        .at("/*", router::NotFound.with(normalise()))
        // Routing itself can fail before any route runs (a path segment that does not
        // decode as UTF-8): that answer is normalised too.
        .with(normalise())
        .with(CatchPanic::new().with_handler(errors::panic_response))
        .with(limits::Limits::new(http.request_timeout_secs))
        .with_if(
            !http.cors_allowed_origins.is_empty(),
            cors(&http.cors_allowed_origins),
        )
        .around(trace::layer)
        .around(remember_uri);
    routes.around(request_id::layer)
}

/// CORS for the configured origins: GET from a browser with a key, and the headers a
/// browser client needs to read (budget, caching, paging, request id).
fn cors(origins: &[String]) -> poem::middleware::Cors {
    let cors = poem::middleware::Cors::new()
        .allow_methods([poem::http::Method::GET, poem::http::Method::HEAD])
        .allow_headers(["authorization", "if-none-match", "x-request-id"])
        .expose_headers([
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-used",
            "x-ratelimit-reset",
            "ratelimit",
            "ratelimit-policy",
            "retry-after",
            "etag",
            "link",
            "x-request-id",
        ])
        .max_age(600);
    match origins.iter().any(|o| o == "*") {
        true => cors,
        false => cors.allow_origins(origins.iter().map(String::as_str)),
    }
}
