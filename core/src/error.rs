//! The one error type every handler returns, rendered as SPEC's problem+json body.
//!
//! Handlers return `Result<_, ApiError>`; `http::errors` renders every error in one way
//! (`ApiError::to_response`): the normaliser there maps what poem and poem-openapi raise,
//! and the router renders the errors of keyed operations on the spot, so they carry the
//! rate-limit headers. Every error looks the same either way.

use std::fmt;

use poem::http::StatusCode;
use poem_openapi::{registry::MetaResponses, registry::Registry, ApiResponse};
use serde::Serialize;

/// The stable, machine-readable error codes of the API (`"error"` in the body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidParameter,
    Unauthorized,
    PlanRequired,
    InsufficientScope,
    NotFound,
    MethodNotAllowed,
    RateLimited,
    Internal,
    Unavailable,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 9] = [
        ErrorCode::InvalidParameter,
        ErrorCode::Unauthorized,
        ErrorCode::PlanRequired,
        ErrorCode::InsufficientScope,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidParameter => "invalid_parameter",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::PlanRequired => "plan_required",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidParameter => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::PlanRequired | ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The RFC 9457 `title`: a short summary that never varies for one code.
    pub fn title(self) -> &'static str {
        match self {
            ErrorCode::InvalidParameter => "Invalid parameter",
            ErrorCode::Unauthorized => "Unauthorized",
            ErrorCode::PlanRequired => "Plan required",
            ErrorCode::InsufficientScope => "Insufficient scope",
            ErrorCode::NotFound => "Not found",
            ErrorCode::MethodNotAllowed => "Method not allowed",
            ErrorCode::RateLimited => "Rate limit exceeded",
            ErrorCode::Internal => "Internal server error",
            ErrorCode::Unavailable => "Service unavailable",
        }
    }

    /// The RFC 9457 `type`: a URI that documents the code.
    pub fn type_uri(self) -> String {
        format!("https://docs.dashtray.com/api/errors#{}", self.as_str())
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rejected parameter of a 400 answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParameterProblem {
    pub parameter: String,
    pub message: String,
}

/// An error answer: its code, a sentence for a person, and (never shown) its cause.
///
/// Boxed, so `Result<_, ApiError>` stays one pointer wide on the happy path.
#[derive(Debug)]
pub struct ApiError(Box<Repr>);

#[derive(Debug)]
struct Repr {
    code: ErrorCode,
    message: String,
    details: Vec<ParameterProblem>,
    retry_after_secs: Option<u64>,
    allow: Vec<String>,
    required_scope: Option<String>,
    cause: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError(Box::new(Repr {
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after_secs: None,
            allow: Vec::new(),
            required_scope: None,
            cause: None,
        }))
    }

    /// A 401: the same answer whatever was wrong with the key, so it tells a guesser nothing.
    pub fn unauthorized() -> Self {
        ApiError::new(
            ErrorCode::Unauthorized,
            "A valid API key is required: send `Authorization: Bearer dk_...`.",
        )
    }

    /// A 403 naming the scope the key lacks.
    pub fn insufficient_scope(scope: &str) -> Self {
        let mut err = ApiError::new(
            ErrorCode::InsufficientScope,
            format!("This API key lacks the `{scope}` scope this operation needs."),
        );
        err.0.required_scope = Some(scope.to_owned());
        err
    }

    /// A 400 naming the parameter and what is allowed.
    pub fn invalid_parameter(parameter: impl Into<String>, message: impl Into<String>) -> Self {
        let problem = ParameterProblem {
            parameter: parameter.into(),
            message: message.into(),
        };
        let mut err = ApiError::new(
            ErrorCode::InvalidParameter,
            format!(
                "Invalid value for `{}`: {}",
                problem.parameter, problem.message
            ),
        );
        err.0.details.push(problem);
        err
    }

    /// A 400 for several parameters at once.
    pub fn invalid_parameters(details: Vec<ParameterProblem>) -> Self {
        let names: Vec<String> = details
            .iter()
            .map(|d| format!("`{}`", d.parameter))
            .collect();
        let mut err = ApiError::new(
            ErrorCode::InvalidParameter,
            format!("Invalid value for {}.", names.join(", ")),
        );
        err.0.details = details;
        err
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::NotFound, message)
    }

    pub fn method_not_allowed(method: &str, allow: Vec<String>) -> Self {
        let mut err = ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!(
                "The method {method} is not allowed here; allowed: {}.",
                allow.join(", ")
            ),
        );
        err.0.allow = allow;
        err
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        ApiError::new(
            ErrorCode::RateLimited,
            format!("Rate limit exceeded. Retry in {retry_after_secs} seconds."),
        )
        .with_retry_after(retry_after_secs)
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.0.retry_after_secs = Some(secs);
        self
    }

    /// A 500: the cause goes to the log under the request id, never to the client.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        ApiError::new(
            ErrorCode::Internal,
            "An internal error occurred. Quote the request id when reporting it.",
        )
        .with_cause(cause)
    }

    /// A 503: a dependency (the database, a limiter store) cannot be reached.
    pub fn unavailable(cause: impl Into<anyhow::Error>) -> Self {
        ApiError::new(
            ErrorCode::Unavailable,
            "The service is temporarily unavailable. Retry shortly.",
        )
        .with_cause(cause)
    }

    pub fn with_cause(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.0.cause = Some(cause.into());
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.0.code
    }

    pub fn status(&self) -> StatusCode {
        self.0.code.status()
    }

    pub fn message(&self) -> &str {
        &self.0.message
    }

    pub fn details(&self) -> &[ParameterProblem] {
        &self.0.details
    }

    pub fn retry_after_secs(&self) -> Option<u64> {
        self.0.retry_after_secs
    }

    pub fn allow(&self) -> &[String] {
        &self.0.allow
    }

    pub fn required_scope(&self) -> Option<&str> {
        self.0.required_scope.as_deref()
    }

    pub fn cause(&self) -> Option<&anyhow::Error> {
        self.0.cause.as_ref()
    }

    /// The problem+json body, with the request id of the answer it belongs to.
    pub fn body(&self, request_id: &str) -> Problem {
        Problem {
            type_uri: self.0.code.type_uri(),
            title: self.0.code.title(),
            status: self.status().as_u16(),
            detail: self.0.message.clone(),
            error: self.0.code,
            message: self.0.message.clone(),
            request_id: request_id.to_owned(),
            details: self.0.details.clone(),
            retry_after: self.0.retry_after_secs,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.code, self.0.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// The answer of an error held in more than one place (the auth outcome a request
    /// carries): the same code and sentence, and the original kept as the cause, so the
    /// log still shows what failed underneath.
    pub fn shared(err: &std::sync::Arc<ApiError>) -> ApiError {
        ApiError::new(err.code(), err.message()).with_cause(Shared(err.clone()))
    }
}

/// An `Arc`'d `ApiError` as a cause: its own cause is what the log shows.
#[derive(Debug)]
struct Shared(std::sync::Arc<ApiError>);

impl fmt::Display for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.cause() {
            Some(cause) => write!(f, "{cause:#}"),
            None => self.0.fmt(f),
        }
    }
}

impl std::error::Error for Shared {}

/// A stored value the API has no word for (a status it does not know): a fault in the
/// data, not the caller's, answered 500 with this logged as the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{resource} `{id}` has the unknown {field} `{value}`")]
pub struct UnknownStoredValue {
    pub resource: &'static str,
    pub id: String,
    pub field: &'static str,
    pub value: String,
}

impl From<UnknownStoredValue> for ApiError {
    fn from(err: UnknownStoredValue) -> Self {
        ApiError::internal(err)
    }
}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.0.code.status()
    }
}

/// Error responses are documented once, by the spec merger, for every operation; a
/// handler's `Result<_, ApiError>` therefore adds nothing of its own to the spec.
impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: Vec::new(),
        }
    }

    fn register(_registry: &mut Registry) {}
}

/// SPEC's error body: RFC 9457 fields plus the published `error` and `message`.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    pub error: ErrorCode,
    pub message: String,
    #[serde(rename = "requestId")]
    pub request_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ParameterProblem>,
    #[serde(rename = "retryAfter", skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// The content type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

impl Problem {
    /// The body's schema in the document (`components.schemas.Problem`), written beside
    /// the struct that renders it; `the_documented_error_body_is_the_one_sent` keeps the
    /// two to the same fields.
    pub fn schema() -> serde_json::Value {
        serde_json::json!({
            "type": "object",
            "description": "An error (RFC 9457 problem details plus the stable `error` code).",
            "required": ["type", "title", "status", "detail", "error", "message", "requestId"],
            "properties": {
                "type": {"type": "string", "description": "A URI that documents the error code."},
                "title": {"type": "string", "description": "A short summary of the error code."},
                "status": {"type": "integer", "format": "int32", "description": "The HTTP status."},
                "detail": {"type": "string", "description": "What went wrong, for a person."},
                "error": {
                    "type": "string",
                    "description": "A stable code to branch on.",
                    "enum": ErrorCode::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                },
                "message": {"type": "string", "description": "The same sentence as `detail`."},
                "requestId": {"type": "string", "description": "Quote it when reporting a problem."},
                "details": {
                    "type": "array",
                    "description": "On 400: each rejected parameter.",
                    "items": {"$ref": "#/components/schemas/ParameterProblem"}
                },
                "retryAfter": {
                    "type": "integer", "format": "int64",
                    "description": "On 429: seconds until the budget resets."
                }
            }
        })
    }
}

impl ParameterProblem {
    /// Its schema in the document (`components.schemas.ParameterProblem`).
    pub fn schema() -> serde_json::Value {
        serde_json::json!({
            "type": "object",
            "required": ["parameter", "message"],
            "properties": {
                "parameter": {"type": "string", "description": "The parameter's name."},
                "message": {"type": "string", "description": "What is allowed."}
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of an object schema's properties, and of those it requires.
    fn fields(schema: &serde_json::Value) -> (Vec<String>, Vec<String>) {
        let mut properties: Vec<String> = schema["properties"]
            .as_object()
            .expect("an object schema")
            .keys()
            .cloned()
            .collect();
        let mut required: Vec<String> = schema["required"]
            .as_array()
            .expect("required fields")
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        properties.sort();
        required.sort();
        (properties, required)
    }

    fn keys(body: &serde_json::Value) -> Vec<String> {
        let mut keys: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }

    #[test]
    fn the_documented_error_body_is_the_one_sent() {
        let fullest = ApiError::invalid_parameter("limit", "must be at most 1000")
            .with_retry_after(5)
            .body("req-1");
        let fullest = serde_json::to_value(&fullest).unwrap();
        let (properties, _) = fields(&Problem::schema());
        assert_eq!(
            keys(&fullest),
            properties,
            "every field sent is documented, and none more"
        );
        let barest =
            serde_json::to_value(ApiError::not_found("no such thing").body("req-1")).unwrap();
        let (_, required) = fields(&Problem::schema());
        assert_eq!(
            keys(&barest),
            required,
            "the fields always sent are the required ones"
        );
        let detail = &fullest["details"][0];
        let (properties, required) = fields(&ParameterProblem::schema());
        assert_eq!(keys(detail), properties);
        assert_eq!(properties, required);
        let codes = Problem::schema()["properties"]["error"]["enum"].clone();
        assert!(codes.as_array().unwrap().contains(&fullest["error"]));
    }

    #[test]
    fn invalid_parameter_body_names_the_parameter() {
        let err = ApiError::invalid_parameter("limit", "must be between 1 and 1000");
        let body = serde_json::to_value(err.body("req-1")).unwrap();
        assert_eq!(body["status"], 400);
        assert_eq!(body["error"], "invalid_parameter");
        assert_eq!(body["requestId"], "req-1");
        assert_eq!(body["details"][0]["parameter"], "limit");
        assert!(body["message"].as_str().unwrap().contains("`limit`"));
        assert!(body.get("retryAfter").is_none());
    }

    #[test]
    fn internal_error_body_never_carries_its_cause() {
        let err = ApiError::internal(anyhow::anyhow!("SELECT * FROM secret_table failed"));
        let text = serde_json::to_string(&err.body("r")).unwrap();
        assert!(!text.contains("secret_table"), "{text}");
        assert!(err.cause().is_some());
    }

    #[test]
    fn rate_limited_body_carries_retry_after() {
        let body = serde_json::to_value(ApiError::rate_limited(42).body("r")).unwrap();
        assert_eq!(body["status"], 429);
        assert_eq!(body["retryAfter"], 42);
    }
}
