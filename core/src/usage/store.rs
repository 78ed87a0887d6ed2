//! The `usage_hourly` table: one row per project, key, operation, status and hour, which
//! every replica's flushes add to.

use super::Count;
use crate::{
    db::{query, Db, DbError},
    migrate::Migration,
};

/// Core's migration for the table; the primary key leads with the project and the hour,
/// the order `/usage` reads in.
pub const MIGRATION: Migration = Migration::portable(
    4,
    "usage history",
    "CREATE TABLE usage_hourly (
        project_id TEXT NOT NULL,
        hour_start BIGINT NOT NULL,
        key_id TEXT NOT NULL,
        operation_id TEXT NOT NULL,
        status INTEGER NOT NULL,
        count BIGINT NOT NULL,
        PRIMARY KEY (project_id, hour_start, key_id, operation_id, status)
    )",
);

/// Adds `counts` to their rows, in one transaction: all or none.
pub async fn add(db: &Db, counts: &[Count]) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    for count in counts {
        query(
            "INSERT INTO usage_hourly \
             (project_id, hour_start, key_id, operation_id, status, count) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (project_id, hour_start, key_id, operation_id, status) \
             DO UPDATE SET count = usage_hourly.count + excluded.count",
        )
        .bind(count.project_id.as_str())
        .bind(count.hour_start)
        .bind(count.key_id.as_str())
        .bind(count.operation_id.as_str())
        .bind(i64::from(count.status))
        .bind(count.count as i64)
        .execute(&mut tx)
        .await?;
    }
    tx.commit().await
}

/// A project's rows whose hour starts within `[from, to]`.
pub async fn read(db: &Db, project_id: &str, from: i64, to: i64) -> Result<Vec<Count>, DbError> {
    query(
        "SELECT key_id, operation_id, status, hour_start, count FROM usage_hourly \
         WHERE project_id = $1 AND hour_start >= $2 AND hour_start <= $3",
    )
    .bind(project_id)
    .bind(from)
    .bind(to)
    .fetch_all(db, |row| {
        Ok(Count {
            project_id: project_id.to_owned(),
            key_id: row.get("key_id")?,
            operation_id: row.get("operation_id")?,
            status: row.get::<i64>("status")? as u16,
            hour_start: row.get("hour_start")?,
            count: row.get::<i64>("count")?.max(0) as u64,
        })
    })
    .await
}
