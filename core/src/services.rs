//! The long-lived parts a running server shares: configuration, database (and the
//! status its health checks keep), clock, the auth step's state, and the metrics. Built
//! once per process (or per test) and handed to plugins.

use std::sync::Arc;

use std::time::Duration;

use crate::{
    auth::{key::KeyHasher, notices::Notices, Authenticator, Guard},
    clock::{SharedClock, SystemClock},
    config::{Config, RateLimitBackend},
    db::Db,
    events::limits::LimitEvents,
    ratelimit::{
        store::{CounterStore, DatabaseStore, MemoryStore, RedisStore},
        Limiter,
    },
    system::DatabaseStatus,
    telemetry::metrics::Metrics,
    usage::Recorder,
};

#[derive(Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub db: Db,
    pub clock: SharedClock,
    pub authenticator: Arc<Authenticator>,
    pub guard: Arc<Guard>,
    pub limiter: Arc<Limiter>,
    /// Whether the database answers, as `/api/v1/health` and `/readyz` report it.
    pub database: Arc<DatabaseStatus>,
    pub metrics: Arc<Metrics>,
    /// Revocations and project changes, told to every server.
    pub notices: Notices,
    /// Usage counts not yet in the database.
    pub usage: Arc<Recorder>,
    /// The rate limiter's events, published once per window.
    pub limit_events: Arc<LimitEvents>,
}

impl Services {
    pub fn new(config: Config, db: Db, clock: SharedClock) -> Services {
        let metrics = Arc::new(Metrics::new());
        let limiter = Limiter::new(
            &config.ratelimit,
            counter_store(&config, &db),
            metrics.ratelimit_decisions(),
        );
        let hasher = KeyHasher::new(config.auth.pepper.as_ref().map(|p| p.expose()));
        let authenticator = Authenticator::new(
            db.clone(),
            hasher,
            clock.clone(),
            config.auth.cache_ttl_secs,
        );
        let guard = Guard::new(
            config.auth.failed_per_minute.0,
            clock.clone(),
            metrics.auth_failures(),
        );
        let notices = Notices::new(&config, db.clone());
        Services {
            limit_events: LimitEvents::new(db.clone()),
            notices,
            usage: Arc::default(),
            config: Arc::new(config),
            clock,
            authenticator: Arc::new(authenticator),
            guard: Arc::new(guard),
            limiter: Arc::new(limiter),
            database: DatabaseStatus::new(db.clone()),
            db,
            metrics,
        }
    }

    /// Services on the wall clock.
    pub fn system(config: Config, db: Db) -> Services {
        Services::new(config, db, Arc::new(SystemClock))
    }

    pub fn now_millis(&self) -> i64 {
        self.clock.now_millis()
    }
}

/// The counters `ratelimit.backend` names.
fn counter_store(config: &Config, db: &Db) -> Box<dyn CounterStore> {
    let timeout = Duration::from_millis(config.ratelimit.timeout_ms);
    match config.ratelimit.backend {
        RateLimitBackend::Memory => Box::new(MemoryStore::default()),
        RateLimitBackend::Database => Box::new(DatabaseStore::new(db.clone())),
        RateLimitBackend::Redis => {
            let url = config.ratelimit.redis_url.as_ref().map(|u| u.as_str());
            Box::new(RedisStore::new(url.unwrap_or_default(), timeout))
        }
    }
}
