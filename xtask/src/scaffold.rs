//! `cargo xtask new-plugin NAME`: a plugin crate under `plugins/NAME` with a list
//! resource (its table, its operation, its test) written with core's plugin kit,
//! registered in the workspace and in `builtin_plugins()`, with the operation's contract
//! cases in `tests/e2e/contract.rs`: what CI checks passes as it stands.
//!
//! The crate's files come from `xtask/templates/plugin/`; registering is small insertions
//! at marked places, and when a place cannot be found the line to add is printed instead
//! of guessed.

use std::path::Path;

use anyhow::{bail, Context};

const CARGO_TOML: &str = include_str!("../templates/plugin/Cargo.toml.tmpl");
const LIB_RS: &str = include_str!("../templates/plugin/lib.rs.tmpl");
const STORE_RS: &str = include_str!("../templates/plugin/store.rs.tmpl");
const TEST_RS: &str = include_str!("../templates/plugin/test.rs.tmpl");
/// The contract cases of the template's operation: one per answer it documents.
const CONTRACT_CASES: &str = include_str!("../templates/plugin/contract_cases.rs.tmpl");

pub fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let [name] = args else {
        bail!(
            "usage: cargo xtask new-plugin NAME   (NAME: lowercase letters and digits, e.g. goals)"
        );
    };
    check_name(name)?;
    let dir = root.join("plugins").join(name);
    if dir.exists() {
        bail!("{} exists already", dir.display());
    }
    let fill = |template: &str| fill(template, name);
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::create_dir_all(dir.join("tests"))?;
    std::fs::write(dir.join("Cargo.toml"), fill(CARGO_TOML))?;
    std::fs::write(dir.join("src/lib.rs"), fill(LIB_RS))?;
    std::fs::write(dir.join("src/store.rs"), fill(STORE_RS))?;
    std::fs::write(dir.join(format!("tests/{name}.rs")), fill(TEST_RS))?;
    println!("created {}", dir.display());

    let mut manual = Vec::new();
    register_in_workspace(root, name, &mut manual)?;
    register_builtin(root, name, &mut manual)?;
    add_contract_cases(root, &fill(CONTRACT_CASES), &mut manual)?;
    for line in &manual {
        println!("add by hand: {line}");
    }
    println!(
        "\nnext:\n  cargo test -p dashtray-{name}      # the plugin's own test\n  \
         cargo xtask openapi                # its operation joins openapi.yaml\n  \
         cargo xtask docs                   # and the API reference and snippets\n  \
         cargo test --test e2e contract     # its answers against the document\n\n\
         A new operation needs a contract case per documented answer (tests/e2e/contract.rs);\n\
         a required parameter needs an example value (xtask/src/docs/examples.rs) and, when it\n\
         names a row (an id), demo rows with it (src/demo.rs): docs/plugins.md, \"Green\"."
    );
    Ok(())
}

/// Lowercase ASCII letters and digits, starting with a letter: a crate name, a path and
/// a tag at once.
fn check_name(name: &str) -> anyhow::Result<()> {
    let valid = name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !valid {
        bail!("`{name}` is not a plugin name: use 1-32 lowercase letters and digits, starting with a letter");
    }
    Ok(())
}

fn pascal(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn fill(template: &str, name: &str) -> String {
    template
        .replace("{{name}}", name)
        .replace("{{crate_ident}}", name)
        .replace("{{Pascal}}", &pascal(name))
}

/// Inserts `line` after the last line of `text` that `is_anchor` accepts. With `table`,
/// only the lines of that TOML table count (from its `[header]` to the next header): a
/// dependency line of the same shape in another table is not an anchor.
fn insert_after_last(
    text: &str,
    table: Option<&str>,
    is_anchor: impl Fn(&str) -> bool,
    line: &str,
) -> Option<String> {
    let mut lines: Vec<&str> = text.lines().collect();
    let (start, end) = match table {
        None => (0, lines.len()),
        Some(header) => {
            let start = lines.iter().position(|l| l.trim() == header)? + 1;
            let end = lines[start..]
                .iter()
                .position(|l| l.starts_with('['))
                .map_or(lines.len(), |n| start + n);
            (start, end)
        }
    };
    let at = start + lines[start..end].iter().rposition(|l| is_anchor(l))?;
    lines.insert(at + 1, line);
    Some(lines.join("\n") + "\n")
}

/// Accepts the lines a new line goes after.
type Anchor<'a> = &'a dyn Fn(&str) -> bool;

/// The three lines a plugin needs in the root Cargo.toml, each after its likes.
fn register_in_workspace(root: &Path, name: &str, manual: &mut Vec<String>) -> anyhow::Result<()> {
    let path = root.join("Cargo.toml");
    let mut text = std::fs::read_to_string(&path).context("read Cargo.toml")?;
    let member = |l: &str| l.starts_with("    \"plugins/");
    let path_dependency = |l: &str| l.starts_with("dashtray-") && l.contains("{ path = \"plugins/");
    let dependency = |l: &str| l.starts_with("dashtray-") && l.ends_with(".workspace = true");
    let edits: [(&str, Anchor, String); 3] = [
        ("[workspace]", &member, format!("    \"plugins/{name}\",")),
        (
            "[workspace.dependencies]",
            &path_dependency,
            format!("dashtray-{name} = {{ path = \"plugins/{name}\" }}"),
        ),
        (
            "[dependencies]",
            &dependency,
            format!("dashtray-{name}.workspace = true"),
        ),
    ];
    for (table, is_anchor, line) in edits {
        match insert_after_last(&text, Some(table), is_anchor, &line) {
            Some(edited) => text = edited,
            None => manual.push(format!("{line}   (Cargo.toml, {table})")),
        }
    }
    std::fs::write(&path, text).context("write Cargo.toml")
}

fn register_builtin(root: &Path, name: &str, manual: &mut Vec<String>) -> anyhow::Result<()> {
    let path = root.join("src/lib.rs");
    let text = std::fs::read_to_string(&path).context("read src/lib.rs")?;
    let line = format!("        Arc::new(dashtray_{name}::{}Plugin),", pascal(name));
    match insert_after_last(
        &text,
        None,
        |l| l.starts_with("        Arc::new(dashtray_"),
        &line,
    ) {
        Some(edited) => std::fs::write(&path, edited).context("write src/lib.rs")?,
        None => manual.push(format!(
            "{}   (src/lib.rs, in builtin_plugins())",
            line.trim()
        )),
    }
    Ok(())
}

/// Puts `cases` at the end of the contract test's `CASES`, so the new operation's
/// documented answers are exercised from the start.
fn add_contract_cases(root: &Path, cases: &str, manual: &mut Vec<String>) -> anyhow::Result<()> {
    let path = root.join("tests/e2e/contract.rs");
    let text = std::fs::read_to_string(&path).context("read tests/e2e/contract.rs")?;
    match insert_before_end_of(&text, "const CASES: &[Case] = &[", "];", cases) {
        Some(edited) => std::fs::write(&path, edited).context("write tests/e2e/contract.rs")?,
        None => manual.push(format!(
            "these cases at the end of CASES in tests/e2e/contract.rs:\n{cases}"
        )),
    }
    Ok(())
}

/// Inserts `lines` before the first line equal to `end` that follows the line `start`.
fn insert_before_end_of(text: &str, start: &str, end: &str, lines: &str) -> Option<String> {
    let all: Vec<&str> = text.lines().collect();
    let from = all.iter().position(|l| l.trim_end() == start)?;
    let at = from + all[from..].iter().position(|l| *l == end)?;
    let mut edited: Vec<&str> = all[..at].to_vec();
    edited.extend(lines.lines());
    edited.extend(&all[at..]);
    Some(edited.join("\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercase_words() {
        assert!(check_name("goals").is_ok());
        assert!(check_name("goals2").is_ok());
        for bad in ["", "Goals", "2goals", "my-goals", "my_goals", "goals!"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(pascal("goals"), "Goals");
    }

    #[test]
    fn lines_go_after_the_last_of_their_kind() {
        let text = "a\n  x1\n  x2\nb\n";
        let x = |l: &str| l.starts_with("  x");
        assert_eq!(
            insert_after_last(text, None, x, "  x3").unwrap(),
            "a\n  x1\n  x2\n  x3\nb\n"
        );
        assert_eq!(insert_after_last(text, None, |l| l == "zz", "q"), None);
    }

    #[test]
    fn contract_cases_go_at_the_end_of_their_list() {
        let text = "const A: &[u8] = &[\n    1,\n];\nconst CASES: &[Case] = &[\n    x,\n];\n";
        assert_eq!(
            insert_before_end_of(text, "const CASES: &[Case] = &[", "];", "    y,\n").unwrap(),
            "const A: &[u8] = &[\n    1,\n];\nconst CASES: &[Case] = &[\n    x,\n    y,\n];\n"
        );
        assert_eq!(
            insert_before_end_of(text, "const OTHER: &[u8] = &[", "];", "y"),
            None
        );
    }

    #[test]
    fn in_a_table_only_its_own_lines_are_anchors() {
        let toml = "[dependencies]\nd-a = 1\n\n[dev-dependencies]\nd-b = 1\n";
        let d = |l: &str| l.starts_with("d-");
        assert_eq!(
            insert_after_last(toml, Some("[dependencies]"), d, "d-new = 1").unwrap(),
            "[dependencies]\nd-a = 1\nd-new = 1\n\n[dev-dependencies]\nd-b = 1\n"
        );
        assert_eq!(
            insert_after_last(toml, Some("[features]"), d, "d-new = 1"),
            None,
            "no such table"
        );
    }
}
