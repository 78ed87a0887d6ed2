//! One tracing span per request, and one log line when it ends.

use std::time::Instant;

use poem::{Endpoint, IntoResponse, Request, Response, Result};
use tracing::Instrument;

use crate::http::request_id;

/// Logs method, path (never the query string, which may hold a misplaced key), status
/// and duration, inside a span that carries the request id for every line below it.
pub async fn layer<E: Endpoint>(next: E, req: Request) -> Result<Response> {
    let span = tracing::info_span!(
        "request",
        request_id = %request_id::current().unwrap_or_default(),
        method = %req.method(),
        path = %req.uri().path(),
    );
    async move {
        let started = Instant::now();
        let resp = match next.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => err.into_response(),
        };
        let status = resp.status().as_u16();
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(
            status,
            elapsed_ms = format!("{elapsed_ms:.2}"),
            "request finished"
        );
        Ok(resp)
    }
    .instrument(span)
    .await
}
