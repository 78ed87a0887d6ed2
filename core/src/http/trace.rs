//! One tracing span per request, one log line when it ends, and the answer counted and
//! timed under the operation that gave it (`dashtray_http_requests_total`,
//! `dashtray_http_request_duration_seconds`).

use std::{cell::Cell, future::Future, sync::Arc, time::Instant};

use futures_util::FutureExt;
use poem::{Endpoint, IntoResponse, Request, Response, Result};
use tracing::{field::Empty, Instrument};

use crate::{
    http::{layer::Step, request_id},
    telemetry::{metrics::OperationMetrics, traces},
};

tokio::task_local! {
    /// The operation the router matched for the request this task is answering. Passed
    /// beside the request rather than in its extensions, which would allocate per request.
    static MATCHED: Cell<Option<Arc<OperationMetrics>>>;
}

/// Called by the router once it knows the operation: the answer counts under it.
pub(crate) fn matched(operation: &Arc<OperationMetrics>) {
    let _ = MATCHED.try_with(|slot| slot.set(Some(operation.clone())));
}

/// Logs method, path (never the query string, which may hold a misplaced key), status
/// and duration, inside a span that carries the request id for every line below it.
#[derive(Clone)]
pub struct Trace {
    /// Where answers no operation gave are counted (`operation="unmatched"`).
    unmatched: Arc<OperationMetrics>,
    /// Whether spans are exported (`telemetry.otlp_endpoint`): then a span continues the
    /// caller's trace, and is named after its operation.
    exported: bool,
}

impl Trace {
    pub fn new(unmatched: Arc<OperationMetrics>, exported: bool) -> Self {
        Trace {
            unmatched,
            exported,
        }
    }
}

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
            otel.name = Empty,
            otel.kind = Empty,
        );
        if self.exported {
            traces::continue_trace(&span, req.headers());
        }
        let started = Instant::now();
        let answered = inner.call(req).map(move |result| {
            let resp = match result {
                Ok(resp) => resp.into_response(),
                Err(err) => err.into_response(),
            };
            let status = resp.status().as_u16();
            let elapsed = started.elapsed();
            let matched = MATCHED.try_with(Cell::take).ok().flatten();
            let operation = matched.as_deref().unwrap_or(&self.unmatched);
            operation.record(status, elapsed);
            let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
            tracing::info!(
                status,
                elapsed_ms = format!("{elapsed_ms:.2}"),
                "request finished"
            );
            if self.exported {
                // After the log line, which has no use for them: what a trace viewer shows.
                let span = tracing::Span::current();
                span.record("otel.name", &**operation.operation_id());
                span.record("otel.kind", "server");
            }
            Ok(resp)
        });
        MATCHED.scope(Cell::new(None), answered).instrument(span)
    }
}
