//! `cargo xtask new-plugin` end to end, in a copy of the workspace: the scaffolded crate
//! builds, passes its own test, and after `cargo xtask openapi` its operation is in
//! openapi.yaml.
//!
//! The copy lives at a fixed place under `target/` with its own target directory, so a
//! second run reuses the first one's build (the outer `cargo test` holds the main
//! target directory's lock while tests run).

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

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// What a build needs: manifests, sources and the lock file, not `target/` or `.git`.
fn copy_workspace(root: &Path, copy: &Path) {
    if copy.exists() {
        std::fs::remove_dir_all(copy).unwrap();
    }
    std::fs::create_dir_all(copy).unwrap();
    // openapi.yaml: clients/rust generates its code from it when it builds.
    for file in ["Cargo.toml", "Cargo.lock", "openapi.yaml"] {
        std::fs::copy(root.join(file), copy.join(file)).unwrap();
    }
    for dir in [
        ".cargo", "benches", "clients", "console", "core", "plugins", "src", "xtask",
    ] {
        copy_dir(&root.join(dir), &copy.join(dir));
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
fn a_scaffolded_plugin_builds_passes_its_test_and_joins_the_document() {
    let root = workspace_root();
    let scratch = root.join("target/scaffold-check");
    let copy = scratch.join("workspace");
    let target = scratch.join("target");
    copy_workspace(&root, &copy);

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
        tested.contains("answers_the_callers_project::sqlite ... ok"),
        "{tested}"
    );

    cargo(&copy, &target, &xtask(&["openapi"]));
    let document = std::fs::read_to_string(copy.join("openapi.yaml")).unwrap();
    assert!(
        document.contains("/api/v1/goals:"),
        "the operation is in openapi.yaml"
    );
    assert!(document.contains("operationId: getGoals"));
    assert!(document.contains("x-dashtray-scope: goals:read"));

    let again = run_cargo(&copy, &target, &xtask(&["new-plugin", "goals"]));
    assert!(
        !again.status.success(),
        "a second scaffold of the same name is refused"
    );
}
