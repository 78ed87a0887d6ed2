//! `serve`: open the database, migrate, mount, listen, and stop gracefully.

use std::{future::Future, net::SocketAddr, time::Duration};

use poem::{
    listener::{Acceptor, Listener, TcpListener},
    Server,
};

use crate::{config::Config, db::Db, http, registry::Registry, services::Services};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Database(#[from] crate::db::DbError),
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the server stopped with an error: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves until `shutdown` completes, then stops accepting connections and lets
/// in-flight requests finish (up to `server.shutdown_timeout_secs`).
///
/// `on_listening` gets the bound address (useful with port 0) before the first request.
pub async fn serve(
    config: &Config,
    registry: &Registry,
    db: Db,
    on_listening: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    registry.migrate(&db, config).await?;
    let services = Services::system(config.clone(), db.clone());
    services.notices.follow(services.authenticator.clone());
    let flush_every = Duration::from_secs(config.usage.flush_secs.0.into());
    services.usage.flush_every(db.clone(), flush_every);
    let api = registry.mount(&services)?;
    let app = http::app(api, &services);

    let addr = config.server.bind;
    let acceptor = TcpListener::bind(addr)
        .into_acceptor()
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let bound = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .unwrap_or(addr);
    tracing::info!(%bound, database = %config.database.url.redacted(), "listening");
    on_listening(bound);

    let grace = Duration::from_secs(config.server.shutdown_timeout_secs);
    let shutdown = async {
        shutdown.await;
        tracing::info!(
            grace_secs = grace.as_secs(),
            "shutting down: finishing in-flight requests"
        );
    };
    Server::new_with_acceptor(acceptor)
        .idle_timeout(Duration::from_secs(config.http.idle_timeout_secs))
        .run_with_graceful_shutdown(app, shutdown, Some(grace))
        .await?;
    // What was counted since the last flush; in-flight requests have finished.
    services.usage.flush(&db).await;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
