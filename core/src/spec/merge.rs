//! Merges plugins' OpenAPI documents into one, refusing every clash by name.
//!
//! poem-openapi cannot compose APIs chosen at run time, so each plugin brings its own
//! document and the merge happens here, on JSON. Whatever order plugins come in, the
//! result is the same: paths and components are kept in sorted maps.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// The HTTP methods an OpenAPI path item may hold.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One plugin's document, with paths relative to the API prefix.
#[derive(Debug, Clone)]
pub struct Fragment {
    pub plugin: String,
    pub spec: Value,
}

/// A reason the plugins' documents cannot be served as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("plugins `{first}` and `{second}` both define {method} {path}")]
    DuplicateOperation {
        method: String,
        path: String,
        first: String,
        second: String,
    },
    #[error(
        "plugins `{first}` and `{second}` both define the {kind} `{name}` with different \
         shapes; prefix one with its resource name"
    )]
    ComponentConflict {
        kind: String,
        name: String,
        first: String,
        second: String,
    },
    #[error(
        "plugin `{plugin}`: {method} {path} has no operationId; \
         add #[oai(operation_id = \"...\")]"
    )]
    MissingOperationId {
        plugin: String,
        method: String,
        path: String,
    },
    #[error("plugins `{first}` and `{second}` both use the operationId `{operation_id}`")]
    DuplicateOperationId {
        operation_id: String,
        first: String,
        second: String,
    },
    #[error("plugin `{plugin}`: `{reference}` points at nothing")]
    DanglingRef { plugin: String, reference: String },
    #[error("plugin `{plugin}`: {reason}")]
    InvalidFragment { plugin: String, reason: String },
}

/// The union of the fragments: paths, components and tags.
#[derive(Debug, Default, Clone)]
pub struct Merged {
    /// path → method → operation
    pub paths: BTreeMap<String, BTreeMap<String, Value>>,
    /// kind (`schemas`, …) → name → definition
    pub components: BTreeMap<String, BTreeMap<String, Value>>,
    /// tag name → tag object
    pub tags: BTreeMap<String, Value>,
    /// operationId → plugin that defines it
    pub operation_owner: BTreeMap<String, String>,
}

/// Merges `fragments`; `shared` components (core's own) may be referenced by any plugin.
pub fn merge(
    fragments: &[Fragment],
    shared: &BTreeMap<String, BTreeMap<String, Value>>,
) -> Result<Merged, MergeError> {
    let mut merged = Merged::default();
    let mut path_owner: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut component_owner: BTreeMap<(String, String), String> = BTreeMap::new();

    for fragment in fragments {
        let plugin = &fragment.plugin;
        let spec = fragment
            .spec
            .as_object()
            .ok_or_else(|| invalid(plugin, "its document is not a JSON object"))?;
        check_refs(plugin, spec, shared)?;
        merge_components(plugin, spec, &mut merged, &mut component_owner)?;
        merge_paths(plugin, spec, &mut merged, &mut path_owner)?;
        merge_tags(spec, &mut merged);
    }
    Ok(merged)
}

fn invalid(plugin: &str, reason: impl Into<String>) -> MergeError {
    MergeError::InvalidFragment {
        plugin: plugin.to_owned(),
        reason: reason.into(),
    }
}

fn merge_paths(
    plugin: &str,
    spec: &Map<String, Value>,
    merged: &mut Merged,
    owner: &mut BTreeMap<(String, String), String>,
) -> Result<(), MergeError> {
    let Some(paths) = spec.get("paths") else {
        return Ok(());
    };
    let paths = paths
        .as_object()
        .ok_or_else(|| invalid(plugin, "`paths` is not an object"))?;
    for (path, item) in paths {
        if !path.starts_with('/') {
            return Err(invalid(
                plugin,
                format!("path `{path}` does not start with `/`"),
            ));
        }
        let item = item
            .as_object()
            .ok_or_else(|| invalid(plugin, format!("path `{path}` is not an object")))?;
        for (method, operation) in item {
            if !METHODS.contains(&method.as_str()) {
                // Path-level `parameters`, `summary` and the like: poem-openapi emits none,
                // and keeping them per operation is what the router needs.
                return Err(invalid(
                    plugin,
                    format!("path `{path}` has `{method}`, which is not an HTTP method"),
                ));
            }
            let upper = method.to_uppercase();
            let key = (path.clone(), method.clone());
            if let Some(first) = owner.get(&key) {
                return Err(MergeError::DuplicateOperation {
                    method: upper,
                    path: path.clone(),
                    first: first.clone(),
                    second: plugin.to_owned(),
                });
            }
            let operation_id = operation
                .get("operationId")
                .and_then(Value::as_str)
                .ok_or_else(|| MergeError::MissingOperationId {
                    plugin: plugin.to_owned(),
                    method: upper.clone(),
                    path: path.clone(),
                })?;
            if let Some(first) = merged.operation_owner.get(operation_id) {
                return Err(MergeError::DuplicateOperationId {
                    operation_id: operation_id.to_owned(),
                    first: first.clone(),
                    second: plugin.to_owned(),
                });
            }
            let mut operation = operation.clone();
            if operation.get("tags").is_none() {
                operation["tags"] = Value::from(vec![plugin.to_owned()]);
            }
            merged
                .operation_owner
                .insert(operation_id.to_owned(), plugin.to_owned());
            owner.insert(key, plugin.to_owned());
            merged
                .paths
                .entry(path.clone())
                .or_default()
                .insert(method.clone(), operation);
        }
    }
    Ok(())
}

fn merge_components(
    plugin: &str,
    spec: &Map<String, Value>,
    merged: &mut Merged,
    owner: &mut BTreeMap<(String, String), String>,
) -> Result<(), MergeError> {
    let Some(components) = spec.get("components") else {
        return Ok(());
    };
    let components = components
        .as_object()
        .ok_or_else(|| invalid(plugin, "`components` is not an object"))?;
    for (kind, entries) in components {
        let entries = entries
            .as_object()
            .ok_or_else(|| invalid(plugin, format!("`components.{kind}` is not an object")))?;
        let target = merged.components.entry(kind.clone()).or_default();
        for (name, definition) in entries {
            match target.get(name) {
                Some(existing) if existing == definition => {}
                Some(_) => {
                    return Err(MergeError::ComponentConflict {
                        kind: singular(kind).to_owned(),
                        name: name.clone(),
                        first: owner[&(kind.clone(), name.clone())].clone(),
                        second: plugin.to_owned(),
                    })
                }
                None => {
                    owner.insert((kind.clone(), name.clone()), plugin.to_owned());
                    target.insert(name.clone(), definition.clone());
                }
            }
        }
    }
    Ok(())
}

fn singular(kind: &str) -> &str {
    match kind {
        "schemas" => "schema",
        "responses" => "response",
        "parameters" => "parameter",
        "headers" => "header",
        "securitySchemes" => "security scheme",
        other => other,
    }
}

/// Two plugins may describe one tag differently; the document keeps the description
/// that sorts first, so it does not depend on the order plugins load in.
fn merge_tags(spec: &Map<String, Value>, merged: &mut Merged) {
    if let Some(tags) = spec.get("tags").and_then(Value::as_array) {
        for tag in tags {
            if let Some(name) = tag.get("name").and_then(Value::as_str) {
                let keeps_its_own = merged.tags.get(name).is_some_and(|kept| {
                    serde_json::to_string(kept).ok() <= serde_json::to_string(tag).ok()
                });
                if !keeps_its_own {
                    merged.tags.insert(name.to_owned(), tag.clone());
                }
            }
        }
    }
}

/// Every local `$ref` of a fragment must resolve in the fragment or in core's components.
fn check_refs(
    plugin: &str,
    spec: &Map<String, Value>,
    shared: &BTreeMap<String, BTreeMap<String, Value>>,
) -> Result<(), MergeError> {
    let mut refs = BTreeSet::new();
    collect_refs(&Value::Object(spec.clone()), &mut refs);
    for reference in refs {
        let resolves = reference
            .strip_prefix("#/components/")
            .and_then(|rest| rest.split_once('/'))
            .is_some_and(|(kind, name)| {
                let own = spec
                    .get("components")
                    .and_then(|c| c.get(kind))
                    .and_then(|k| k.get(name))
                    .is_some();
                own || shared.get(kind).is_some_and(|k| k.contains_key(name))
            });
        if !resolves {
            return Err(MergeError::DanglingRef {
                plugin: plugin.to_owned(),
                reference,
            });
        }
    }
    Ok(())
}

/// All `$ref` strings anywhere in `value`.
pub fn collect_refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        out.insert(r.clone());
                    }
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fragment(plugin: &str, spec: Value) -> Fragment {
        Fragment {
            plugin: plugin.into(),
            spec,
        }
    }

    fn op(id: &str) -> Value {
        json!({"operationId": id, "responses": {"200": {"description": "ok"}}})
    }

    fn no_shared() -> BTreeMap<String, BTreeMap<String, Value>> {
        BTreeMap::new()
    }

    #[test]
    fn methods_under_one_path_from_two_plugins_merge() {
        let a = fragment("a", json!({"paths": {"/x": {"get": op("getX")}}}));
        let b = fragment("b", json!({"paths": {"/x": {"delete": op("deleteX")}}}));
        let merged = merge(&[a, b], &no_shared()).unwrap();
        let methods: Vec<&String> = merged.paths["/x"].keys().collect();
        assert_eq!(methods, ["delete", "get"]);
        assert_eq!(merged.operation_owner["deleteX"], "b");
    }

    #[test]
    fn same_path_and_method_is_a_named_clash() {
        let a = fragment("alpha", json!({"paths": {"/x": {"get": op("one")}}}));
        let b = fragment("beta", json!({"paths": {"/x": {"get": op("two")}}}));
        let err = merge(&[a, b], &no_shared()).unwrap_err();
        assert_eq!(
            err,
            MergeError::DuplicateOperation {
                method: "GET".into(),
                path: "/x".into(),
                first: "alpha".into(),
                second: "beta".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "plugins `alpha` and `beta` both define GET /x"
        );
    }

    #[test]
    fn same_schema_name_with_another_shape_is_a_named_clash() {
        let item = |t: &str| json!({"components": {"schemas": {"Item": {"type": t}}}});
        let err = merge(
            &[
                fragment("alpha", item("object")),
                fragment("beta", item("string")),
            ],
            &no_shared(),
        )
        .unwrap_err();
        assert!(matches!(
            &err,
            MergeError::ComponentConflict { kind, name, first, second }
                if kind == "schema" && name == "Item" && first == "alpha" && second == "beta"
        ));
        assert!(err.to_string().contains("prefix one"), "{err}");
    }

    #[test]
    fn identical_schemas_are_kept_once() {
        let item = json!({"components": {"schemas": {"Page": {"type": "object"}}}});
        let merged = merge(
            &[fragment("a", item.clone()), fragment("b", item)],
            &no_shared(),
        )
        .unwrap();
        assert_eq!(merged.components["schemas"].len(), 1);
    }

    #[test]
    fn missing_operation_id_is_named() {
        let spec = json!({"paths": {"/x": {"get": {"responses": {}}}}});
        let err = merge(&[fragment("alpha", spec)], &no_shared()).unwrap_err();
        assert_eq!(
            err,
            MergeError::MissingOperationId {
                plugin: "alpha".into(),
                method: "GET".into(),
                path: "/x".into()
            }
        );
    }

    #[test]
    fn duplicate_operation_id_across_plugins_is_named() {
        let a = fragment("alpha", json!({"paths": {"/x": {"get": op("list")}}}));
        let b = fragment("beta", json!({"paths": {"/y": {"get": op("list")}}}));
        let err = merge(&[a, b], &no_shared()).unwrap_err();
        assert_eq!(
            err,
            MergeError::DuplicateOperationId {
                operation_id: "list".into(),
                first: "alpha".into(),
                second: "beta".into()
            }
        );
    }

    #[test]
    fn dangling_ref_is_named() {
        let spec = json!({"paths": {"/x": {"get": {
            "operationId": "x",
            "responses": {"200": {"description": "ok", "content": {"application/json":
                {"schema": {"$ref": "#/components/schemas/Missing"}}}}}
        }}}});
        let err = merge(&[fragment("alpha", spec)], &no_shared()).unwrap_err();
        assert_eq!(
            err,
            MergeError::DanglingRef {
                plugin: "alpha".into(),
                reference: "#/components/schemas/Missing".into()
            }
        );
    }

    #[test]
    fn refs_to_core_components_resolve() {
        let spec = json!({"paths": {"/x": {"get": {
            "operationId": "x",
            "responses": {"404": {"$ref": "#/components/responses/NotFound"}}
        }}}});
        let mut shared = no_shared();
        shared
            .entry("responses".into())
            .or_default()
            .insert("NotFound".into(), json!({"description": "nf"}));
        assert!(merge(&[fragment("alpha", spec)], &shared).is_ok());
    }

    #[test]
    fn operations_without_tags_get_the_plugin_name() {
        let merged = merge(
            &[fragment(
                "alpha",
                json!({"paths": {"/x": {"get": op("x")}}}),
            )],
            &no_shared(),
        )
        .unwrap();
        assert_eq!(merged.paths["/x"]["get"]["tags"], json!(["alpha"]));
    }

    #[test]
    fn merge_result_does_not_depend_on_plugin_order() {
        let a = fragment(
            "a",
            json!({"paths": {"/b": {"get": op("b")}}, "components": {"schemas": {"Z": {}, "A": {}}}}),
        );
        let b = fragment("b", json!({"paths": {"/a": {"get": op("a")}}}));
        let one = merge(&[a.clone(), b.clone()], &no_shared()).unwrap();
        let two = merge(&[b, a], &no_shared()).unwrap();
        assert_eq!(one.paths, two.paths);
        assert_eq!(one.components, two.components);
    }
}
