//! Logging: `log.format` pretty for people, json for machines; always on stderr, so
//! stdout stays for command output.

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber; a second call (tests) keeps the first.
pub fn init(config: &LogConfig) {
    let mut directives = config.level.as_str().to_owned();
    // poem announces its own start and stop, ours say the same with more context; and
    // Postgres NOTICEs ("relation already exists, skipping") are not news to an operator.
    for quiet in ["poem=warn", "tokio_postgres=warn"] {
        let target = quiet.split('=').next().unwrap_or_default();
        if !directives.contains(target) {
            directives.push(',');
            directives.push_str(quiet);
        }
    }
    let filter = EnvFilter::builder()
        .parse(&directives)
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match config.format {
        LogFormat::Pretty => builder.with_target(false).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
