//! Request spans exported over OTLP/HTTP to `telemetry.otlp_endpoint`, each continuing
//! the trace its caller named in `traceparent` (W3C Trace Context).

use opentelemetry::{
    propagation::{Extractor, TextMapPropagator},
    trace::TracerProvider as _,
};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::{
    propagation::TraceContextPropagator,
    trace::{SdkTracer, SdkTracerProvider},
    Resource,
};
use poem::http::HeaderMap;
use tracing_opentelemetry::{OpenTelemetryLayer, OpenTelemetrySpanExt};
use tracing_subscriber::registry::LookupSpan;

/// The service name a collector files the spans under.
const SERVICE_NAME: &str = "dashtray";

/// The collector could not be set up (the URL was checked with the configuration).
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration `telemetry.otlp_endpoint`: cannot export traces to {url}: {source}")]
pub struct ExportError {
    url: String,
    #[source]
    source: opentelemetry_otlp::ExporterBuildError,
}

/// The export running in the background; dropping it sends the spans still waiting.
pub struct Export {
    provider: SdkTracerProvider,
}

impl Drop for Export {
    fn drop(&mut self) {
        if let Err(err) = self.provider.shutdown() {
            eprintln!("warning: the last spans may not have reached the collector: {err}");
        }
    }
}

/// A layer that turns spans into OTLP spans, and the export behind it. The spans leave
/// in batches from a thread of the exporter's own, never from a request.
pub(super) fn export<S>(
    endpoint: &str,
) -> Result<(OpenTelemetryLayer<S, SdkTracer>, Export), ExportError>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    // Like `OTEL_EXPORTER_OTLP_ENDPOINT`, the setting is the collector's base URL.
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url.clone())
        .build()
        .map_err(|source| ExportError { url, source })?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(SERVICE_NAME).build())
        .build();
    // A span starts as OpenTelemetry's when the request ends rather than when it is first
    // entered: its name (the operation) is only known once the router has run. Nothing
    // the request calls reads OpenTelemetry's current context, which is all this gives up.
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(SERVICE_NAME))
        .with_context_activation(false);
    Ok((layer, Export { provider }))
}

/// Makes `span` a child of the caller's span when its `traceparent` names one.
pub fn continue_trace(span: &tracing::Span, headers: &HeaderMap) {
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    // Fails only for a span no layer records, when there is nothing to continue.
    let _ = span.set_parent(parent);
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}
