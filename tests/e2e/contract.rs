//! Protects `openapi.yaml` and the server from drifting apart: every operation the
//! document lists is called for real on the demo data (on each backend), and each answer
//! must have a status the document lists for the operation, a declared content type, a
//! body valid against the declared schema made strict (no undocumented fields), and the
//! declared headers in their declared types.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use dashtray_core::on_each_backend;
use reqwest::header::HeaderMap;
use serde_json::{json, Map, Value};

use crate::support::{
    cli_json, client, document::fits_template, project_with_key, workspace_root, Server, TestDb,
};

/// Documented answers no request can provoke from a healthy server: they need a failing
/// database or a bug (`database_outage.rs` covers the 503s' behaviour).
const UNPROVOKED: [&str; 2] = ["500", "503"];

/// `getRateLimit` and `getUsage` are not counted, so their documented 429 comes only from
/// an address that failed to authenticate too often; provoking that would refuse this
/// test's other requests from the same address (`auth.rs` covers it on its own server).
const UNCOUNTED: [&str; 2] = ["getRateLimit", "getUsage"];

/// Schema errors listed per answer; the rest are counted.
const MAX_ERRORS_SHOWN: usize = 12;

/// Who makes a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Caller {
    /// No `Authorization` header.
    Anonymous,
    /// The demo project's key: Scale plan, every scope.
    Demo,
    /// A key of a project on the Growth plan, which does not include the API.
    LowPlan,
    /// A key of a Scale project restricted to this one scope.
    Scoped(&'static str),
    /// A key of a Scale project created with `--rate-limit 1`, whose budget is spent.
    Spent,
}

/// One request and the documented answer it must get.
struct Case {
    op: &'static str,
    status: u16,
    caller: Caller,
    path: &'static str,
}

const fn case(op: &'static str, status: u16, caller: Caller, path: &'static str) -> Case {
    Case {
        op,
        status,
        caller,
        path,
    }
}

use Caller::{Anonymous, Demo, LowPlan, Scoped, Spent};

/// Every documented answer that can be provoked, per operation. `%FF` is a path segment
/// that does not decode to UTF-8: the only way to get a 400 from an operation whose
/// only parameter is a string in the path.
const CASES: &[Case] = &[
    // System.
    case("getHealth", 200, Anonymous, "/api/v1/health"),
    case("getOpenApiJson", 200, Anonymous, "/api/v1/openapi.json"),
    case("getOpenApiYaml", 200, Anonymous, "/api/v1/openapi.yaml"),
    case("getRateLimit", 200, Demo, "/api/v1/rate_limit"),
    case("getRateLimit", 200, Scoped("metrics:read"), "/api/v1/rate_limit"),
    case("getRateLimit", 401, Anonymous, "/api/v1/rate_limit"),
    case("getRateLimit", 403, LowPlan, "/api/v1/rate_limit"),
    // Reading the window is never refused: a spent budget reads as remaining 0.
    case("getRateLimit", 200, Spent, "/api/v1/rate_limit"),
    // Usage: any valid key reads it, spent budget or not.
    case("getUsage", 200, Demo, "/api/v1/usage"),
    case(
        "getUsage",
        200,
        Scoped("metrics:read"),
        "/api/v1/usage?interval=day&start_date=2025-01-01&end_date=2025-03-31&group_by=status",
    ),
    case("getUsage", 200, Spent, "/api/v1/usage?group_by=key"),
    case("getUsage", 400, Demo, "/api/v1/usage?interval=week"),
    case("getUsage", 400, Demo, "/api/v1/usage?start_date=2025-01-01&end_date=2025-03-31"),
    case("getUsage", 401, Anonymous, "/api/v1/usage"),
    case("getUsage", 403, LowPlan, "/api/v1/usage"),
    // Projects.
    case("getProject", 200, Demo, "/api/v1/projects"),
    case("getProject", 401, Anonymous, "/api/v1/projects"),
    case("getProject", 403, LowPlan, "/api/v1/projects"),
    case("getProject", 403, Scoped("metrics:read"), "/api/v1/projects"),
    case("getProject", 429, Spent, "/api/v1/projects"),
    // Metrics.
    case(
        "listMetrics",
        200,
        Demo,
        "/api/v1/metrics?metric_id=mrr&start_date=2025-01-01&end_date=2025-03-31&limit=5",
    ),
    case(
        "listMetrics",
        200,
        Demo,
        "/api/v1/metrics?metric_id=mrr,churn_rate&limit=3&offset=6",
    ),
    case("listMetrics", 200, Demo, "/api/v1/metrics?metric_id=no_such_metric"),
    case("listMetrics", 400, Demo, "/api/v1/metrics?limit=0"),
    case("listMetrics", 400, Demo, "/api/v1/metrics?limit=1001"),
    case("listMetrics", 400, Demo, "/api/v1/metrics?start_date=2025-13-01"),
    case(
        "listMetrics",
        400,
        Demo,
        "/api/v1/metrics?start_date=2025-02-01&end_date=2025-01-01",
    ),
    case("listMetrics", 401, Anonymous, "/api/v1/metrics"),
    case("listMetrics", 403, LowPlan, "/api/v1/metrics"),
    case("listMetrics", 403, Scoped("projects:read"), "/api/v1/metrics"),
    case("listMetrics", 429, Spent, "/api/v1/metrics?metric_id=mrr"),
    case(
        "getMetricTimeSeries",
        200,
        Demo,
        "/api/v1/metrics/mrr/timeseries?start_date=2025-01-01&end_date=2025-03-31&interval=week&agg=avg",
    ),
    // Hours without a point: buckets whose value is null.
    case(
        "getMetricTimeSeries",
        200,
        Demo,
        "/api/v1/metrics/active_users/timeseries?start_date=2025-01-01&end_date=2025-01-01&interval=hour&agg=max",
    ),
    case(
        "getMetricTimeSeries",
        400,
        Demo,
        "/api/v1/metrics/mrr/timeseries?start_date=2025-01-01&end_date=2025-03-31&interval=fortnight",
    ),
    case(
        "getMetricTimeSeries",
        400,
        Demo,
        "/api/v1/metrics/mrr/timeseries?start_date=yesterday&end_date=2025-03-31",
    ),
    case(
        "getMetricTimeSeries",
        400,
        Demo,
        "/api/v1/metrics/mrr/timeseries?start_date=2025-01-01",
    ),
    case(
        "getMetricTimeSeries",
        400,
        Demo,
        "/api/v1/metrics/%FF/timeseries?start_date=2025-01-01&end_date=2025-03-31",
    ),
    // A metric the project has no point of.
    case(
        "getMetricTimeSeries",
        404,
        Demo,
        "/api/v1/metrics/no_such_metric/timeseries?start_date=2025-01-01&end_date=2025-03-31",
    ),
    case(
        "getMetricTimeSeries",
        401,
        Anonymous,
        "/api/v1/metrics/mrr/timeseries?start_date=2025-01-01&end_date=2025-03-31",
    ),
    case(
        "getMetricTimeSeries",
        403,
        LowPlan,
        "/api/v1/metrics/mrr/timeseries?start_date=2025-01-01&end_date=2025-03-31",
    ),
    case(
        "getMetricTimeSeries",
        403,
        Scoped("projects:read"),
        "/api/v1/metrics/mrr/timeseries?start_date=2025-01-01&end_date=2025-03-31",
    ),
    case(
        "getMetricTimeSeries",
        429,
        Spent,
        "/api/v1/metrics/mrr/timeseries?start_date=2025-01-01&end_date=2025-03-31",
    ),
    // Integrations.
    case("listIntegrations", 200, Demo, "/api/v1/integrations"),
    case(
        "listIntegrations",
        200,
        Demo,
        "/api/v1/integrations?limit=2&offset=1",
    ),
    case("listIntegrations", 400, Demo, "/api/v1/integrations?limit=0"),
    case("listIntegrations", 400, Demo, "/api/v1/integrations?offset=-1"),
    case("listIntegrations", 401, Anonymous, "/api/v1/integrations"),
    case("listIntegrations", 403, LowPlan, "/api/v1/integrations"),
    case(
        "listIntegrations",
        403,
        Scoped("metrics:read"),
        "/api/v1/integrations",
    ),
    case("listIntegrations", 429, Spent, "/api/v1/integrations"),
    case(
        "getIntegration",
        200,
        Demo,
        "/api/v1/integrations/int_DemoStripe000001",
    ),
    case(
        "getIntegration",
        200,
        Demo,
        "/api/v1/integrations/int_DemoAnalytics001",
    ),
    case("getIntegration", 400, Demo, "/api/v1/integrations/%FF"),
    case(
        "getIntegration",
        404,
        Demo,
        "/api/v1/integrations/int_NoSuchThing00001",
    ),
    case(
        "getIntegration",
        401,
        Anonymous,
        "/api/v1/integrations/int_DemoStripe000001",
    ),
    case(
        "getIntegration",
        403,
        LowPlan,
        "/api/v1/integrations/int_DemoStripe000001",
    ),
    case(
        "getIntegration",
        403,
        Scoped("metrics:read"),
        "/api/v1/integrations/int_DemoStripe000001",
    ),
    case(
        "getIntegration",
        429,
        Spent,
        "/api/v1/integrations/int_DemoStripe000001",
    ),
    // Dashboards.
    case("listDashboards", 200, Demo, "/api/v1/dashboards"),
    case("listDashboards", 200, Demo, "/api/v1/dashboards?limit=1&offset=1"),
    case("listDashboards", 400, Demo, "/api/v1/dashboards?limit=abc"),
    case("listDashboards", 400, Demo, "/api/v1/dashboards?limit=5000"),
    case("listDashboards", 401, Anonymous, "/api/v1/dashboards"),
    case("listDashboards", 403, LowPlan, "/api/v1/dashboards"),
    case("listDashboards", 403, Scoped("metrics:read"), "/api/v1/dashboards"),
    case("listDashboards", 429, Spent, "/api/v1/dashboards"),
    case(
        "getDashboard",
        200,
        Demo,
        "/api/v1/dashboards/dsh_DemoRevenue00001",
    ),
    case("getDashboard", 400, Demo, "/api/v1/dashboards/%FF"),
    case(
        "getDashboard",
        404,
        Demo,
        "/api/v1/dashboards/dsh_NoSuchThing00001",
    ),
    case(
        "getDashboard",
        401,
        Anonymous,
        "/api/v1/dashboards/dsh_DemoRevenue00001",
    ),
    case(
        "getDashboard",
        403,
        LowPlan,
        "/api/v1/dashboards/dsh_DemoRevenue00001",
    ),
    case(
        "getDashboard",
        403,
        Scoped("metrics:read"),
        "/api/v1/dashboards/dsh_DemoRevenue00001",
    ),
    case(
        "getDashboard",
        429,
        Spent,
        "/api/v1/dashboards/dsh_DemoRevenue00001",
    ),
];

/// An operation of the document.
struct Operation {
    method: String,
    path: String,
    responses: Value,
}

/// `openapi.yaml`, with its schemas turned into strict JSON Schema.
pub(crate) struct Contract {
    doc: Value,
    operations: BTreeMap<String, Operation>,
    /// `{"schemas": {...}}`, converted: what `#/components/schemas/...` refs resolve to.
    components: Value,
}

impl Contract {
    pub(crate) fn load() -> Contract {
        let text = std::fs::read_to_string(workspace_root().join("openapi.yaml"))
            .expect("openapi.yaml is committed at the workspace root");
        let doc: Value = serde_yaml::from_str(&text).expect("openapi.yaml parses");
        let mut operations = BTreeMap::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("a path item") {
                let id = op["operationId"].as_str().expect("operationId").to_owned();
                let previous = operations.insert(
                    id.clone(),
                    Operation {
                        method: method.to_uppercase(),
                        path: path.clone(),
                        responses: op["responses"].clone(),
                    },
                );
                assert!(previous.is_none(), "operationId {id} is not unique");
            }
        }
        let schemas: Map<String, Value> = doc["components"]["schemas"]
            .as_object()
            .expect("components.schemas")
            .iter()
            .map(|(name, schema)| (name.clone(), strict_json_schema(schema)))
            .collect();
        Contract {
            doc,
            operations,
            components: json!({ "schemas": schemas }),
        }
    }

    fn operation(&self, id: &str) -> &Operation {
        self.operations
            .get(id)
            .unwrap_or_else(|| panic!("openapi.yaml has no operation `{id}`"))
    }

    /// Follows a local `$ref` (`#/components/...`) if `value` is one.
    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference
                    .strip_prefix('#')
                    .unwrap_or_else(|| panic!("`{reference}` is not a local reference"));
                self.resolve(
                    self.doc
                        .pointer(pointer)
                        .unwrap_or_else(|| panic!("`{reference}` resolves to nothing")),
                )
            }
            None => value,
        }
    }

    /// A validator for an OpenAPI schema of this document: the converted schema at the
    /// root, beside the converted components its `$ref`s point into.
    pub(crate) fn validator(&self, schema: &Value) -> jsonschema::Validator {
        let mut root = match strict_json_schema(schema) {
            Value::Object(map) => map,
            Value::Bool(true) => Map::new(),
            other => panic!("unexpected schema {other}"),
        };
        root.insert("components".into(), self.components.clone());
        jsonschema::draft202012::new(&Value::Object(root))
            .unwrap_or_else(|err| panic!("openapi.yaml's schema {schema} does not compile: {err}"))
    }

    /// Everything wrong with `answer` as an answer of `op`; empty when it is as documented.
    fn problems(&self, op: &str, answer: &Answer) -> Vec<String> {
        let mut problems = Vec::new();
        let responses = &self.operation(op).responses;
        let status = answer.status.to_string();
        let Some(response) = responses.get(&status) else {
            let documented: Vec<&String> = responses.as_object().unwrap().keys().collect();
            problems.push(format!(
                "status {status} is not documented for {op} (documented: {documented:?})"
            ));
            return problems;
        };
        let response = self.resolve(response);

        // The content type and the body.
        let content = response
            .get("content")
            .and_then(Value::as_object)
            .filter(|c| !c.is_empty());
        match (content, answer.content_type.as_deref()) {
            (None, _) if answer.body.is_empty() => {}
            (None, _) => problems.push("a body where openapi.yaml documents none".into()),
            (Some(content), sent) => {
                let declared = sent.and_then(|sent| {
                    content
                        .iter()
                        .find(|(media, _)| same_media_type(media, sent))
                });
                match declared {
                    None => problems.push(format!(
                        "content type `{}`, but openapi.yaml declares only {:?} for this answer",
                        sent.unwrap_or("(none)"),
                        content.keys().collect::<Vec<_>>()
                    )),
                    Some((media, media_object)) => {
                        let instance = if is_json(media) {
                            match serde_json::from_slice::<Value>(&answer.body) {
                                Ok(value) => Some(value),
                                Err(err) => {
                                    problems.push(format!("the body is not JSON: {err}"));
                                    None
                                }
                            }
                        } else {
                            Some(Value::String(
                                String::from_utf8_lossy(&answer.body).into_owned(),
                            ))
                        };
                        if let (Some(instance), Some(schema)) =
                            (instance, media_object.get("schema"))
                        {
                            let validator = self.validator(schema);
                            let errors: Vec<String> = validator
                                .iter_errors(&instance)
                                .map(|error| {
                                    let at = error.instance_path().to_string();
                                    let at = if at.is_empty() { "/".into() } else { at };
                                    format!("body at `{at}`: {error}")
                                })
                                .collect();
                            let shown = errors.len().min(MAX_ERRORS_SHOWN);
                            problems.extend_from_slice(&errors[..shown]);
                            if errors.len() > shown {
                                problems.push(format!(
                                    "… and {} more schema errors",
                                    errors.len() - shown
                                ));
                            }
                            if media.contains("problem+json") {
                                problems.extend(problem_consistency(answer, &instance));
                            }
                        }
                    }
                }
            }
        }

        // The declared headers.
        if let Some(headers) = response.get("headers").and_then(Value::as_object) {
            for (name, header) in headers {
                let header = self.resolve(header);
                let Some(value) = answer.headers.get(name.as_str()) else {
                    if header["required"] == true {
                        problems.push(format!("required header `{name}` is missing"));
                    }
                    continue;
                };
                let Ok(text) = value.to_str() else {
                    problems.push(format!("header `{name}` is not visible ASCII: {value:?}"));
                    continue;
                };
                let schema = header.get("schema").cloned().unwrap_or(json!({}));
                let typed = match schema["type"].as_str() {
                    Some("integer") => text.trim().parse::<i64>().map(Value::from).ok(),
                    Some("number") => text.trim().parse::<f64>().ok().map(Value::from),
                    Some("boolean") => text.trim().parse::<bool>().map(Value::from).ok(),
                    _ => Some(Value::from(text)),
                };
                let Some(typed) = typed else {
                    problems.push(format!(
                        "header `{name}: {text}` does not parse as its declared type {}",
                        schema["type"]
                    ));
                    continue;
                };
                let validator = self.validator(&schema);
                for error in validator.iter_errors(&typed) {
                    problems.push(format!("header `{name}: {text}`: {error}"));
                }
            }
        }
        problems
    }
}

/// A problem body's `status` is the HTTP status and its `requestId` the header's.
fn problem_consistency(answer: &Answer, body: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if body.get("status").is_some() && body["status"] != answer.status {
        problems.push(format!(
            "body `status` {} is not the HTTP status {}",
            body["status"], answer.status
        ));
    }
    let header = answer
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok());
    if body.get("requestId").is_some() && body["requestId"].as_str() != header {
        problems.push(format!(
            "body `requestId` {} is not the `X-Request-Id` header {header:?}",
            body["requestId"]
        ));
    }
    problems
}

/// `application/json; charset=utf-8` equals `application/json;charset=UTF-8`.
fn same_media_type(declared: &str, sent: &str) -> bool {
    let norm = |s: &str| {
        s.split(';')
            .map(|part| part.trim().to_ascii_lowercase())
            .collect::<Vec<_>>()
    };
    norm(declared) == norm(sent)
}

fn is_json(media: &str) -> bool {
    let essence = media.split(';').next().unwrap_or_default().trim();
    essence == "application/json" || essence.ends_with("+json")
}

/// OpenAPI 3.0 schema → JSON Schema 2020-12, made strict:
/// - `nullable: true` becomes `anyOf: [<schema>, {"type": "null"}]`;
/// - OpenAPI-only keywords (`example`, `xml`, `discriminator`, `externalDocs`) go;
/// - an object schema listing `properties` without saying otherwise gets
///   `additionalProperties: false`, so an undocumented field fails validation;
/// - the integer formats' ranges (`int32`, `uint32`, `uint64`) become bounds.
///
/// A `$ref` keeps no siblings, as in OpenAPI 3.0.
fn strict_json_schema(schema: &Value) -> Value {
    let Value::Object(source) = schema else {
        return schema.clone();
    };
    if let Some(reference) = source.get("$ref") {
        return json!({ "$ref": reference });
    }
    let mut out = Map::new();
    let mut nullable = false;
    for (keyword, value) in source {
        let converted = match keyword.as_str() {
            "nullable" => {
                nullable = value == true;
                continue;
            }
            "example" | "xml" | "discriminator" | "externalDocs" => continue,
            "properties" | "patternProperties" => Value::Object(
                value
                    .as_object()
                    .expect("a map of schemas")
                    .iter()
                    .map(|(name, s)| (name.clone(), strict_json_schema(s)))
                    .collect(),
            ),
            "items" | "not" | "additionalProperties" => strict_json_schema(value),
            "allOf" | "anyOf" | "oneOf" => Value::Array(
                value
                    .as_array()
                    .expect("a list of schemas")
                    .iter()
                    .map(strict_json_schema)
                    .collect(),
            ),
            _ => value.clone(),
        };
        out.insert(keyword.clone(), converted);
    }
    if out.contains_key("properties") && !out.contains_key("additionalProperties") {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    let range = match out.get("format").and_then(Value::as_str) {
        Some("int32") => Some(json!({"minimum": i32::MIN, "maximum": i32::MAX})),
        Some("uint32") => Some(json!({"minimum": 0, "maximum": u32::MAX})),
        Some("uint64") => Some(json!({"minimum": 0})),
        _ => None,
    };
    if let Some(range) = range {
        match out.get_mut("allOf").and_then(Value::as_array_mut) {
            Some(all_of) => all_of.push(range),
            None => {
                out.insert("allOf".into(), json!([range]));
            }
        }
    }
    if nullable {
        json!({ "anyOf": [Value::Object(out), {"type": "null"}] })
    } else {
        Value::Object(out)
    }
}

/// What the server answered.
struct Answer {
    status: u16,
    content_type: Option<String>,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn body_text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let mut cut: String = text.chars().take(1500).collect();
        if cut.len() < text.len() {
            cut.push('…');
        }
        cut
    }

    /// `t` of the `RateLimit` header: seconds until the window resets.
    fn seconds_to_reset(&self) -> Option<u64> {
        let value = self.headers.get("ratelimit")?.to_str().ok()?;
        value
            .split(';')
            .find_map(|part| part.trim().strip_prefix("t="))?
            .parse()
            .ok()
    }
}

/// Runs the cases against one server, collecting every mismatch instead of stopping at
/// the first, and the operations it exercised.
struct Run<'a> {
    contract: &'a Contract,
    server: &'a Server,
    db: &'a TestDb,
    demo_key: String,
    keys: HashMap<Caller, String>,
    failures: Vec<String>,
    exercised: BTreeSet<String>,
}

impl Run<'_> {
    async fn send(&self, op: &str, path: &str, key: Option<&str>) -> Answer {
        let operation = self.contract.operation(op);
        assert_eq!(operation.method, "GET", "{op}: only GET is exercised here");
        let mut request = client().get(self.server.url(path));
        if let Some(key) = key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        let resp = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{op} GET {path}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let content_type = headers
            .get("content-type")
            .map(|v| v.to_str().unwrap_or_default().to_owned());
        let body = resp.bytes().await.expect("the body").to_vec();
        Answer {
            status,
            content_type,
            headers,
            body,
        }
    }

    /// Calls `path` as `op` and checks the answer against the contract and `expected`.
    async fn check(&mut self, op: &str, expected: u16, key: Option<&str>, path: &str) -> Answer {
        let answer = self.send(op, path, key).await;
        let mut problems = self.contract.problems(op, &answer);
        if answer.status != expected {
            problems.insert(
                0,
                format!("expected status {expected}, got {}", answer.status),
            );
        }
        self.exercised.insert(op.to_owned());
        if !problems.is_empty() {
            self.failures.push(format!(
                "{op} → {status} (GET {path}, expected {expected}):\n{list}\n    body: {body}",
                status = answer.status,
                list = problems
                    .iter()
                    .map(|p| format!("    - {p}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                body = answer.body_text(),
            ));
        }
        answer
    }

    /// The key `caller` sends, made on first use.
    async fn key(&mut self, caller: Caller) -> Option<String> {
        if let Some(key) = self.keys.get(&caller) {
            return Some(key.clone());
        }
        let key = match caller {
            Anonymous => return None,
            Demo => self.demo_key.clone(),
            LowPlan => project_with_key(self.db, "Low Plan Co", "growth", None).2,
            Scoped(scope) => {
                let name = format!("Scoped {}", scope.replace(':', " "));
                project_with_key(self.db, &name, "scale", Some(scope)).2
            }
            Spent => self.spent_key().await,
        };
        self.keys.insert(caller, key.clone());
        Some(key)
    }

    /// A key whose project (`--rate-limit 1`) has spent its budget: requests until the
    /// second is refused, far enough from the window's end that the cases after it are
    /// refused too. Those requests are checked like any other.
    ///
    /// Spending goes as far as one refusal, so the window is seen past its limit.
    async fn spent_key(&mut self) -> String {
        let project = cli_json(
            self.db,
            &[
                "projects",
                "create",
                "--name",
                "Spent Co",
                "--plan",
                "scale",
                "--rate-limit",
                "1",
            ],
        );
        let id = project["id"].as_str().expect("project id");
        let key = cli_json(
            self.db,
            &["keys", "create", "--project", id, "--name", "e2e"],
        )["key"]
            .as_str()
            .expect("key")
            .to_owned();
        for _ in 0..3 {
            let first = self
                .check("getProject", 200, Some(&key), "/api/v1/projects")
                .await;
            let second = self
                .check("getProject", 429, Some(&key), "/api/v1/projects")
                .await;
            let left = second.seconds_to_reset().or(first.seconds_to_reset());
            match left {
                Some(secs) if secs < 20 => {
                    // The window ends soon: wait for the next one and spend it again.
                    tokio::time::sleep(Duration::from_secs(secs + 1)).await;
                }
                _ => return key,
            }
        }
        panic!("could not spend a budget far enough from the window's end");
    }
}

/// The operation ids of the document.
fn documented_operations(contract: &Contract) -> BTreeSet<String> {
    contract.operations.keys().cloned().collect()
}

on_each_backend! {
    async fn every_operation_answers_as_openapi_yaml_says(db: TestDb) {
        let contract = Contract::load();
        let (server, demo_key) = Server::demo(&db);
        let mut run = Run {
            contract: &contract,
            server: &server,
            db: &db,
            demo_key,
            keys: HashMap::new(),
            failures: Vec::new(),
            exercised: BTreeSet::new(),
        };
        for case in CASES {
            let key = run.key(case.caller).await;
            run.check(case.op, case.status, key.as_deref(), case.path).await;
        }

        assert!(
            run.failures.is_empty(),
            "{} answer(s) differ from openapi.yaml:\n\n{}",
            run.failures.len(),
            run.failures.join("\n\n")
        );
        assert_eq!(
            run.exercised,
            documented_operations(&contract),
            "the operations exercised are the document's"
        );
    }
}

/// A new operation, or a new documented answer, without a case here fails: the contract
/// test covers everything it can provoke.
#[test]
fn every_operation_and_documented_answer_has_a_case() {
    let contract = Contract::load();
    let mut covered: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for case in CASES {
        let operation = contract.operation(case.op);
        assert!(
            fits_template(&operation.path, case.path),
            "case {} {}: `{}` is not a path of {}",
            case.op,
            case.status,
            case.path,
            operation.path
        );
        covered
            .entry(case.op)
            .or_default()
            .insert(case.status.to_string());
    }
    let case_operations: BTreeSet<String> = covered.keys().map(|s| (*s).to_owned()).collect();
    assert_eq!(
        case_operations,
        documented_operations(&contract),
        "every operation in openapi.yaml has contract cases, and every case names one"
    );
    for (id, operation) in &contract.operations {
        let documented: BTreeSet<String> = operation
            .responses
            .as_object()
            .expect("responses")
            .keys()
            .filter(|status| !UNPROVOKED.contains(&status.as_str()))
            .filter(|status| !(UNCOUNTED.contains(&id.as_str()) && *status == "429"))
            .cloned()
            .collect();
        assert_eq!(
            covered.get(id.as_str()).cloned().unwrap_or_default(),
            documented,
            "{id}: the statuses with a case must be the documented ones (but {UNPROVOKED:?})"
        );
    }
}

/// The conversion itself: nullable, strictness and OpenAPI-only keywords.
#[test]
fn openapi_schemas_become_strict_json_schemas() {
    let converted = strict_json_schema(&json!({
        "type": "object",
        "example": {"a": 1},
        "properties": {
            "a": {"type": "integer", "format": "uint32"},
            "b": {"type": "string", "nullable": true},
            "c": {"$ref": "#/components/schemas/X", "description": "ignored in 3.0"},
        },
        "required": ["a"],
    }));
    let validator = jsonschema::draft202012::new(&json!({
        "$ref": "#/components/schemas/Y",
        "components": {"schemas": {"X": {"type": "boolean"}, "Y": converted}},
    }))
    .unwrap();
    assert!(validator.is_valid(&json!({"a": 1, "b": null, "c": true})));
    assert!(validator.is_valid(&json!({"a": 1, "b": "x"})));
    assert!(
        !validator.is_valid(&json!({"a": 1, "extra": 0})),
        "no hidden fields"
    );
    assert!(!validator.is_valid(&json!({"a": -1})), "uint32");
    assert!(
        !validator.is_valid(&json!({"a": 1, "c": "no"})),
        "the $ref holds"
    );
    assert!(!validator.is_valid(&json!({"b": "x"})), "required");
    assert!(same_media_type(
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8"
    ));
    assert!(fits_template(
        "/api/v1/metrics/{metric_id}/timeseries",
        "/api/v1/metrics/mrr/timeseries?interval=day"
    ));
    assert!(!fits_template("/api/v1/metrics", "/api/v1/metrics/mrr"));
}
