//! The served OpenAPI document: the plugins' merged specs plus what core adds to every
//! operation (error responses, the request-id header, the bearer scheme).
//!
//! Adding the shared parts here, once, is what lets a dynamic plugin's fragment look
//! exactly like a built-in one in the document.

pub mod merge;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

pub use merge::{Fragment, MergeError, METHODS};

use crate::{
    http::conditional,
    poem_seams::document::{
        describe_bare_responses, drop_annotation_only_all_of_members, mark_optional_nullable,
        recase_header_names,
    },
    policy::{Policies, Policy},
};

/// Every operation lives under this prefix.
pub const API_PREFIX: &str = "/api/v1";
/// The OpenAPI version the document declares (what poem-openapi generates).
pub const OPENAPI_VERSION: &str = "3.0.3";
/// The security scheme every non-public operation requires.
pub const BEARER_SCHEME: &str = "bearerAuth";
/// The operation extension naming the scope a key needs.
pub const SCOPE_EXTENSION: &str = "x-dashtray-scope";

type Components = BTreeMap<String, BTreeMap<String, Value>>;

/// `info.description` when the server gives none ([`ApiDocument::with_description`]):
/// what core itself guarantees, whichever plugins are loaded.
pub const DEFAULT_DESCRIPTION: &str = "A Dashtray project's data, served by its plugins. \
    Every request except health and this document needs an API key \
    (`Authorization: Bearer dk_...`); a project's keys share one hourly rate limit. \
    Errors are `application/problem+json`.";

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
    /// Counted against the project's hourly budget.
    pub counted: bool,
}

/// The merged, canonical document.
#[derive(Debug, Clone)]
pub struct ApiDocument {
    value: Value,
    operations: Vec<OperationInfo>,
}

impl ApiDocument {
    /// Merges the fragments; `policies` say which operations are public, counted and
    /// scoped (an operation without one is keyed, counted and unscoped).
    pub fn build(fragments: &[Fragment], policies: &Policies) -> Result<ApiDocument, MergeError> {
        let shared = shared_components();
        let merged = merge::merge(fragments, &shared)?;

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
                let policy = policies
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| Policy::keyed(None));
                let (is_public, counted, scope) = (policy.public, policy.counted, policy.scope);
                any_secured |= !is_public;
                let plugin = merged.operation_owner[&id].clone();
                let is_get = method == "get";
                add_shared_parts(&mut operation, path, is_get, is_public, scope.as_deref());
                operations.push(OperationInfo {
                    method: method.to_uppercase(),
                    path: full_path.clone(),
                    plugin,
                    operation_id: id,
                    public: is_public,
                    scope,
                    counted,
                });
                item.insert(method.clone(), operation);
            }
            paths.insert(full_path, Value::Object(item));
        }

        let mut components = merged.components.clone();
        if let Some(schemas) = components.get_mut("schemas") {
            schemas.values_mut().for_each(mark_optional_nullable);
        }
        for (kind, entries) in &shared {
            let target = components.entry(kind.clone()).or_default();
            for (name, definition) in entries {
                target.insert(name.clone(), definition.clone());
            }
        }
        if !any_secured {
            components.remove("securitySchemes");
        }

        for methods in paths.values_mut() {
            drop_annotation_only_all_of_members(methods);
        }
        for entries in components.values_mut() {
            entries
                .values_mut()
                .for_each(drop_annotation_only_all_of_members);
        }
        let mut document = json!({
            "openapi": OPENAPI_VERSION,
            "info": {
                "title": "Dashtray API",
                "version": env!("CARGO_PKG_VERSION"),
                "description": DEFAULT_DESCRIPTION,
            },
            "servers": [{"url": "http://127.0.0.1:8080", "description": "`dashtray serve` with the default `server.bind`"}],
            "tags": merged.tags.values().cloned().collect::<Vec<_>>(),
            "paths": paths,
        });
        prune_unused(&mut components, &shared, &document);
        describe_bare_responses(&mut document, components.get("schemas"));
        document["components"] = components_value(&components);
        Ok(ApiDocument {
            value: canonical(document),
            operations,
        })
    }

    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The document with `description` as its `info.description`: what the server that
    /// ships these plugins says about them.
    pub fn with_description(mut self, description: &str) -> ApiDocument {
        self.value["info"]["description"] = Value::from(description);
        self
    }

    pub fn operations(&self) -> &[OperationInfo] {
        &self.operations
    }

    /// Whether `op` declares query parameters. Only then does its endpoint read the
    /// query (see [`hand_over`](crate::poem_seams::query::hand_over)).
    pub fn takes_query(&self, op: &OperationInfo) -> bool {
        let method = op.method.to_ascii_lowercase();
        self.value["paths"][&op.path][&method]["parameters"]
            .as_array()
            .is_some_and(|params| params.iter().any(|p| p["in"] == "query"))
    }

    /// The values of an enumerated schema (`components.schemas.<name>.enum`).
    pub fn enum_values(&self, schema: &str) -> Option<Vec<String>> {
        let values = self.value["components"]["schemas"][schema]["enum"].as_array()?;
        Some(
            values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        )
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
fn add_shared_parts(
    operation: &mut Value,
    path: &str,
    is_get: bool,
    public: bool,
    scope: Option<&str>,
) {
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
    for (status, response) in responses.iter_mut() {
        if let Some(response) = response.as_object_mut() {
            if !response.contains_key("$ref") {
                let headers = response.entry("headers").or_insert_with(|| json!({}));
                recase_header_names(headers);
                add_header_refs(headers, &[REQUEST_ID]);
                let own_caching = headers.get("Cache-Control").is_some();
                let tagged = status
                    .parse()
                    .is_ok_and(|status| conditional::applies(is_get, status, own_caching));
                if tagged {
                    add_header_refs(headers, &conditional::HEADERS);
                }
                if !public {
                    // An operation's own answers come after the key is checked: the
                    // project's window is always known, so always sent.
                    add_required_headers(headers, &rate_limit_headers());
                }
            }
        }
    }
    let declares_5xx = responses.keys().any(|status| status.starts_with('5'));
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
    // An operation that documents a 5xx of its own (health's 503 with its checks) keeps
    // to its own: one error body per operation is what client generators expect.
    if !declares_5xx {
        add("500", "InternalError");
        add("503", "Unavailable");
    }
}

const REQUEST_ID: &str = "X-Request-Id";
/// On every answer to an authenticated request: the ones `ratelimit::headers` sets.
fn rate_limit_headers() -> Vec<&'static str> {
    crate::ratelimit::headers::WINDOW
        .into_iter()
        .map(|h| h.shown)
        .collect()
}

fn add_header_refs(headers: &mut Value, names: &[&str]) {
    for name in names {
        headers[*name] = json!({ "$ref": format!("#/components/headers/{name}") });
    }
}

fn header(description: &str, schema: Value) -> Value {
    json!({ "description": description, "schema": schema })
}

/// `names` as their shared definitions, marked required: for answers that always carry
/// them where the shared definition is also listed on answers that may not. Inline, as a
/// `$ref` cannot add `required` of its own.
fn add_required_headers(headers: &mut Value, names: &[&str]) {
    let shared = shared_headers();
    for name in names {
        headers[*name] = always(shared[*name].clone());
    }
}

/// A header every answer it is listed on carries.
fn always(mut header: Value) -> Value {
    header["required"] = Value::Bool(true);
    header
}

/// The headers core sets, defined once and referenced from each response.
fn shared_headers() -> BTreeMap<String, Value> {
    let integer = || json!({"type": "integer", "format": "int64"});
    let string = || json!({"type": "string"});
    let window = crate::ratelimit::headers::WINDOW.into_iter().map(|h| {
        let schema = if h.integer { integer() } else { string() };
        (h.shown, header(h.description, schema))
    });
    [
        (REQUEST_ID, always(header("The id of this request, as in the log; the caller's own `X-Request-Id` is kept when it is 1-128 characters of letters, digits, `-`, `_`, `.`.", string()))),
        // Listed only on 429s, which always carry it.
        ("Retry-After", always(header("Seconds to wait before retrying.", integer()))),
        ("ETag", header("The answer's validator: send it back in `If-None-Match` to get `304 Not Modified` while it is current (a 304 is not counted).", string())),
        ("Cache-Control", header("`private, max-age=<http.cache_max_age_secs>`.", string())),
        ("Vary", header("`Authorization`: answers differ per key.", string())),
        ("WWW-Authenticate", header("`Bearer realm=\"dashtray\"`, with `error=\"insufficient_scope\"` and the scope on a 403 for a missing scope.", string())),
    ]
    .into_iter()
    .chain(window)
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

/// Core's components: the error body, the error responses, the bearer scheme.
fn shared_components() -> Components {
    let mut components = Components::new();
    let schemas = components.entry("schemas".into()).or_default();
    schemas.insert("Problem".into(), crate::error::Problem::schema());
    schemas.insert(
        "ParameterProblem".into(),
        crate::error::ParameterProblem::schema(),
    );
    components.insert("headers".into(), shared_headers());
    let responses = components.entry("responses".into()).or_default();
    // Error answers to keyed operations carry the window too (401s excepted: no project).
    // `always` are the headers every answer of the kind carries, `extra` those some do.
    let problem = |description: &str, always: &[&str], extra: &[&str], rate_limited: bool| {
        let mut headers = json!({});
        add_header_refs(&mut headers, &[REQUEST_ID]);
        add_required_headers(&mut headers, always);
        add_header_refs(&mut headers, extra);
        if rate_limited {
            add_header_refs(&mut headers, &rate_limit_headers());
        }
        json!({
            "description": description,
            "headers": headers,
            "content": {crate::error::PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        })
    };
    let on_keyed = " Answers to keyed operations carry the rate-limit headers.";
    responses.insert(
        "BadRequest".into(),
        problem(
            &format!(
                "A parameter is invalid (`invalid_parameter`); `details` names each one.{on_keyed}"
            ),
            &[],
            &[],
            true,
        ),
    );
    responses.insert(
        "Unauthorized".into(),
        problem(
            "The API key is missing, malformed, unknown, revoked or expired (`unauthorized`); the answer does not say which.",
            &["WWW-Authenticate"],
            &[],
            false,
        ),
    );
    responses.insert(
        "Forbidden".into(),
        problem(
            "The project's plan does not include the API (`plan_required`), or the key lacks \
             the operation's scope (`insufficient_scope`).",
            &[],
            &["WWW-Authenticate"],
            true,
        ),
    );
    responses.insert(
        "NotFound".into(),
        problem(
            &format!("No such resource in the caller's project (`not_found`).{on_keyed}"),
            &[],
            &[],
            true,
        ),
    );
    responses.insert(
        "TooManyRequests".into(),
        problem(
            "The project's hourly budget is spent, or this address failed to authenticate too \
             often (`rate_limited`); `Retry-After` and `retryAfter` say when to retry.",
            &[],
            &["Retry-After"],
            true,
        ),
    );
    responses.insert(
        "InternalError".into(),
        problem(
            &format!(
                "An unexpected error (`internal`); the log has it under the request id.{on_keyed}"
            ),
            &[],
            &[],
            true,
        ),
    );
    responses.insert(
        "Unavailable".into(),
        problem(
            &format!("A dependency such as the database is unreachable (`unavailable`).{on_keyed}"),
            &[],
            &[],
            true,
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
        }
    }

    fn public(ids: &[&str]) -> Policies {
        ids.iter()
            .map(|id| ((*id).to_owned(), Policy::public()))
            .collect()
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
        let doc = ApiDocument::build(&[things()], &Policies::new()).unwrap();
        let op = &doc.value()["paths"]["/api/v1/things/{id}"]["get"];
        assert_eq!(op["security"], json!([{"bearerAuth": []}]));
        for status in ["400", "401", "403", "404", "429", "500", "503"] {
            assert!(op["responses"].get(status).is_some(), "missing {status}");
        }
        let headers = &op["responses"]["200"]["headers"];
        assert_eq!(
            headers["X-Request-Id"]["$ref"],
            "#/components/headers/X-Request-Id"
        );
        // The operation's own answers always carry the window: required, so checked.
        assert_eq!(headers["X-RateLimit-Remaining"]["required"], true);
        assert_eq!(
            headers["X-RateLimit-Remaining"]["schema"]["type"],
            "integer"
        );
        assert!(doc.value()["components"]["headers"]["RateLimit-Policy"].is_object());
        assert!(doc.value()["components"]["securitySchemes"]["bearerAuth"].is_object());
        assert!(doc.value()["components"]["schemas"]["Problem"].is_object());
    }

    #[test]
    fn public_operation_has_no_auth_errors_and_no_unused_components() {
        let doc = ApiDocument::build(&[things()], &public(&["getThing"])).unwrap();
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
        let doc = ApiDocument::build(&[fragment("system", spec)], &public(&["health"])).unwrap();
        let resp = &doc.value()["paths"]["/api/v1/health"]["get"]["responses"]["503"];
        assert_eq!(resp["description"], "unhealthy, with the checks");
    }

    #[test]
    fn output_bytes_are_stable_across_plugin_order() {
        let other = fragment(
            "other",
            json!({"paths": {"/a": {"get": {"operationId": "a", "responses": {}}}}}),
        );
        let one = ApiDocument::build(&[things(), other.clone()], &Policies::new()).unwrap();
        let two = ApiDocument::build(&[other, things()], &Policies::new()).unwrap();
        assert_eq!(one.to_json(), two.to_json());
        assert_eq!(one.to_yaml(), two.to_yaml());
        let paths: Vec<&String> = one.value()["paths"].as_object().unwrap().keys().collect();
        assert_eq!(paths, ["/api/v1/a", "/api/v1/things/{id}"]);
    }
}
