//! The long-lived parts a running server shares: configuration, database, clock, and
//! the auth step's state. Built once per process (or per test) and handed to plugins.

use std::sync::Arc;

use crate::{
    auth::{key::KeyHasher, Authenticator, Guard},
    clock::{SharedClock, SystemClock},
    config::Config,
    db::Db,
};

#[derive(Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub db: Db,
    pub clock: SharedClock,
    pub authenticator: Arc<Authenticator>,
    pub guard: Arc<Guard>,
}

impl Services {
    pub fn new(config: Config, db: Db, clock: SharedClock) -> Services {
        let hasher = KeyHasher::new(config.auth.pepper.as_ref().map(|p| p.expose()));
        let authenticator = Authenticator::new(
            db.clone(),
            hasher,
            clock.clone(),
            config.auth.cache_ttl_secs,
        );
        let guard = Guard::new(config.auth.failed_per_minute.0, clock.clone());
        Services {
            config: Arc::new(config),
            db,
            clock,
            authenticator: Arc::new(authenticator),
            guard: Arc::new(guard),
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
