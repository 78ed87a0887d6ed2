//! The error normaliser: every error, whatever raised it, leaves as SPEC's problem+json.
//!
//! Handlers raise [`ApiError`]; poem and poem-openapi raise their own errors (a parameter
//! that does not parse, an unknown route, a panic). This module maps the foreign ones to
//! an `ApiError`, and renders an `ApiError` in exactly one way.

use std::{future::Future, panic::AssertUnwindSafe, sync::Arc};

use futures_util::FutureExt;

use poem::{
    error::{MethodNotAllowedError, NotFoundError},
    http::{header, HeaderValue, StatusCode},
    Endpoint, IntoResponse, Request, Response, Result,
};
use poem_openapi::error::{ParseParamError, ParsePathError};

use crate::{
    error::{ApiError, ErrorCode, Problem, PROBLEM_JSON},
    http::layer::Step,
    spec::ApiDocument,
};

impl ApiError {
    /// Renders the answer but for its body, which [`finish`] writes once the request id
    /// is known; a 5xx also logs its cause here, inside the request's span.
    pub fn to_response(&self) -> Response {
        if self.status().is_server_error() {
            match self.cause() {
                Some(cause) => {
                    tracing::error!(error = %format!("{cause:#}"), code = %self.code(), "request failed")
                }
                None => tracing::error!(code = %self.code(), "request failed"),
            }
        }
        let mut resp = Response::builder()
            .status(self.status())
            .header(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))
            .header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
            .finish();
        resp.extensions_mut().insert(Unfinished(self.body("")));
        if let Some(secs) = self.retry_after_secs() {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(challenge) = self.challenge() {
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, value);
            }
        }
        if !self.allow().is_empty() {
            if let Ok(allow) = HeaderValue::from_str(&self.allow().join(", ")) {
                resp.headers_mut().insert(header::ALLOW, allow);
            }
        }
        resp
    }
}

/// An error answer's body, waiting for its request id.
#[derive(Clone)]
struct Unfinished(Problem);

/// Writes the body of an error answer (one [`ApiError::to_response`] made) with the
/// request's id; other answers are left alone. The request-id layer, which fixes the id,
/// calls it on every answer on the way out, so no layer below needs the id to render an
/// error.
pub fn finish(resp: &mut Response, request_id: &HeaderValue) {
    if let Some(Unfinished(mut problem)) = resp.extensions_mut().remove::<Unfinished>() {
        problem.request_id = request_id.to_str().unwrap_or_default().to_owned();
        resp.set_body(serde_json::to_vec(&problem).expect("problem serializes"));
    }
}

impl ApiError {
    /// RFC 6750's `WWW-Authenticate` for 401, and for a missing scope.
    fn challenge(&self) -> Option<String> {
        match (self.code(), self.required_scope()) {
            (ErrorCode::Unauthorized, _) => Some(format!("Bearer realm=\"{REALM}\"")),
            (ErrorCode::InsufficientScope, Some(scope)) => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{scope}\""
            )),
            _ => None,
        }
    }
}

/// The realm of every Bearer challenge.
pub const REALM: &str = "dashtray";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.to_response()
    }
}

/// Maps any poem error to the `ApiError` it stands for; `document` supplies the allowed
/// values of an enumerated parameter.
pub fn to_api_error(err: poem::Error, document: Option<&ApiDocument>) -> ApiError {
    if err.is::<ApiError>() {
        return err.downcast::<ApiError>().expect("checked by is()");
    }
    if let Some(e) = err.downcast_ref::<ParseParamError>() {
        return ApiError::invalid_parameter(e.name, explain(&e.reason, document));
    }
    if let Some(e) = err.downcast_ref::<ParsePathError>() {
        return ApiError::invalid_parameter(e.name, explain(&e.reason, document));
    }
    if err.is::<NotFoundError>() {
        return not_found_route();
    }
    if err.is::<poem::error::ParsePathError>() {
        return ApiError::invalid_parameter(
            "path",
            "a path segment is not valid UTF-8 once percent-decoded",
        );
    }
    if err.is::<MethodNotAllowedError>() {
        return ApiError::new(
            ErrorCode::MethodNotAllowed,
            "This method is not allowed here.",
        );
    }
    from_status(err.status(), err)
}

/// An error we did not raise ourselves: its status decides the code, and its text is
/// never shown, since it may carry internals.
fn from_status(status: StatusCode, err: poem::Error) -> ApiError {
    let cause = anyhow::anyhow!("{err}");
    match status {
        StatusCode::NOT_FOUND => not_found_route(),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            ErrorCode::MethodNotAllowed,
            "This method is not allowed here.",
        ),
        StatusCode::UNAUTHORIZED => ApiError::unauthorized(),
        StatusCode::SERVICE_UNAVAILABLE => ApiError::unavailable(cause),
        s if s.is_client_error() => ApiError::new(
            ErrorCode::InvalidParameter,
            format!(
                "The request was rejected: {}.",
                s.canonical_reason().unwrap_or("bad request").to_lowercase()
            ),
        ),
        _ => ApiError::internal(cause),
    }
}

pub fn not_found_route() -> ApiError {
    ApiError::not_found("No such route. The API's routes are listed at /api/v1/openapi.json.")
}

/// poem-openapi's reasons for a rejected parameter, said as what is allowed.
fn explain(reason: &str, document: Option<&ApiDocument>) -> String {
    let reason = reason.lines().next().unwrap_or(reason).trim();
    let bound = |rest: &str| {
        rest.split(',')
            .next()
            .map(|n| n.trim_end_matches(".0").to_owned())
    };
    if let Some(check) = reason.strip_prefix("verification failed. ") {
        if let Some(n) = check.strip_prefix("maximum(").and_then(bound) {
            return format!("must be at most {n}");
        }
        if let Some(n) = check.strip_prefix("minimum(").and_then(bound) {
            return format!("must be at least {n}");
        }
        if let Some(pattern) = check
            .strip_prefix("pattern(\"")
            .and_then(|p| p.strip_suffix("\")"))
        {
            return format!("must match `{pattern}`");
        }
        return format!("is not allowed: {check}");
    }
    if reason.ends_with("expects an input value.") {
        return "is required".into();
    }
    if let Some(rest) = reason.strip_prefix("failed to parse \"") {
        let type_name = rest.split('"').next().unwrap_or_default();
        if type_name.starts_with("integer") {
            return "must be a whole number".into();
        }
        if let Some(values) = document.and_then(|d| d.enum_values(type_name)) {
            return format!("must be one of: {}", values.join(", "));
        }
        // A type of ours said what is wrong (`Patterned`: "must match ..."): that alone.
        if let Some((_, said)) = rest.split_once("\": ") {
            return said.to_owned();
        }
    }
    reason.to_owned()
}

/// The layer around the routes: errors become responses here, so that layers outside
/// only ever see finished responses.
#[derive(Clone)]
pub struct Normalise {
    document: Arc<ApiDocument>,
}

impl Normalise {
    pub fn new(document: Arc<ApiDocument>) -> Self {
        Normalise { document }
    }
}

impl Step for Normalise {
    fn call<'a, E: Endpoint>(
        &'a self,
        inner: &'a E,
        req: Request,
    ) -> impl Future<Output = Result<Response>> + Send + 'a {
        inner.call(req).map(move |result| match result {
            Ok(resp) => Ok(resp.into_response()),
            Err(err) => Ok(to_api_error(err, Some(&self.document)).to_response()),
        })
    }
}

/// A panic in a handler answers its own request with a 500 like any other, and the
/// server keeps serving.
#[derive(Clone)]
pub struct PanicGuard;

impl Step for PanicGuard {
    fn call<'a, E: Endpoint>(
        &'a self,
        inner: &'a E,
        req: Request,
    ) -> impl Future<Output = Result<Response>> + Send + 'a {
        // A handler that panicked is never polled again, so no state it left half-done
        // is observed: that is what makes the assertion true.
        AssertUnwindSafe(inner.call(req))
            .catch_unwind()
            .map(|caught| match caught {
                Ok(result) => result.map(IntoResponse::into_response),
                Err(panic) => Ok(panic_response(panic)),
            })
    }
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".into());
    ApiError::internal(anyhow::anyhow!("handler panicked: {what}")).to_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_reasons_say_what_is_allowed() {
        assert_eq!(
            explain("verification failed. maximum(1000, exclusive: false)", None),
            "must be at most 1000"
        );
        assert_eq!(
            explain("verification failed. minimum(1, exclusive: false)", None),
            "must be at least 1"
        );
        assert_eq!(
            explain(
                "failed to parse \"integer(uint32)\": invalid digit found in string",
                None
            ),
            "must be a whole number"
        );
        assert_eq!(
            explain(
                "failed to parse \"string(pattern)\": must match `^a$`",
                None
            ),
            "must match `^a$`"
        );
        assert_eq!(
            explain("Type \"string\" expects an input value.", None),
            "is required"
        );
    }
}
