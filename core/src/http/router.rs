//! Routes requests to the plugin that owns the operation, from the merged document.
//!
//! The route table is built from the same [`OperationInfo`]s the document lists, so a
//! route exists exactly when the document describes it. A known path with another method
//! answers 405 with `Allow`; an unknown path, 404.

use std::{collections::BTreeMap, future::Future, sync::Arc};

use futures_util::{future::Either, FutureExt};
use poem::{
    endpoint::BoxEndpoint,
    http::{header, uri::PathAndQuery, Method, StatusCode, Uri},
    Endpoint, IntoResponse, Request, Response, Result, Route,
};

use crate::{
    auth::{Policy, Principal},
    error::ApiError,
    http::{
        conditional::ConditionalGet,
        errors::{not_found_route, to_api_error},
        layer::Step,
    },
    ratelimit::{headers, Usage},
    services::Services,
    spec::ApiDocument,
};

type SharedEndpoint = Arc<BoxEndpoint<'static, Response>>;

/// One operation: the plugin endpoint that serves it and what it requires.
struct Operation {
    endpoint: SharedEndpoint,
    policy: Policy,
}

/// The methods one path serves, each to its plugin's endpoint.
struct PathEndpoint {
    methods: BTreeMap<String, Operation>,
    allow: Vec<String>,
    services: Services,
    document: Arc<ApiDocument>,
    conditional: ConditionalGet,
}

impl PathEndpoint {
    fn new(
        methods: BTreeMap<String, Operation>,
        services: Services,
        document: Arc<ApiDocument>,
    ) -> Self {
        let mut allow: Vec<String> = methods.keys().cloned().collect();
        if methods.contains_key("GET") {
            allow.push("HEAD".into());
        }
        allow.push("OPTIONS".into());
        allow.sort();
        let conditional = ConditionalGet::new(services.config.http.cache_max_age_secs);
        PathEndpoint {
            methods,
            allow,
            services,
            document,
            conditional,
        }
    }

    /// The plugin's endpoint under conditional GET: a step here rather than a layer
    /// around each plugin's endpoint, which would box every request's future once more.
    fn call_plugin<'a>(
        &'a self,
        req: Request,
        operation: &'a Operation,
    ) -> impl Future<Output = Result<Response>> + Send + 'a {
        self.conditional.call(&*operation.endpoint, req)
    }

    /// A keyed operation: authenticate, authorise, count, call; every answer from here
    /// on carries the project's window in its headers, errors included.
    async fn call_keyed(&self, mut req: Request, operation: &Operation) -> Result<Response> {
        let Services { guard, limiter, .. } = &self.services;
        let principal = guard.authenticate(&req)?;
        let now = self.services.now_millis();
        if let Err(refusal) = guard.permit(&principal, &operation.policy) {
            let usage = limiter.peek(&principal, now).await.ok();
            return Ok(with_usage(refusal.to_response(), usage.as_ref()));
        }
        let usage = match operation.policy.counted {
            true => limiter.hit(&principal, now).await?,
            false => limiter.peek(&principal, now).await?,
        };
        // Reading the window (an uncounted operation) is never refused, even when spent.
        if operation.policy.counted && !usage.allowed {
            let refusal = ApiError::rate_limited(usage.reset_in_secs).to_response();
            return Ok(with_usage(refusal, Some(&usage)));
        }
        req.extensions_mut().insert(principal.clone());
        req.extensions_mut().insert(usage);
        let resp = match self.call_plugin(req, operation).await {
            Ok(resp) => resp,
            Err(err) => to_api_error(err, Some(&self.document)).to_response(),
        };
        if resp.status() == StatusCode::NOT_MODIFIED && operation.policy.counted {
            return Ok(with_usage(
                resp,
                Some(&self.refund(&principal, usage, now).await),
            ));
        }
        Ok(with_usage(resp, Some(&usage)))
    }

    /// A conditional request answered 304 does not count: give it back.
    async fn refund(&self, principal: &Principal, usage: Usage, now: i64) -> Usage {
        self.services.limiter.refund(principal, now).await;
        Usage {
            used: usage.used.saturating_sub(1),
            remaining: (usage.remaining + 1).min(usage.limit),
            ..usage
        }
    }
}

fn with_usage(mut resp: Response, usage: Option<&Usage>) -> Response {
    if let Some(usage) = usage {
        headers::apply(usage, &mut resp);
    }
    resp
}

impl Endpoint for PathEndpoint {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Response> {
        let method = req.method().clone();
        if method == Method::OPTIONS {
            return Ok(Response::builder()
                .status(StatusCode::NO_CONTENT)
                .header(header::ALLOW, self.allow.join(", "))
                .finish());
        }
        // HEAD is GET without a body; the HTTP layer drops the body.
        let lookup = if method == Method::HEAD {
            req.set_method(Method::GET);
            "GET"
        } else {
            method.as_str()
        };
        let Some(operation) = self.methods.get(lookup) else {
            return Err(ApiError::method_not_allowed(method.as_str(), self.allow.clone()).into());
        };
        // Authorisation and counting happen here, where the operation's policy is known.
        match operation.policy.public {
            true => self.call_plugin(req, operation).await,
            false => self.call_keyed(req, operation).await,
        }
    }
}

/// The `/api/v1` route table for `operations`, served by `endpoints` (plugin → endpoint).
pub fn api_routes(
    document: &Arc<ApiDocument>,
    endpoints: &BTreeMap<String, SharedEndpoint>,
    prefix: &str,
    services: &Services,
) -> Route {
    let mut by_path: BTreeMap<String, BTreeMap<String, Operation>> = BTreeMap::new();
    for op in document.operations() {
        let relative = op.path.strip_prefix(prefix).unwrap_or(&op.path);
        let operation = Operation {
            endpoint: endpoints[&op.plugin].clone(),
            policy: Policy {
                public: op.public,
                scope: op.scope.clone(),
                counted: op.counted,
            },
        };
        by_path
            .entry(poem_path(relative))
            .or_default()
            .insert(op.method.clone(), operation);
    }
    let mut route = Route::new();
    for (path, methods) in by_path {
        route = route.at(
            path,
            PathEndpoint::new(methods, services.clone(), document.clone()),
        );
    }
    route
}

/// `/metrics/{metric_id}` (OpenAPI) → `/metrics/:metric_id` (poem).
fn poem_path(openapi_path: &str) -> String {
    openapi_path
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => format!(":{name}"),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// Requests under `prefix` go to `api` with the prefix taken off their path, as a nested
/// route would; the rest go to `other`. One fixed prefix needs no route table, and a
/// table would box every request's future once more (a malloc and a copy of it).
pub struct Prefixed<A, O> {
    prefix: &'static str,
    api: A,
    other: O,
}

impl<A, O> Prefixed<A, O> {
    pub fn new(prefix: &'static str, api: A, other: O) -> Self {
        Prefixed { prefix, api, other }
    }
}

impl<A: Endpoint, O: Endpoint> Endpoint for Prefixed<A, O> {
    type Output = Response;

    fn call(&self, mut req: Request) -> impl Future<Output = Result<Response>> + Send {
        match without_prefix(req.uri(), self.prefix) {
            Some(uri) => {
                *req.uri_mut() = uri;
                Either::Left(
                    self.api
                        .call(req)
                        .map(|r| r.map(IntoResponse::into_response)),
                )
            }
            None => Either::Right(
                self.other
                    .call(req)
                    .map(|r| r.map(IntoResponse::into_response)),
            ),
        }
    }
}

/// `uri` with `prefix` taken off its path (`/api/v1/x?q` → `/x?q`, `/api/v1` → `/`), or
/// `None` when its path is not under `prefix` (`/api/v1x` is not).
fn without_prefix(uri: &Uri, prefix: &str) -> Option<Uri> {
    let rest = uri.path().strip_prefix(prefix)?;
    let rest = match rest {
        "" => "/",
        rest if rest.starts_with('/') => rest,
        _ => return None,
    };
    let path_and_query = match uri.query() {
        Some(query) => PathAndQuery::try_from(format!("{rest}?{query}")),
        None => PathAndQuery::try_from(rest),
    }
    .ok()?;
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query);
    Uri::from_parts(parts).ok()
}

/// What answers a path no route matches.
pub struct NotFound;

impl Endpoint for NotFound {
    type Output = Response;

    async fn call(&self, _req: Request) -> Result<Response> {
        Err(not_found_route().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_comes_off_paths_under_it_only() {
        let strip =
            |uri: &str| without_prefix(&uri.parse().unwrap(), "/api/v1").map(|uri| uri.to_string());
        assert_eq!(
            strip("/api/v1/metrics?limit=5").as_deref(),
            Some("/metrics?limit=5")
        );
        assert_eq!(strip("/api/v1").as_deref(), Some("/"));
        assert_eq!(strip("/api/v1/").as_deref(), Some("/"));
        assert_eq!(
            strip("http://h:1/api/v1/health").as_deref(),
            Some("http://h:1/health")
        );
        assert_eq!(strip("/api/v1x/health"), None);
        assert_eq!(strip("/api/v2/health"), None);
        assert_eq!(strip("/docs"), None);
    }

    #[test]
    fn openapi_placeholders_become_poem_params() {
        assert_eq!(
            poem_path("/metrics/{metric_id}/timeseries"),
            "/metrics/:metric_id/timeseries"
        );
        assert_eq!(poem_path("/health"), "/health");
    }
}
