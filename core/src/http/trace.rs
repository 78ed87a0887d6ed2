//! One tracing span per request, and one log line when it ends.

use std::{future::Future, time::Instant};

use futures_util::FutureExt;
use poem::{Endpoint, IntoResponse, Request, Response, Result};
use tracing::Instrument;

use crate::http::{layer::Step, request_id};

/// Logs method, path (never the query string, which may hold a misplaced key), status
/// and duration, inside a span that carries the request id for every line below it.
#[derive(Clone)]
pub struct Trace;

impl Step for Trace {
    fn call<'a, E: Endpoint>(
        &'a self,
        inner: &'a E,
        req: Request,
    ) -> impl Future<Output = Result<Response>> + Send + 'a {
        let span = tracing::info_span!(
            "request",
            request_id = %request_id::Id::of(&req),
            method = %req.method(),
            path = %req.uri().path(),
        );
        let started = Instant::now();
        inner
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
