//! The webhook signature-verification snippets (`docs/snippets/webhooks/`), one per
//! language, naming the event types the contract's `WebhookEvent` lists; the end-to-end
//! tests run them on real deliveries.

use anyhow::Context;
use serde_json::Value;

use super::spec::Spec;
use super::template::{fill, Vars};

/// `(file under docs/snippets/webhooks/, template)`.
const SNIPPETS: [(&str, &str); 2] = [
    (
        "verify.py",
        include_str!("../../templates/docs/verify.py.tmpl"),
    ),
    (
        "verify.mjs",
        include_str!("../../templates/docs/verify.mjs.tmpl"),
    ),
];

/// Each snippet by path relative to the workspace root, with its extension for the
/// generated-file notice.
pub fn snippets(spec: &Spec) -> anyhow::Result<Vec<(String, &'static str, String)>> {
    let types = event_types(spec)?;
    SNIPPETS
        .iter()
        .map(|(file, template)| {
            let path = format!("docs/snippets/webhooks/{file}");
            let vars = Vars::new()
                .text("file", path.clone())
                .text("types", types.join(", "));
            let extension = file.rsplit('.').next().expect("a file has an extension");
            Ok((path, extension, fill(template, &vars)?))
        })
        .collect()
}

/// The types of `WebhookEvent`'s discriminator, in the contract's order.
fn event_types(spec: &Spec) -> anyhow::Result<Vec<String>> {
    let mapping = spec
        .get("/components/schemas/WebhookEvent/discriminator/mapping")
        .and_then(Value::as_object)
        .context("openapi.yaml has no WebhookEvent schema with a discriminator mapping")?;
    Ok(mapping.keys().cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snippets_name_the_contracts_event_types() {
        let text = std::fs::read_to_string(crate::workspace_root().join("openapi.yaml")).unwrap();
        let snippets = snippets(&Spec::parse(&text).unwrap()).unwrap();
        assert_eq!(snippets.len(), 2);
        for (path, _, contents) in snippets {
            assert!(contents.contains("metrics.imported"), "{path}");
            assert!(contents.contains(&path), "{path} says how to run it");
        }
    }
}
