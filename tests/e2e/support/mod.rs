//! What the end-to-end tests share: the real `dashtray` binary, started in a scratch
//! folder on a free port, and an HTTP client.
#![allow(dead_code)]

pub mod console;
pub mod document;
pub mod proxy;
pub mod receiver;

use std::{
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

pub use dashtray_core::testing::TestDb;

pub const BIN: &str = env!("CARGO_BIN_EXE_dashtray");

/// The workspace root, where `openapi.yaml` lives.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `dashtray` command run in `dir` with only the given configuration variables.
pub fn dashtray(dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir);
    // The tests' own DASHTRAY_* variables must not leak into the server's configuration.
    for (key, _) in std::env::vars() {
        if key.starts_with("DASHTRAY_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("NO_COLOR", "1");
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd
}

/// A running `dashtray serve`, killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
    log: PathBuf,
    /// What the server printed when it started.
    announced: serde_json::Value,
}

impl Server {
    /// Starts the server with the given configuration variables; fails the test if it
    /// does not announce its address within 30 seconds.
    pub fn start(env: &[(&str, &str)]) -> Server {
        Server::spawn(env, &[])
    }

    /// Starts the server with its admin listener on a free port (`--admin-bind`).
    pub fn with_admin(env: &[(&str, &str)]) -> Server {
        Server::spawn(env, &["--admin-bind", "127.0.0.1:0"])
    }

    /// Starts `serve` with configuration variables and extra arguments (`--demo`).
    pub fn spawn(env: &[(&str, &str)], extra_args: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("scratch folder");
        let log = dir.path().join("server.log");
        let mut child = dashtray(dir.path(), env)
            .args(["serve", "--bind", "127.0.0.1:0", "--json"])
            .args(extra_args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start dashtray");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let announced: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!(
                "the server did not start; stdout: {line:?}; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        let base = announced["url"].as_str().expect("url").to_owned();
        Server {
            child,
            base,
            dir,
            log,
            announced,
        }
    }

    /// `serve --demo` on a test database: the server and the demo's key.
    pub fn demo(db: &TestDb) -> (Server, String) {
        let mut server = Server::spawn(&[("DASHTRAY_DATABASE__URL", db.url())], &["--demo"]);
        let key = server.announced["demo"]["key"]
            .as_str()
            .expect("the demo key")
            .to_owned();
        server.announced = serde_json::Value::Null;
        (server, key)
    }

    /// Starts the server on a test database, with its admin listener.
    pub fn on_with_admin(db: &TestDb) -> Server {
        Server::with_admin(&[("DASHTRAY_DATABASE__URL", db.url())])
    }

    /// What the server printed when it started (`--json`).
    pub fn announced(&self) -> &serde_json::Value {
        &self.announced
    }

    /// Starts the server on a test database.
    pub fn on(db: &TestDb, extra: &[(&str, &str)]) -> Server {
        let mut env = vec![("DASHTRAY_DATABASE__URL", db.url())];
        env.extend_from_slice(extra);
        Server::start(&env)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `path` on the admin listener, at the address the server announced.
    pub fn admin_url(&self, path: &str) -> String {
        let admin = self.announced["admin"]
            .as_str()
            .expect("the server announces its admin listener");
        format!("{admin}{path}")
    }

    /// `host:port`, for raw connections.
    pub fn host_port(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    /// Sends `GET <target>` byte for byte, as no HTTP client would (they normalise `..`
    /// and percent-encoding away), on a connection of its own; the whole answer.
    pub fn raw_get(&self, target: &str) -> String {
        let mut stream = std::net::TcpStream::connect(self.host_port()).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("a read timeout");
        let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        std::io::Write::write_all(&mut stream, request.as_bytes()).expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("the answer");
        answer
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server has logged so far.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    pub fn try_exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("poll the server")
    }

    /// Waits for the process to exit on its own, with status 0.
    pub fn wait_clean_exit(&mut self) {
        let status = self.wait_exit(Duration::from_secs(15));
        assert!(status.success(), "exit status {status:?}\n{}", self.logs());
    }

    /// Waits for the process to exit on its own.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.try_exit_status() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// GET and parse the JSON body, returning status, headers and body.
pub async fn get_json(
    url: &str,
) -> (
    reqwest::StatusCode,
    reqwest::header::HeaderMap,
    serde_json::Value,
) {
    let resp = client().get(url).send().await.expect("request");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, headers, body)
}

/// Checks an answer is SPEC's error body with `code`, and that its request id is the
/// one in the header.
pub fn assert_problem(
    headers: &reqwest::header::HeaderMap,
    body: &serde_json::Value,
    status: u16,
    code: &str,
) {
    assert_eq!(
        headers["content-type"], "application/problem+json",
        "errors are problem+json"
    );
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["error"], code, "{body}");
    for field in ["type", "title", "detail", "message", "requestId"] {
        assert!(body[field].is_string(), "`{field}` missing from {body}");
    }
    assert_eq!(
        body["requestId"],
        headers["x-request-id"].to_str().unwrap(),
        "the body's request id is the header's"
    );
}

/// Fails if `text` holds any 8 characters in a row of `key`'s secret (what follows its
/// public id): a log or answer showing part of a key is a leak too, and a check for the
/// whole key, or a long tail of it, would pass it.
pub fn assert_no_key_fragment(text: &str, key: &str, what: &str) {
    let secret = key_secret(key);
    for start in 0..=secret.len() - KEY_FRAGMENT {
        let fragment = &secret[start..start + KEY_FRAGMENT];
        assert!(
            !text.contains(fragment),
            "{what} shows `{fragment}`, part of the key's secret"
        );
    }
}

/// Fails if an answer's headers or body show any part of `key`'s secret.
pub fn assert_answer_hides_key(
    headers: &reqwest::header::HeaderMap,
    body: &str,
    key: &str,
    what: &str,
) {
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        assert_no_key_fragment(&value, key, &format!("{what}: header {name}"));
    }
    assert_no_key_fragment(body, key, &format!("{what}: the body"));
}

/// The shortest part of a key's secret that counts as a leak.
const KEY_FRAGMENT: usize = 8;

/// The secret and checksum of `dk_<public id>_<secret><checksum>`; the public id is the
/// key's id, shown by `keys list` and in logs on purpose.
fn key_secret(key: &str) -> &str {
    use dashtray_core::auth::key::{PREFIX, PUBLIC_ID_LEN};
    let secret = &key[PREFIX.len() + PUBLIC_ID_LEN + 1..];
    assert!(secret.len() >= KEY_FRAGMENT, "{key:?} is not a key");
    secret
}

/// The body of a problem answer without its request id, which differs on every answer.
pub fn without_request_id(mut body: serde_json::Value) -> serde_json::Value {
    if let Some(fields) = body.as_object_mut() {
        fields.remove("requestId");
    }
    body
}

/// Waits, when needed, until the hour's rate-limit window has `need` left: a test that
/// counts requests against a budget must not see the window reset half-way (windows
/// are `WINDOW_MS`, an hour, counted from the epoch, and a reset gives the budget back).
pub async fn with_window_left(need: Duration) {
    let window = dashtray_core::ratelimit::WINDOW_MS;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as i64;
    let left = Duration::from_millis((window - now.rem_euclid(window)) as u64);
    if left < need {
        eprintln!("waiting {left:?} for the next rate-limit window");
        // A second past its start, for servers whose clocks read a little behind.
        tokio::time::sleep(left + Duration::from_secs(1)).await;
    }
}

/// Polls `check` until it holds or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within {within:?}");
}

/// The path of a tool on PATH, or `None` (announced) on a laptop without it; under CI,
/// where `.ci/run` installs it, a missing tool fails the test.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    match found {
        Some(path) => Some(path),
        None if std::env::var_os("CI").is_some() => {
            panic!("`{name}` is not installed: CI must run this test, never skip it")
        }
        None => {
            dashtray_core::testing::announce_skip(&format!(
                "`{name}` is not installed: skipping this test (`apt-get install {name}`)"
            ));
            None
        }
    }
}

/// Runs a `dashtray … --json` command against `db` and returns its one JSON object.
pub fn cli_json(db: &TestDb, args: &[&str]) -> serde_json::Value {
    cli_json_with(db, &[], args)
}

/// [`cli_json`] with configuration `env` added.
pub fn cli_json_with(db: &TestDb, env: &[(&str, &str)], args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("scratch folder");
    let mut all = vec![("DASHTRAY_DATABASE__URL", db.url())];
    all.extend_from_slice(env);
    let output = dashtray(dir.path(), &all)
        .args(args)
        .arg("--json")
        .output()
        .expect("run dashtray");
    assert!(
        output.status.success(),
        "dashtray {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object on stdout")
}

/// A project (by CLI) and a key for it: `(project id, key id, key)`.
pub fn project_with_key(
    db: &TestDb,
    name: &str,
    plan: &str,
    scopes: Option<&str>,
) -> (String, String, String) {
    let project = cli_json(db, &["projects", "create", "--name", name, "--plan", plan]);
    let project_id = project["id"].as_str().unwrap().to_owned();
    let mut args = vec!["keys", "create", "--project", &project_id, "--name", "e2e"];
    if let Some(scopes) = scopes {
        args.extend(["--scopes", scopes]);
    }
    let key = cli_json(db, &args);
    (
        project_id.clone(),
        key["id"].as_str().unwrap().to_owned(),
        key["key"].as_str().unwrap().to_owned(),
    )
}

/// GET with `Authorization: <value>`.
pub async fn get_with_auth(
    url: &str,
    authorization: Option<&str>,
) -> (
    reqwest::StatusCode,
    reqwest::header::HeaderMap,
    serde_json::Value,
) {
    let mut request = client().get(url);
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let resp = request.send().await.expect("request");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, headers, body)
}

/// A Python with `requests` for the Python snippets and examples: CI's virtual
/// environment (`target/ci-venv`, made by `.ci/install-tools`), else `python3` if it can
/// import `requests`; `None` (announced) on a laptop without it, a failure under CI.
pub fn python_with_requests() -> Option<PathBuf> {
    python_with("requests", "requests")
}

/// A Python that can import `module`: CI's virtual environment, else `python3`; `None`
/// (announced) on a laptop without it, a failure under CI.
pub fn python_with(module: &str, package: &str) -> Option<PathBuf> {
    let venv = workspace_root().join("target/ci-venv/bin/python");
    let candidates = [venv, PathBuf::from("python3")];
    let found = candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", &format!("import {module}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    match found {
        Some(python) => Some(python),
        None if std::env::var_os("CI").is_some() => {
            panic!("no Python with `{module}`: CI must run this test, never skip it")
        }
        None => {
            dashtray_core::testing::announce_skip(&format!(
                "no Python with `{module}` (pip install {package}): skipping this test"
            ));
            None
        }
    }
}

/// Holds a Postgres table lock that makes every read of the table wait, until dropped.
///
/// SQLite in WAL mode never makes a reader wait, so only Postgres can hold a request in
/// flight from outside the server.
pub struct TableLock {
    _tx: dashtray_core::db::Tx,
}

/// A keyed request kept in flight by a lock on the table it reads (Postgres).
pub struct HeldRequest {
    lock: TableLock,
    in_flight: tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
}

impl HeldRequest {
    pub async fn hold(server: &Server, db: &TestDb, key: &str) -> HeldRequest {
        let lock = TableLock::take(db, "metric_points").await;
        let in_flight = tokio::spawn(
            client()
                .get(server.url("/api/v1/metrics?limit=1"))
                .bearer_auth(key)
                .send(),
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!in_flight.is_finished(), "the request waits on the lock");
        HeldRequest { lock, in_flight }
    }

    /// Lets the request go on: it must be answered 200.
    pub async fn release(self) {
        drop(self.lock);
        let resp = self
            .in_flight
            .await
            .unwrap()
            .expect("the in-flight request is answered");
        assert_eq!(resp.status(), reqwest::StatusCode::OK);
    }
}

impl TableLock {
    pub async fn take(db: &TestDb, table: &str) -> TableLock {
        assert_eq!(db.backend(), dashtray_core::testing::Backend::Postgres);
        let mut tx = db.connect().await.begin().await.expect("begin");
        tx.execute_script(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
            .await
            .expect("take the lock");
        TableLock { _tx: tx }
    }
}
