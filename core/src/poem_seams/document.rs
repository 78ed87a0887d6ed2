//! Repair passes over the document poem-openapi generates: each fixes one thing it
//! writes in a way clients or their generators read badly. Each test shows the thing is
//! still there (so an upgrade that fixes it fails, naming the pass to drop) and repaired.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

/// poem-openapi writes declared header names in capitals (`LINK`); HTTP names are
/// case-insensitive, but documents and generated clients read better as `Link`.
pub(crate) fn recase_header_names(headers: &mut Value) {
    let Some(map) = headers.as_object_mut() else {
        return;
    };
    let shouting: Vec<String> = map
        .keys()
        .filter(|name| !name.chars().any(|c| c.is_ascii_lowercase()))
        .cloned()
        .collect();
    for name in shouting {
        let value = map.remove(&name).expect("listed above");
        let recased: Vec<String> = name
            .split('-')
            .map(|part| {
                let mut chars = part.chars();
                match chars.next() {
                    Some(first) => first.to_string() + &chars.as_str().to_lowercase(),
                    None => String::new(),
                }
            })
            .collect();
        map.insert(recased.join("-"), value);
    }
}

/// poem-openapi writes an absent `Option` as `null` but declares the property only as
/// not required; OpenAPI 3.0 needs `nullable: true` for a client to accept the null.
pub(crate) fn mark_optional_nullable(schema: &mut Value) {
    let required: BTreeSet<String> = schema["required"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (name, property) in properties.iter_mut() {
        if required.contains(name) {
            continue;
        }
        if let Some(reference) = property.get("$ref").cloned() {
            *property = json!({ "allOf": [{ "$ref": reference }] });
        }
        property["nullable"] = Value::Bool(true);
    }
}

/// poem-openapi writes a described or defaulted reference as
/// `allOf: [{$ref}, {description|default}]` and repeats the annotation beside the
/// `allOf`; the typeless second member makes client generators give up (openapi-python-
/// client drops the operation, others lose the enum type). The repeat beside it is kept.
pub(crate) fn drop_annotation_only_all_of_members(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(members)) = map.get_mut("allOf") {
                if members.iter().any(|m| !annotation_only(m)) {
                    members.retain(|m| !annotation_only(m));
                }
            }
            map.values_mut()
                .for_each(drop_annotation_only_all_of_members);
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(drop_annotation_only_all_of_members),
        _ => {}
    }
}

/// A schema that only annotates (says no type of its own).
fn annotation_only(member: &Value) -> bool {
    member.as_object().is_some_and(|o| {
        !o.is_empty()
            && o.keys()
                .all(|k| matches!(k.as_str(), "description" | "default" | "example" | "title"))
    })
}

/// poem-openapi leaves a response's description empty when the handler returns a bare
/// payload; the schema's own description (from `schemas`, the document's
/// `components.schemas`) says what the answer is.
pub(crate) fn describe_bare_responses(
    document: &mut Value,
    schemas: Option<&BTreeMap<String, Value>>,
) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for operation in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|i| i.values_mut())
    {
        let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        for response in responses.values_mut() {
            if response.get("description").and_then(Value::as_str) != Some("") {
                continue;
            }
            let schema_name = response["content"]
                .as_object()
                .and_then(|c| c.values().next())
                .and_then(|media| media["schema"]["$ref"].as_str())
                .and_then(|r| r.strip_prefix("#/components/schemas/"));
            let described = schema_name
                .and_then(|name| schemas?.get(name)?["description"].as_str())
                .unwrap_or("Success.");
            response["description"] = Value::from(described);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poem_seams::probe;

    fn page_schema(document: &Value) -> Value {
        document["components"]["schemas"]["Page"].clone()
    }

    #[test]
    fn poem_openapi_writes_header_names_in_capitals() {
        let document = probe::document();
        let mut headers = document["paths"]["/pages"]["get"]["responses"]["200"]["headers"].clone();
        assert!(headers.get("LINK").is_some(), "{headers}");
        recase_header_names(&mut headers);
        assert!(headers.get("Link").is_some() && headers.get("LINK").is_none());
    }

    #[test]
    fn poem_openapi_leaves_an_optional_property_without_nullable() {
        let mut schema = page_schema(&probe::document());
        let colour = &schema["properties"]["colour"];
        assert!(colour.get("nullable").is_none(), "{colour}");
        mark_optional_nullable(&mut schema);
        let colour = &schema["properties"]["colour"];
        assert_eq!(colour["nullable"], true);
        assert_eq!(colour["allOf"][0]["$ref"], "#/components/schemas/Colour");
        assert!(schema["properties"]["total"].get("nullable").is_none());
    }

    #[test]
    fn poem_openapi_writes_an_annotated_reference_as_a_typeless_all_of_member() {
        let mut schema = page_schema(&probe::document());
        let members = schema["properties"]["shade"]["allOf"].clone();
        assert!(
            members
                .as_array()
                .is_some_and(|m| m.iter().any(annotation_only)),
            "{members}"
        );
        drop_annotation_only_all_of_members(&mut schema);
        let shade = &schema["properties"]["shade"];
        assert_eq!(
            shade["allOf"],
            json!([{"$ref": "#/components/schemas/Colour"}])
        );
        assert_eq!(shade["default"], "blue", "the annotation beside it is kept");
    }

    #[test]
    fn poem_openapi_leaves_a_bare_payload_s_response_undescribed() {
        let mut document = probe::document();
        let response = &document["paths"]["/search"]["get"]["responses"]["200"];
        assert_eq!(response["description"], "", "{response}");
        describe_bare_responses(&mut document, None);
        let response = &document["paths"]["/search"]["get"]["responses"]["200"];
        assert_eq!(response["description"], "Success.");
    }
}
