//! An example dynamic plugin: `GET /api/v1/goals`, the metric targets the operator set in
//! `[plugin.goals]`, answered for the caller's project.
//!
//! ```toml
//! [plugin.goals]
//! targets = { mrr = 60000, signups = 120 }             # every project
//! projects = { prj_AcmeSaaSDemo0001 = { mrr = 75000 } } # one project's own
//! ```
//!
//! Built as a cdylib (`cargo build -p dashtray-plugin-goals`) and loaded from
//! `plugins.dir`; see docs/plugins.md.

use std::collections::BTreeMap;

use dashtray_plugin_abi::{DynamicPlugin, Manifest, Request, Response};
use serde_json::{json, Value};

pub struct Goals {
    /// metric id → target, for every project
    targets: BTreeMap<String, f64>,
    /// project id → its own targets, over the common ones
    projects: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Goals {
    fn targets_for(&self, project_id: &str) -> BTreeMap<String, f64> {
        let mut targets = self.targets.clone();
        if let Some(own) = self.projects.get(project_id) {
            targets.extend(own.clone());
        }
        targets
    }
}

fn numbers(value: Option<&Value>, what: &str) -> Result<BTreeMap<String, f64>, String> {
    let Some(value) = value else {
        return Ok(BTreeMap::new());
    };
    let map = value
        .as_object()
        .ok_or(format!("`{what}` must be a table of numbers"))?;
    map.iter()
        .map(|(metric, target)| {
            target
                .as_f64()
                .map(|t| (metric.clone(), t))
                .ok_or(format!("`{what}.{metric}` must be a number"))
        })
        .collect()
}

impl DynamicPlugin for Goals {
    fn manifest() -> Manifest {
        Manifest {
            name: "goals".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            scope: Some("goals:read".into()),
            // The fixture that oversteps names another plugin's operation: the host must
            // refuse it, since a plugin sets the policy of its own operations only.
            public: if cfg!(feature = "fixture-foreign-public") {
                vec!["getProject".into()]
            } else {
                Vec::new()
            },
            spec: json!({
                "paths": {"/goals": {"get": {
                    "operationId": "listGoals",
                    "tags": ["goals"],
                    "summary": "List goals",
                    "description": "The caller's project's metric targets, as the operator configured them.",
                    "responses": {"200": {
                        "description": "The targets, by metric id.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/GoalList"}}}
                    }}
                }}},
                "components": {"schemas": {
                    "Goal": {"type": "object", "required": ["metricId", "target"], "properties": {
                        "metricId": {"type": "string"},
                        "target": {"type": "number", "format": "double"}
                    }},
                    "GoalList": {"type": "object", "required": ["data"], "properties": {
                        "data": {"type": "array", "items": {"$ref": "#/components/schemas/Goal"}}
                    }}
                }},
                "tags": [{"name": "goals", "description": "Metric targets (an example dynamic plugin)."}]
            }),
        }
    }

    fn init(config: Value) -> Result<Self, String> {
        let mut projects = BTreeMap::new();
        if let Some(own) = config.get("projects") {
            let own = own.as_object().ok_or("`projects` must be a table")?;
            for (project, targets) in own {
                projects.insert(
                    project.clone(),
                    numbers(Some(targets), &format!("projects.{project}"))?,
                );
            }
        }
        Ok(Goals {
            targets: numbers(config.get("targets"), "targets")?,
            projects,
        })
    }

    fn handle(&self, request: Request) -> Response {
        if cfg!(feature = "fixture-panic") {
            panic!("a fixture that panics in its handler");
        }
        let Some(caller) = request.caller else {
            return Response::error(401, "unauthorized", "A valid API key is required.");
        };
        let data: Vec<Value> = self
            .targets_for(&caller.project_id)
            .into_iter()
            .map(|(metric, target)| json!({"metricId": metric, "target": target}))
            .collect();
        Response::json(200, &json!({ "data": data }))
    }
}

#[cfg(not(feature = "fixture-wrong-abi"))]
dashtray_plugin_abi::export_plugin!(Goals);

/// The wrong-ABI fixture exports only its (wrong) version: the host must stop there.
#[cfg(feature = "fixture-wrong-abi")]
#[unsafe(no_mangle)]
pub extern "C" fn dashtray_plugin_abi_version() -> u32 {
    dashtray_plugin_abi::ABI_VERSION + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use dashtray_plugin_abi::Caller;

    fn request(project: &str) -> Request {
        Request {
            method: "GET".into(),
            path: "/goals".into(),
            query: String::new(),
            headers: Vec::new(),
            body: String::new(),
            caller: Some(Caller {
                project_id: project.into(),
                plan: "scale".into(),
                scopes: vec!["goals:read".into()],
                key_id: "k".into(),
            }),
        }
    }

    #[test]
    fn a_project_gets_the_common_targets_with_its_own_on_top() {
        let goals = Goals::init(json!({
            "targets": {"mrr": 60000, "signups": 120},
            "projects": {"prj_a": {"mrr": 75000}}
        }))
        .unwrap();
        let a: Value = serde_json::from_str(&goals.handle(request("prj_a")).body).unwrap();
        assert_eq!(
            a["data"],
            json!([{"metricId": "mrr", "target": 75000.0}, {"metricId": "signups", "target": 120.0}])
        );
        let b: Value = serde_json::from_str(&goals.handle(request("prj_b")).body).unwrap();
        assert_eq!(b["data"][0], json!({"metricId": "mrr", "target": 60000.0}));
    }

    #[test]
    fn bad_configuration_is_refused_with_the_key() {
        let err = Goals::init(json!({"targets": {"mrr": "lots"}}))
            .err()
            .unwrap();
        assert!(err.contains("targets.mrr"), "{err}");
    }
}
