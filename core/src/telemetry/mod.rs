//! What operators see of a running server: logs (`log.format` pretty for people, json
//! for machines; always on stderr, so stdout stays for command output), [`metrics`] for
//! Prometheus, and request spans for a collector ([`traces`]).

pub mod metrics;
pub mod traces;

use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

use crate::config::{LogConfig, LogFormat, TelemetryConfig};

/// What runs in the background for the process's lifetime: the trace export, if any,
/// which sends its last spans when dropped.
pub struct Telemetry {
    _traces: Option<traces::Export>,
}

/// Installs the global subscriber; a second call (tests) keeps the first.
pub fn init(
    log: &LogConfig,
    telemetry: &TelemetryConfig,
) -> Result<Telemetry, traces::ExportError> {
    let (spans, export) = match &telemetry.otlp_endpoint {
        Some(endpoint) => {
            let (layer, export) = traces::export(endpoint)?;
            (Some(layer), Some(export))
        }
        None => (None, None),
    };
    let logs = match log.format {
        LogFormat::Pretty => fmt::layer()
            .with_target(false)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(filter(log))
        .with(logs)
        .with(spans)
        .try_init();
    Ok(Telemetry { _traces: export })
}

/// `log.level`, quieter for poem and Postgres: poem announces its own start and stop,
/// ours say the same with more context; and Postgres NOTICEs ("relation already exists,
/// skipping") are not news to an operator.
fn filter(log: &LogConfig) -> EnvFilter {
    let mut directives = log.level.as_str().to_owned();
    for quiet in ["poem=warn", "tokio_postgres=warn"] {
        let target = quiet.split('=').next().unwrap_or_default();
        if !directives.contains(target) {
            directives.push(',');
            directives.push_str(quiet);
        }
    }
    EnvFilter::builder()
        .parse(&directives)
        .unwrap_or_else(|_| EnvFilter::new("info"))
}
