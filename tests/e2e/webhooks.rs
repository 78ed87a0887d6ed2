//! Webhooks end to end: the real `dashtray` binary delivering to a real HTTP receiver
//! on loopback (so `webhooks.allow_private_targets` is on, except where the address
//! rules are the subject), on both backends.

use std::{path::Path, process::Output, time::Duration};

use dashtray_core::webhooks::signing;

use crate::support::{
    cli_json, dashtray, eventually, project_with_key, python_with,
    receiver::{Received, Receiver},
    require_tool, Server, TestDb,
};

/// Private targets allowed (the receiver is on loopback), retries within a second.
const FAST: [(&str, &str); 3] = [
    ("DASHTRAY_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true"),
    ("DASHTRAY_WEBHOOKS__RETRY_SCHEDULE_SECS", "[0.2, 0.2, 0.2]"),
    ("DASHTRAY_WEBHOOKS__TIMEOUT_SECS", "5"),
];
const WAIT: Duration = Duration::from_secs(20);

/// `dashtray ARGS --json` on `db` with `env`; its whole output, success or not.
fn cli(db: &TestDb, env: &[(&str, &str)], args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("scratch folder");
    let mut all = vec![("DASHTRAY_DATABASE__URL", db.url())];
    all.extend_from_slice(env);
    dashtray(dir.path(), &all)
        .args(args)
        .arg("--json")
        .output()
        .expect("run dashtray")
}

/// A command that must succeed: its one JSON object.
fn ok(db: &TestDb, env: &[(&str, &str)], args: &[&str]) -> serde_json::Value {
    let out = cli(db, env, args);
    assert!(
        out.status.success(),
        "dashtray {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

/// A command that must fail: its one line on stderr.
fn refused(db: &TestDb, env: &[(&str, &str)], args: &[&str]) -> String {
    let out = cli(db, env, args);
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    assert!(!out.status.success(), "dashtray {args:?} succeeded");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    stderr
}

/// A project with an endpoint at `url`: `(project id, endpoint id, secret)`.
fn endpoint(db: &TestDb, url: &str, events: Option<&str>) -> (String, String, String) {
    let project = cli_json(db, &["projects", "create", "--name", "Hooks"]);
    let project_id = project["id"].as_str().unwrap().to_owned();
    let (id, secret) = endpoint_in(db, &project_id, url, events);
    (project_id, id, secret)
}

fn endpoint_in(db: &TestDb, project: &str, url: &str, events: Option<&str>) -> (String, String) {
    let mut args = vec!["webhooks", "create", "--project", project, "--url", url];
    if let Some(events) = events {
        args.extend(["--events", events]);
    }
    let created = ok(db, &FAST, &args);
    (
        created["id"].as_str().unwrap().to_owned(),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

fn deliveries(db: &TestDb, project: &str, endpoint: &str) -> Vec<serde_json::Value> {
    let listed = ok(
        db,
        &FAST,
        &["webhooks", "deliveries", endpoint, "--project", project],
    );
    listed["deliveries"].as_array().unwrap().clone()
}

fn listed_endpoint(db: &TestDb, project: &str) -> serde_json::Value {
    ok(db, &FAST, &["webhooks", "list", "--project", project])["endpoints"][0].clone()
}

fn import_rows(db: &TestDb, project: &str, rows: usize, batch_rows: usize) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("points.csv");
    let mut csv = String::from("metricId,value,timestamp\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "mrr,{i},{}\n",
            1_704_067_200_000i64 + i as i64 * 60_000
        ));
    }
    std::fs::write(&file, csv).unwrap();
    let batch = batch_rows.to_string();
    let path = file.to_str().unwrap();
    let args = [
        "import",
        "metrics",
        "--project",
        project,
        "--batch-rows",
        &batch,
        path,
    ];
    ok(db, &[], &args);
}

/// Checks the delivery with the Python `standardwebhooks` package, an implementation
/// that is not ours.
fn verified_by_standardwebhooks(python: &Path, secret: &str, got: &Received) {
    let script = "import json, sys\n\
        from standardwebhooks.webhooks import Webhook\n\
        secret, wid, ts, sig = sys.argv[1:5]\n\
        body = sys.stdin.buffer.read()\n\
        event = Webhook(secret).verify(body, {'webhook-id': wid, 'webhook-timestamp': ts, \
        'webhook-signature': sig})\n\
        print(json.dumps(event))\n";
    let mut child = std::process::Command::new(python)
        .args(["-c", script, secret])
        .args([
            got.webhook_id(),
            got.header("webhook-timestamp"),
            got.header("webhook-signature"),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &got.body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "standardwebhooks refused the delivery: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let event: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(event["id"], got.webhook_id());
}

/// Runs a generated verification snippet (`docs/snippets/webhooks/`) on a delivery:
/// its exit status and output.
fn run_snippet(program: &Path, snippet: &str, secret: &str, got: &Received, body: &[u8]) -> Output {
    let mut child = std::process::Command::new(program)
        .arg(
            crate::support::workspace_root()
                .join("docs/snippets/webhooks")
                .join(snippet),
        )
        .env("WEBHOOK_SECRET", secret)
        .env("WEBHOOK_ID", got.webhook_id())
        .env("WEBHOOK_TIMESTAMP", got.header("webhook-timestamp"))
        .env("WEBHOOK_SIGNATURE", got.header("webhook-signature"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the snippet");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), body).unwrap();
    child.wait_with_output().unwrap()
}

/// Each generated snippet accepts the real delivery and refuses it altered.
fn verified_by_the_snippets(secret: &str, got: &Received) {
    let runners = [("python3", "verify.py"), ("node", "verify.mjs")];
    for (tool, snippet) in runners {
        let Some(program) = require_tool(tool) else {
            continue;
        };
        let out = run_snippet(&program, snippet, secret, got, &got.body);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{snippet} refused a real delivery: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let event = got.json();
        assert_eq!(
            stdout.trim(),
            format!(
                "{} {}",
                event["id"].as_str().unwrap(),
                event["type"].as_str().unwrap()
            )
        );
        let mut altered = got.body.clone();
        altered.extend_from_slice(b" ");
        let out = run_snippet(&program, snippet, secret, got, &altered);
        assert!(!out.status.success(), "{snippet} accepted an altered body");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("refused"),
            "{snippet}"
        );
    }
}

/// The delivery's body as JSON, after checking it is a `WebhookEvent` as the published
/// contract describes it.
fn event_of(got: &Received) -> serde_json::Value {
    let event = got.json();
    let contract = crate::contract::Contract::load();
    let schema = serde_json::json!({"$ref": "#/components/schemas/WebhookEvent"});
    let problems: Vec<String> = contract
        .validator(&schema)
        .iter_errors(&event)
        .map(|e| e.to_string())
        .collect();
    assert!(
        problems.is_empty(),
        "{event} is not a WebhookEvent of openapi.yaml: {problems:?}"
    );
    event
}

fn verified_by_us(secret: &str, got: &Received) -> Result<(), signing::SignatureError> {
    let now = chrono::Utc::now().timestamp();
    signing::verify(
        secret,
        got.webhook_id(),
        got.header("webhook-timestamp"),
        got.header("webhook-signature"),
        &got.body,
        now,
    )
}

dashtray_core::on_each_backend! {
    async fn a_test_delivery_is_signed_as_standard_webhooks_verify(db: TestDb) {
        let receiver = Receiver::start(&[]).await;
        let (project, id, secret) = endpoint(&db, &receiver.url(), None);
        let _server = Server::on(&db, &FAST);
        ok(&db, &FAST, &["webhooks", "test", &id, "--project", &project]);
        let got = receiver.wait_for(1, WAIT).await.remove(0);

        assert_eq!(got.header("content-type"), "application/json");
        let event = event_of(&got);
        assert_eq!(event["type"], "webhook.test");
        assert_eq!(event["projectId"], project);
        assert_eq!(event["id"], got.webhook_id());
        assert!(got.webhook_id().starts_with("evt_"));
        assert!(event["createdAt"].as_i64().unwrap() > 1_700_000_000_000, "milliseconds");
        assert_eq!(verified_by_us(&secret, &got), Ok(()));
        let other_secret = signing::new_secret();
        assert!(verified_by_us(&other_secret, &got).is_err(), "another secret does not verify");
        if let Some(python) = python_with("standardwebhooks", "standardwebhooks") {
            verified_by_standardwebhooks(&python, &secret, &got);
        }
        verified_by_the_snippets(&secret, &got);
    }

    async fn a_rotated_secret_signs_beside_the_old_one_during_the_overlap(db: TestDb) {
        let receiver = Receiver::start(&[]).await;
        let (project, id, old) = endpoint(&db, &receiver.url(), None);
        let rotated = ok(&db, &FAST, &["webhooks", "rotate-secret", &id, "--project", &project]);
        let new = rotated["secret"].as_str().unwrap().to_owned();
        assert_ne!(new, old);
        let _server = Server::on(&db, &FAST);
        ok(&db, &FAST, &["webhooks", "test", &id, "--project", &project]);
        let got = receiver.wait_for(1, WAIT).await.remove(0);
        assert_eq!(got.header("webhook-signature").split(' ').count(), 2);
        assert_eq!(verified_by_us(&old, &got), Ok(()));
        assert_eq!(verified_by_us(&new, &got), Ok(()));
    }

    async fn a_receiver_failing_twice_gets_three_attempts_with_one_webhook_id(db: TestDb) {
        let receiver = Receiver::start(&[500, 503]).await;
        let (project, id, _) = endpoint(&db, &receiver.url(), None);
        let _server = Server::on(&db, &FAST);
        ok(&db, &FAST, &["webhooks", "test", &id, "--project", &project]);
        let got = receiver.wait_for(3, WAIT).await;
        let first = got[0].webhook_id();
        assert!(got.iter().all(|r| r.webhook_id() == first), "one webhook-id on every retry");
        assert!(got.iter().all(|r| r.body == got[0].body), "the same body on every retry");
        eventually(WAIT, "the delivery is recorded as delivered", || async {
            deliveries(&db, &project, &id)[0]["status"] == "delivered"
        })
        .await;
        let delivery = &deliveries(&db, &project, &id)[0];
        assert_eq!(delivery["attempts"], 3);
        let codes: Vec<_> = delivery["attemptLog"].as_array().unwrap().iter()
            .map(|a| a["statusCode"].clone()).collect();
        assert_eq!(codes, [500, 503, 200]);
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(receiver.received().len(), 3, "nothing after the 200");
    }

    async fn a_receiver_down_and_a_killed_server_lose_no_delivery(db: TestDb) {
        let addr = Receiver::free_addr();
        // A long retry wait: the pending delivery is still waiting when the server dies.
        let slow: [(&str, &str); 2] = [
            ("DASHTRAY_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true"),
            ("DASHTRAY_WEBHOOKS__RETRY_SCHEDULE_SECS", "[1, 1, 1, 1, 1, 1, 1, 1]"),
        ];
        let (project, id, _) = endpoint(&db, &Receiver::url_of(addr), None);
        let server = Server::on(&db, &slow);
        import_rows(&db, &project, 3, 10);
        eventually(WAIT, "a first attempt fails on the receiver being down", || async {
            deliveries(&db, &project, &id).first().is_some_and(|d| d["attempts"].as_i64() >= Some(1))
        })
        .await;
        let pending = deliveries(&db, &project, &id).remove(0);
        assert_eq!(pending["status"], "pending");
        assert!(pending["lastError"].as_str().unwrap_or_default().contains("connect"), "{pending}");
        server.signal("KILL");
        drop(server);

        let receiver = Receiver::start_on(addr, &[]).await;
        let _restarted = Server::on(&db, &slow);
        let got = receiver.wait_for(1, WAIT).await.remove(0);
        assert_eq!(got.webhook_id(), pending["eventId"], "the same webhook-id");
        let event = event_of(&got);
        assert_eq!(event["type"], "metrics.imported");
        assert_eq!(event["data"]["points"], 3);
        assert_eq!(event["data"]["metricIds"], serde_json::json!(["mrr"]));
    }

    async fn sigterm_lets_a_delivery_in_flight_finish(db: TestDb) {
        let receiver = Receiver::start(&[]).await;
        receiver.answer_after(Duration::from_millis(1500));
        let (project, id, _) = endpoint(&db, &receiver.url(), None);
        let mut server = Server::on(&db, &FAST);
        ok(&db, &FAST, &["webhooks", "test", &id, "--project", &project]);
        receiver.wait_for(1, WAIT).await;
        server.signal("TERM");
        server.wait_clean_exit();
        let delivery = deliveries(&db, &project, &id).remove(0);
        assert_eq!(delivery["status"], "delivered", "{delivery}");
        assert_eq!(delivery["attempts"], 1);
    }

    async fn a_delivery_not_finished_within_the_grace_is_handed_back(db: TestDb) {
        let receiver = Receiver::start(&[]).await;
        receiver.answer_after(Duration::from_secs(4));
        let (project, id, _) = endpoint(&db, &receiver.url(), None);
        let short_grace = [
            ("DASHTRAY_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true"),
            ("DASHTRAY_WEBHOOKS__TIMEOUT_SECS", "10"),
            ("DASHTRAY_SERVER__SHUTDOWN_TIMEOUT_SECS", "1"),
        ];
        let mut server = Server::on(&db, &short_grace);
        ok(&db, &FAST, &["webhooks", "test", &id, "--project", &project]);
        receiver.wait_for(1, WAIT).await;
        server.signal("TERM");
        server.wait_clean_exit();
        let pending = deliveries(&db, &project, &id).remove(0);
        assert_eq!(pending["status"], "pending", "handed back: {pending}");
        assert_eq!(pending["attempts"], 0, "no attempt was recorded");

        receiver.answer_after(Duration::ZERO);
        let _next = Server::on(&db, &FAST);
        let got = receiver.wait_for(2, WAIT).await;
        assert_eq!(got[1].webhook_id(), got[0].webhook_id());
        eventually(WAIT, "the next server delivers it", || async {
            deliveries(&db, &project, &id)[0]["status"] == "delivered"
        })
        .await;
    }

    async fn a_410_disables_the_endpoint_and_replay_sends_the_delivery_again(db: TestDb) {
        let receiver = Receiver::start(&[410]).await;
        let (project, id, _) = endpoint(&db, &receiver.url(), None);
        let _server = Server::on(&db, &FAST);
        ok(&db, &FAST, &["webhooks", "test", &id, "--project", &project]);
        receiver.wait_for(1, WAIT).await;
        eventually(WAIT, "the endpoint is disabled as gone", || async {
            listed_endpoint(&db, &project)["disabledReason"] == "gone"
        })
        .await;
        assert_eq!(listed_endpoint(&db, &project)["status"], "disabled");
        let failed = deliveries(&db, &project, &id).remove(0);
        assert_eq!(failed["status"], "failed");
        assert_eq!(failed["attempts"], 1, "a 410 is not retried");

        ok(&db, &FAST, &["webhooks", "update", &id, "--project", &project, "--enable"]);
        let delivery_id = failed["id"].as_str().unwrap();
        ok(&db, &FAST, &["webhooks", "replay", delivery_id, "--project", &project]);
        let got = receiver.wait_for(2, WAIT).await;
        assert_eq!(got[1].webhook_id(), got[0].webhook_id());
        eventually(WAIT, "the replayed delivery is delivered", || async {
            deliveries(&db, &project, &id)[0]["status"] == "delivered"
        })
        .await;
    }

    async fn key_and_import_events_reach_subscribers_and_no_one_else(db: TestDb) {
        let receiver = Receiver::start(&[]).await;
        let (project, _key_id, key) = project_with_key(&db, "Keys", "scale", None);
        endpoint_in(&db, &project, &receiver.url(), Some("api_key.created,api_key.revoked"));
        let _server = Server::on(&db, &FAST);
        let created = cli_json(&db, &["keys", "create", "--project", &project, "--name", "ci"]);
        import_rows(&db, &project, 2, 10); // not subscribed: not sent
        cli_json(&db, &["keys", "revoke", created["id"].as_str().unwrap()]);
        let got = receiver.wait_for(2, WAIT).await;
        let mut kinds: Vec<String> = got.iter().map(|r| event_of(r)["type"].as_str().unwrap().to_owned()).collect();
        kinds.sort();
        assert_eq!(kinds, ["api_key.created", "api_key.revoked"]);
        for r in &got {
            assert_eq!(r.json()["data"]["keyId"], created["id"]);
            assert_eq!(r.json()["data"]["name"], "ci");
            let body = String::from_utf8_lossy(&r.body);
            assert!(!body.contains(created["key"].as_str().unwrap()), "never the key");
            assert!(!body.contains(&key[..20]));
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(receiver.received().len(), 2, "metrics.imported is not subscribed to");
    }

    async fn rate_limit_events_come_once_per_window(db: TestDb) {
        let receiver = Receiver::start(&[]).await;
        let (project, _, key) = project_with_key(&db, "Limited", "scale", None);
        cli_json(&db, &["projects", "update", &project, "--rate-limit", "5"]);
        endpoint_in(&db, &project, &receiver.url(), Some("rate_limit.warning,rate_limit.exceeded"));
        let server = Server::on(&db, &FAST);
        let client = crate::support::client();
        crate::support::with_window_left(Duration::from_secs(60)).await;
        for _ in 0..9 {
            client.get(server.url("/api/v1/projects")).bearer_auth(&key).send().await.unwrap();
        }
        let got = receiver.wait_for(2, WAIT).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        let got_all = receiver.received();
        assert_eq!(got_all.len(), 2, "one warning and one exceeded, however many requests");
        let mut by_type: Vec<(String, serde_json::Value)> = got.iter()
            .map(|r| (event_of(r)["type"].as_str().unwrap().to_owned(), r.json()["data"].clone()))
            .collect();
        by_type.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(by_type[0].0, "rate_limit.exceeded");
        assert_eq!(by_type[0].1["used"], 5);
        assert_eq!(by_type[1].0, "rate_limit.warning");
        assert_eq!(by_type[1].1["limit"], 5);
        assert!(by_type[1].1["reset"].as_i64().unwrap() > 1_700_000_000, "Unix seconds");
    }

    async fn addresses_of_private_networks_and_http_are_refused(db: TestDb) {
        let project = cli_json(&db, &["projects", "create", "--name", "Safe"]);
        let project = project["id"].as_str().unwrap();
        for (url, rule) in [
            ("https://127.0.0.1/hook", "loopback"),
            ("https://10.0.0.7/hook", "private"),
            ("https://169.254.169.254/latest/meta-data", "link-local"),
            ("https://[::1]/hook", "loopback"),
            ("http://example.com/hook", "https"),
            ("https://localhost/hook", "loopback"),
            ("not a url", "not a URL"),
        ] {
            let line = refused(&db, &[], &["webhooks", "create", "--project", project, "--url", url]);
            assert!(line.contains(rule), "{url}: {line}");
        }
        let listed = ok(&db, &[], &["webhooks", "list", "--project", project]);
        assert_eq!(listed["endpoints"], serde_json::json!([]), "nothing stored");
    }

    async fn the_address_is_checked_again_at_each_delivery(db: TestDb) {
        let receiver = Receiver::start(&[]).await;
        // Made while private targets were allowed; the server now refuses them. One URL
        // is plain http, the other https to a name that resolves to loopback, which only
        // the check of the resolved address at delivery can refuse.
        let (project, plain, _) = endpoint(&db, &receiver.url(), None);
        let named = format!("https://localhost:{}/hook", receiver.addr.port());
        let (by_name, _) = endpoint_in(&db, &project, &named, None);
        let strict = [("DASHTRAY_WEBHOOKS__RETRY_SCHEDULE_SECS", "[0.1]")];
        let _server = Server::on(&db, &strict);
        for id in [&plain, &by_name] {
            ok(&db, &FAST, &["webhooks", "test", id, "--project", &project]);
        }
        for (id, rule) in [(&plain, "https"), (&by_name, "loopback")] {
            eventually(WAIT, "the delivery fails on the address rules", || async {
                deliveries(&db, &project, id)[0]["status"] == "failed"
            })
            .await;
            let failed = deliveries(&db, &project, id).remove(0);
            let error = failed["lastError"].as_str().unwrap_or_default();
            assert!(error.contains(rule), "{id}: {failed}");
        }
        assert!(receiver.received().is_empty(), "nothing reached the loopback receiver");
    }

    async fn one_project_cannot_touch_another_projects_endpoints(db: TestDb) {
        let receiver = Receiver::start(&[]).await;
        let (owner, id, _) = endpoint(&db, &receiver.url(), None);
        let _server = Server::on(&db, &FAST);
        ok(&db, &FAST, &["webhooks", "test", &id, "--project", &owner]);
        receiver.wait_for(1, WAIT).await;
        eventually(WAIT, "the test is delivered", || async {
            deliveries(&db, &owner, &id)[0]["status"] == "delivered"
        })
        .await;
        let delivery = deliveries(&db, &owner, &id)[0]["id"].as_str().unwrap().to_owned();
        let other = cli_json(&db, &["projects", "create", "--name", "Other"]);
        let other = other["id"].as_str().unwrap();
        let attempts: [&[&str]; 7] = [
            &["webhooks", "update", &id, "--project", other, "--disable"],
            &["webhooks", "update", &id, "--project", other, "--url", "http://127.0.0.1:9/x"],
            &["webhooks", "delete", &id, "--project", other],
            &["webhooks", "rotate-secret", &id, "--project", other],
            &["webhooks", "test", &id, "--project", other],
            &["webhooks", "deliveries", &id, "--project", other],
            &["webhooks", "replay", &delivery, "--project", other],
        ];
        for args in attempts {
            let line = refused(&db, &FAST, args);
            assert!(line.contains("no webhook endpoint") || line.contains("no delivery"), "{args:?}: {line}");
        }
        let listed = ok(&db, &FAST, &["webhooks", "list", "--project", other]);
        assert_eq!(listed["endpoints"], serde_json::json!([]));
        let mine = listed_endpoint(&db, &owner);
        assert_eq!((mine["status"].as_str(), mine["url"].as_str()), (Some("enabled"), Some(receiver.url().as_str())));
        assert_eq!(deliveries(&db, &owner, &id).len(), 1, "no test was queued by the other project");
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(receiver.received().len(), 1, "no replay was sent");
    }

    async fn bad_input_names_the_problem_and_stores_nothing(db: TestDb) {
        let project = cli_json(&db, &["projects", "create", "--name", "Input"]);
        let project = project["id"].as_str().unwrap();
        let line = refused(&db, &FAST, &["webhooks", "create", "--project", project,
            "--url", "http://127.0.0.1:9/x", "--events", "metrics.imported,metrics.deleted"]);
        assert!(line.contains("unknown event type `metrics.deleted`"), "{line}");
        let line = refused(&db, &FAST, &["webhooks", "create", "--project", "prj_nothing",
            "--url", "http://127.0.0.1:9/x"]);
        assert!(line.contains("no project `prj_nothing`"), "{line}");
        let line = refused(&db, &FAST, &["webhooks", "test", "whe_nothing", "--project", project]);
        assert!(line.contains("no webhook endpoint `whe_nothing`"), "{line}");
        let listed = ok(&db, &FAST, &["webhooks", "list", "--project", project]);
        assert_eq!(listed["endpoints"], serde_json::json!([]));
    }
}

/// Two servers on one Postgres deliver 1,000 events: each arrives, none is sent by two
/// processes at once (a receiver answering slowly keeps deliveries in flight a while).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_the_deliveries_without_sending_one_twice() {
    let Some(db) = TestDb::new(dashtray_core::testing::Backend::Postgres).await else {
        return;
    };
    let receiver = Receiver::start(&[]).await;
    receiver.answer_after(Duration::from_millis(20));
    let (project, _, _) = endpoint(&db, &receiver.url(), Some("metrics.imported"));
    let replicas = [Server::on(&db, &FAST), Server::on(&db, &FAST)];
    import_rows(&db, &project, 1000, 1);
    // Seconds alone; far longer beside the rest of the suite on a busy machine.
    let got = receiver.wait_for(1000, Duration::from_secs(300)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_all = receiver.received();
    let mut ids: Vec<&str> = got_all.iter().map(|r| r.webhook_id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 1000, "every event arrived");
    assert_eq!(got_all.len(), 1000, "no event arrived twice");
    assert_eq!(receiver.most_at_once(), 1);
    assert_eq!(got.len(), 1000);
    drop(replicas);
}
