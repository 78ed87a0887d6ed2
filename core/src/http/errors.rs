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
    poem_seams::reasons::{self, Refusal},
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
        return parameter_error(e.name, &e.reason, document);
    }
    // The router names path parameters as the document does; this is a last resort.
    if let Some(e) = err.downcast_ref::<ParsePathError>() {
        return parameter_error(e.name, &e.reason, document);
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

/// A parameter poem-openapi refused for `reason`, as a 400 naming it and saying what is
/// allowed; `document` supplies an enumeration's values.
pub(crate) fn parameter_error(
    name: &str,
    reason: &str,
    document: Option<&ApiDocument>,
) -> ApiError {
    ApiError::invalid_parameter(name, explain(reason, document))
}

/// poem-openapi's reason for a refused parameter, said as what is allowed, in our words:
/// never its own, which name its types (`optional_string(pattern)`).
fn explain(reason: &str, document: Option<&ApiDocument>) -> String {
    match reasons::read(reason) {
        Refusal::AtMost(n) => format!("must be at most {n}"),
        Refusal::AtLeast(n) => format!("must be at least {n}"),
        Refusal::MinLength("1") => "must not be empty".into(),
        Refusal::MinLength(n) => format!("must be at least {n} characters long"),
        Refusal::MaxLength(n) => format!("must be at most {n} characters long"),
        Refusal::Pattern(pattern) => format!("must match `{pattern}`"),
        Refusal::Missing => "is required".into(),
        Refusal::Unparsed { type_name, said } => unparsed(type_name, said, document),
        Refusal::OtherCheck | Refusal::Unknown => "is not a valid value".into(),
    }
}

/// A value its type (as poem-openapi names it) could not parse.
fn unparsed(type_name: &str, said: Option<&str>, document: Option<&ApiDocument>) -> String {
    if type_name.starts_with("integer") {
        return "must be a whole number".into();
    }
    if type_name.starts_with("number") {
        return "must be a number".into();
    }
    if type_name == "boolean" {
        return "must be true or false".into();
    }
    if let Some(values) = document.and_then(|d| d.enum_values(type_name)) {
        return format!("must be one of: {}", values.join(", "));
    }
    match said {
        // A type of ours says what is allowed (`Patterned`: "must match ..."): that
        // alone. poem-openapi's and std's own words stay out.
        Some(said) if said.starts_with("must ") => said.to_owned(),
        _ => "is not a valid value".into(),
    }
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
    use crate::poem_seams::probe;

    #[tokio::test]
    async fn refused_parameters_are_named_and_said_in_our_words() {
        for (uri, parameter, message) in [
            ("/things?limit=1001", "limit", "must be at most 1000"),
            ("/things?limit=0", "limit", "must be at least 1"),
            ("/things?limit=x", "limit", "must be a whole number"),
            ("/things?cursor=", "cursor", "must not be empty"),
            (
                "/things?cursor=abcd",
                "cursor",
                "must be at most 3 characters long",
            ),
            // Through `Option`, whose note poem-openapi appends, as for every wrapper.
            ("/things?code=1234", "code", "must match `^[0-9]{1,3}$`"),
            // Without a document there are no values to list; poem-openapi's words
            // ("Expect a valid enumeration value.") stay out.
            ("/things?colour=green", "colour", "is not a valid value"),
            ("/search", "q", "is required"),
        ] {
            let err = probe::call(uri, true).await.expect_err(uri);
            let answer = to_api_error(err, None);
            assert_eq!(answer.code(), ErrorCode::InvalidParameter, "{uri}");
            let details = answer.details();
            assert_eq!(details.len(), 1, "{uri}");
            assert_eq!(
                (details[0].parameter.as_str(), details[0].message.as_str()),
                (parameter, message),
                "{uri}"
            );
            assert_eq!(
                answer.message(),
                format!("Invalid value for `{parameter}`: {message}")
            );
        }
    }
}
