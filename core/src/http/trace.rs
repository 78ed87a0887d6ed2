//! One tracing span per request, and one log line when it ends.

use std::{future::Future, time::Instant};

use futures_util::FutureExt;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use tracing::Instrument;

use crate::http::request_id;

/// Logs method, path (never the query string, which may hold a misplaced key), status
/// and duration, inside a span that carries the request id for every line below it.
pub struct Trace;

impl<E: Endpoint> Middleware<E> for Trace {
    type Output = TraceEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        TraceEndpoint { inner }
    }
}

pub struct TraceEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for TraceEndpoint<E> {
    type Output = Response;

    // Built from combinators, so the inner future is held once (see
    // `RequestIdEndpoint::call`).
    fn call(&self, req: Request) -> impl Future<Output = Result<Response>> + Send {
        let span = tracing::info_span!(
            "request",
            request_id = %request_id::current().unwrap_or_default(),
            method = %req.method(),
            path = %req.uri().path(),
        );
        let started = Instant::now();
        self.inner
            .call(req)
            .map(move |result| {
                let resp = match result {
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
            })
            .instrument(span)
    }
}
