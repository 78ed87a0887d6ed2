//! Traces: with `telemetry.otlp_endpoint` set, each request's span reaches a collector
//! over OTLP/HTTP, continuing the trace its caller named in `traceparent`. The collector
//! here is a loopback receiver that decodes what it is sent.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    trace::v1::{span::SpanKind, Span},
};
use poem::{
    endpoint::make,
    listener::{Acceptor, Listener, TcpListener},
    post, Request, Response, Route, Server as PoemServer,
};
use prost::Message;
use reqwest::StatusCode;

use crate::support::{client, eventually, Server};

/// A loopback OTLP/HTTP receiver keeping every span it is sent.
struct Collector {
    addr: SocketAddr,
    spans: Arc<Mutex<Vec<Span>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Collector {
    async fn start() -> Collector {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("bind the receiver");
        let addr = *acceptor.local_addr()[0]
            .as_socket_addr()
            .expect("a TCP address");
        let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
        let received = spans.clone();
        let app = Route::new().at(
            "/v1/traces",
            post(make(move |req: Request| {
                let received = received.clone();
                async move {
                    let body = req.into_body().into_bytes().await.expect("the body");
                    let export = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                    let spans = export
                        .resource_spans
                        .into_iter()
                        .flat_map(|r| r.scope_spans)
                        .flat_map(|s| s.spans);
                    received.lock().unwrap().extend(spans);
                    // An empty ExportTraceServiceResponse: everything accepted.
                    Response::builder()
                        .content_type("application/x-protobuf")
                        .body(Vec::<u8>::new())
                }
            })),
        );
        let task = tokio::spawn(async move {
            let _ = PoemServer::new_with_acceptor(acceptor).run(app).await;
        });
        Collector { addr, spans, task }
    }

    fn span_in_trace(&self, trace_id: &[u8]) -> Option<Span> {
        let spans = self.spans.lock().unwrap();
        spans.iter().find(|s| s.trace_id == trace_id).cloned()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_spans_reach_the_collector_in_the_callers_trace() {
    let collector = Collector::start().await;
    let endpoint = format!("http://{}", collector.addr);
    let server = Server::start(&[
        ("DASHTRAY_TELEMETRY__OTLP_ENDPOINT", endpoint.as_str()),
        // The SDK's own setting: send batches every 100 ms rather than every 5 s.
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ]);
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let resp = client()
        .get(server.url("/api/v1/health"))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .send()
        .await
        .expect("health");
    assert_eq!(resp.status(), StatusCode::OK);

    eventually(
        Duration::from_secs(10),
        "the request's span reaches the collector",
        || async { collector.span_in_trace(&hex(trace_id)).is_some() },
    )
    .await;
    let span = collector.span_in_trace(&hex(trace_id)).unwrap();
    assert_eq!(
        span.parent_span_id,
        hex(caller_span),
        "a child of the caller's span"
    );
    assert_eq!(span.name, "getHealth", "named after its operation");
    assert_eq!(span.kind, SpanKind::Server as i32);
    let attribute = |key: &str| {
        span.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .map(|v| format!("{:?}", v.value))
    };
    assert!(
        attribute("path").is_some_and(|p| p.contains("/api/v1/health")),
        "{span:?}"
    );
    let request_id = resp.headers()["x-request-id"].to_str().unwrap();
    assert!(
        attribute("request_id").is_some_and(|id| id.contains(request_id)),
        "the span carries the answer's request id: {span:?}"
    );
}
