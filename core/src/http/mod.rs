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
    Route::new()
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
        .around(trace::layer)
        .around(remember_uri)
        .around(request_id::layer)
}
