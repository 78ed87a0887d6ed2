//! Small Markdown pieces: tables whose cells survive any description, and HTTP status
//! names.

/// A GitHub-flavoured table; every cell is made one line with its pipes escaped.
pub fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n", head.join(" | "));
    out.push_str(&format!("|{}\n", "---|".repeat(head.len())));
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// Descriptions are wrapped in openapi.yaml; a table cell must be one line.
pub fn cell(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.replace('|', "\\|")
}

/// `text` as inline code.
pub fn code(text: &str) -> String {
    format!("`{text}`")
}

/// A status code with its reason phrase (`404 Not Found`).
pub fn status(code: &str) -> String {
    let reason = match code {
        "200" => "OK",
        "201" => "Created",
        "204" => "No Content",
        "304" => "Not Modified",
        "400" => "Bad Request",
        "401" => "Unauthorized",
        "403" => "Forbidden",
        "404" => "Not Found",
        "405" => "Method Not Allowed",
        "429" => "Too Many Requests",
        "500" => "Internal Server Error",
        "502" => "Bad Gateway",
        "503" => "Service Unavailable",
        _ => return code.to_owned(),
    };
    format!("{code} {reason}")
}

/// Ends `text` with a full stop unless it ends a sentence already (or is empty).
pub fn sentence(text: &str) -> String {
    let text = text.trim();
    match text.chars().last() {
        None => String::new(),
        Some('.' | '!' | '?' | ':') => text.to_owned(),
        Some(_) => format!("{text}."),
    }
}

/// `text` continuing a sentence (`Each item: one point.`): its first letter lowercased,
/// unless the word is an acronym such as `URL`.
pub fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && !second.is_uppercase() => {
            format!("{}{}", first.to_lowercase(), &text[first.len_utf8()..])
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_one_line_with_escaped_pipes() {
        let rows = vec![vec!["a\n  b".to_owned(), "x | y".to_owned()]];
        assert_eq!(
            table(&["One", "Two"], &rows),
            "| One | Two |\n|---|---|\n| a b | x \\| y |\n"
        );
    }

    #[test]
    fn continuing_a_sentence_lowercases_words_but_not_acronyms() {
        assert_eq!(lower_first("One point."), "one point.");
        assert_eq!(lower_first("URLs relative."), "URLs relative.");
        assert_eq!(lower_first("`code` first"), "`code` first");
    }

    #[test]
    fn statuses_get_their_reason_phrase() {
        assert_eq!(status("429"), "429 Too Many Requests");
        assert_eq!(status("599"), "599");
    }
}
