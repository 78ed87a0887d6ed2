//! Counters per (project, window): one atomic step per request on every backend, so the
//! count is exact under concurrency and across replicas sharing the store.

use std::{
    collections::HashMap, future::Future, hash::BuildHasher, pin::Pin, sync::Mutex, time::Duration,
};

use crate::{
    db::{query, Db, DbError},
    migrate::Migration,
};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the rate-limit store did not answer in time")]
    Timeout,
    #[error("the rate-limit database failed: {0}")]
    Database(#[from] DbError),
    #[error("Redis failed: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Adds `delta` (1 to count, 0 to look, -1 to refund) to a project's window and returns
/// the new count, in one atomic step.
pub trait CounterStore: Send + Sync + 'static {
    fn add<'a>(
        &'a self,
        project: &'a str,
        window: i64,
        delta: i64,
    ) -> BoxFuture<'a, Result<i64, StoreError>>;
}

const SHARDS: usize = 64;

/// One process's counters: sharded locks, so projects rarely wait on each other.
pub struct MemoryStore {
    shards: Vec<Mutex<HashMap<String, (i64, i64)>>>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
        }
    }
}

impl MemoryStore {
    fn add_now(&self, project: &str, window: i64, delta: i64) -> i64 {
        let shard = &self.shards[(self.hasher.hash_one(project) as usize) % SHARDS];
        let mut counters = shard.lock().unwrap_or_else(|e| e.into_inner());
        let entry = counters.entry(project.to_owned()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 = (entry.1 + delta).max(0);
        entry.1
    }
}

impl CounterStore for MemoryStore {
    fn add<'a>(
        &'a self,
        project: &'a str,
        window: i64,
        delta: i64,
    ) -> BoxFuture<'a, Result<i64, StoreError>> {
        let count = self.add_now(project, window, delta);
        Box::pin(async move { Ok(count) })
    }
}

/// Core's table for the `database` backend.
pub const MIGRATION: Migration = Migration::portable(
    2,
    "rate limit windows",
    "CREATE TABLE rate_limit_windows (
        project_id TEXT NOT NULL,
        window_start BIGINT NOT NULL,
        count BIGINT NOT NULL,
        PRIMARY KEY (project_id, window_start)
    )",
);

/// Counters in the configured database: one upsert per request.
pub struct DatabaseStore {
    db: Db,
}

impl DatabaseStore {
    pub fn new(db: Db) -> Self {
        DatabaseStore { db }
    }

    async fn add_now(&self, project: &str, window: i64, delta: i64) -> Result<i64, StoreError> {
        let db = &self.db;
        let count: i64 = match delta {
            0 => query(
                "SELECT count FROM rate_limit_windows WHERE project_id = $1 AND window_start = $2",
            )
            .bind(project)
            .bind(window)
            .fetch_optional(db, |row| row.get("count"))
            .await?
            .unwrap_or(0),
            d if d > 0 => {
                let count: i64 = query(
                    "INSERT INTO rate_limit_windows (project_id, window_start, count) \
                     VALUES ($1, $2, $3) \
                     ON CONFLICT (project_id, window_start) \
                     DO UPDATE SET count = rate_limit_windows.count + $3 \
                     RETURNING count",
                )
                .bind(project)
                .bind(window)
                .bind(d)
                .fetch_one(db, |row| row.get("count"))
                .await?;
                if count == d {
                    self.forget_old_windows(project, window);
                }
                count
            }
            d => query(
                "UPDATE rate_limit_windows SET count = count + $3 \
                 WHERE project_id = $1 AND window_start = $2 AND count > 0 RETURNING count",
            )
            .bind(project)
            .bind(window)
            .bind(d)
            .fetch_optional(db, |row| row.get("count"))
            .await?
            .unwrap_or(0),
        };
        Ok(count)
    }

    /// A project's first request of a window clears its older windows, off the request path.
    fn forget_old_windows(&self, project: &str, window: i64) {
        let db = self.db.clone();
        let project = project.to_owned();
        tokio::spawn(async move {
            let _ =
                query("DELETE FROM rate_limit_windows WHERE project_id = $1 AND window_start < $2")
                    .bind(project)
                    .bind(window)
                    .execute(&db)
                    .await;
        });
    }
}

impl CounterStore for DatabaseStore {
    fn add<'a>(
        &'a self,
        project: &'a str,
        window: i64,
        delta: i64,
    ) -> BoxFuture<'a, Result<i64, StoreError>> {
        Box::pin(self.add_now(project, window, delta))
    }
}

/// Counters in Redis: one script call (INCRBY, and PEXPIRE on a new key) per request.
pub struct RedisStore {
    url: String,
    manager: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    timeout: Duration,
    script: redis::Script,
}

const COUNT_SCRIPT: &str = r"
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return n
";

impl RedisStore {
    /// Connects on first use, so a Redis that is down at start-up is a store failure
    /// like any other, not a crash.
    pub fn new(url: &str, timeout: Duration) -> Self {
        RedisStore {
            url: url.to_owned(),
            manager: tokio::sync::OnceCell::new(),
            timeout,
            script: redis::Script::new(COUNT_SCRIPT),
        }
    }

    async fn connection(&self) -> Result<redis::aio::ConnectionManager, StoreError> {
        let manager = self
            .manager
            .get_or_try_init(|| async {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    .set_number_of_retries(1);
                redis::Client::open(self.url.as_str())?
                    .get_connection_manager_with_config(config)
                    .await
            })
            .await?;
        Ok(manager.clone())
    }

    async fn add_now(&self, project: &str, window: i64, delta: i64) -> Result<i64, StoreError> {
        let mut conn = self.connection().await?;
        let key = format!("dashtray:ratelimit:{project}:{window}");
        let count: i64 = self
            .script
            .key(key)
            .arg(delta)
            .arg(2 * super::WINDOW_MS)
            .invoke_async(&mut conn)
            .await?;
        Ok(count)
    }
}

impl CounterStore for RedisStore {
    fn add<'a>(
        &'a self,
        project: &'a str,
        window: i64,
        delta: i64,
    ) -> BoxFuture<'a, Result<i64, StoreError>> {
        Box::pin(self.add_now(project, window, delta))
    }
}
