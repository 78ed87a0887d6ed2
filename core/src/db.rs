//! The database handle every plugin gets: one sqlx pool over SQLite or Postgres.
//!
//! Plugins write SQL with `$1`-style placeholders, which both backends accept; where the
//! dialects differ, [`Db::kind`] tells which one is in use.

use std::{str::FromStr, time::Duration};

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    AnyPool,
};

use crate::config::{DatabaseConfig, DatabaseKind, DatabaseUrl};

/// A cloneable handle to the configured database.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    kind: DatabaseKind,
}

/// The database could not be opened or answered with an error.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the database at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Query(#[from] sqlx::Error),
}

impl Db {
    /// Opens the pool and checks that the database answers.
    pub async fn connect(config: &DatabaseConfig) -> Result<Db, DbError> {
        let db = Db::lazy(config)?;
        let ping = async {
            let mut conn = db.pool.acquire().await?;
            if db.kind == DatabaseKind::Sqlite {
                // WAL lets readers run while a writer commits; the setting lives in the file.
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&mut *conn)
                    .await?;
            }
            sqlx::query("SELECT 1").execute(&mut *conn).await?;
            Ok::<_, sqlx::Error>(())
        };
        ping.await.map_err(|source| DbError::Connect {
            url: config.url.redacted(),
            source,
        })?;
        Ok(db)
    }

    /// A pool that connects on first use: for tools that only need the plugins' specs.
    pub fn lazy(config: &DatabaseConfig) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let kind = config.url.kind().expect("validated by config");
        let options = connect_options(&config.url).map_err(|source| DbError::Connect {
            url: config.url.redacted(),
            source,
        })?;
        let mut pool = AnyPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(Duration::from_millis(config.acquire_timeout_ms));
        if kind == DatabaseKind::Sqlite {
            // sqlx pings a connection before lending it, to find one the server dropped;
            // a SQLite connection is a file in this process and is not dropped, and the
            // ping was a round trip to its worker thread on every query: 15% of a health
            // check's CPU (47.7 against 40.6 µs, the release server under wrk). Postgres
            // keeps the ping.
            pool = pool.test_before_acquire(false);
            // In WAL mode NORMAL keeps the file consistent and skips an fsync per commit:
            // a crash of the process loses nothing, a power cut may lose the last commits.
            // Per-request writes (rate-limit counters) would otherwise each wait on a disk
            // flush.
            pool = pool.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // Each connection's page cache is the server's own memory, so pool
                    // size x cache_size bounds it: 4 MiB each, 40 MiB for the default
                    // pool (8 MiB each took 197 MB of private memory at 10M points, 4 MiB
                    // 108 MB, with the same throughput but for the first page of the
                    // largest project). No memory map: its pages counted once per
                    // connection in the server's resident memory (900 MB at 10M points),
                    // and reads from the kernel's page cache cost no more at that size
                    // (cargo xtask bench).
                    for pragma in [
                        "PRAGMA synchronous = NORMAL",
                        "PRAGMA cache_size = -4096",
                        "PRAGMA mmap_size = 0",
                    ] {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            });
        }
        if is_in_memory(&config.url) {
            // Each connection to `:memory:` is its own empty database: keep exactly one.
            pool = pool
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        Ok(Db {
            pool: pool.connect_lazy_with(options),
            kind,
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn kind(&self) -> DatabaseKind {
        self.kind
    }

    /// Closes every connection; used before a process exits.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The health check: the database answers a read of core's own table in time.
    pub async fn check(&self, timeout: Duration) -> Result<(), DbError> {
        let query = sqlx::query("SELECT COUNT(*) FROM dashtray_migrations").execute(&self.pool);
        match tokio::time::timeout(timeout, query).await {
            Ok(result) => result.map(|_| ()).map_err(DbError::from),
            Err(_) => Err(DbError::Timeout(timeout)),
        }
    }
}

/// `$first, $first+1, …`: `count` numbered placeholders, for an `IN (…)` list.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A page offset as a bindable BIGINT; one past `i64::MAX` selects nothing either way.
pub fn offset_param(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

impl Db {
    /// How many rows of `table` belong to the project (the `total` of an unfiltered list).
    pub async fn count_for_project(
        &self,
        table: &'static str,
        project_id: &str,
    ) -> Result<u64, sqlx::Error> {
        use sqlx::Row;
        let total: i64 = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM {table} WHERE project_id = $1"
        ))
        .bind(project_id)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        Ok(u64::try_from(total).unwrap_or(0))
    }
}

fn is_in_memory(url: &DatabaseUrl) -> bool {
    url.kind() == Some(DatabaseKind::Sqlite)
        && (url.as_str().contains(":memory:") || url.as_str().contains("mode=memory"))
}

/// SQLite files are created when missing, so the default works on a fresh machine.
fn connect_options(url: &DatabaseUrl) -> Result<AnyConnectOptions, sqlx::Error> {
    let raw = url.as_str();
    let raw = if url.kind() == Some(DatabaseKind::Sqlite) && !raw.contains("mode=") {
        let sep = if raw.contains('?') { '&' } else { '?' };
        format!("{raw}{sep}mode=rwc")
    } else {
        raw.to_owned()
    };
    AnyConnectOptions::from_str(&raw)
}

/// True when an error means the database is unreachable rather than the query wrong:
/// such errors answer 503 `unavailable`, the others 500 `internal`.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
    ) || matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("5"))
}

impl From<sqlx::Error> for crate::error::ApiError {
    fn from(err: sqlx::Error) -> Self {
        if is_unavailable(&err) {
            crate::error::ApiError::unavailable(err)
        } else {
            crate::error::ApiError::internal(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_from_the_first() {
        assert_eq!(placeholders(1, 1), "$1");
        assert_eq!(placeholders(2, 3), "$2, $3, $4");
        assert_eq!(offset_param(u64::MAX), i64::MAX);
    }
}
