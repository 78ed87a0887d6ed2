//! The operations of `openapi.yaml`, for the tests that must cover every operation: a
//! list written by hand would silently miss the next operation added.

use serde_json::Value;

use super::workspace_root;

/// A value for each path parameter and required query parameter that answers 200 with
/// data on the demo data set (`dashtray serve --demo`). A required parameter missing here
/// fails the test that meets it, so a new operation cannot go untried.
const DEMO_VALUES: [(&str, &str); 5] = [
    ("dashboard_id", "dsh_DemoRevenue00001"),
    ("end_date", "2025-03-31"),
    ("integration_id", "int_DemoStripe000001"),
    ("metric_id", "mrr"),
    ("start_date", "2025-01-01"),
];

/// Does `path` (without its query) fit the operation's path template?
pub fn fits_template(template: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    let (template, path): (Vec<&str>, Vec<&str>) =
        (template.split('/').collect(), path.split('/').collect());
    template.len() == path.len()
        && template
            .iter()
            .zip(&path)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
}

/// The demo value of a parameter, if [`DEMO_VALUES`] has one.
pub fn demo_value(name: &str) -> Option<&'static str> {
    DEMO_VALUES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, value)| *value)
}

/// One operation of the committed document.
#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    pub method: String,
    /// The path as documented, `{parameters}` unfilled.
    pub template: String,
    parameters: Vec<Value>,
    /// Whether the operation needs a key (it documents a `security` requirement).
    pub keyed: bool,
}

/// `openapi.yaml` as committed at the workspace root.
pub fn openapi_yaml() -> Value {
    let text = std::fs::read_to_string(workspace_root().join("openapi.yaml"))
        .expect("openapi.yaml is committed at the workspace root");
    serde_yaml::from_str(&text).expect("openapi.yaml parses")
}

/// Every operation of `openapi.yaml`, in the document's order.
pub fn documented_operations() -> Vec<Operation> {
    let doc = openapi_yaml();
    let mut operations = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            operations.push(Operation {
                id: op["operationId"].as_str().expect("operationId").to_owned(),
                method: method.to_uppercase(),
                template: template.clone(),
                parameters: op["parameters"].as_array().cloned().unwrap_or_default(),
                keyed: op
                    .get("security")
                    .and_then(Value::as_array)
                    .is_some_and(|s| !s.is_empty()),
            });
        }
    }
    assert!(
        !operations.is_empty(),
        "openapi.yaml documents no operation"
    );
    operations
}

impl Operation {
    /// The path the demo data answers with data: path parameters and required query
    /// parameters filled from [`DEMO_VALUES`], `overrides` first.
    pub fn demo_path_with(&self, overrides: &[(&str, &str)]) -> String {
        let value_of = |name: &str| {
            overrides
                .iter()
                .find(|(known, _)| *known == name)
                .map(|(_, value)| *value)
                .or_else(|| demo_value(name))
                .unwrap_or_else(|| {
                    panic!(
                        "{}: parameter `{name}` has no demo value in tests/e2e/support/document.rs",
                        self.id
                    )
                })
        };
        let mut path = self.template.clone();
        let mut query = Vec::new();
        for parameter in &self.parameters {
            let name = parameter["name"].as_str().expect("a parameter's name");
            match parameter["in"].as_str() {
                Some("path") => path = path.replace(&format!("{{{name}}}"), value_of(name)),
                Some("query") if parameter["required"] == true => {
                    query.push(format!("{name}={}", value_of(name)));
                }
                _ => {}
            }
        }
        assert!(!path.contains('{'), "{}: unfilled path {path}", self.id);
        if query.is_empty() {
            path
        } else {
            format!("{path}?{}", query.join("&"))
        }
    }

    /// [`Self::demo_path_with`] without overrides.
    pub fn demo_path(&self) -> String {
        self.demo_path_with(&[])
    }

    /// The names of the path's parameters.
    pub fn path_parameters(&self) -> Vec<&str> {
        self.parameters
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().expect("a parameter's name"))
            .collect()
    }
}
