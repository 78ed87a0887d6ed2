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

use crate::{error::ApiError, http::errors::not_found_route, spec::OperationInfo};

type SharedEndpoint = Arc<BoxEndpoint<'static, Response>>;

/// The methods one path serves, each to its plugin's endpoint.
struct PathEndpoint {
    methods: BTreeMap<String, SharedEndpoint>,
    allow: Vec<String>,
}

impl PathEndpoint {
    fn new(methods: BTreeMap<String, SharedEndpoint>) -> Self {
        let mut allow: Vec<String> = methods.keys().cloned().collect();
        if methods.contains_key("GET") {
            allow.push("HEAD".into());
        }
        allow.push("OPTIONS".into());
        allow.sort();
        PathEndpoint { methods, allow }
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
        match self.methods.get(lookup) {
            Some(endpoint) => endpoint.call(req).await,
            None => Err(ApiError::method_not_allowed(method.as_str(), self.allow.clone()).into()),
        }
    }
}

/// The `/api/v1` route table for `operations`, served by `endpoints` (plugin → endpoint).
pub fn api_routes(
    operations: &[OperationInfo],
    endpoints: &BTreeMap<String, SharedEndpoint>,
    prefix: &str,
) -> Route {
    let mut by_path: BTreeMap<String, BTreeMap<String, SharedEndpoint>> = BTreeMap::new();
    for op in operations {
        let relative = op.path.strip_prefix(prefix).unwrap_or(&op.path);
        let endpoint = endpoints[&op.plugin].clone();
        by_path
            .entry(poem_path(relative))
            .or_default()
            .insert(op.method.clone(), endpoint);
    }
    let mut route = Route::new();
    for (path, methods) in by_path {
        route = route.at(path, PathEndpoint::new(methods));
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
