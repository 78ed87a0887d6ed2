//! Tidiness the compiler does not check: every Rust module says what it is for in its
//! first line, and README.md's configuration table lists exactly the keys core's
//! configuration types accept, with their defaults.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use dashtray_core::Config;
use serde_json::{json, Value};

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// The workspace's `.rs` files, leaving out build output and hidden folders.
fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable folder") {
        let path = entry.expect("a folder entry").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, found);
            }
        } else if name.ends_with(".rs") {
            found.push(path);
        }
    }
}

#[test]
fn every_rust_module_starts_with_a_line_saying_what_it_is_for() {
    let root = workspace_root();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 50, "the walk found the workspace's files");
    let missing: Vec<String> = files
        .iter()
        .filter(|file| {
            let text = std::fs::read_to_string(file).expect("a UTF-8 source file");
            !text.starts_with("//!")
        })
        .map(|file| {
            file.strip_prefix(&root)
                .unwrap_or(file)
                .display()
                .to_string()
        })
        .collect();
    assert!(
        missing.is_empty(),
        "these files do not start with a `//!` line saying what the module is for; \
         add one at the top of each:\n  {}",
        missing.join("\n  ")
    );
}

/// The keys `Config` accepts, as dotted paths (`server.bind`); a key whose value is a
/// map of names (`ratelimit.per_plan`, `plugin`) ends in `.*`.
///
/// Read from the types themselves: every configuration type denies unknown fields, and
/// serde's refusal of one lists the fields the type has, optional ones included.
fn config_keys() -> Vec<String> {
    let mut keys = Vec::new();
    collect_keys(&[], &mut keys);
    keys
}

fn collect_keys(path: &[String], keys: &mut Vec<String>) {
    const PROBE: &str = "~probe~";
    let refusal = |value: Value| {
        let value = path
            .iter()
            .rev()
            .fold(value, |inner, segment| json!({ segment.as_str(): inner }));
        match serde_json::from_value::<Config>(value) {
            Ok(_) => String::new(),
            Err(err) => err.to_string(),
        }
    };
    let message = refusal(json!({ PROBE: 0 }));
    if let Some(expected) = message.strip_prefix(&format!("unknown field `{PROBE}`, ")) {
        // A struct: its fields are the names in backticks.
        let fields = expected.split('`').skip(1).step_by(2);
        for field in fields {
            let mut nested = path.to_vec();
            nested.push(field.to_owned());
            collect_keys(&nested, keys);
        }
        return;
    }
    assert!(
        !path.is_empty(),
        "Config is not read as a struct: {message}"
    );
    let message = refusal(json!({}));
    match message.starts_with("invalid type: map") || message.starts_with("invalid value: map") {
        true => keys.push(path.join(".")),
        // It takes a map: of names, each a key of its own.
        false => keys.push(format!("{}.*", path.join("."))),
    }
}

/// README.md's configuration table: each key (a row may hold two, `a` / `b`) with the
/// default written in its row (`none`, or a value in backticks; `—` for none to show).
fn readme_rows(readme: &str) -> BTreeMap<String, String> {
    let mut rows = BTreeMap::new();
    let table = readme
        .split("| key | default | meaning |")
        .nth(1)
        .expect("README.md has the configuration table (`| key | default | meaning |`)");
    for line in table.lines().skip(2) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 {
            break;
        }
        let keys = cells[1].split(" / ");
        let defaults: Vec<&str> = cells[2].split(" / ").collect();
        for (i, key) in keys.enumerate() {
            let key = key.trim_matches('`');
            // `ratelimit.per_plan.<plan>`, `plugin.<name>.*`: a map of names.
            let key = match key.find(".<") {
                Some(at) => format!("{}.*", &key[..at]),
                None => key.to_owned(),
            };
            let default = defaults.get(i).or(defaults.first()).copied().unwrap_or("");
            rows.insert(key, default.to_owned());
        }
    }
    rows
}

/// A default as the README writes it: `none` for an absent value, else the value in
/// backticks (a string without its quotes).
fn as_written(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "none".into(),
        Some(Value::String(s)) => format!("`{s}`"),
        Some(other) => format!("`{other}`"),
    }
}

/// The README's default and the configuration's, as written, are the same value: numbers
/// compare as numbers (`5` in the README is the `5.0` of a float), the rest as text.
fn same_default(written: &str, default: &str) -> bool {
    fn value(text: &str) -> Option<Value> {
        let inner = text.strip_prefix('`')?.strip_suffix('`')?;
        serde_json::from_str(inner).ok().map(numbers_as_floats)
    }
    fn numbers_as_floats(value: Value) -> Value {
        match value {
            Value::Number(n) => json!(n.as_f64()),
            Value::Array(items) => Value::Array(items.into_iter().map(numbers_as_floats).collect()),
            other => other,
        }
    }
    written == default || matches!((value(written), value(default)), (Some(a), Some(b)) if a == b)
}

#[test]
fn readme_defaults_compare_as_values() {
    assert!(same_default("`[5, 300]`", "`[5.0,300.0]`"));
    assert!(same_default("`10`", "`10`"));
    assert!(!same_default("`[5, 301]`", "`[5.0,300.0]`"));
    assert!(!same_default("none", "`0`"));
}

#[test]
fn readme_s_configuration_table_lists_every_key_with_its_default() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README.md");
    let rows = readme_rows(&readme);
    let keys = config_keys();
    let defaults = serde_json::to_value(Config::default()).expect("the defaults serialize");
    let mut problems = Vec::new();
    for key in &keys {
        let pointer = format!("/{}", key.trim_end_matches(".*").replace('.', "/"));
        let default = as_written(defaults.pointer(&pointer));
        match rows.get(key) {
            None => problems.push(format!(
                "`{key}` (a field of core/src/config.rs) has no row in README.md's table \
                 under `## Configuration`; add this one, saying what the key does:\n    \
                 | `{key}` | {default} | <what it does> |"
            )),
            Some(written) if key.ends_with(".*") || written == "—" => {}
            Some(written) if !same_default(written, &default) => problems.push(format!(
                "`{key}`: README.md says {written}, `Config::default()` has {default}: \
                 change the row's default to {default} (or the default in core/src/config.rs)"
            )),
            Some(_) => {}
        }
    }
    for key in rows.keys().filter(|k| !keys.contains(k)) {
        problems.push(format!(
            "`{key}` has a row in README.md's configuration table but no field in \
             core/src/config.rs: remove the row, or add the key to the config types"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_key_reader_finds_optional_and_map_keys() {
    let keys = config_keys();
    for key in [
        "server.admin_bind",
        "auth.pepper",
        "ratelimit.per_plan.*",
        "plugin.*",
    ] {
        assert!(keys.iter().any(|k| k == key), "{key} in {keys:?}");
    }
}
