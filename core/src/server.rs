//! `serve`: open the database, migrate, mount, listen, and stop gracefully; and, when
//! `server.admin_bind` is set, the admin listener beside it ([`crate::admin`]); and,
//! unless `webhooks.enabled` is off, the webhook worker ([`crate::webhooks`]).

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use poem::{
    listener::{Acceptor, Listener, TcpListener},
    Server,
};
use tokio::{sync::oneshot, task::JoinHandle};

use crate::{
    admin::{self, Lifecycle},
    config::Config,
    db::Db,
    http,
    registry::Registry,
    services::Services,
    site::Site,
    webhooks::Worker,
};

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
    #[error(transparent)]
    Webhooks(#[from] crate::webhooks::worker::ClientError),
    #[error("the server stopped with an error: {0}")]
    Io(#[from] std::io::Error),
}

/// Where a started server listens (useful with port 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listening {
    pub public: SocketAddr,
    /// The admin listener's address, when `server.admin_bind` is set.
    pub admin: Option<SocketAddr>,
}

/// How long the admin listener lets a scrape or probe finish once the server has stopped.
const ADMIN_GRACE: Duration = Duration::from_secs(1);

/// Serves until `shutdown` completes, then stops accepting connections and lets
/// in-flight requests finish (up to `server.shutdown_timeout_secs`).
///
/// The admin listener, if configured, starts first, so that probes see the migrations
/// run, and stops last, so that they see the shutdown. `on_listening` gets the bound
/// addresses before the first request.
pub async fn serve(
    config: &Config,
    registry: &Registry,
    db: Db,
    on_listening: impl FnOnce(Listening),
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    serve_with_sites(config, registry, db, &[], on_listening, shutdown).await
}

/// [`serve`], with `sites` (the console) mounted beside the API.
pub async fn serve_with_sites(
    config: &Config,
    registry: &Registry,
    db: Db,
    sites: &[Arc<dyn Site>],
    on_listening: impl FnOnce(Listening),
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let services = Services::system(config.clone(), db.clone());
    let lifecycle = Lifecycle::new();
    let admin = match config.server.admin_bind {
        Some(addr) => Some(AdminListener::start(addr, &services, &lifecycle).await?),
        None => None,
    };
    registry.migrate(&db, config).await?;
    lifecycle.migrated();
    // Both read tables the migrations make.
    services.notices.follow(services.authenticator.clone());
    let flush_every = Duration::from_secs(config.usage.flush_secs.0.into());
    services.usage.flush_every(db.clone(), flush_every);
    let grace = Duration::from_secs(config.server.shutdown_timeout_secs);
    let webhooks = start_webhooks(config, &services, grace)?;
    let api = registry.mount(&services)?;
    let app = http::app_with_sites(api, &services, sites);

    let (acceptor, bound) = listen(config.server.bind).await?;
    let admin_addr = admin.as_ref().map(|admin| admin.addr);
    tracing::info!(%bound, admin = ?admin_addr, database = %config.database.url.redacted(), "listening");
    on_listening(Listening {
        public: bound,
        admin: admin_addr,
    });

    let shutdown = async {
        shutdown.await;
        lifecycle.stopping();
        if let Some(webhooks) = &webhooks {
            webhooks.begin_stop();
        }
        tracing::info!(
            grace_secs = grace.as_secs(),
            "shutting down: finishing in-flight requests"
        );
    };
    Server::new_with_acceptor(acceptor)
        .idle_timeout(Duration::from_secs(config.http.idle_timeout_secs))
        .run_with_graceful_shutdown(app, shutdown, Some(grace))
        .await?;
    // Deliveries in flight finish (within the same grace) or are handed back.
    if let Some(webhooks) = webhooks {
        webhooks.stop().await;
    }
    // What was counted since the last flush; in-flight requests have finished.
    services.usage.flush(&db).await;
    if let Some(admin) = admin {
        admin.stop().await;
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The webhook worker, unless `webhooks.enabled` is off for this process.
fn start_webhooks(
    config: &Config,
    services: &Services,
    grace: Duration,
) -> Result<Option<Worker>, ServeError> {
    if !config.webhooks.enabled {
        return Ok(None);
    }
    let worker = Worker::start(
        services.db.clone(),
        config.webhooks.clone(),
        services.clock.clone(),
        grace,
    )?;
    Ok(Some(worker))
}

/// Binds `addr`; the acceptor and the address it got.
async fn listen(addr: SocketAddr) -> Result<(impl Acceptor, SocketAddr), ServeError> {
    let acceptor = TcpListener::bind(addr)
        .into_acceptor()
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let bound = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .unwrap_or(addr);
    Ok((acceptor, bound))
}

/// The admin listener, serving in a task of its own until stopped (or dropped).
struct AdminListener {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl AdminListener {
    async fn start(
        addr: SocketAddr,
        services: &Services,
        lifecycle: &std::sync::Arc<Lifecycle>,
    ) -> Result<AdminListener, ServeError> {
        let (acceptor, addr) = listen(addr).await?;
        let app = admin::app(services.clone(), lifecycle.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let stopped = async {
                // A dropped sender (serve failed before the end) stops it too.
                let _ = stopped.await;
            };
            Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(app, stopped, Some(ADMIN_GRACE))
                .await
        });
        Ok(AdminListener { addr, stop, task })
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "the admin listener stopped with an error")
            }
            Err(err) => tracing::warn!(error = %err, "the admin listener failed"),
        }
    }
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
