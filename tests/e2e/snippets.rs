//! Runs every generated client snippet (`docs/snippets/`, written by `cargo xtask docs`)
//! against the demo server, so the examples the docs promise actually work: each exits 0
//! and prints the body its operation documents, keyless operations need no key, and a
//! refused key ends in a non-zero exit with the problem body on stderr.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use dashtray_core::on_each_backend;
use serde_json::Value;

use crate::support::{
    client, document::openapi_yaml, python_with_requests, require_tool, workspace_root, Server,
};

/// A key of the right shape that no project has.
const UNKNOWN_KEY: &str = "dk_snippettest00_notarealsecretatall";

/// A snippet that has not finished by then is hung.
const SNIPPET_TIMEOUT: Duration = Duration::from_secs(60);

/// The snippet folders, their extensions and how to run a file from them.
const LANGUAGES: [(&str, &str); 3] = [("curl", "sh"), ("node", "mjs"), ("python", "py")];

/// What openapi.yaml promises about an operation's success.
struct Promise {
    keyed: bool,
    /// The operation's path; set only where the 200's schema says nothing about its body
    /// (the document itself), whose snippet must then print what the server answers.
    free_form_path: Option<String>,
    /// Top-level fields the 200's JSON body must have.
    required: Vec<String>,
}

/// How to run one language's snippets: the program that takes the file.
struct Runner {
    dir: &'static str,
    program: PathBuf,
}

/// One snippet run's result.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

fn promises() -> BTreeMap<String, Promise> {
    let doc = openapi_yaml();
    let mut promises = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for op in item.as_object().expect("a path item").values() {
            let id = op["operationId"].as_str().expect("an operationId");
            promises.insert(id.to_owned(), promise(&doc, path, op));
        }
    }
    promises
}

fn promise(doc: &Value, path: &str, op: &Value) -> Promise {
    let (_, body) = op["responses"]["200"]["content"]
        .as_object()
        .and_then(|content| content.iter().next())
        .expect("every operation documents a 200 body");
    let schema = resolve(doc, &body["schema"]);
    let required = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let free_form = schema.as_object().is_some_and(|s| s.is_empty());
    assert!(
        !free_form || op.get("parameters").is_none(),
        "{path}: a free-form answer to a request with parameters"
    );
    Promise {
        keyed: op["security"].as_array().is_some_and(|s| !s.is_empty()),
        free_form_path: free_form.then(|| path.to_owned()),
        required,
    }
}

/// Follows a local `$ref`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let target = doc
                .pointer(reference.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("`{reference}` resolves"));
            resolve(doc, target)
        }
        None => schema,
    }
}

/// The languages whose tool this machine has (each missing one is announced, or fails
/// under CI).
fn runners() -> Vec<Runner> {
    let mut runners = Vec::new();
    if require_tool("curl").is_some() {
        let sh = require_tool("sh").expect("a POSIX shell");
        runners.push(Runner {
            dir: "curl",
            program: sh,
        });
    }
    if let Some(node) = require_tool("node") {
        runners.push(Runner {
            dir: "node",
            program: node,
        });
    }
    if let Some(python) = python_with_requests() {
        runners.push(Runner {
            dir: "python",
            program: python,
        });
    }
    runners
}

fn snippets_dir() -> PathBuf {
    workspace_root().join("docs/snippets")
}

/// The operation ids with a snippet in `dir` (with extension `ext`), failing on any
/// other file there.
fn snippet_ids(dir: &str, ext: &str) -> BTreeSet<String> {
    let folder = snippets_dir().join(dir);
    let entries = std::fs::read_dir(&folder)
        .unwrap_or_else(|err| panic!("{}: {err}; run `cargo xtask docs`", folder.display()));
    entries
        .map(|entry| entry.expect("a folder entry").path())
        .map(|path| {
            assert_eq!(
                path.extension().and_then(|e| e.to_str()),
                Some(ext),
                "{} is not a {dir} snippet",
                path.display()
            );
            path.file_stem()
                .expect("a name")
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// Runs `file` with the given base URL and key (`None`: the variable unset), killing it
/// after [`SNIPPET_TIMEOUT`].
fn run(runner: &Runner, file: &Path, base: &str, key: Option<&str>) -> Result<Run, String> {
    let mut command = Command::new(&runner.program);
    command
        .arg(file)
        .env("DASHTRAY_BASE_URL", base)
        // A proxy from the environment must not intercept requests to the local server.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match key {
        Some(key) => command.env("DASHTRAY_API_KEY", key),
        None => command.env_remove("DASHTRAY_API_KEY"),
    };
    let mut child = command
        .spawn()
        .map_err(|err| format!("cannot start {}: {err}", runner.program.display()))?;
    let stdout = reader(child.stdout.take().expect("piped stdout"));
    let stderr = reader(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + SNIPPET_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|err| err.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("did not finish within {SNIPPET_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Run {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    })
}

fn reader(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// What is wrong with a successful-looking run, if anything. `served` is the server's
/// own answer to a free-form operation.
fn check_success(run: &Run, promise: &Promise, served: Option<&Value>) -> Option<String> {
    if !run.status.success() {
        return Some(format!("exited with {}", run.status));
    }
    if let Some(served) = served {
        // YAML reads JSON too: one parser for either media type.
        return match serde_yaml::from_str::<Value>(&run.stdout) {
            Ok(printed) if &printed == served => None,
            Ok(_) => Some("printed something other than the server's answer".to_owned()),
            Err(err) => Some(format!("printed text that is neither JSON nor YAML: {err}")),
        };
    }
    let body: Value = match serde_json::from_str(&run.stdout) {
        Ok(body) => body,
        Err(err) => return Some(format!("stdout is not JSON ({err})")),
    };
    let missing: Vec<&String> = promise
        .required
        .iter()
        .filter(|field| body.get(field.as_str()).is_none())
        .collect();
    if missing.is_empty() {
        None
    } else {
        Some(format!("the printed JSON lacks {missing:?}"))
    }
}

/// A refused key must end in a non-zero exit, nothing on stdout and the problem body
/// (`"error": "unauthorized"`) on stderr.
fn check_refused(run: &Run) -> Option<String> {
    let problem = run
        .stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
        .any(|body| body["error"] == "unauthorized");
    if run.status.success() {
        Some("exited 0".to_owned())
    } else if !run.stdout.trim().is_empty() {
        Some("printed to stdout".to_owned())
    } else if !problem {
        Some("no problem body with `\"error\": \"unauthorized\"` on stderr".to_owned())
    } else {
        None
    }
}

fn describe(file: &Path, problem: &str, run: Option<&Run>) -> String {
    let mut text = format!("{}: {problem}", file.display());
    if let Some(run) = run {
        let head = |s: &str| s.chars().take(600).collect::<String>();
        text.push_str(&format!(
            "\n  stdout: {}\n  stderr: {}",
            head(&run.stdout),
            head(&run.stderr)
        ));
    }
    text
}

/// The server's answers to the free-form operations, parsed, by operation id.
async fn served_free_form(server: &Server) -> BTreeMap<String, Value> {
    let mut served = BTreeMap::new();
    for (id, promise) in promises() {
        let Some(path) = promise.free_form_path else {
            continue;
        };
        let resp = client()
            .get(server.url(&path))
            .send()
            .await
            .expect("request");
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        let text = resp.text().await.expect("a body");
        served.insert(id, serde_yaml::from_str(&text).expect("JSON or YAML"));
    }
    served
}

/// Every snippet of every runner against the server; the failures, described.
fn run_all(base: &str, key: &str, served: &BTreeMap<String, Value>) -> Vec<String> {
    let promises = promises();
    let mut failures = Vec::new();
    for runner in runners() {
        let ext = LANGUAGES
            .iter()
            .find(|(dir, _)| *dir == runner.dir)
            .expect("a language")
            .1;
        for (id, promise) in &promises {
            let file = snippets_dir().join(runner.dir).join(format!("{id}.{ext}"));
            // Keyless operations run without the variable, proving they need no key.
            let key = promise.keyed.then_some(key);
            let problem = match run(&runner, &file, base, key) {
                Ok(run) => check_success(&run, promise, served.get(id))
                    .map(|p| describe(&file, &p, Some(&run))),
                Err(err) => Some(describe(&file, &err, None)),
            };
            failures.extend(problem);
        }
        let (refused_id, _) = promises
            .iter()
            .find(|(_, promise)| promise.keyed)
            .expect("a keyed operation");
        let file = snippets_dir()
            .join(runner.dir)
            .join(format!("{refused_id}.{ext}"));
        let problem = match run(&runner, &file, base, Some(UNKNOWN_KEY)) {
            Ok(run) => check_refused(&run)
                .map(|p| describe(&file, &format!("with an unknown key: {p}"), Some(&run))),
            Err(err) => Some(describe(&file, &err, None)),
        };
        failures.extend(problem);
    }
    failures
}

#[test]
fn every_operation_has_a_snippet_in_every_language_and_nothing_else() {
    let operations: BTreeSet<String> = promises().into_keys().collect();
    for (dir, ext) in LANGUAGES {
        assert_eq!(
            snippet_ids(dir, ext),
            operations,
            "docs/snippets/{dir} has one snippet per operation of openapi.yaml: run `cargo xtask docs`"
        );
    }
}

on_each_backend! {
    async fn every_snippet_runs_against_the_demo_server(db: TestDb) {
        let (server, key) = Server::demo(&db);
        let base = server.url("");
        let served = served_free_form(&server).await;
        let failures = tokio::task::spawn_blocking(move || run_all(&base, &key, &served))
            .await
            .expect("the snippet runs");
        assert!(
            failures.is_empty(),
            "{} snippet run(s) failed:\n\n{}",
            failures.len(),
            failures.join("\n\n")
        );
        drop(server);
    }
}
