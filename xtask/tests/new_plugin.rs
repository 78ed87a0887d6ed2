//! `cargo xtask new-plugin` end to end, in a copy of the workspace: the scaffolded crate
//! passes its own test, and after `cargo xtask openapi` and `cargo xtask docs` the copy
//! passes what CI checks of it as it stands: `cargo fmt --check`, clippy with warnings
//! denied, and the contract test with the cases the scaffold added.
//!
//! Slow (it builds the workspace a second time): one test. The copy is removed when the
//! test ends, passed or failed; its target directory stays under `target/`, so a second
//! run reuses the first one's dependencies (the outer `cargo test` holds the main target
//! directory's lock while tests run).

use std::{
    path::{Path, PathBuf},
    process::Command,
};

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The workspace's tracked files, as they are in the working tree: what a build and the
/// checks read, not `target/` or `.git`.
fn copy_workspace(root: &Path, copy: &Path) {
    if copy.exists() {
        std::fs::remove_dir_all(copy).unwrap();
    }
    let listed = Command::new("git")
        .current_dir(root)
        .args(["ls-files", "-z"])
        .output()
        .expect("run git ls-files");
    assert!(listed.status.success(), "git ls-files failed");
    for file in listed.stdout.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let file = Path::new(std::str::from_utf8(file).expect("UTF-8 file names"));
        let from = root.join(file);
        // A file deleted in the working tree but not yet from the index.
        if !from.exists() {
            continue;
        }
        let to = copy.join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
}

/// Removes the copy when the test ends, however it ends.
struct RemovedOnDrop(PathBuf);

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs cargo in the copy, with its own target folder.
fn run_cargo(copy: &Path, target: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO"))
        .current_dir(copy)
        .env("CARGO_TARGET_DIR", target)
        .args(args)
        .output()
        .expect("run cargo")
}

/// Runs cargo in the copy and returns what it said; fails the test if cargo fails.
fn cargo(copy: &Path, target: &Path, args: &[&str]) -> String {
    let output = run_cargo(copy, target, args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "cargo {args:?} failed:\n{text}");
    text
}

/// `cargo xtask <command>` as the alias spells it, for the copy.
fn xtask<'a>(command: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "--quiet",
        "--offline",
        "-p",
        "xtask",
        "--bin",
        "xtask",
        "--",
    ];
    args.extend_from_slice(command);
    args
}

#[test]
fn a_scaffolded_plugin_passes_its_test_and_ci_s_checks_as_it_stands() {
    let root = workspace_root();
    let scratch = root.join("target/scaffold-check");
    let copy = scratch.join("workspace");
    let target = scratch.join("target");
    copy_workspace(&root, &copy);
    let _removed = RemovedOnDrop(copy.clone());

    let said = cargo(&copy, &target, &xtask(&["new-plugin", "goals"]));
    assert!(said.contains("created"), "{said}");
    assert!(
        !said.contains("add by hand"),
        "registered without help: {said}"
    );
    let lib = std::fs::read_to_string(copy.join("src/lib.rs")).unwrap();
    assert!(
        lib.contains("Arc::new(dashtray_goals::GoalsPlugin)"),
        "{lib}"
    );

    let tested = cargo(
        &copy,
        &target,
        &["test", "--offline", "-p", "dashtray-goals"],
    );
    assert!(
        tested.contains("lists_the_callers_items_a_page_at_a_time::sqlite ... ok"),
        "{tested}"
    );

    cargo(&copy, &target, &xtask(&["openapi"]));
    let document = std::fs::read_to_string(copy.join("openapi.yaml")).unwrap();
    assert!(
        document.contains("/api/v1/goals:"),
        "the operation is in openapi.yaml"
    );
    assert!(document.contains("operationId: listGoals"));
    assert!(document.contains("x-dashtray-scope: goals:read"));
    cargo(&copy, &target, &xtask(&["docs"]));

    // What CI runs over the whole workspace, on the copy with the new plugin.
    cargo(&copy, &target, &["fmt", "--all", "--", "--check"]);
    cargo(
        &copy,
        &target,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--offline",
            "--",
            "-D",
            "warnings",
        ],
    );
    let contract = cargo(
        &copy,
        &target,
        &["test", "--offline", "--test", "e2e", "contract"],
    );
    assert!(
        contract.contains("every_operation_and_documented_answer_has_a_case ... ok"),
        "{contract}"
    );

    let again = run_cargo(&copy, &target, &xtask(&["new-plugin", "goals"]));
    assert!(
        !again.status.success(),
        "a second scaffold of the same name is refused"
    );
}
