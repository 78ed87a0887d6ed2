//! `cargo xtask docs`: the API reference (`docs/api/`), client snippets
//! (`docs/snippets/`) and webhook verification snippets (`docs/snippets/webhooks/`),
//! generated from the committed openapi.yaml alone, so they describe
//! exactly the contract clients see. `--check` fails on any drift, including a file
//! that would no longer be generated.

mod examples;
mod markdown;
mod pages;
mod schema;
mod snippets;
mod spec;
mod template;
mod webhooks;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::generated;
use snippets::LANGUAGES;
use spec::Spec;

const COMMAND: &str = "cargo xtask docs";

/// The generated-file notice, put in each file's own comment syntax.
const HEADER: &str = include_str!("../templates/docs/header.txt");

/// The folders this command owns: every file in them is generated.
const OUTPUT_DIRS: [&str; 2] = ["docs/api", "docs/snippets"];

/// In `--check` mode a drifted file fails with its diff; this many are shown in full,
/// the rest only named, since one template change touches every file.
const DIFFS_SHOWN: usize = 3;

pub fn run(root: &Path, check: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(root.join("openapi.yaml"))
        .context("cannot read openapi.yaml: run `cargo xtask openapi` first")?;
    let files = generate(&text)?;
    let mut drifted = Vec::new();
    for (relative, contents) in &files {
        let path = root.join(relative);
        if !check {
            std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
        }
        if let Err(err) = generated::ensure(&path, contents, check, COMMAND) {
            drifted.push((relative, err));
        }
    }
    let stale = remove_stale(root, &files, check);
    if drifted.is_empty() {
        return stale;
    }
    let mut report: Vec<String> = drifted
        .iter()
        .take(DIFFS_SHOWN)
        .map(|(_, err)| format!("{err:#}"))
        .collect();
    if drifted.len() > DIFFS_SHOWN {
        let rest: Vec<&str> = drifted[DIFFS_SHOWN..]
            .iter()
            .map(|(relative, _)| relative.as_str())
            .collect();
        report.push(format!("also stale: {}", rest.join(", ")));
    }
    if let Err(err) = stale {
        report.push(format!("{err:#}"));
    }
    bail!("{}", report.join("\n\n"))
}

/// Every generated file, by path relative to the workspace root.
fn generate(openapi: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let spec = Spec::parse(openapi)?;
    let ops = spec.operations()?;
    let mut files = BTreeMap::new();
    files.insert(
        "docs/api/README.md".to_owned(),
        with_header("md", &pages::index(&spec, &ops)?),
    );
    for op in &ops {
        files.insert(
            format!("docs/api/{}.md", op.id),
            with_header("md", &pages::operation(&spec, op)?),
        );
        for language in &LANGUAGES {
            files.insert(
                language.path(op),
                with_header(language.extension, &language.render(op)?),
            );
        }
    }
    for (path, extension, contents) in webhooks::snippets(&spec)? {
        files.insert(path, with_header(extension, &contents));
    }
    Ok(files)
}

/// `contents` under the generated-file notice, commented as the file type needs.
fn with_header(extension: &str, contents: &str) -> String {
    let notice = HEADER.trim();
    let header = match LANGUAGES.iter().find(|l| l.extension == extension) {
        Some(language) => format!("{} {notice}\n", language.comment),
        None => format!("<!-- {notice} -->\n"),
    };
    format!("{header}\n{contents}")
}

/// Files in the output folders that are no longer generated: removed, or in `--check`
/// mode named in the failure.
fn remove_stale(root: &Path, files: &BTreeMap<String, String>, check: bool) -> anyhow::Result<()> {
    let mut stale = Vec::new();
    for dir in OUTPUT_DIRS {
        for path in files_under(&root.join(dir))? {
            let relative = path.strip_prefix(root).expect("under the root");
            if !files.contains_key(relative.to_string_lossy().as_ref()) {
                stale.push(path);
            }
        }
    }
    if check && !stale.is_empty() {
        let names: Vec<String> = stale.iter().map(|p| format!("  {}", p.display())).collect();
        bail!(
            "these files are no longer generated from openapi.yaml:\n{}\n\nRun `{COMMAND}` (it removes them) and commit the result.",
            names.join("\n")
        );
    }
    for path in stale {
        std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        println!("removed {}", path.display());
    }
    Ok(())
}

/// Every file under `dir`, sorted; none when it does not exist yet.
fn files_under(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(found);
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(files_under(&path)?);
        } else {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_starts_with_the_notice_in_its_own_comment_syntax() {
        assert!(with_header("md", "# Title\n")
            .starts_with("<!-- Generated by `cargo xtask docs` from openapi.yaml."));
        assert!(with_header("sh", "curl\n").starts_with("# Generated by `cargo xtask docs`"));
        assert!(with_header("mjs", "fetch\n").starts_with("// Generated by `cargo xtask docs`"));
        assert!(with_header("py", "import os\n").starts_with("# Generated by `cargo xtask docs`"));
    }

    #[test]
    fn the_committed_contract_generates_every_file() {
        let text = std::fs::read_to_string(crate::workspace_root().join("openapi.yaml")).unwrap();
        let files = generate(&text).unwrap();
        assert!(files.contains_key("docs/api/README.md"));
        for id in ["listMetrics", "getMetricTimeSeries", "getHealth"] {
            assert!(files.contains_key(&format!("docs/api/{id}.md")), "{id}");
            for dir_ext in ["curl/{id}.sh", "node/{id}.mjs", "python/{id}.py"] {
                let path = format!("docs/snippets/{}", dir_ext.replace("{id}", id));
                assert!(files.contains_key(&path), "{path}");
            }
        }
        assert_eq!(
            generate(&text).unwrap(),
            files,
            "the output is deterministic"
        );
    }

    #[test]
    fn check_fails_on_drift_and_names_files_no_longer_generated() {
        let root = std::env::temp_dir().join(format!("xtask-docs-{}", std::process::id()));
        std::fs::create_dir_all(root.join("docs/snippets/python")).unwrap();
        std::fs::copy(
            crate::workspace_root().join("openapi.yaml"),
            root.join("openapi.yaml"),
        )
        .unwrap();
        let leftover = root.join("docs/snippets/python/removedOperation.py");
        std::fs::write(&leftover, "print()\n").unwrap();

        let err = format!("{:#}", run(&root, true).unwrap_err());
        assert!(err.contains("README.md is stale"), "{err}");
        assert!(err.contains("also stale: "), "{err}");
        assert!(err.contains("removedOperation.py"), "{err}");
        assert!(err.contains("Run `cargo xtask docs`"), "{err}");

        run(&root, false).unwrap();
        assert!(
            !leftover.exists(),
            "writing removes what is no longer generated"
        );
        run(&root, true).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
    }
}
