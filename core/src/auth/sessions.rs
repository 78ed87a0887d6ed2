//! Console sign-in: one-time links (`dashtray console link`) and the sessions they start,
//! both stored as hashes of their tokens so that a database dump grants nothing and any
//! replica sharing the database accepts a session another one started.

use sha2::{Digest, Sha256};

use super::key;
use crate::{
    db::{query, Db, DbError},
    migrate::Migration,
};

/// Core's migration for the two tables. Its version leaves 5 free for the webhooks
/// tables, which are built alongside.
pub const MIGRATION: Migration = Migration::portable(
    6,
    "console links and sessions",
    "CREATE TABLE console_links (
        token_hash TEXT PRIMARY KEY,
        project_id TEXT NOT NULL REFERENCES projects (id),
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT
    );
    CREATE TABLE console_sessions (
        token_hash TEXT PRIMARY KEY,
        project_id TEXT NOT NULL REFERENCES projects (id),
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX console_sessions_project ON console_sessions (project_id);",
);

/// Random characters in a link's or a session's token: 256 bits and more of base62.
const TOKEN_LEN: usize = 43;

/// A sign-in link as made: the token is only ever in the URL shown to the operator.
#[derive(Debug, Clone)]
pub struct NewLink {
    pub token: String,
    pub expires_at: i64,
}

/// A session as started: the token goes into the cookie and nowhere else.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub project_id: String,
    pub expires_at: i64,
}

/// A live session, as looked up by its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub project_id: String,
    pub expires_at: i64,
}

/// Lowercase hex of SHA-256(token): tokens are long and random, so no pepper is needed to
/// make their hashes useless to whoever reads the table.
pub fn hash_token(token: &str) -> String {
    crate::hex_digits::lower(<[u8; 32]>::from(Sha256::digest(token.as_bytes())))
}

/// Makes a single-use link for `project_id`, valid until `now + valid_ms`. Links and
/// sessions that have ended are deleted first, so neither table grows without bound.
pub async fn create_link(
    db: &Db,
    project_id: &str,
    now: i64,
    valid_ms: i64,
) -> Result<NewLink, DbError> {
    for table in ["console_links", "console_sessions"] {
        query(format!("DELETE FROM {table} WHERE expires_at <= $1"))
            .bind(now)
            .execute(db)
            .await?;
    }
    let token = key::random_base62(TOKEN_LEN);
    let expires_at = now + valid_ms;
    query(
        "INSERT INTO console_links (token_hash, project_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(hash_token(&token))
    .bind(project_id)
    .bind(now)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(NewLink { token, expires_at })
}

/// Uses a link and starts a session: `None` when the link is unknown, used or expired
/// (the caller must not tell which). Marking the link used is one conditional update, so
/// two replicas opening it at once start one session between them.
pub async fn redeem_link(
    db: &Db,
    token: &str,
    now: i64,
    session_ms: i64,
) -> Result<Option<NewSession>, DbError> {
    let project_id = query(
        "UPDATE console_links SET used_at = $1 \
         WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
         RETURNING project_id",
    )
    .bind(now)
    .bind(hash_token(token))
    .fetch_optional(db, |row| row.get::<String>("project_id"))
    .await?;
    let Some(project_id) = project_id else {
        return Ok(None);
    };
    let session = NewSession {
        token: key::random_base62(TOKEN_LEN),
        project_id,
        expires_at: now + session_ms,
    };
    query(
        "INSERT INTO console_sessions (token_hash, project_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(hash_token(&session.token))
    .bind(&session.project_id)
    .bind(now)
    .bind(session.expires_at)
    .execute(db)
    .await?;
    Ok(Some(session))
}

/// The session a cookie's token stands for, if it has not ended.
pub async fn find_session(db: &Db, token: &str, now: i64) -> Result<Option<Session>, DbError> {
    query(
        "SELECT project_id, expires_at FROM console_sessions \
         WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(hash_token(token))
    .bind(now)
    .fetch_optional(db, |row| {
        Ok(Session {
            project_id: row.get("project_id")?,
            expires_at: row.get("expires_at")?,
        })
    })
    .await
}

/// Ends one session (Sign out).
pub async fn end_session(db: &Db, token: &str) -> Result<(), DbError> {
    query("DELETE FROM console_sessions WHERE token_hash = $1")
        .bind(hash_token(token))
        .execute(db)
        .await?;
    Ok(())
}

/// Ends every session of a project; how many there were.
pub async fn end_project_sessions(db: &Db, project_id: &str) -> Result<u64, DbError> {
    query("DELETE FROM console_sessions WHERE project_id = $1")
        .bind(project_id)
        .execute(db)
        .await
}
