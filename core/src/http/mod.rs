//! The request path, outermost first:
//!
//! request id → tracing span → [CORS] → size and time limits → panic guard → error
//! normaliser → `/api/v1` (auth → router, with each operation's policy and [rate limit]
//! → conditional GET → the operation's handler), or else `/docs`, the sites (the
//! console) and 404.
//!
//! Each concern is one layer in one module. The auth layer turns credentials into an
//! outcome without rejecting; the router, which knows the operation, enforces its
//! policy. Layers above the normaliser see finished responses.
//!
//! The layers that only work before and after the inner call are [`layer::Step`]s; the
//! auth step is built from combinators too (its rare database read boxed). Only the
//! router, which awaits the guard and the rate limiter, is an `async fn`.

pub mod auth;
pub mod conditional;
pub mod errors;
pub mod layer;
pub mod limits;
pub mod request_id;
pub mod router;
pub mod trace;

use poem::{
    endpoint::{make_sync, BoxEndpoint},
    get,
    web::Html,
    Endpoint, EndpointExt, Response, Route,
};

use std::sync::Arc;

use crate::{
    registry::MountedApi, services::Services, site::Site, spec::API_PREFIX, system::docs_html,
    telemetry::metrics::UNMATCHED,
};
use layer::Layer;

/// The whole HTTP application for a mounted API.
///
/// Its request future is boxed once, here. poem's server boxes it again, but through an
/// `async fn` wrapper that holds the request beside the future it awaits: given a box,
/// that wrapper (and hyper, which moves it) holds a pointer rather than the whole stack.
pub fn app(api: MountedApi, services: &Services) -> BoxEndpoint<'static, Response> {
    app_with_sites(api, services, &[])
}

/// [`app`] with sites (the console) mounted under their prefixes beside `/docs`.
pub fn app_with_sites(
    api: MountedApi,
    services: &Services,
    sites: &[Arc<dyn Site>],
) -> BoxEndpoint<'static, Response> {
    layers(api, services, sites).boxed()
}

/// The layers and routes, outermost first as the module's documentation lists them.
fn layers(
    api: MountedApi,
    services: &Services,
    sites: &[Arc<dyn Site>],
) -> impl Endpoint<Output = Response> {
    let docs = docs_html(&api.document);
    let document = api.document.clone();
    let normalise = || Layer(errors::Normalise::new(document.clone()));
    let api_routes = api
        .routes
        .with(normalise())
        .with(auth::AuthLayer::new(services.authenticator.clone()));
    let http = &services.config.http;
    let mut other = Route::new()
        .at(
            "/docs",
            get(make_sync(move |_| Html(docs.clone()))).with(normalise()),
        )
        .at("/*", router::NotFound.with(normalise()));
    for site in sites {
        other = other.nest(site.prefix(), site.endpoint(services, &api.document));
    }
    let routes = router::Prefixed::new(API_PREFIX, api_routes, other)
        // Routing itself can fail before any route runs (a path segment that does not
        // decode as UTF-8): that answer is normalised too.
        .with(normalise())
        .with(Layer(errors::PanicGuard))
        .with(Layer(limits::Limits::new(http.request_timeout_secs)))
        .with_if(
            !http.cors_allowed_origins.is_empty(),
            cors(&http.cors_allowed_origins),
        )
        .with(Layer(trace::Trace::new(
            services.metrics.operation(UNMATCHED),
            services.config.telemetry.otlp_endpoint.is_some(),
        )));
    routes.with(Layer(request_id::RequestId))
}

/// CORS for the configured origins: GET from a browser with a key, and the headers a
/// browser client needs to read (budget, caching, paging, request id).
fn cors(origins: &[String]) -> poem::middleware::Cors {
    use poem::http::header;
    let cors = poem::middleware::Cors::new()
        .allow_methods([poem::http::Method::GET, poem::http::Method::HEAD])
        .allow_headers(["authorization", "if-none-match", "x-request-id"])
        .expose_headers(
            crate::ratelimit::headers::WINDOW
                .iter()
                .map(|h| h.name.clone())
                .chain([
                    header::RETRY_AFTER,
                    header::ETAG,
                    header::LINK,
                    request_id::HEADER,
                ]),
        )
        .max_age(600);
    match origins.iter().any(|o| o == "*") {
        true => cors,
        false => cors.allow_origins(origins.iter().map(String::as_str)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::Config, db::Db, registry::Registry};
    use poem::Request;

    /// The built-in plugins mounted on a database that is never reached.
    fn mounted() -> (MountedApi, Services) {
        let config = Config::default();
        let services = Services::system(config.clone(), Db::lazy(&config.database).unwrap());
        let api = Registry::new(vec![]).unwrap().mount(&services).unwrap();
        (api, services)
    }

    /// The router hands the query only to operations that declare query parameters
    /// (poem-openapi's extractors panic without it, so a wrong answer here is a 500).
    #[test]
    fn only_operations_with_query_parameters_take_the_query() {
        let (api, _) = mounted();
        let takes = |id: &str| {
            let op = api
                .document
                .operations()
                .iter()
                .find(|op| op.operation_id == id);
            api.document.takes_query(op.expect("the operation exists"))
        };
        assert!(!takes("getHealth"));
        assert!(takes("getUsage"));
    }

    /// The limit counts the headers as the client sent them: the id the request-id layer
    /// makes for a request without one is not among them.
    #[tokio::test]
    async fn headers_at_the_limit_pass_the_whole_stack() {
        let (api, services) = mounted();
        let app = app(api, &services);
        let padding = "y".repeat(limits::MAX_HEADER_BYTES - "x-pad".len());
        let request = Request::builder()
            .uri_str("/no-such-page")
            .header("x-pad", padding)
            .finish();
        let resp = app.call(request).await.unwrap();
        assert_eq!(resp.status(), poem::http::StatusCode::NOT_FOUND);
    }

    /// Each layer holds the request once, in the call it passes it to: an `async fn`
    /// layer keeps its own copy beside that call, and a stack of them made this future
    /// 11 KB in a release build. With the API's own layers and the auth step inline (no
    /// route table in between) it is 4.3 KB, boxed once per request by [`app`]; one
    /// `.around` layer more adds 1.5 KB.
    #[tokio::test]
    async fn each_layer_holds_the_request_once() {
        let (api, services) = mounted();
        let app = layers(api, &services, &[]);
        let request = Request::builder().uri_str("/api/v1/health").finish();
        let future = app.call(request);
        let size = std::mem::size_of_val(&future);
        assert!(
            size <= 10 * std::mem::size_of::<Request>(),
            "the outermost request future takes {size} bytes"
        );
    }
}
