//! The example clients in `docs/examples` (Node, Python, bash + curl), run for real: a
//! session against the demo server (ETag cache, 304 not counted, usage logged), a spent
//! budget they give up on at once, and a stand-in API whose 429 clears after a second.

use std::{
    path::PathBuf,
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use dashtray_core::on_each_backend;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    task::JoinHandle,
};

use crate::support::{
    cli_json, get_with_auth, python_with_requests, require_tool, workspace_root, Server,
};

const TIMESERIES: &str = concat!(
    "/api/v1/metrics/mrr/timeseries",
    "?interval=month&agg=last&start_date=2025-01-01&end_date=2025-06-30"
);

/// How long one run of an example may take before the test kills it.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// One example client and the interpreter that runs it.
struct Example {
    name: &'static str,
    interpreter: PathBuf,
    script: &'static str,
}

/// The examples whose tools are installed (a missing tool is announced, and fails CI).
fn examples() -> Vec<Example> {
    let mut found = Vec::new();
    if let Some(node) = require_tool("node") {
        found.push(Example {
            name: "node",
            interpreter: node,
            script: "docs/examples/node/dashtray-client.mjs",
        });
    }
    if let Some(python) = python_with_requests() {
        found.push(Example {
            name: "python",
            interpreter: python,
            script: "docs/examples/python/dashtray_client.py",
        });
    }
    if let (Some(bash), Some(_)) = (require_tool("bash"), require_tool("curl")) {
        found.push(Example {
            name: "curl",
            interpreter: bash,
            script: "docs/examples/curl/dashtray-client.sh",
        });
    }
    found
}

/// What one run printed, its JSON lines parsed.
struct Run {
    status: ExitStatus,
    lines: Vec<Value>,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    fn context(&self, example: &Example) -> String {
        format!(
            "{}: exit {:?}\nstdout: {:#?}\nstderr:\n{}",
            example.name,
            self.status.code(),
            self.lines,
            self.stderr
        )
    }
}

/// Runs `example` with `args`, the key (if any), the base URL and `env`, and nothing else
/// of the test's own `DASHTRAY_*` environment.
async fn run(
    example: &Example,
    base: &str,
    key: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> Run {
    let dir = tempfile::tempdir().expect("scratch folder");
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut cmd = std::process::Command::new(&example.interpreter);
    cmd.arg(workspace_root().join(example.script))
        .args(args)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    for (name, _) in std::env::vars() {
        if name.starts_with("DASHTRAY_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("DASHTRAY_BASE_URL", base);
    if let Some(key) = key {
        cmd.env("DASHTRAY_API_KEY", key);
    }
    cmd.envs(env.iter().copied());

    let name = example.name;
    let (status, elapsed) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut child = cmd.spawn().expect("start the example");
        loop {
            if let Some(status) = child.try_wait().expect("poll the example") {
                return (status, started.elapsed());
            }
            if started.elapsed() > RUN_LIMIT {
                let _ = child.kill();
                panic!("the {name} example did not finish within {RUN_LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .expect("the example's runner");

    let stdout = std::fs::read_to_string(&out).unwrap();
    let stderr = std::fs::read_to_string(&err).unwrap();
    let lines = stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| {
                panic!("{name}: a stdout line is not JSON ({e}): {line:?}\nstderr:\n{stderr}")
            })
        })
        .collect();
    Run {
        status,
        lines,
        stderr,
        elapsed,
    }
}

/// The project's `used` count, read through `/api/v1/rate_limit` (which does not count).
async fn used(server: &Server, key: &str) -> u64 {
    let (status, _, body) = get_with_auth(
        &server.url("/api/v1/rate_limit"),
        Some(&format!("Bearer {key}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]["used"].as_u64().expect("used")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Spends one request of a budget of two, in a window that has at least 30 seconds
/// left, so that the window cannot roll over while an example runs.
async fn leave_one_request(url: &str, bearer: &str) {
    loop {
        let (status, headers, body) = get_with_auth(url, Some(bearer)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let header = |name: &str| -> u64 { headers[name].to_str().unwrap().parse().unwrap() };
        let left = header("x-ratelimit-reset").saturating_sub(unix_now());
        if left >= 30 {
            assert_eq!(header("x-ratelimit-remaining"), 1);
            return;
        }
        tokio::time::sleep(Duration::from_secs(left + 1)).await;
    }
}

on_each_backend! {
    async fn each_example_runs_a_cached_monitored_session_against_the_demo(db: TestDb) {
        let (server, key) = Server::demo(&db);
        for example in examples() {
            let before = used(&server, &key).await;
            let run = run(&example, &server.base, Some(&key), &[], &[]).await;
            let context = run.context(&example);
            assert!(run.status.success(), "{context}");
            let [project, first, second, window] = &run.lines[..] else {
                panic!("one JSON line per request, four requests: {context}");
            };

            assert_eq!(project["path"], "/api/v1/projects", "{context}");
            assert_eq!(project["status"], 200, "{context}");
            assert_eq!(project["body"]["data"]["name"], "Acme SaaS", "{context}");

            for line in [first, second] {
                assert_eq!(line["path"], TIMESERIES, "{context}");
                let buckets = line["body"]["data"]["buckets"].as_array().expect("buckets");
                assert_eq!(buckets.len(), 6, "January to June: {context}");
                assert!(buckets.iter().all(|b| b["value"].is_number()), "{context}");
            }
            assert_eq!(
                (&first["status"], &first["fromCache"]),
                (&json!(200), &json!(false)),
                "{context}"
            );
            assert_eq!(
                (&second["status"], &second["fromCache"]),
                (&json!(304), &json!(true)),
                "the repeat is a conditional request answered 304: {context}"
            );
            assert_eq!(first["body"], second["body"], "the cached body: {context}");
            assert!(
                run.stderr.lines().any(|l| {
                    l.contains("cache hit") && l.contains("304") && l.contains(TIMESERIES)
                }),
                "the cache hit is logged: {context}"
            );

            // Usage is logged from the headers of each answer.
            assert!(run.stderr.contains("GET /api/v1/projects -> 200 (rate limit: "), "{context}");
            assert!(run.stderr.contains("/1000 left, resets in "), "{context}");
            assert!(!run.stderr.contains("dashtray: warning"), "plenty left: {context}");
            assert!(!run.stderr.contains(&key), "the key is never printed: {context}");

            // Counted: the project and the first time series. Not counted: the 304 and
            // the rate_limit read itself.
            assert_eq!(window["path"], "/api/v1/rate_limit", "{context}");
            let data = &window["body"]["data"];
            assert_eq!(data["limit"], 1000, "{context}");
            assert_eq!(data["used"], before + 2, "{context}");
            assert_eq!(used(&server, &key).await, before + 2, "{context}");
        }
    }

    async fn each_example_gives_up_at_once_when_retry_after_exceeds_its_max_wait(db: TestDb) {
        let server = Server::on(&db, &[]);
        for example in examples() {
            let name = format!("Tiny {}", example.name);
            let project = cli_json(
                &db,
                &["projects", "create", "--name", &name, "--plan", "scale", "--rate-limit", "2"],
            );
            let project_id = project["id"].as_str().unwrap();
            let key = cli_json(&db, &["keys", "create", "--project", project_id, "--name", "k"]);
            let key = key["key"].as_str().unwrap();
            let url = server.url("/api/v1/projects");
            crate::support::with_window_left(std::time::Duration::from_secs(60)).await;
            leave_one_request(&url, &format!("Bearer {key}")).await;

            let run = run(
                &example,
                &server.base,
                Some(key),
                &["/api/v1/projects"],
                &[("DASHTRAY_REPEAT", "3"), ("DASHTRAY_MAX_WAIT_SECS", "10")],
            )
            .await;
            let context = run.context(&example);
            assert_eq!(run.status.code(), Some(75), "gave up, try later: {context}");
            let [only] = &run.lines[..] else {
                panic!("the last request left is answered, then 429: {context}");
            };
            assert_eq!(only["status"], 200, "{context}");
            assert_eq!(only["body"]["data"]["name"], name.as_str(), "{context}");
            assert!(
                run.stderr
                    .contains("warning: only 0 of 2 requests left in this window (under 10%)"),
                "{context}"
            );
            assert!(run.stderr.contains("GET /api/v1/projects -> 429"), "{context}");
            let gave_up = run
                .stderr
                .lines()
                .find(|l| l.contains("giving up on GET /api/v1/projects"))
                .unwrap_or_else(|| panic!("a clear message: {context}"));
            assert!(gave_up.contains("(Retry-After)"), "{context}");
            assert!(gave_up.contains("more than DASHTRAY_MAX_WAIT_SECS=10 allows"), "{context}");
            assert!(gave_up.contains("rate_limited"), "{context}");
            assert!(!run.stderr.contains("waiting"), "no wait at all: {context}");
            assert!(run.elapsed < Duration::from_secs(10), "{context}");
        }
    }
}

/// A stand-in for the API on a free local port: answers each connection with the next
/// scripted response (the last one again once the script runs out), and records when
/// each request came and its head.
struct FakeApi {
    base: String,
    requests: Arc<Mutex<Vec<(Instant, String)>>>,
    accept: JoinHandle<()>,
}

impl FakeApi {
    async fn start(script: Vec<String>) -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
        let seen = requests.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65_536 {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let index = {
                    let mut seen = seen.lock().unwrap();
                    seen.push((Instant::now(), String::from_utf8_lossy(&head).into_owned()));
                    seen.len() - 1
                };
                let response = &script[index.min(script.len() - 1)];
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        FakeApi {
            base,
            requests,
            accept,
        }
    }

    fn requests(&self) -> Vec<(Instant, String)> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// A hand-written HTTP/1.1 response that closes the connection.
fn response(status: &str, headers: &[(&str, String)], body: &Value) -> String {
    let body = body.to_string();
    let mut text = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    text
}

fn problem(status: u16, code: &str, message: &str) -> Value {
    json!({
        "type": format!("https://docs.dashtray.com/api/errors#{code}"),
        "title": code,
        "status": status,
        "detail": message,
        "error": code,
        "message": message,
        "requestId": "fake",
    })
}

const FAKE_KEY: &str = "dk_fakefakefake_notarealsecret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_example_waits_out_retry_after_then_succeeds() {
    let now = unix_now();
    let project = json!({"data": {"id": "prj_fake", "name": "Fake Co", "plan": "scale",
        "slug": "fake-co", "createdAt": 1_700_000_000_000u64}});
    let mut limited = problem(
        429,
        "rate_limited",
        "Rate limit exceeded. Retry in 1 seconds.",
    );
    limited["retryAfter"] = json!(1);
    let script = vec![
        response(
            "429 Too Many Requests",
            &[
                ("Content-Type", "application/problem+json".into()),
                ("Retry-After", "1".into()),
                ("X-RateLimit-Limit", "2".into()),
                ("X-RateLimit-Remaining", "0".into()),
                ("X-RateLimit-Reset", (now + 1).to_string()),
            ],
            &limited,
        ),
        response(
            "200 OK",
            &[
                ("Content-Type", "application/json; charset=utf-8".into()),
                ("ETag", "\"fake-etag\"".into()),
                ("X-RateLimit-Limit", "2".into()),
                ("X-RateLimit-Remaining", "1".into()),
                ("X-RateLimit-Used", "1".into()),
                ("X-RateLimit-Reset", (now + 3600).to_string()),
            ],
            &project,
        ),
    ];
    for example in examples() {
        let api = FakeApi::start(script.clone()).await;
        let run = run(
            &example,
            &api.base,
            Some(FAKE_KEY),
            &["/api/v1/projects"],
            &[],
        )
        .await;
        let context = run.context(&example);
        assert!(run.status.success(), "{context}");
        let [only] = &run.lines[..] else {
            panic!("one request asked for, one line: {context}");
        };
        assert_eq!(only["status"], 200, "{context}");
        assert_eq!(only["fromCache"], false, "{context}");
        assert_eq!(only["body"], project, "the 200 body: {context}");
        assert!(
            run.stderr.contains(
                "GET /api/v1/projects -> 429, waiting 1 s (Retry-After) before attempt 2 of 5"
            ),
            "{context}"
        );

        let requests = api.requests();
        assert_eq!(requests.len(), 2, "one try, one retry: {context}");
        let waited = requests[1].0 - requests[0].0;
        assert!(
            waited >= Duration::from_millis(900),
            "waited {waited:?}: {context}"
        );
        assert!(
            waited < Duration::from_secs(5),
            "waited {waited:?}: {context}"
        );
        for (_, head) in &requests {
            assert!(
                head.starts_with("GET /api/v1/projects HTTP/1.1\r\n"),
                "{head}"
            );
            let head = head.to_ascii_lowercase();
            assert!(
                head.contains(&format!(
                    "authorization: bearer {}",
                    FAKE_KEY.to_ascii_lowercase()
                )),
                "{head}"
            );
            assert!(
                !head.contains("if-none-match"),
                "nothing cached yet: {head}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_example_backs_off_on_503_without_retry_after_and_stops_at_its_max_attempts() {
    let script = vec![response(
        "503 Service Unavailable",
        &[("Content-Type", "application/problem+json".into())],
        &problem(503, "unavailable", "The database is unreachable."),
    )];
    for example in examples() {
        let api = FakeApi::start(script.clone()).await;
        let run = run(
            &example,
            &api.base,
            Some(FAKE_KEY),
            &["/api/v1/projects"],
            &[("DASHTRAY_MAX_ATTEMPTS", "2")],
        )
        .await;
        let context = run.context(&example);
        assert_eq!(run.status.code(), Some(75), "{context}");
        assert!(run.lines.is_empty(), "{context}");
        assert!(
            run.stderr
                .contains("(exponential backoff) before attempt 2 of 2"),
            "{context}"
        );
        assert!(
            run.stderr.contains(concat!(
                "giving up on GET /api/v1/projects after 2 attempts; ",
                "last answer: 503 unavailable: The database is unreachable."
            )),
            "{context}"
        );
        let requests = api.requests();
        assert_eq!(requests.len(), 2, "{context}");
        let waited = requests[1].0 - requests[0].0;
        // The first backoff is 1 s with "equal jitter": between 0.5 and 1 s.
        assert!(
            waited >= Duration::from_millis(450),
            "waited {waited:?}: {context}"
        );
        assert!(
            waited < Duration::from_secs(3),
            "waited {waited:?}: {context}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_example_refuses_to_start_without_a_key() {
    for example in examples() {
        // Nothing listens on port 9: the example must stop before any request.
        let run = run(&example, "http://127.0.0.1:9", None, &[], &[]).await;
        let context = run.context(&example);
        assert_eq!(run.status.code(), Some(2), "{context}");
        assert!(run.lines.is_empty(), "{context}");
        assert!(
            run.stderr
                .contains("DASHTRAY_API_KEY is not set: export your API key (dk_...) first"),
            "{context}"
        );
    }
}
