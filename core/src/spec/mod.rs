//! The served OpenAPI document: the plugins' merged specs plus what core adds to every
//! operation (error responses, the request-id header, the bearer scheme).
//!
//! Adding the shared parts here, once, is what lets a dynamic plugin's fragment look
//! exactly like a built-in one in the document.

pub mod merge;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

pub use merge::{Fragment, MergeError, METHODS};

/// Every operation lives under this prefix.
pub const API_PREFIX: &str = "/api/v1";
/// The OpenAPI version the document declares (what poem-openapi generates).
pub const OPENAPI_VERSION: &str = "3.0.3";
/// The security scheme every non-public operation requires.
pub const BEARER_SCHEME: &str = "bearerAuth";
/// The operation extension naming the scope a key needs.
pub const SCOPE_EXTENSION: &str = "x-dashtray-scope";

type Components = BTreeMap<String, BTreeMap<String, Value>>;

/// One operation of the document, as the router and `dashtray plugins` see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OperationInfo {
    pub method: String,
    /// Full path, with `{param}` placeholders.
    pub path: String,
    #[serde(rename = "operationId")]
    pub operation_id: String,
    pub plugin: String,
    pub public: bool,
    /// The scope a key needs, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The merged, canonical document.
#[derive(Debug, Clone)]
pub struct ApiDocument {
    value: Value,
    operations: Vec<OperationInfo>,
}

impl ApiDocument {
    /// Merges the fragments; `public` holds the operationIds served without a key.
    pub fn build(
        fragments: &[Fragment],
        public: &BTreeSet<String>,
    ) -> Result<ApiDocument, MergeError> {
        let shared = shared_components();
        let merged = merge::merge(fragments, &shared)?;
        let scopes: BTreeMap<&str, &str> = fragments
            .iter()
            .filter_map(|f| f.scope.as_deref().map(|s| (f.plugin.as_str(), s)))
            .collect();

        let mut operations = Vec::new();
        let mut paths = Map::new();
        let mut any_secured = false;
        for (path, methods) in &merged.paths {
            let full_path = format!("{API_PREFIX}{path}");
            let mut item = Map::new();
            for (method, operation) in methods {
                let mut operation = operation.clone();
                let id = operation["operationId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let is_public = public.contains(&id);
                any_secured |= !is_public;
                let plugin = merged.operation_owner[&id].clone();
                let scope = match is_public {
                    true => None,
                    false => scopes.get(plugin.as_str()).map(|s| (*s).to_owned()),
                };
                add_shared_parts(&mut operation, path, is_public, scope.as_deref());
                operations.push(OperationInfo {
                    method: method.to_uppercase(),
                    path: full_path.clone(),
                    plugin,
                    operation_id: id,
                    public: is_public,
                    scope,
                });
                item.insert(method.clone(), operation);
            }
            paths.insert(full_path, Value::Object(item));
        }

        let mut components = merged.components.clone();
        for (kind, entries) in &shared {
            let target = components.entry(kind.clone()).or_default();
            for (name, definition) in entries {
                target.insert(name.clone(), definition.clone());
            }
        }
        if !any_secured {
            components.remove("securitySchemes");
        }

        let mut document = json!({
            "openapi": OPENAPI_VERSION,
            "info": {
                "title": "Dashtray API",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "Programmatic, read-only access to a Dashtray project's data: \
                    the project, its metrics and time series, integrations and dashboards. \
                    Every request except health and this document needs an API key \
                    (`Authorization: Bearer dk_...`); a project's keys share one hourly \
                    rate limit. Errors are `application/problem+json`.",
            },
            "tags": merged.tags.values().cloned().collect::<Vec<_>>(),
            "paths": paths,
        });
        prune_unused(&mut components, &shared, &document);
        document["components"] = components_value(&components);
        Ok(ApiDocument {
            value: canonical(document),
            operations,
        })
    }

    pub fn value(&self) -> &Value {
        &self.value
    }

    pub fn operations(&self) -> &[OperationInfo] {
        &self.operations
    }

    /// Pretty JSON with sorted keys: byte-stable for one set of plugins.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.value).expect("a JSON value serializes");
        text.push('\n');
        text
    }

    /// YAML with sorted keys, as committed in `openapi.yaml`.
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(&self.value).expect("a JSON value serializes as YAML")
    }
}

/// Adds what every operation shares: tags default, error responses, request-id header.
fn add_shared_parts(operation: &mut Value, path: &str, public: bool, scope: Option<&str>) {
    if !public {
        operation["security"] = json!([{ BEARER_SCHEME: [] }]);
    }
    if let Some(scope) = scope {
        // Bearer schemes carry no scopes in OpenAPI 3.0; this extension names it for
        // readers and the generated reference.
        operation[SCOPE_EXTENSION] = Value::from(scope);
    }
    let has_parameters = operation
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty());
    let responses = operation
        .as_object_mut()
        .expect("operations are objects")
        .entry("responses")
        .or_insert_with(|| json!({}));
    let responses = responses.as_object_mut().expect("responses is an object");
    for response in responses.values_mut() {
        if let Some(response) = response.as_object_mut() {
            if !response.contains_key("$ref") {
                let headers = response.entry("headers").or_insert_with(|| json!({}));
                headers["X-Request-Id"] = request_id_header();
            }
        }
    }
    let mut add = |status: &str, component: &str| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| json!({ "$ref": format!("#/components/responses/{component}") }));
    };
    if has_parameters {
        add("400", "BadRequest");
    }
    if !public {
        add("401", "Unauthorized");
        add("403", "Forbidden");
        add("429", "TooManyRequests");
    }
    if path.contains('{') {
        add("404", "NotFound");
    }
    add("500", "InternalError");
    add("503", "Unavailable");
}

fn request_id_header() -> Value {
    json!({
        "description": "The id of this request, as in the log; the caller's own \
            `X-Request-Id` is kept when it is 1-128 characters of letters, digits, `-`, `_`, `.`.",
        "schema": {"type": "string"}
    })
}

/// Core's components: the error body, the error responses, the bearer scheme.
fn shared_components() -> Components {
    let mut components = Components::new();
    let schemas = components.entry("schemas".into()).or_default();
    schemas.insert(
        "Problem".into(),
        json!({
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
                    "enum": crate::error::ErrorCode::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
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
        }),
    );
    schemas.insert(
        "ParameterProblem".into(),
        json!({
            "type": "object",
            "required": ["parameter", "message"],
            "properties": {
                "parameter": {"type": "string", "description": "The parameter's name."},
                "message": {"type": "string", "description": "What is allowed."}
            }
        }),
    );
    let responses = components.entry("responses".into()).or_default();
    let problem = |description: &str, extra_headers: Value| {
        let mut headers = json!({ "X-Request-Id": request_id_header() });
        if let Value::Object(extra) = extra_headers {
            headers.as_object_mut().expect("object").extend(extra);
        }
        json!({
            "description": description,
            "headers": headers,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        })
    };
    responses.insert(
        "BadRequest".into(),
        problem(
            "A parameter is invalid (`invalid_parameter`); `details` names each one.",
            json!({}),
        ),
    );
    responses.insert(
        "Unauthorized".into(),
        problem(
            "The API key is missing, malformed, unknown, revoked or expired (`unauthorized`).",
            json!({"WWW-Authenticate": {"description": "`Bearer realm=\"dashtray\"`", "schema": {"type": "string"}}}),
        ),
    );
    responses.insert(
        "Forbidden".into(),
        problem(
            "The project's plan does not include the API (`plan_required`), or the key lacks \
             the operation's scope (`insufficient_scope`).",
            json!({}),
        ),
    );
    responses.insert(
        "NotFound".into(),
        problem(
            "No such resource in the caller's project (`not_found`).",
            json!({}),
        ),
    );
    responses.insert(
        "TooManyRequests".into(),
        problem(
            "The project's hourly budget is spent (`rate_limited`).",
            json!({"Retry-After": {"description": "Seconds until the budget resets.", "schema": {"type": "integer"}}}),
        ),
    );
    responses.insert(
        "InternalError".into(),
        problem(
            "An unexpected error (`internal`); the log has it under the request id.",
            json!({}),
        ),
    );
    responses.insert(
        "Unavailable".into(),
        problem(
            "A dependency such as the database is unreachable (`unavailable`).",
            json!({}),
        ),
    );
    components
        .entry("securitySchemes".into())
        .or_default()
        .insert(
            BEARER_SCHEME.into(),
            json!({
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "dk_<public id>_<secret>",
                "description": "An API key created with `dashtray keys create`."
            }),
        );
    components
}

/// Drops core components nothing refers to, so the document carries no dead entries.
fn prune_unused(components: &mut Components, shared: &Components, document: &Value) {
    loop {
        let mut refs = BTreeSet::new();
        merge::collect_refs(document, &mut refs);
        merge::collect_refs(&components_value(components), &mut refs);
        let mut removed = false;
        for (kind, names) in shared {
            if kind == "securitySchemes" {
                continue;
            }
            for name in names.keys() {
                let reference = format!("#/components/{kind}/{name}");
                let present = components.get(kind).is_some_and(|k| k.contains_key(name));
                if present && !refs.contains(&reference) {
                    components.get_mut(kind).expect("present").remove(name);
                    removed = true;
                }
            }
        }
        if !removed {
            break;
        }
    }
    components.retain(|_, entries| !entries.is_empty());
}

fn components_value(components: &Components) -> Value {
    Value::Object(
        components
            .iter()
            .map(|(kind, entries)| {
                let entries: Map<String, Value> = entries
                    .iter()
                    .map(|(n, d)| (n.clone(), d.clone()))
                    .collect();
                (kind.clone(), Value::Object(entries))
            })
            .collect(),
    )
}

/// Rebuilds every object with sorted keys, whatever map type serde_json was built with.
pub fn canonical(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<String, Value> =
                map.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(plugin: &str, spec: Value) -> Fragment {
        Fragment {
            plugin: plugin.into(),
            spec,
            scope: None,
        }
    }

    fn things() -> Fragment {
        fragment(
            "things",
            json!({"paths": {"/things/{id}": {"get": {
                "operationId": "getThing",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "ok"}}
            }}}}),
        )
    }

    #[test]
    fn secured_operation_gets_scheme_errors_and_request_id() {
        let doc = ApiDocument::build(&[things()], &BTreeSet::new()).unwrap();
        let op = &doc.value()["paths"]["/api/v1/things/{id}"]["get"];
        assert_eq!(op["security"], json!([{"bearerAuth": []}]));
        for status in ["400", "401", "403", "404", "429", "500", "503"] {
            assert!(op["responses"].get(status).is_some(), "missing {status}");
        }
        assert!(op["responses"]["200"]["headers"]["X-Request-Id"].is_object());
        assert!(doc.value()["components"]["securitySchemes"]["bearerAuth"].is_object());
        assert!(doc.value()["components"]["schemas"]["Problem"].is_object());
    }

    #[test]
    fn public_operation_has_no_auth_errors_and_no_unused_components() {
        let public: BTreeSet<String> = ["getThing".to_owned()].into();
        let doc = ApiDocument::build(&[things()], &public).unwrap();
        let op = &doc.value()["paths"]["/api/v1/things/{id}"]["get"];
        assert!(op.get("security").is_none());
        assert!(op["responses"].get("401").is_none());
        assert!(op["responses"].get("429").is_none());
        let components = &doc.value()["components"];
        assert!(components.get("securitySchemes").is_none());
        assert!(components["responses"].get("Unauthorized").is_none());
        assert!(components["responses"].get("NotFound").is_some());
    }

    #[test]
    fn declared_responses_are_not_overridden() {
        let spec = json!({"paths": {"/health": {"get": {
            "operationId": "health",
            "responses": {"503": {"description": "unhealthy, with the checks"}}
        }}}});
        let public: BTreeSet<String> = ["health".to_owned()].into();
        let doc = ApiDocument::build(&[fragment("system", spec)], &public).unwrap();
        let resp = &doc.value()["paths"]["/api/v1/health"]["get"]["responses"]["503"];
        assert_eq!(resp["description"], "unhealthy, with the checks");
    }

    #[test]
    fn output_bytes_are_stable_across_plugin_order() {
        let other = fragment(
            "other",
            json!({"paths": {"/a": {"get": {"operationId": "a", "responses": {}}}}}),
        );
        let one = ApiDocument::build(&[things(), other.clone()], &BTreeSet::new()).unwrap();
        let two = ApiDocument::build(&[other, things()], &BTreeSet::new()).unwrap();
        assert_eq!(one.to_json(), two.to_json());
        assert_eq!(one.to_yaml(), two.to_yaml());
        let paths: Vec<&String> = one.value()["paths"].as_object().unwrap().keys().collect();
        assert_eq!(paths, ["/api/v1/a", "/api/v1/things/{id}"]);
    }
}
