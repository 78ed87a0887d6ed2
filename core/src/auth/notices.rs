//! Telling every server sharing the database that a key was revoked or a project's plan
//! or limit changed, so each drops what its key cache holds within a second.
//!
//! A change is announced on every channel the deployment has: Postgres `NOTIFY`, Redis
//! pub/sub when the Redis limiter is configured, and, for a SQLite file shared by
//! processes on one host, a row in `auth_notices` that servers poll for. A server that
//! loses its channel clears its whole cache when it gets it back, since notices may have
//! been missed; `auth.cache_ttl_secs` bounds what a lost notice can cost.

use std::{sync::Arc, time::Duration};

use crate::{
    auth::Authenticator,
    config::{Config, DatabaseKind, RateLimitBackend},
    db::{query, Db, DbError},
    migrate::Migration,
};

/// The Postgres and Redis channel.
const CHANNEL: &str = "dashtray_auth";
/// How often a server on SQLite reads `auth_notices`.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// How long before a lost channel is tried again.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);
/// Rows of `auth_notices` older than this are deleted when a new one is written: every
/// server has read them long before.
const KEEP_ROWS_MS: i64 = 3_600_000;

/// The SQLite channel: one row per change, read by id.
pub const MIGRATION: Migration = Migration::portable(
    3,
    "auth notices",
    "CREATE TABLE auth_notices (
        seq BIGINT PRIMARY KEY,
        subject TEXT NOT NULL,
        created_at BIGINT NOT NULL
    )",
);

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A key was revoked.
    Key(String),
    /// A project's plan or limit changed: every key of it is read again.
    Project(String),
}

impl Notice {
    fn encode(&self) -> String {
        match self {
            Notice::Key(id) => format!("key:{id}"),
            Notice::Project(id) => format!("project:{id}"),
        }
    }

    fn decode(text: &str) -> Option<Notice> {
        match text.split_once(':')? {
            ("key", id) => Some(Notice::Key(id.to_owned())),
            ("project", id) => Some(Notice::Project(id.to_owned())),
            _ => None,
        }
    }

    /// Applies the notice to this server's cache.
    fn apply(&self, authenticator: &Authenticator) {
        match self {
            Notice::Key(id) => authenticator.forget_key(id),
            Notice::Project(id) => authenticator.forget_project(id),
        }
    }
}

/// The channels of one deployment.
#[derive(Clone)]
pub struct Notices {
    db: Db,
    redis_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("cannot tell other servers through Redis: {0}")]
    Redis(#[from] redis::RedisError),
}

impl Notices {
    pub fn new(config: &Config, db: Db) -> Notices {
        let redis_url = match config.ratelimit.backend {
            RateLimitBackend::Redis => config
                .ratelimit
                .redis_url
                .as_ref()
                .map(|u| u.as_str().to_owned()),
            _ => None,
        };
        Notices { db, redis_url }
    }

    /// Tells every server of the change, on each channel the deployment has.
    pub async fn announce(&self, notice: &Notice, now: i64) -> Result<(), NoticeError> {
        let payload = notice.encode();
        match self.db.kind() == DatabaseKind::Postgres {
            true => {
                query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(&payload)
                    .execute(&self.db)
                    .await?;
            }
            false => self.write_row(&payload, now).await?,
        }
        if let Some(url) = &self.redis_url {
            let client = redis::Client::open(url.as_str())?;
            let mut conn = client.get_multiplexed_async_connection().await?;
            redis::cmd("PUBLISH")
                .arg(CHANNEL)
                .arg(&payload)
                .query_async::<i64>(&mut conn)
                .await?;
        }
        Ok(())
    }

    async fn write_row(&self, payload: &str, now: i64) -> Result<(), DbError> {
        let mut tx = self.db.begin().await?;
        query("DELETE FROM auth_notices WHERE created_at < $1")
            .bind(now - KEEP_ROWS_MS)
            .execute(&mut tx)
            .await?;
        query(
            "INSERT INTO auth_notices (seq, subject, created_at) \
             SELECT COALESCE(MAX(seq), 0) + 1, $1, $2 FROM auth_notices",
        )
        .bind(payload)
        .bind(now)
        .execute(&mut tx)
        .await?;
        tx.commit().await
    }

    /// Applies every notice to `authenticator` until the process ends: one task per
    /// channel the deployment has.
    pub fn follow(&self, authenticator: Arc<Authenticator>) {
        if let Some(url) = self.redis_url.clone() {
            tokio::spawn(follow_redis(url, authenticator.clone()));
        }
        match self.db.kind() == DatabaseKind::Postgres {
            true => tokio::spawn(follow_postgres(self.db.clone(), authenticator)),
            false => tokio::spawn(follow_table(self.db.clone(), authenticator)),
        };
    }
}

fn apply_payload(payload: &str, authenticator: &Authenticator) {
    match Notice::decode(payload) {
        Some(notice) => notice.apply(authenticator),
        None => tracing::warn!(payload, "an auth notice of an unknown kind"),
    }
}

async fn follow_postgres(db: Db, authenticator: Arc<Authenticator>) {
    let mut first = true;
    loop {
        match db.listen(CHANNEL).await {
            Some(Ok(mut listening)) => {
                if !first {
                    authenticator.forget_all();
                }
                while let Some(payload) = listening.next().await {
                    apply_payload(&payload, &authenticator);
                }
                tracing::warn!("lost the database's auth notices; reconnecting");
            }
            Some(Err(err)) => tracing::warn!(error = %err, "cannot listen for auth notices"),
            None => return,
        }
        first = false;
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

async fn follow_redis(url: String, authenticator: Arc<Authenticator>) {
    let mut first = true;
    loop {
        match subscribe_redis(&url).await {
            Ok(mut pubsub) => {
                if !first {
                    authenticator.forget_all();
                }
                let mut messages = pubsub.on_message();
                while let Some(message) = futures_util::StreamExt::next(&mut messages).await {
                    if let Ok(payload) = message.get_payload::<String>() {
                        apply_payload(&payload, &authenticator);
                    }
                }
                tracing::warn!("lost Redis auth notices; reconnecting");
            }
            Err(err) => tracing::warn!(error = %err, "cannot subscribe to Redis auth notices"),
        }
        first = false;
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

async fn subscribe_redis(url: &str) -> Result<redis::aio::PubSub, redis::RedisError> {
    let mut pubsub = redis::Client::open(url)?.get_async_pubsub().await?;
    pubsub.subscribe(CHANNEL).await?;
    Ok(pubsub)
}

/// SQLite: reads the rows written since the last look, a primary-key range that is
/// empty almost always.
async fn follow_table(db: Db, authenticator: Arc<Authenticator>) {
    let mut seen: Option<i64> = None;
    loop {
        match seen {
            None => seen = last_seq(&db).await.ok(),
            Some(last) => match rows_after(&db, last).await {
                Ok(rows) => {
                    for (seq, payload) in rows {
                        apply_payload(&payload, &authenticator);
                        seen = Some(seq);
                    }
                }
                Err(err) => tracing::warn!(error = %err, "cannot read auth notices"),
            },
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

async fn last_seq(db: &Db) -> Result<i64, DbError> {
    query("SELECT COALESCE(MAX(seq), 0) AS seq FROM auth_notices")
        .fetch_one(db, |row| row.get("seq"))
        .await
}

async fn rows_after(db: &Db, seq: i64) -> Result<Vec<(i64, String)>, DbError> {
    query("SELECT seq, subject FROM auth_notices WHERE seq > $1 ORDER BY seq")
        .bind(seq)
        .fetch_all(db, |row| Ok((row.get("seq")?, row.get("subject")?)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_read_back_as_written() {
        for notice in [Notice::Key("k1".into()), Notice::Project("prj_x".into())] {
            assert_eq!(Notice::decode(&notice.encode()), Some(notice));
        }
        assert_eq!(Notice::decode("other:x"), None);
        assert_eq!(Notice::decode("no separator"), None);
    }
}
