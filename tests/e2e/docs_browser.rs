//! `/docs` renders the reference in a real browser (headless Chromium) that can reach
//! nothing but this machine: the page needs no internet.

use std::process::Command;

use crate::support::{require_tool, Server};

/// Strings that exist only after Swagger UI has rendered the document (the raw page has
/// the spec and the script, but none of this markup).
const RENDERED_MARKERS: [&str; 3] = [
    "<div class=\"swagger-ui\">",
    "id=\"operations-system-getHealth\"",
    "data-path=\"/api/v1/health\"",
];

#[test]
fn docs_render_in_headless_chromium_without_network() {
    let Some(chromium) = require_tool("chromium") else {
        return;
    };
    let server = Server::start(&[]);
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new("timeout")
        .arg("60")
        .arg(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            // Everything but loopback goes to a dead proxy and resolves to nothing.
            "--proxy-server=http://127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(server.url("/docs"))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&output.stdout);
    for marker in RENDERED_MARKERS {
        assert!(
            dom.contains(marker),
            "the rendered page lacks {marker}; chromium said:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // "Try it out" calls the server the page came from, not the document's default bind.
    let this_server = format!("<option value=\"{}\"", server.base);
    assert!(
        dom.contains(&this_server),
        "the servers list lacks {this_server}"
    );
    assert!(
        !dom.contains("<option value=\"http://127.0.0.1:8080\""),
        "the servers list still offers the document's default bind"
    );
}
