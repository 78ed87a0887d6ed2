//! Schemas as a person reads them: a body becomes a table of fields with dotted paths
//! (`data[].metricId`), and a parameter or header schema a type, its limits and default.

use anyhow::Context;
use serde_json::{Map, Value};

use super::markdown::{code, lower_first, sentence, table};
use super::spec::Spec;

/// Nested objects deeper than this are shown as `object` without their fields: only a
/// recursive schema gets there, and its fields are in the rows above.
const MAX_NESTING: usize = 8;

/// One row of a body's field table.
#[derive(Debug, PartialEq, Eq)]
pub struct Field {
    pub path: String,
    pub kind: String,
    pub required: bool,
    pub description: String,
}

/// A body schema as Markdown: a field table for objects (and arrays of them), else one
/// sentence naming the type.
pub fn body(spec: &Spec, schema: &Value) -> anyhow::Result<String> {
    let merged = spec.merged(schema)?;
    let rows = fields(spec, &merged)?;
    if rows.is_empty() {
        return Ok(match kind(spec, &merged)?.as_str() {
            "any" => "Any JSON value.\n".to_owned(),
            other => format!("A {}.\n", code(other)),
        });
    }
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|f| {
            let required = if f.required { "yes" } else { "no" };
            vec![code(&f.path), f.kind, required.to_owned(), f.description]
        })
        .collect();
    Ok(table(&["Field", "Type", "Required", "Description"], &rows))
}

/// The fields of a merged schema, depth first in property order.
pub fn fields(spec: &Spec, merged: &Map<String, Value>) -> anyhow::Result<Vec<Field>> {
    let mut rows = Vec::new();
    descend(spec, merged, "", 0, &mut rows)?;
    Ok(rows)
}

/// Adds the rows inside an object, or inside an array's items (`path[]`).
fn descend(
    spec: &Spec,
    merged: &Map<String, Value>,
    path: &str,
    depth: usize,
    rows: &mut Vec<Field>,
) -> anyhow::Result<()> {
    if depth > MAX_NESTING {
        return Ok(());
    }
    if let Some(items) = merged.get("items") {
        let items = spec.merged(items)?;
        return descend(spec, &items, &format!("{path}[]"), depth + 1, rows);
    }
    let Some(properties) = merged.get("properties").and_then(Value::as_object) else {
        return Ok(());
    };
    let required = merged.get("required").and_then(Value::as_array);
    for (name, schema) in properties {
        let child = spec
            .merged(schema)
            .with_context(|| format!("property `{name}`"))?;
        let child_path = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        rows.push(Field {
            path: child_path.clone(),
            kind: kind(spec, &child)?,
            required: required.is_some_and(|r| r.iter().any(|n| n == name.as_str())),
            description: describe(spec, &child)?,
        });
        descend(spec, &child, &child_path, depth + 1, rows)?;
    }
    Ok(())
}

/// The type in words: `integer (int64)`, `array of objects`, `string or null`.
pub fn kind(spec: &Spec, merged: &Map<String, Value>) -> anyhow::Result<String> {
    let text = |key: &str| merged.get(key).and_then(Value::as_str);
    let base = match text("type") {
        Some("array") => {
            let items = spec.merged(merged.get("items").unwrap_or(&Value::Null))?;
            let item = items.get("type").and_then(Value::as_str);
            match (item, items.contains_key("properties")) {
                (_, true) | (Some("object"), _) => "array of objects".to_owned(),
                (Some(item), _) => format!("array of {item}s"),
                (None, _) => "array".to_owned(),
            }
        }
        Some(other) => match text("format") {
            Some(format) => format!("{other} ({format})"),
            None => other.to_owned(),
        },
        None if merged.contains_key("properties") => "object".to_owned(),
        None => "any".to_owned(),
    };
    Ok(
        if merged.get("nullable").and_then(Value::as_bool) == Some(true) {
            format!("{base} or null")
        } else {
            base
        },
    )
}

/// A field's description: its own or its type's, then its allowed values and default.
/// An array without a description of its own borrows its items'.
fn describe(spec: &Spec, merged: &Map<String, Value>) -> anyhow::Result<String> {
    let own = merged
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut parts = vec![sentence(own)];
    if own.is_empty() {
        if let Some(items) = merged.get("items") {
            let item = spec.merged(items)?;
            let item = item
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !item.is_empty() {
                parts = vec![format!("Each item: {}", lower_first(&sentence(item)))];
            }
        }
    }
    if let Some(values) = enum_values(merged) {
        parts.push(format!("One of {values}."));
    }
    if let Some(default) = default(merged) {
        parts.push(format!("Default {default}."));
    }
    Ok(parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" "))
}

/// `` `a`, `b`, `c` `` for an enum.
pub fn enum_values(merged: &Map<String, Value>) -> Option<String> {
    let values = merged.get("enum")?.as_array()?;
    Some(
        values
            .iter()
            .map(|v| code(&literal(v)))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// The default as inline code.
pub fn default(merged: &Map<String, Value>) -> Option<String> {
    merged.get("default").map(|v| code(&literal(v)))
}

/// Bounds in words (`1 to 1000`, `at least 0`, `1 to 64 characters`), and the enum.
pub fn limits(merged: &Map<String, Value>) -> String {
    let mut parts = Vec::new();
    if let Some(range) = range(merged, "minimum", "maximum", "") {
        parts.push(range);
    }
    if let Some(range) = range(merged, "minLength", "maxLength", " characters") {
        parts.push(range);
    }
    if let Some(pattern) = merged.get("pattern").and_then(Value::as_str) {
        parts.push(format!("matches {}", code(pattern)));
    }
    if let Some(values) = enum_values(merged) {
        parts.push(format!("one of {values}"));
    }
    parts.join("; ")
}

fn range(merged: &Map<String, Value>, low: &str, high: &str, unit: &str) -> Option<String> {
    let bound = |key: &str| merged.get(key).map(literal);
    match (bound(low), bound(high)) {
        (Some(low), Some(high)) => Some(format!("{low} to {high}{unit}")),
        (Some(low), None) => Some(format!("at least {low}{unit}")),
        (None, Some(high)) => Some(format!("at most {high}{unit}")),
        (None, None) => None,
    }
}

/// A value as written in a request: strings bare, whole floats without `.0` (serde
/// reads `maximum: 1000.0`).
pub fn literal(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r##"
components:
  schemas:
    Page:
      description: A page.
      properties:
        data:
          items: {$ref: '#/components/schemas/Point'}
          type: array
        state:
          allOf:
          - $ref: '#/components/schemas/State'
          - description: Overall.
          description: Overall.
      required: [data]
      type: object
    Point:
      description: One point.
      properties:
        id: {type: string, description: The id}
        value: {type: number, format: double, nullable: true}
        tags: {type: array, items: {type: string}}
        position:
          $ref: '#/components/schemas/Position'
      required: [id, position]
      type: object
    Position:
      properties:
        x: {type: integer, format: int32}
      type: object
    State:
      description: A state.
      enum: [ok, down]
      type: string
"##;

    fn rows(schema: &str) -> Vec<(String, String, bool, String)> {
        let spec = Spec::parse(DOC).unwrap();
        let schema: Value = serde_yaml::from_str(schema).unwrap();
        let merged = spec.merged(&schema).unwrap();
        fields(&spec, &merged)
            .unwrap()
            .into_iter()
            .map(|f| (f.path, f.kind, f.required, f.description))
            .collect()
    }

    fn row(
        path: &str,
        kind: &str,
        required: bool,
        description: &str,
    ) -> (String, String, bool, String) {
        (path.into(), kind.into(), required, description.into())
    }

    #[test]
    fn a_body_becomes_dotted_fields_with_refs_all_of_and_nullable_resolved() {
        assert_eq!(
            rows("$ref: '#/components/schemas/Page'"),
            [
                row("data", "array of objects", true, "Each item: one point."),
                row("data[].id", "string", true, "The id."),
                row("data[].position", "object", true, ""),
                row("data[].position.x", "integer (int32)", false, ""),
                row("data[].tags", "array of strings", false, ""),
                row("data[].value", "number (double) or null", false, ""),
                row("state", "string", false, "Overall. One of `ok`, `down`."),
            ]
        );
    }

    #[test]
    fn a_body_without_fields_is_one_sentence() {
        let spec = Spec::parse(DOC).unwrap();
        assert_eq!(
            body(&spec, &serde_json::json!({})).unwrap(),
            "Any JSON value.\n"
        );
        assert_eq!(
            body(&spec, &serde_json::json!({"type": "string"})).unwrap(),
            "A `string`.\n"
        );
        let table = body(
            &spec,
            &serde_json::json!({"$ref": "#/components/schemas/Point"}),
        )
        .unwrap();
        assert!(table.starts_with("| Field | Type | Required | Description |\n|---|---|---|---|\n| `id` | string | yes | The id. |\n"), "{table}");
    }

    #[test]
    fn limits_and_defaults_read_as_words() {
        let schema = serde_json::json!({"type": "integer", "minimum": 1.0, "maximum": 1000.0, "default": 100});
        let merged = schema.as_object().unwrap();
        assert_eq!(limits(merged), "1 to 1000");
        assert_eq!(default(merged).unwrap(), "`100`");
        let schema = serde_json::json!({"enum": ["day", "week"], "minLength": 3});
        assert_eq!(
            limits(schema.as_object().unwrap()),
            "at least 3 characters; one of `day`, `week`"
        );
    }
}
