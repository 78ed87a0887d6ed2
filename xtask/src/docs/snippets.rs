//! The client snippets: one per operation in cURL, Node.js and Python, filled from the
//! templates in `xtask/templates/docs/` with the operation and the example values.

use anyhow::Context;

use super::examples;
use super::spec::{Access, Operation};
use super::template::{fill, Vars};

/// Where the snippets send requests unless `DASHTRAY_BASE_URL` says otherwise:
/// `dashtray serve`'s default address.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";

pub struct Language {
    /// The folder under `docs/snippets/`, and the file extension.
    pub dir: &'static str,
    pub extension: &'static str,
    /// As the pages name it, and the Markdown fence's language.
    pub label: &'static str,
    pub fence: &'static str,
    /// How a line comment starts, for the generated-file header.
    pub comment: &'static str,
    template: &'static str,
}

pub const LANGUAGES: [Language; 3] = [
    Language {
        dir: "curl",
        extension: "sh",
        label: "cURL",
        fence: "sh",
        comment: "#",
        template: include_str!("../../templates/docs/snippet.sh.tmpl"),
    },
    Language {
        dir: "node",
        extension: "mjs",
        label: "Node.js",
        fence: "js",
        comment: "//",
        template: include_str!("../../templates/docs/snippet.mjs.tmpl"),
    },
    Language {
        dir: "python",
        extension: "py",
        label: "Python",
        fence: "python",
        comment: "#",
        template: include_str!("../../templates/docs/snippet.py.tmpl"),
    },
];

impl Language {
    /// `docs/snippets/<dir>/<operationId>.<ext>`, relative to the workspace root.
    pub fn path(&self, op: &Operation) -> String {
        format!("docs/snippets/{}/{}", self.dir, self.file_name(op))
    }

    pub fn file_name(&self, op: &Operation) -> String {
        format!("{}.{}", op.id, self.extension)
    }

    /// The snippet without the generated-file header, as the pages show it.
    pub fn render(&self, op: &Operation) -> anyhow::Result<String> {
        let vars = vars(op)?.text("file", self.file_name(op));
        fill(self.template, &vars).with_context(|| format!("{} snippet of {}", self.label, op.id))
    }
}

/// Who may call the operation, as one sentence (snippets and pages share it).
pub fn access_note(access: &Access) -> String {
    match access {
        Access::Open => "No API key needed.".to_owned(),
        Access::Key { scope: Some(scope) } => {
            format!("Needs an API key with the `{scope}` scope.")
        }
        Access::Key { scope: None } => "Needs an API key (any scope).".to_owned(),
    }
}

/// What every language's template is filled with.
fn vars(op: &Operation) -> anyhow::Result<Vars> {
    let mut path = op.path.clone();
    let mut query = Vec::new();
    for parameter in &op.parameters {
        let Some(value) = examples::value(&op.id, parameter).with_context(|| op.id.clone())? else {
            continue;
        };
        match parameter.location.as_str() {
            "path" => path = path.replace(&format!("{{{}}}", parameter.name), value),
            "query" => query.push(
                Vars::new()
                    .text("name", &parameter.name)
                    .text("value", value),
            ),
            other => anyhow::bail!("{}: `{other}` parameters are not supported", op.id),
        }
    }
    Ok(Vars::new()
        .text("summary", &op.summary)
        .text("method", &op.method)
        .text("path_template", &op.path)
        .text("path", path)
        .text("access", access_note(&op.access))
        .text("accept", accept(op))
        .text("base_url", DEFAULT_BASE_URL)
        .flag("keyed", op.access != Access::Open)
        .flag("has_query", !query.is_empty())
        .list("query", query))
}

/// The media type of the first success answer, without parameters (`; charset=...`).
fn accept(op: &Operation) -> String {
    op.responses
        .iter()
        .filter(|r| r.status.starts_with('2'))
        .flat_map(|r| r.content.iter())
        .map(|(media, _)| {
            media
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .next()
        .unwrap_or_else(|| "*/*".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs::spec::Spec;

    const DOC: &str = r##"
paths:
  /things/{integration_id}:
    get:
      operationId: getThing
      summary: Get a thing
      x-dashtray-scope: things:read
      security: [{bearerAuth: []}]
      parameters:
      - {in: path, name: integration_id, required: true, schema: {type: string}}
      - {in: query, name: limit, schema: {type: integer}}
      - {in: query, name: offset, schema: {type: integer}}
      responses:
        '200':
          description: ok
          content: {'application/json; charset=utf-8': {schema: {}}}
  /health:
    get:
      operationId: getHealth
      summary: Health
      responses:
        '200': {description: ok, content: {application/json: {schema: {}}}}
"##;

    fn rendered(id: &str, language: usize) -> String {
        let ops = Spec::parse(DOC).unwrap().operations().unwrap();
        let op = ops.iter().find(|op| op.id == id).unwrap();
        LANGUAGES[language].render(op).unwrap()
    }

    #[test]
    fn a_keyed_snippet_sends_the_key_and_the_example_values() {
        let python = rendered("getThing", 2);
        assert!(
            python.contains("Needs an API key with the `things:read` scope."),
            "{python}"
        );
        assert!(
            python.contains("base_url + \"/things/int_DemoStripe000001\""),
            "{python}"
        );
        assert!(python.contains("\"limit\": \"5\","), "{python}");
        assert!(
            !python.contains("offset"),
            "optional parameters without an example are left out"
        );
        assert!(python.contains("f\"Bearer {api_key}\""), "{python}");
        assert!(
            python.contains("\"Accept\": \"application/json\","),
            "{python}"
        );
        let curl = rendered("getThing", 0);
        assert!(curl.contains("  --get \\\n"), "{curl}");
        assert!(
            curl.contains(
                "\"${DASHTRAY_BASE_URL:-http://127.0.0.1:8080}/things/int_DemoStripe000001\")"
            ),
            "{curl}"
        );
    }

    #[test]
    fn an_open_snippet_sends_no_key() {
        for language in 0..LANGUAGES.len() {
            let snippet = rendered("getHealth", language);
            assert!(!snippet.contains("DASHTRAY_API_KEY"), "{snippet}");
            assert!(!snippet.contains("Authorization"), "{snippet}");
            assert!(snippet.contains("No API key needed."), "{snippet}");
        }
    }
}
