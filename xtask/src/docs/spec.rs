//! openapi.yaml read as plain data: its operations, parameters, responses and headers,
//! with `$ref`s followed and `allOf` wrappers merged, so the pages and snippets never
//! deal with OpenAPI's indirections.

use anyhow::{anyhow, bail, Context};
use serde_json::{Map, Value};

/// The only methods OpenAPI allows on a path item, in the order pages list them.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every error answer's body: a response with it is an error, documented once in the index.
pub const PROBLEM_REF: &str = "#/components/schemas/Problem";

/// `allOf` and `$ref` chains deeper than this are taken as a cycle.
const MAX_DEPTH: usize = 16;

pub struct Spec {
    doc: Value,
}

/// Who may call an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// No `security`: callers send no key.
    Open,
    /// A key, with this scope (`x-dashtray-scope`) when the operation names one.
    Key { scope: Option<String> },
}

pub struct Operation {
    pub id: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub tag: String,
    pub access: Access,
    pub parameters: Vec<Parameter>,
    pub responses: Vec<Response>,
}

pub struct Parameter {
    pub name: String,
    pub location: String,
    pub required: bool,
    pub description: String,
    /// Merged: `$ref`s and `allOf` resolved.
    pub schema: Map<String, Value>,
}

pub struct Response {
    pub status: String,
    pub description: String,
    /// (media type, schema as written, so a `$ref` to the problem can be recognised)
    pub content: Vec<(String, Value)>,
    pub headers: Vec<Header>,
}

pub struct Header {
    pub name: String,
    pub description: String,
    pub schema: Map<String, Value>,
}

impl Response {
    /// Error answers with the shared problem body, which the index documents once.
    pub fn is_problem(&self) -> bool {
        !self.content.is_empty()
            && self
                .content
                .iter()
                .all(|(_, schema)| schema.get("$ref").and_then(Value::as_str) == Some(PROBLEM_REF))
    }
}

impl Operation {
    pub fn response(&self, status: &str) -> Option<&Response> {
        self.responses.iter().find(|r| r.status == status)
    }
}

impl Spec {
    pub fn parse(text: &str) -> anyhow::Result<Spec> {
        let doc: Value = serde_yaml::from_str(text).context("openapi.yaml is not valid YAML")?;
        Ok(Spec { doc })
    }

    /// A string at a JSON pointer, or "".
    pub fn text(&self, pointer: &str) -> &str {
        self.doc
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn get(&self, pointer: &str) -> Option<&Value> {
        self.doc.pointer(pointer)
    }

    /// The target of a local `$ref` (`#/components/...`).
    fn target(&self, reference: &str) -> anyhow::Result<&Value> {
        let pointer = reference
            .strip_prefix('#')
            .ok_or_else(|| anyhow!("`{reference}`: only local references are supported"))?;
        self.doc
            .pointer(pointer)
            .ok_or_else(|| anyhow!("`{reference}` points at nothing"))
    }

    /// Follows `$ref` until a value without one (responses, headers, parameters).
    pub fn deref<'a>(&'a self, mut value: &'a Value) -> anyhow::Result<&'a Value> {
        for _ in 0..MAX_DEPTH {
            match value.get("$ref").and_then(Value::as_str) {
                Some(reference) => value = self.target(reference)?,
                None => return Ok(value),
            }
        }
        bail!("`$ref` cycle at {value}")
    }

    /// A schema as one object: `$ref` targets and `allOf` members merged, the schema's own
    /// keywords winning (a property's own `description` over its type's).
    pub fn merged(&self, schema: &Value) -> anyhow::Result<Map<String, Value>> {
        self.merged_at(schema, 0)
    }

    fn merged_at(&self, schema: &Value, depth: usize) -> anyhow::Result<Map<String, Value>> {
        if depth > MAX_DEPTH {
            bail!("schema nesting too deep (a cycle?) at {schema}");
        }
        let Some(own) = schema.as_object() else {
            return Ok(Map::new());
        };
        let mut merged = Map::new();
        if let Some(reference) = own.get("$ref").and_then(Value::as_str) {
            merge_into(
                &mut merged,
                self.merged_at(self.target(reference)?, depth + 1)?,
            );
        }
        for member in own
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            merge_into(&mut merged, self.merged_at(member, depth + 1)?);
        }
        let rest = own
            .iter()
            .filter(|(key, _)| *key != "$ref" && *key != "allOf")
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        merge_into(&mut merged, rest);
        Ok(merged)
    }

    /// Every operation, sorted by operation id.
    pub fn operations(&self) -> anyhow::Result<Vec<Operation>> {
        let paths = self
            .doc
            .get("paths")
            .and_then(Value::as_object)
            .ok_or_else(|| anyhow!("openapi.yaml has no `paths`"))?;
        let mut operations = Vec::new();
        for (path, item) in paths {
            for method in METHODS {
                if let Some(op) = item.get(method) {
                    operations.push(
                        self.operation(path, method, op)
                            .with_context(|| format!("{} {path}", method.to_uppercase()))?,
                    );
                }
            }
        }
        operations.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(operations)
    }

    fn operation(&self, path: &str, method: &str, op: &Value) -> anyhow::Result<Operation> {
        let text = |key: &str| {
            op.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let id = text("operationId");
        if id.is_empty() {
            bail!("no operationId");
        }
        let keyed = op
            .get("security")
            .and_then(Value::as_array)
            .is_some_and(|requirements| !requirements.is_empty());
        let access = if keyed {
            Access::Key {
                scope: op
                    .get("x-dashtray-scope")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            }
        } else {
            Access::Open
        };
        let parameters = op
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        let responses = op
            .get("responses")
            .and_then(Value::as_object)
            .into_iter()
            .flatten();
        Ok(Operation {
            summary: text("summary"),
            description: text("description"),
            tag: op
                .pointer("/tags/0")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            method: method.to_uppercase(),
            path: path.to_owned(),
            access,
            parameters: parameters
                .map(|p| self.parameter(p))
                .collect::<Result<_, _>>()?,
            responses: responses
                .map(|(status, r)| self.response(status, r))
                .collect::<Result<_, _>>()?,
            id,
        })
    }

    fn parameter(&self, parameter: &Value) -> anyhow::Result<Parameter> {
        let parameter = self.deref(parameter)?;
        let text = |key: &str| {
            parameter
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        Ok(Parameter {
            name: text("name").to_owned(),
            location: text("in").to_owned(),
            required: parameter
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            description: text("description").to_owned(),
            schema: self.merged(parameter.get("schema").unwrap_or(&Value::Null))?,
        })
    }

    fn response(&self, status: &str, response: &Value) -> anyhow::Result<Response> {
        let response = self.deref(response)?;
        let content = response
            .get("content")
            .and_then(Value::as_object)
            .into_iter()
            .flatten();
        let headers = response
            .get("headers")
            .and_then(Value::as_object)
            .into_iter()
            .flatten();
        Ok(Response {
            status: status.to_owned(),
            description: response
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            content: content
                .map(|(media, body)| {
                    (
                        media.clone(),
                        body.get("schema").cloned().unwrap_or_default(),
                    )
                })
                .collect(),
            headers: headers
                .map(|(name, header)| self.header(name, header))
                .collect::<Result<_, _>>()?,
        })
    }

    pub fn header(&self, name: &str, header: &Value) -> anyhow::Result<Header> {
        let header = self.deref(header)?;
        Ok(Header {
            name: name.to_owned(),
            description: header
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            schema: self.merged(header.get("schema").unwrap_or(&Value::Null))?,
        })
    }
}

/// Later keywords win, except `properties` (united) and `required` (appended).
fn merge_into(merged: &mut Map<String, Value>, next: Map<String, Value>) {
    for (key, value) in next {
        match (key.as_str(), merged.get_mut(&key), value) {
            ("properties", Some(Value::Object(have)), Value::Object(more)) => have.extend(more),
            ("required", Some(Value::Array(have)), Value::Array(more)) => {
                for name in more {
                    if !have.contains(&name) {
                        have.push(name);
                    }
                }
            }
            (_, _, value) => {
                merged.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r##"
components:
  schemas:
    Level:
      description: How loud.
      enum: [low, high]
      type: string
paths:
  /things/{id}:
    get:
      operationId: getThing
      x-dashtray-scope: things:read
      security: [{bearerAuth: []}]
      parameters:
      - {in: path, name: id, required: true, schema: {type: string}}
      - in: query
        name: level
        schema:
          allOf: [{$ref: '#/components/schemas/Level'}, {default: low}]
      responses:
        '200': {description: ok}
  /health:
    get:
      operationId: getHealth
      responses: {}
"##;

    #[test]
    fn operations_are_sorted_and_their_access_and_parameters_resolved() {
        let spec = Spec::parse(DOC).unwrap();
        let ops = spec.operations().unwrap();
        let ids: Vec<&str> = ops.iter().map(|op| op.id.as_str()).collect();
        assert_eq!(ids, ["getHealth", "getThing"]);
        assert_eq!(ops[0].access, Access::Open);
        assert_eq!(
            ops[1].access,
            Access::Key {
                scope: Some("things:read".into())
            }
        );
        let level = &ops[1].parameters[1].schema;
        assert_eq!(level["default"], "low");
        assert_eq!(level["description"], "How loud.");
        assert_eq!(level["enum"], serde_json::json!(["low", "high"]));
    }
}
