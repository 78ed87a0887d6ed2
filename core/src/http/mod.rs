//! The request path, outermost first:
//!
//! request id → tracing span → panic guard → auth → [rate limit] → error normaliser →
//! router (with each operation's policy) → plugin handler.
//!
//! Each concern is one layer in one module. The auth layer turns credentials into an
//! outcome without rejecting; the router, which knows the operation, enforces its
//! policy. Layers above the normaliser see finished responses.

pub mod auth;
pub mod errors;
pub mod request_id;
pub mod router;
pub mod trace;

use poem::{
    endpoint::make_sync, get, middleware::CatchPanic, web::Html, Endpoint, EndpointExt, Response,
    Route,
};

use crate::{registry::MountedApi, services::Services, spec::API_PREFIX, system::docs_html};

/// The whole HTTP application for a mounted API.
pub fn app(api: MountedApi, services: &Services) -> impl Endpoint<Output = Response> {
    let docs = docs_html(&api.document);
    let api_routes = api
        .routes
        .around(errors::layer)
        .with(auth::AuthLayer::new(services.authenticator.clone()));
    Route::new()
        .nest(API_PREFIX, api_routes)
        .at(
            "/docs",
            get(make_sync(move |_| Html(docs.clone()))).around(errors::layer),
        )
        .at("/*", router::NotFound.around(errors::layer))
        .with(CatchPanic::new().with_handler(errors::panic_response))
        .around(trace::layer)
        .around(request_id::layer)
}
