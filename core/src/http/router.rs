//! Routes requests to the plugin that owns the operation, from the merged document.
//!
//! The route table is built from the same [`OperationInfo`]s the document lists, so a
//! route exists exactly when the document describes it. A known path with another method
//! answers 405 with `Allow`; an unknown path, 404.

use std::{collections::BTreeMap, future::Future, sync::Arc};

use futures_util::{
    future::{ready, Either},
    FutureExt,
};
use poem::{
    http::{header, Method, StatusCode},
    Endpoint, IntoResponse, Request, Response, Result, Route,
};

use crate::{
    auth::{Policy, Principal},
    error::ApiError,
    http::{
        conditional::ConditionalGet,
        errors::{not_found_route, parameter_error, to_api_error},
        layer::Step,
        trace,
    },
    plugin::{Endpoints, SharedEndpoint},
    poem_seams::{
        paths::{poem_path, PathParams},
        query,
    },
    ratelimit::{headers, Usage},
    services::Services,
    spec::ApiDocument,
    telemetry::metrics::OperationMetrics,
};

/// One operation: the plugin endpoint that serves it, what it requires, and where its
/// answers are counted.
struct Operation {
    endpoint: SharedEndpoint,
    policy: Policy,
    metrics: Arc<OperationMetrics>,
    path_params: PathParams,
    /// Declares query parameters: its endpoint is handed the query.
    takes_query: bool,
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
    /// A path parameter is refused here under the name the document gives it.
    fn call_plugin<'a>(
        &'a self,
        mut req: Request,
        operation: &'a Operation,
    ) -> impl Future<Output = Result<Response>> + Send + 'a {
        if operation.takes_query {
            query::hand_over(&mut req);
        }
        if let Some(name) = operation.path_params.undecodable(&req) {
            let refusal = ApiError::invalid_parameter(name, NOT_UTF8);
            return Either::Left(ready(Err(refusal.into())));
        }
        Either::Right(
            self.conditional
                .call(&*operation.endpoint, req)
                .map(move |result| {
                    result.map_err(|err| match operation.path_params.refused(&err) {
                        Some((name, reason)) => {
                            parameter_error(name, reason, Some(&self.document)).into()
                        }
                        None => err,
                    })
                }),
        )
    }

    /// A keyed operation: authenticate, then answer; every answer to a valid key is
    /// counted in the usage history (in memory).
    async fn call_keyed(&self, mut req: Request, operation: &Operation) -> Result<Response> {
        let principal = self.services.guard.authenticate(&mut req)?;
        let now = self.services.now_millis();
        let answer = self.answer_keyed(req, operation, &principal, now).await;
        let status = match &answer {
            Ok(resp) => resp.status(),
            Err(err) => err.status(),
        };
        let usage = &self.services.usage;
        usage.record(
            &principal,
            operation.metrics.operation_id(),
            status.as_u16(),
            now,
        );
        answer
    }

    /// Authorise, count against the budget, call; every answer from here on carries the
    /// project's window in its headers, errors included.
    async fn answer_keyed(
        &self,
        mut req: Request,
        operation: &Operation,
        principal: &Principal,
        now: i64,
    ) -> Result<Response> {
        let Services { guard, limiter, .. } = &self.services;
        if let Err(refusal) = guard.permit(principal, &operation.policy) {
            let usage = limiter.peek(principal, now).await.ok();
            return Ok(with_usage(refusal.to_response(), usage.as_ref()));
        }
        let usage = match operation.policy.counted {
            true => limiter.hit(principal, now).await?,
            false => limiter.peek(principal, now).await?,
        };
        if operation.policy.counted {
            let events = &self.services.limit_events;
            events.observe(&principal.project_id, &usage, now);
        }
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
                Some(&self.refund(principal, usage, now).await),
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

/// Why a path segment that poem could not decode is refused.
const NOT_UTF8: &str = "must be valid UTF-8 once percent-decoded";

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
        trace::matched(&operation.metrics);
        // Authorisation and counting happen here, where the operation's policy is known.
        match operation.policy.public {
            true => self.call_plugin(req, operation).await,
            false => self.call_keyed(req, operation).await,
        }
    }
}

/// A document's operation that its plugin has no endpoint for.
#[derive(Debug, thiserror::Error)]
#[error("plugin `{plugin}` serves no endpoint for operation `{operation_id}` ({method} {path})")]
pub struct Unrouted {
    plugin: String,
    operation_id: String,
    method: String,
    path: String,
}

/// The `/api/v1` route table for the document's operations, each served by its plugin's
/// endpoint (`endpoints`: plugin → its endpoints).
pub(crate) fn api_routes(
    document: &Arc<ApiDocument>,
    mut endpoints: BTreeMap<String, Endpoints>,
    prefix: &str,
    services: &Services,
) -> Result<Route, Unrouted> {
    let mut by_path: BTreeMap<String, BTreeMap<String, Operation>> = BTreeMap::new();
    for op in document.operations() {
        // Plugins route relative to the prefix; the API's table holds full paths.
        let relative = op.path.strip_prefix(prefix).unwrap_or(&op.path);
        let endpoint = endpoints
            .get_mut(&op.plugin)
            .and_then(|endpoints| endpoints.take(&poem_path(relative), &op.method))
            .ok_or_else(|| Unrouted {
                plugin: op.plugin.clone(),
                operation_id: op.operation_id.clone(),
                method: op.method.clone(),
                path: op.path.clone(),
            })?;
        let operation = Operation {
            endpoint,
            policy: Policy {
                public: op.public,
                scope: op.scope.clone(),
                counted: op.counted,
            },
            metrics: services.metrics.operation(&op.operation_id),
            path_params: PathParams::of(&op.path),
            takes_query: document.takes_query(op),
        };
        by_path
            .entry(poem_path(&op.path))
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
    Ok(route)
}

/// Requests under `prefix` go to `api`, the rest to `other`. The URI is left as the
/// client sent it (the API's routes include the prefix), so what builds `Link` headers
/// reads it as it is; a nested route would rewrite it, and box every request's future
/// once more.
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

    fn call(&self, req: Request) -> impl Future<Output = Result<Response>> + Send {
        match under(req.uri().path(), self.prefix) {
            true => Either::Left(
                self.api
                    .call(req)
                    .map(|r| r.map(IntoResponse::into_response)),
            ),
            false => Either::Right(
                self.other
                    .call(req)
                    .map(|r| r.map(IntoResponse::into_response)),
            ),
        }
    }
}

/// `/api/v1` and `/api/v1/x` are under `/api/v1`; `/api/v1x` is not.
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
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
    fn paths_are_under_the_prefix_only_at_a_segment_boundary() {
        assert!(under("/api/v1/metrics", "/api/v1"));
        assert!(under("/api/v1", "/api/v1"));
        assert!(under("/api/v1/", "/api/v1"));
        assert!(!under("/api/v1x/health", "/api/v1"));
        assert!(!under("/api/v2/health", "/api/v1"));
        assert!(!under("/docs", "/api/v1"));
    }
}
