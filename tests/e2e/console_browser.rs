//! The console in a real browser: Debian's Chromium driven over WebDriver (chromedriver)
//! by fantoccini, against the real binary. Sign in with a link, create a key by its
//! Name, call the API with the key shown, see the calls on the usage chart, add a webhook
//! endpoint for a real receiver on loopback, send it a test, see the delivery and replay
//! it, revoke the key and see 401, sign out.
//!
//! With `DASHTRAY_CONSOLE_SCREENSHOTS=DIR` the SQLite run saves a PNG of each page into
//! DIR (`docs/console/` is where docs/console.md shows them).

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use dashtray_core::{testing::Backend, webhooks::signing};
use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use reqwest::StatusCode;

use crate::support::{
    console, eventually, get_with_auth, project_with_key,
    receiver::{Received, Receiver},
    require_tool, Server,
};

/// WebDriver's codes for the Tab and Enter keys.
const TAB: &str = "\u{e004}";
const ENTER: &str = "\u{e007}";

/// Where a run saves its screenshots, if anywhere.
const SCREENSHOTS_ENV: &str = "DASHTRAY_CONSOLE_SCREENSHOTS";

/// A chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(chromedriver: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Headless Chromium that reaches nothing but this machine.
async fn browser(driver: &Driver, chromium: &Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--proxy-server=http://127.0.0.1:9",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            ],
        }),
    );
    let mut last_error = None;
    // chromedriver takes a moment to listen.
    for _ in 0..50 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&driver.url)
            .await
        {
            Ok(client) => return client,
            Err(err) => last_error = Some(err),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("cannot start Chromium through chromedriver: {last_error:?}");
}

/// The page a test walks through, and where its screenshots go.
struct Walk {
    client: Client,
    screenshots: Option<PathBuf>,
}

impl Walk {
    async fn shot(&self, name: &str) {
        let Some(dir) = &self.screenshots else {
            return;
        };
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::create_dir_all(dir).expect("screenshot folder");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    async fn find(&self, locator: Locator<'_>) -> Element {
        self.client
            .find(locator)
            .await
            .unwrap_or_else(|err| panic!("{locator:?} is not on the page: {err}"))
    }

    /// The element a `<label>` with `text` labels.
    async fn labelled(&self, text: &str) -> Element {
        let label = self
            .find(Locator::XPath(&format!(
                "//label[normalize-space()='{text}']"
            )))
            .await;
        let id = label
            .attr("for")
            .await
            .unwrap()
            .expect("the label names its field");
        self.find(Locator::Id(&id)).await
    }

    /// The text `element` shows once it reads `expected`, or after 5 s whatever it shows:
    /// what a script changes after a promise (the clipboard's) is not there at once.
    async fn text_becomes(&self, element: &Element, expected: &str) -> String {
        let mut text = String::new();
        for _ in 0..50 {
            text = element.text().await.unwrap_or_default();
            if text == expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        text
    }

    async fn button(&self, text: &str) -> Element {
        self.find(Locator::XPath(&format!(
            "//button[normalize-space()='{text}']"
        )))
        .await
    }

    async fn link(&self, text: &str) -> Element {
        self.find(Locator::LinkText(text)).await
    }

    /// The text of the element `css` finds. A page a click or a key press is still
    /// loading can replace the element between finding and reading it: that is tried again.
    async fn text_of(&self, css: &str) -> String {
        let mut last_error = None;
        for _ in 0..50 {
            match self.client.find(Locator::Css(css)).await {
                Ok(element) => match element.text().await {
                    Ok(text) => return text,
                    Err(err) => last_error = Some(err),
                },
                Err(err) => last_error = Some(err),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cannot read {css}: {last_error:?}");
    }

    /// Waits for the page whose heading is `expected` (a click or Enter may still be
    /// loading it); fails with the heading shown instead.
    async fn expect_heading(&self, expected: &str) {
        let mut shown = String::new();
        for _ in 0..50 {
            shown = self.text_of("h1").await;
            if shown == expected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page says {shown:?}, not {expected:?}");
    }

    /// Presses Tab until the focused element says `text`: the page works from the
    /// keyboard.
    async fn tab_to(&self, text: &str) -> Element {
        for _ in 0..30 {
            let focused = self
                .client
                .active_element()
                .await
                .expect("a focused element");
            if focused.text().await.unwrap_or_default().trim() == text {
                return focused;
            }
            focused.send_keys(TAB).await.expect("press Tab");
        }
        panic!("Tab never reaches `{text}`");
    }
}

dashtray_core::on_each_backend! {
    async fn in_chromium_a_key_is_created_used_seen_in_usage_and_revoked(db: TestDb) {
        let (Some(chromedriver), Some(chromium)) = (require_tool("chromedriver"), require_tool("chromium")) else {
            return;
        };
        // The webhook receiver is on loopback, which deployments refuse.
        let server = Server::on(&db, &[
            ("DASHTRAY_USAGE__FLUSH_SECS", "1"),
            ("DASHTRAY_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true"),
        ]);
        let receiver = Receiver::start(&[]).await;
        let (project_id, _, _) = project_with_key(&db, "Acme Browser", "scale", None);
        let link = console::link(&db, &server, &project_id, None);
        let driver = Driver::start(&chromedriver);
        let screenshots = std::env::var_os(SCREENSHOTS_ENV)
            .filter(|_| db.backend() == Backend::Sqlite)
            .map(|dir| crate::support::workspace_root().join(dir));
        let walk = Walk { client: browser(&driver, &chromium).await, screenshots };
        walk_through(&walk, &server, &link, &receiver).await;
        walk.client.clone().close().await.expect("close the browser");
    }
}

async fn walk_through(walk: &Walk, server: &Server, link: &str, receiver: &Receiver) {
    let client = &walk.client;
    // Sign in: the link lands on API Keys.
    client.goto(link).await.expect("open the sign-in link");
    walk.expect_heading("API Keys").await;
    assert!(client
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with("/console/keys"));

    // Create a key by its Name, from the keyboard alone.
    walk.tab_to("Create API Key")
        .await
        .send_keys(ENTER)
        .await
        .unwrap();
    walk.expect_heading("Create API Key").await;
    walk.labelled("Name")
        .await
        .send_keys("Grafana export")
        .await
        .unwrap();
    walk.shot("create-key").await;
    walk.tab_to("Create API Key")
        .await
        .send_keys(ENTER)
        .await
        .unwrap();
    walk.expect_heading("API key created: Grafana export").await;
    let key = walk.text_of("#new-key").await;
    assert!(key.starts_with("dk_"), "the key is shown: {key}");
    let copy = walk.button("Copy key").await;
    copy.click().await.unwrap();
    assert_eq!(
        walk.text_becomes(&copy, "Copied").await,
        "Copied",
        "the served script ran under the CSP"
    );
    walk.shot("key-created").await;

    // Call the API with the key shown.
    let bearer = format!("Bearer {key}");
    for _ in 0..3 {
        let (status, _, _) = get_with_auth(&server.url("/api/v1/projects"), Some(&bearer)).await;
        assert_eq!(status, StatusCode::OK);
    }

    // The usage chart shows the calls once they are flushed (every second here).
    walk.link("Usage").await.click().await.unwrap();
    walk.expect_heading("Usage").await;
    eventually(
        Duration::from_secs(15),
        "the usage page counts the 3 calls",
        || async {
            client.goto(&server.url("/console/usage")).await.unwrap();
            let total = client.find(Locator::Id("day-total")).await.ok();
            match total {
                Some(total) => {
                    total.text().await.ok().and_then(|t| t.parse::<u64>().ok()) >= Some(3)
                }
                None => false,
            }
        },
    )
    .await;
    let bars = client
        .find_all(Locator::Css("#hourly-chart svg rect[fill='#2563EB']"))
        .await
        .unwrap();
    assert!(
        !bars.is_empty(),
        "the hourly chart draws a bar for this hour"
    );
    let per_key = walk.text_of("#per-key").await;
    assert!(per_key.contains("Grafana export"), "{per_key}");
    walk.shot("usage").await;

    webhooks(walk, server, receiver).await;

    // Revoke on its own confirmation page; the next request is refused.
    walk.link("API Keys").await.click().await.unwrap();
    walk.shot("keys").await;
    walk.find(Locator::XPath(
        "//tr[td[normalize-space()='Grafana export']]//a[starts-with(normalize-space(), 'Revoke')]",
    ))
    .await
    .click()
    .await
    .unwrap();
    walk.expect_heading("Revoke the key “Grafana export”?")
        .await;
    walk.shot("revoke-key").await;
    walk.button("Revoke key “Grafana export”")
        .await
        .click()
        .await
        .unwrap();
    walk.expect_heading("API Keys").await;
    let row = walk.text_of("tbody tr:first-child").await;
    assert!(
        row.contains("Grafana export") && row.contains("Revoked"),
        "{row}"
    );
    let (status, _, _) = get_with_auth(&server.url("/api/v1/projects"), Some(&bearer)).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the next request after Revoke"
    );

    // The project, then Sign out.
    walk.link("Project").await.click().await.unwrap();
    walk.expect_heading("Project").await;
    assert!(walk.text_of("main").await.contains("Acme Browser"));
    walk.shot("project").await;
    walk.button("Sign out").await.click().await.unwrap();
    walk.expect_heading("You are signed out").await;
    client.goto(&server.url("/console/keys")).await.unwrap();
    walk.expect_heading("Sign in").await;

    // The link was used: opening it again gets the plain page.
    client.goto(link).await.unwrap();
    walk.expect_heading("This sign-in link cannot be used")
        .await;
    walk.shot("link-unusable").await;
}

/// Webhooks: add an endpoint for `receiver` (its secret shown once), send a test, see the
/// delivery with its attempt, replay it (the receiver gets it again, same `webhook-id`),
/// disable and enable it, rotate its secret (the next test is signed with the new one),
/// then delete the endpoint on its confirmation page.
async fn webhooks(walk: &Walk, server: &Server, receiver: &Receiver) {
    let client = &walk.client;
    walk.link("Webhooks").await.click().await.unwrap();
    walk.expect_heading("Webhooks").await;
    walk.link("Add endpoint").await.click().await.unwrap();
    walk.expect_heading("Add endpoint").await;
    walk.labelled("Endpoint URL")
        .await
        .send_keys(&receiver.url())
        .await
        .unwrap();
    walk.labelled("Description")
        .await
        .send_keys("Browser receiver")
        .await
        .unwrap();
    walk.find(Locator::XPath(
        "//input[@name='event' and @value='webhook.test']",
    ))
    .await
    .click()
    .await
    .unwrap();
    walk.shot("add-webhook").await;
    walk.button("Add endpoint").await.click().await.unwrap();
    walk.expect_heading("Endpoint added").await;
    let secret = walk.text_of("#new-secret").await;
    assert!(
        secret.starts_with("whsec_"),
        "the secret is shown: {secret}"
    );
    let copy = walk.button("Copy secret").await;
    copy.click().await.unwrap();
    assert_eq!(walk.text_becomes(&copy, "Copied").await, "Copied");
    walk.shot("webhook-secret").await;
    walk.link("Done: back to the endpoint")
        .await
        .click()
        .await
        .unwrap();
    walk.expect_heading("Webhook endpoint").await;
    let endpoint_page = client.current_url().await.unwrap().to_string();

    // Send a test: the receiver gets it, signed with the secret shown.
    walk.button("Send test event").await.click().await.unwrap();
    walk.expect_heading("Webhook endpoint").await;
    let first = received(receiver, 1).await;
    let now = chrono::Utc::now().timestamp();
    signing::verify(
        &secret,
        first.webhook_id(),
        first.header("webhook-timestamp"),
        first.header("webhook-signature"),
        &first.body,
        now,
    )
    .expect("the delivery is signed with the secret the console showed");
    assert_eq!(first.json()["type"], "webhook.test");
    let event_id = first.webhook_id().to_owned();
    let row = format!("//tr[td/code[normalize-space()='{event_id}']]");
    let delivered = delivery_row(walk, &endpoint_page, &row, 1).await;
    assert!(
        delivered.contains("webhook.test") && delivered.contains("200"),
        "{delivered}"
    );

    // Replay: sent again with the same webhook-id, a second attempt on the page.
    walk.find(Locator::XPath(&format!(
        "{row}//button[starts-with(normalize-space(), 'Replay')]"
    )))
    .await
    .click()
    .await
    .unwrap();
    walk.expect_heading("Webhook endpoint").await;
    let again = received(receiver, 2).await;
    assert_eq!(
        again.webhook_id(),
        event_id,
        "a replay keeps the webhook-id"
    );
    assert_eq!(again.body, first.body, "and the body");
    delivery_row(walk, &endpoint_page, &row, 2).await;
    walk.shot("webhook-endpoint").await;
    walk.link("Webhooks").await.click().await.unwrap();
    walk.expect_heading("Webhooks").await;
    assert!(walk.text_of("tbody").await.contains("Browser receiver"));
    walk.shot("webhooks").await;

    // Disable, enable, and rotate the secret: the next test is signed with the new one.
    client.goto(&endpoint_page).await.unwrap();
    walk.expect_heading("Webhook endpoint").await;
    walk.button("Disable endpoint").await.click().await.unwrap();
    walk.expect_heading("Webhook endpoint").await;
    assert_eq!(walk.text_of("#endpoint-status").await, "Disabled (manual)");
    walk.button("Enable endpoint").await.click().await.unwrap();
    walk.expect_heading("Webhook endpoint").await;
    assert_eq!(walk.text_of("#endpoint-status").await, "Enabled");
    walk.button("Rotate secret").await.click().await.unwrap();
    walk.expect_heading("Secret rotated").await;
    let rotated = walk.text_of("#new-secret").await;
    assert!(
        rotated.starts_with("whsec_") && rotated != secret,
        "a new secret: {rotated}"
    );
    walk.link("Done: back to the endpoint")
        .await
        .click()
        .await
        .unwrap();
    walk.expect_heading("Webhook endpoint").await;
    walk.button("Send test event").await.click().await.unwrap();
    walk.expect_heading("Webhook endpoint").await;
    let third = received(receiver, 3).await;
    let now = chrono::Utc::now().timestamp();
    signing::verify(
        &rotated,
        third.webhook_id(),
        third.header("webhook-timestamp"),
        third.header("webhook-signature"),
        &third.body,
        now,
    )
    .expect("the next delivery is signed with the rotated secret");

    // Delete, on its own confirmation page.
    walk.link("Delete endpoint").await.click().await.unwrap();
    walk.expect_heading(&format!("Delete the endpoint {}?", receiver.url()))
        .await;
    walk.shot("delete-webhook").await;
    walk.button("Delete endpoint").await.click().await.unwrap();
    walk.expect_heading("Webhooks").await;
    assert!(walk
        .text_of("main")
        .await
        .contains("no webhook endpoints yet"));
    let (status, _, _) = get_with_auth(&server.url("/console/webhooks"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the page needs a session");
}

/// The `n`th request the receiver gets, once it has.
async fn received(receiver: &Receiver, n: usize) -> Received {
    eventually(
        Duration::from_secs(20),
        &format!("the receiver gets request {n}"),
        || async { receiver.received().len() >= n },
    )
    .await;
    receiver.received()[n - 1].clone()
}

/// The text of the delivery `row` on the endpoint's page once it shows `attempts`
/// attempts, the last delivered; the page is reloaded until then.
async fn delivery_row(walk: &Walk, endpoint_page: &str, row: &str, attempts: usize) -> String {
    let client = &walk.client;
    let mut text = String::new();
    for _ in 0..100 {
        client.goto(endpoint_page).await.unwrap();
        if let Ok(found) = client.find(Locator::XPath(row)).await {
            let shown = client
                .find_all(Locator::XPath(&format!("{row}//ol[@class='attempts']/li")))
                .await
                .map_or(0, |items| items.len());
            text = found.text().await.unwrap_or_default();
            if shown == attempts && text.contains("Delivered") {
                return text;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the delivery never shows {attempts} attempts, delivered: {text:?}");
}
