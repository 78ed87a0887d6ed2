//! Routes requests to the plugin that owns the operation, from the merged document.
//!
//! The route table is built from the same [`OperationInfo`]s the document lists, so a
//! route exists exactly when the document describes it. A known path with another method
//! answers 405 with `Allow`; an unknown path, 404.

use std::{collections::BTreeMap, sync::Arc};

use poem::{
    endpoint::BoxEndpoint, http::header, http::Method, http::StatusCode, Endpoint, Request,
    Response, Result, Route,
};

use crate::{
    auth::{Guard, Policy},
    error::ApiError,
    http::errors::not_found_route,
    spec::OperationInfo,
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
    guard: Arc<Guard>,
}

impl PathEndpoint {
    fn new(methods: BTreeMap<String, Operation>, guard: Arc<Guard>) -> Self {
        let mut allow: Vec<String> = methods.keys().cloned().collect();
        if methods.contains_key("GET") {
            allow.push("HEAD".into());
        }
        allow.push("OPTIONS".into());
        allow.sort();
        PathEndpoint {
            methods,
            allow,
            guard,
        }
    }
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
        // Authorisation happens here, where the operation and so its policy are known.
        if let Some(principal) = self.guard.authorize(&req, &operation.policy)? {
            req.extensions_mut().insert(principal);
        }
        operation.endpoint.call(req).await
    }
}

/// The `/api/v1` route table for `operations`, served by `endpoints` (plugin → endpoint).
pub fn api_routes(
    operations: &[OperationInfo],
    endpoints: &BTreeMap<String, SharedEndpoint>,
    prefix: &str,
    guard: Arc<Guard>,
) -> Route {
    let mut by_path: BTreeMap<String, BTreeMap<String, Operation>> = BTreeMap::new();
    for op in operations {
        let relative = op.path.strip_prefix(prefix).unwrap_or(&op.path);
        let operation = Operation {
            endpoint: endpoints[&op.plugin].clone(),
            policy: Policy {
                public: op.public,
                scope: op.scope.clone(),
            },
        };
        by_path
            .entry(poem_path(relative))
            .or_default()
            .insert(op.method.clone(), operation);
    }
    let mut route = Route::new();
    for (path, methods) in by_path {
        route = route.at(path, PathEndpoint::new(methods, guard.clone()));
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
    fn openapi_placeholders_become_poem_params() {
        assert_eq!(
            poem_path("/metrics/{metric_id}/timeseries"),
            "/metrics/:metric_id/timeseries"
        );
        assert_eq!(poem_path("/health"), "/health");
    }
}
