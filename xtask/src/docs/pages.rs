//! The Markdown reference: `docs/api/README.md` (the index: conventions shared by every
//! operation, and the list of operations) and one page per operation, each filled from
//! its template in `xtask/templates/docs/`.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use serde_json::Value;

use super::markdown::{code, lower_first, sentence, status, table};
use super::schema;
use super::snippets::{access_note, DEFAULT_BASE_URL, LANGUAGES};
use super::spec::{Access, Header, Operation, Response, Spec, PROBLEM_REF};
use super::template::{fill, Vars};

const INDEX: &str = include_str!("../../templates/docs/index.md.tmpl");
const OPERATION: &str = include_str!("../../templates/docs/operation.md.tmpl");

/// The index's caching section explains these component headers; rate-limit headers are
/// those named `*RateLimit*` and `Retry-After`; the rest are listed on their own.
const CACHING_HEADERS: [&str; 3] = ["Cache-Control", "ETag", "Vary"];

/// An operation's page, `docs/api/<operationId>.md`.
pub fn operation(spec: &Spec, op: &Operation) -> anyhow::Result<String> {
    let parameters = parameter_table(op);
    let mut snippets = Vec::new();
    for language in &LANGUAGES {
        snippets.push(
            Vars::new()
                .text("label", language.label)
                .text("fence", language.fence)
                .text("file", language.path(op))
                .text(
                    "link",
                    format!("../snippets/{}/{}", language.dir, language.file_name(op)),
                )
                .text("code", language.render(op)?.trim_end()),
        );
    }
    let vars = Vars::new()
        .text("title", title(op))
        .text("method", &op.method)
        .text("path", &op.path)
        .text("id", &op.id)
        .text("tag", &op.tag)
        .text("description", op.description.trim())
        .flag("has_description", !op.description.trim().is_empty())
        .text("access", access_note(&op.access))
        .flag("keyed", op.access != Access::Open)
        .flag("has_parameters", !op.parameters.is_empty())
        .text("parameters", parameters)
        .text("responses", responses(spec, op)?)
        .text("base_url", DEFAULT_BASE_URL)
        .list("snippets", snippets);
    fill(OPERATION, &vars).with_context(|| format!("the page of {}", op.id))
}

fn title(op: &Operation) -> &str {
    if op.summary.is_empty() {
        &op.id
    } else {
        &op.summary
    }
}

fn link(op: &Operation) -> String {
    format!("[{}]({}.md)", title(op), op.id)
}

fn parameter_table(op: &Operation) -> String {
    let rows: Vec<Vec<String>> = op
        .parameters
        .iter()
        .map(|p| {
            let own = p.description.as_str();
            let fallback = p
                .schema
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default();
            vec![
                code(&p.name),
                p.location.clone(),
                schema_kind(&p.schema),
                if p.required { "yes" } else { "no" }.to_owned(),
                schema::default(&p.schema).unwrap_or_default(),
                schema::limits(&p.schema),
                sentence(if own.is_empty() { fallback } else { own }),
            ]
        })
        .collect();
    table(
        &[
            "Name",
            "In",
            "Type",
            "Required",
            "Default",
            "Limits",
            "Description",
        ],
        &rows,
    )
}

/// Parameters and headers have flat schemas: their type needs no document.
fn schema_kind(merged: &serde_json::Map<String, Value>) -> String {
    let text = |key: &str| merged.get(key).and_then(Value::as_str);
    match (text("type"), text("format")) {
        (Some(kind), Some(format)) => format!("{kind} ({format})"),
        (Some(kind), None) => kind.to_owned(),
        (None, _) => "any".to_owned(),
    }
}

/// Successful and other non-problem answers in full; error answers in one table, since
/// they share the problem body documented in the index.
fn responses(spec: &Spec, op: &Operation) -> anyhow::Result<String> {
    let mut blocks = Vec::new();
    for response in op.responses.iter().filter(|r| !r.is_problem()) {
        blocks.push(full_response(spec, response)?);
    }
    let errors: Vec<&Response> = op.responses.iter().filter(|r| r.is_problem()).collect();
    if !errors.is_empty() {
        blocks.push(error_table(&errors));
    }
    Ok(blocks.join("\n"))
}

fn full_response(spec: &Spec, response: &Response) -> anyhow::Result<String> {
    let mut parts = vec![format!("### {}\n", status(&response.status))];
    if !response.description.trim().is_empty() {
        parts.push(format!("{}\n", sentence(&response.description)));
    }
    for (media, body) in &response.content {
        parts.push(format!("Body ({}):\n", code(media)));
        parts.push(
            schema::body(spec, body).with_context(|| format!("the {} body", response.status))?,
        );
    }
    if !response.headers.is_empty() {
        parts.push("Headers:\n".to_owned());
        parts.push(header_table(&response.headers));
    }
    Ok(parts.join("\n"))
}

fn error_table(errors: &[&Response]) -> String {
    let media: BTreeSet<String> = errors
        .iter()
        .flat_map(|r| r.content.iter().map(|(m, _)| code(m)))
        .collect();
    let media: Vec<String> = media.into_iter().collect();
    let rows: Vec<Vec<String>> = errors
        .iter()
        .map(|r| {
            let headers: Vec<String> = r.headers.iter().map(|h| code(&h.name)).collect();
            vec![
                status(&r.status),
                sentence(&r.description),
                headers.join(", "),
            ]
        })
        .collect();
    format!(
        "### Errors\n\nThese answers carry a [problem body](README.md#errors) ({}).\n\n{}",
        media.join(", "),
        table(&["Status", "When", "Headers"], &rows)
    )
}

fn header_table(headers: &[Header]) -> String {
    let rows: Vec<Vec<String>> = headers
        .iter()
        .map(|h| {
            vec![
                code(&h.name),
                schema_kind(&h.schema),
                sentence(&h.description),
            ]
        })
        .collect();
    table(&["Header", "Type", "Description"], &rows)
}

/// `docs/api/README.md`.
pub fn index(spec: &Spec, ops: &[Operation]) -> anyhow::Result<String> {
    let open: Vec<String> = ops
        .iter()
        .filter(|op| op.access == Access::Open)
        .map(link)
        .collect();
    let too_many = first_response(ops, "429").map(|r| {
        format!(
            "{}: {}",
            code(&status("429")),
            lower_first(&sentence(&r.description))
        )
    });
    let link_header = paginated(spec, ops)
        .iter()
        .filter_map(|op| op.response("200"))
        .flat_map(|r| r.headers.iter())
        .find(|h| h.name == "Link" && !h.description.is_empty())
        .map(|h| lower_first(&sentence(&h.description)));
    let (rate_limit, caching, other) = component_headers(spec)?;
    let vars = Vars::new()
        .text("title", spec.text("/info/title"))
        .text("version", spec.text("/info/version"))
        .text("description", spec.text("/info/description").trim())
        .text("path_prefix", path_prefix(ops))
        .text("base_url", DEFAULT_BASE_URL)
        .text("operations", operations_table(ops))
        .text(
            "auth_description",
            sentence(spec.text("/components/securitySchemes/bearerAuth/description")),
        )
        .text(
            "bearer_format",
            spec.text("/components/securitySchemes/bearerAuth/bearerFormat"),
        )
        .flag("has_open", !open.is_empty())
        .text("open_operations", open.join(", "))
        .text("scopes", scopes_table(ops))
        .flag("has_too_many_requests", too_many.is_some())
        .text("too_many_requests", too_many.unwrap_or_default())
        .text("rate_limit_headers", header_table(&rate_limit))
        .text("problem_media", problem_media(ops))
        .text(
            "problem_fields",
            schema::body(spec, &serde_json::json!({ "$ref": PROBLEM_REF }))?,
        )
        .text("error_codes", error_codes(spec, ops))
        .text(
            "paginated",
            paginated(spec, ops)
                .iter()
                .map(|op| link(op))
                .collect::<Vec<_>>()
                .join(", "),
        )
        .text("page_parameters", page_parameters(spec, ops))
        .text("pagination_fields", pagination_fields(spec, ops)?)
        .flag("has_link", link_header.is_some())
        .text("link", link_header.unwrap_or_default())
        .text("caching_headers", header_table(&caching))
        .text("other_headers", header_table(&other));
    fill(INDEX, &vars).context("the index page")
}

/// Every operation, grouped by tag, then by path.
fn operations_table(ops: &[Operation]) -> String {
    let mut sorted: Vec<&Operation> = ops.iter().collect();
    sorted.sort_by(|a, b| (&a.tag, &a.path, &a.method).cmp(&(&b.tag, &b.path, &b.method)));
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .map(|op| {
            let key = match &op.access {
                Access::Open => "none".to_owned(),
                Access::Key { scope: Some(scope) } => code(scope),
                Access::Key { scope: None } => "any scope".to_owned(),
            };
            vec![
                op.tag.clone(),
                link(op),
                format!("`{} {}`", op.method, op.path),
                key,
            ]
        })
        .collect();
    table(&["Tag", "Operation", "Method and path", "API key"], &rows)
}

fn scopes_table(ops: &[Operation]) -> String {
    let mut by_scope: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for op in ops {
        if let Access::Key { scope } = &op.access {
            let scope = scope
                .as_deref()
                .map(code)
                .unwrap_or_else(|| "any (a valid key)".to_owned());
            by_scope.entry(scope).or_default().push(link(op));
        }
    }
    let rows: Vec<Vec<String>> = by_scope
        .into_iter()
        .map(|(scope, links)| vec![scope, links.join(", ")])
        .collect();
    table(&["Scope", "Operations"], &rows)
}

/// The longest path prefix, in whole segments, that every operation shares.
fn path_prefix(ops: &[Operation]) -> String {
    let mut paths = ops.iter().map(|op| op.path.split('/').collect::<Vec<_>>());
    let Some(mut common) = paths.next() else {
        return String::new();
    };
    common.pop();
    for path in paths {
        let shared = common.iter().zip(&path).take_while(|(a, b)| a == b).count();
        common.truncate(shared.min(path.len().saturating_sub(1)));
    }
    common.join("/")
}

fn first_response<'a>(ops: &'a [Operation], status: &str) -> Option<&'a Response> {
    ops.iter().find_map(|op| op.response(status))
}

fn problem_media(ops: &[Operation]) -> String {
    ops.iter()
        .flat_map(|op| op.responses.iter().filter(|r| r.is_problem()))
        .flat_map(|r| r.content.first())
        .map(|(media, _)| media.clone())
        .next()
        .unwrap_or_default()
}

/// Each `error` code of the problem schema, with the statuses whose description names it.
fn error_codes(spec: &Spec, ops: &[Operation]) -> String {
    let codes = spec
        .get("/components/schemas/Problem/properties/error/enum")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut answers: BTreeMap<&str, &Response> = BTreeMap::new();
    for response in ops
        .iter()
        .flat_map(|op| op.responses.iter())
        .filter(|r| r.is_problem())
    {
        answers.entry(response.status.as_str()).or_insert(response);
    }
    let rows: Vec<Vec<String>> = codes
        .iter()
        .filter_map(Value::as_str)
        .map(|error| {
            let named = format!("`{error}`");
            let matching: Vec<&&Response> = answers
                .values()
                .filter(|r| r.description.contains(&named))
                .collect();
            let statuses: Vec<String> = matching.iter().map(|r| status(&r.status)).collect();
            let when = match matching.first() {
                Some(r) => sentence(&r.description),
                None => "No operation's responses describe it.".to_owned(),
            };
            let statuses = if statuses.is_empty() {
                "—".to_owned()
            } else {
                statuses.join(", ")
            };
            vec![named, statuses, when]
        })
        .collect();
    table(&["`error`", "Status", "When"], &rows)
}

/// Operations whose success body has a `pagination` field, in id order.
fn paginated<'a>(spec: &Spec, ops: &'a [Operation]) -> Vec<&'a Operation> {
    ops.iter()
        .filter(|op| {
            op.response("200")
                .and_then(|r| r.content.first())
                .and_then(|(_, body)| spec.merged(body).ok())
                .is_some_and(|body| {
                    body.get("properties")
                        .and_then(|p| p.get("pagination"))
                        .is_some()
                })
        })
        .collect()
}

/// The query parameters every list takes, as the first list declares them.
fn page_parameters(spec: &Spec, ops: &[Operation]) -> String {
    let lists = paginated(spec, ops);
    let Some(first) = lists.first() else {
        return String::new();
    };
    let rows: Vec<Vec<String>> = first
        .parameters
        .iter()
        .filter(|p| {
            lists
                .iter()
                .all(|op| op.parameters.iter().any(|q| q.name == p.name))
        })
        .map(|p| {
            vec![
                code(&p.name),
                schema_kind(&p.schema),
                schema::default(&p.schema).unwrap_or_default(),
                schema::limits(&p.schema),
            ]
        })
        .collect();
    table(&["Parameter", "Type", "Default", "Limits"], &rows)
}

fn pagination_fields(spec: &Spec, ops: &[Operation]) -> anyhow::Result<String> {
    let lists = paginated(spec, ops);
    let Some(body) = lists
        .first()
        .and_then(|op| op.response("200"))
        .and_then(|r| r.content.first())
    else {
        return Ok(String::new());
    };
    let merged = spec.merged(&body.1)?;
    let pagination = merged
        .get("properties")
        .and_then(|p| p.get("pagination"))
        .cloned()
        .unwrap_or_default();
    schema::body(spec, &pagination)
}

/// `#/components/headers` split into the rate-limit, caching and other headers.
fn component_headers(spec: &Spec) -> anyhow::Result<(Vec<Header>, Vec<Header>, Vec<Header>)> {
    let (mut rate_limit, mut caching, mut other) = (Vec::new(), Vec::new(), Vec::new());
    let headers = spec
        .get("/components/headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten();
    for (name, header) in headers {
        let header = spec.header(name, header)?;
        if name.contains("RateLimit") || name == "Retry-After" {
            rate_limit.push(header);
        } else if CACHING_HEADERS.contains(&name.as_str()) {
            caching.push(header);
        } else {
            other.push(header);
        }
    }
    Ok((rate_limit, caching, other))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_prefix_is_whole_segments_shared_by_every_path() {
        let spec = Spec::parse(
            "paths:\n  /api/v1/a: {get: {operationId: a}}\n  /api/v1/ab/{id}: {get: {operationId: b}}\n",
        )
        .unwrap();
        assert_eq!(path_prefix(&spec.operations().unwrap()), "/api/v1");
    }
}
