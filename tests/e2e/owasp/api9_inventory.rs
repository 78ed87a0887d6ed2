//! API9: the live server answers exactly the documented operations and `/docs` — no
//! debug, admin or metrics routes, nothing beside or below a documented path — and no
//! path climbs out of its route, as sent on the wire rather than as a client tidies it.

use reqwest::StatusCode;

use crate::support::{
    client,
    document::{documented_operations, fits_template, Operation},
    Server,
};

/// The one route outside the API's document: the interactive reference.
const DOCS: &str = "/docs";

/// Routes that servers and frameworks often add, and that must not exist here.
const GUESSES: [&str; 10] = [
    "/",
    "/admin",
    "/metrics",
    "/debug",
    "/debug/pprof",
    "/api/v1/keys",
    "/api/v1/admin",
    "/api/v2/projects",
    "/api/v1/openapi",
    "/.env",
];

/// The status of a GET without a key.
async fn status_of(server: &Server, path: &str) -> StatusCode {
    client()
        .get(server.url(path))
        .send()
        .await
        .unwrap()
        .status()
}

/// Every documented operation's path on the demo ids, without its query.
fn documented_paths(operations: &[Operation]) -> Vec<String> {
    operations
        .iter()
        .map(|op| op.demo_path().split('?').next().unwrap().to_owned())
        .collect()
}

/// Paths next to the served ones, where an undocumented route would sit: one segment
/// below each documented path and `/docs`, and each of their parents, but for those a
/// documented template takes (`/dashboards/x` is a dashboard's id).
fn neighbours(served: &[String], operations: &[Operation]) -> Vec<String> {
    let mut paths = Vec::new();
    for path in served {
        paths.push(format!("{path}/x"));
        let mut parent = path.as_str();
        while let Some((up, _)) = parent.rsplit_once('/') {
            paths.push(up.to_owned());
            parent = up;
        }
    }
    paths.retain(|path| {
        !path.is_empty()
            && !served.contains(path)
            && !operations
                .iter()
                .any(|op| fits_template(&op.template, path))
    });
    paths.sort();
    paths.dedup();
    paths
}

#[tokio::test]
async fn the_live_routes_are_the_documented_operations_and_docs() {
    let server = Server::start(&[]);
    let operations = documented_operations();
    let mut served = documented_paths(&operations);
    for path in &served {
        let status = status_of(&server, path).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::UNAUTHORIZED,
            "{path} is documented but answers {status}"
        );
    }
    assert_eq!(status_of(&server, DOCS).await, StatusCode::OK, "{DOCS}");
    served.push(DOCS.to_owned());

    let unserved = neighbours(&served, &operations)
        .into_iter()
        .chain(GUESSES.map(String::from));
    for path in unserved {
        assert_eq!(
            status_of(&server, &path).await,
            StatusCode::NOT_FOUND,
            "{path} is served but not documented"
        );
    }
}

#[test]
fn paths_that_climb_out_are_404_as_sent() {
    let server = Server::start(&[]);
    for target in [
        "/api/v1/../../etc/passwd",
        "/docs/../../../etc/passwd",
        "/api/v1/%2e%2e/%2e%2e/etc/passwd",
        "/api/v1/..%2f..%2fetc%2fpasswd",
        // Climbing from a public route into a keyed one must not skip the key.
        "/api/v1/health/../projects",
        "/docs/../api/v1/projects",
    ] {
        let answer = server.raw_get(target);
        let status = answer.lines().next().unwrap_or_default();
        assert_eq!(status, "HTTP/1.1 404 Not Found", "{target}: {answer}");
        assert!(!answer.contains("root:"), "{target}: {answer}");
    }
}
