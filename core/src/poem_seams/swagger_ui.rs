//! Swagger UI's page, from poem-openapi's template, around a document chosen at run time.

use poem_openapi::OpenApi;

/// A one-operation-free API whose page gives the template.
struct Placeholder;

#[OpenApi]
impl Placeholder {}

/// poem-openapi embeds Swagger UI's script and styles but only renders them for one
/// compile-time API: this renders the page for a placeholder API and replaces the
/// template's `let spec = <document>;` line with `let spec = <document_json>;` followed
/// by `after_spec`, and its `<title>` with `title`. It relies on that line and that
/// title being in the template, as
/// `tests::poem_openapi_s_swagger_ui_page_holds_the_document_in_one_line` checks.
///
/// # Panics
/// When the template no longer has the line: the page would not show the document.
pub(crate) fn page(document_json: &str, after_spec: &str, title: &str) -> String {
    let placeholder = poem_openapi::OpenApiService::new(Placeholder, "placeholder", "0");
    let html = placeholder.swagger_ui_html();
    let marker = format!("let spec = {};", placeholder.spec());
    assert!(
        html.contains(&marker),
        "poem-openapi's Swagger UI template changed"
    );
    // `</` inside a string would end the inline <script>; `<\/` is the same JSON string.
    let document_json = document_json.replace("</", "<\\/");
    html.replacen(
        &marker,
        &format!("let spec = {document_json};\n{after_spec}"),
        1,
    )
    .replacen(
        "<title>Swagger UI</title>",
        &format!("<title>{title}</title>"),
        1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poem_openapi_s_swagger_ui_page_holds_the_document_in_one_line() {
        let html = page(
            r#"{"openapi":"3.0.3","x":"</script>"}"#,
            "let after = 1;",
            "T",
        );
        assert!(html.contains(r#"let spec = {"openapi":"3.0.3","x":"<\/script>"};"#));
        assert!(html.contains("let after = 1;"));
        assert!(html.contains("<title>T</title>"), "the template's title");
        assert!(
            !html.contains(r#""title":"placeholder""#),
            "the placeholder's document is gone"
        );
        assert!(
            html.contains("SwaggerUIBundle"),
            "Swagger UI's script is inlined"
        );
    }
}
