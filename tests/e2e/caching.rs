//! Conditional GET: an `ETag` on GET 200s, `304` for a current `If-None-Match`, and a
//! 304 does not spend the project's budget.

use dashtray_core::on_each_backend;
use reqwest::StatusCode;

use crate::support::{client, project_with_key, Server};

on_each_backend! {
    async fn a_current_etag_answers_304_without_spending_the_budget(db: TestDb) {
        let (_, _, key) = project_with_key(&db, "Cached", "scale", None);
        let server = Server::on(&db, &[("DASHTRAY_HTTP__CACHE_MAX_AGE_SECS", "30")]);
        let get = |etag: Option<String>| {
            let mut request = client()
                .get(server.url("/api/v1/projects"))
                .header("Authorization", format!("Bearer {key}"));
            if let Some(etag) = etag {
                request = request.header("If-None-Match", etag);
            }
            request.send()
        };
        let first = get(None).await.unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        let headers = first.headers().clone();
        assert_eq!(headers["cache-control"], "private, max-age=30");
        assert_eq!(headers["vary"], "Authorization");
        let etag = headers["etag"].to_str().unwrap().to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        assert_eq!(headers["x-ratelimit-remaining"], "999");

        let revalidated = get(Some(etag.clone())).await.unwrap();
        assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(revalidated.headers()["etag"], etag.as_str());
        assert_eq!(revalidated.headers()["x-ratelimit-remaining"], "999", "a 304 is not counted");
        assert!(revalidated.bytes().await.unwrap().is_empty());

        let stale = get(Some("\"something-else\"".into())).await.unwrap();
        assert_eq!(stale.status(), StatusCode::OK);
        assert_eq!(stale.headers()["x-ratelimit-remaining"], "998");
        assert_eq!(stale.headers()["etag"], etag.as_str(), "same body, same tag");
    }
}
