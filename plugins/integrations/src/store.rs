//! The plugin's tables: written by [`insert`] (demo loader, tests), read by the API with a
//! fixed number of queries per page.

use dashtray_core::{
    auth::key::random_id,
    db::{
        query,
        resource::{children, Rows},
        DbError, Row,
    },
    Db, Migration,
};

/// The plugin's schema.
pub(crate) const MIGRATIONS: [Migration; 1] = [Migration::portable(
    1,
    "integrations and their metrics",
    "CREATE TABLE integrations (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        provider TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        connected_at BIGINT NOT NULL,
        last_sync_at BIGINT
    );
    CREATE INDEX integrations_project_connected ON integrations (project_id, connected_at, id);
    CREATE TABLE integration_metrics (
        integration_id TEXT NOT NULL,
        metric_id TEXT NOT NULL,
        PRIMARY KEY (integration_id, metric_id)
    );",
)];

/// An integration to store, with the metrics it feeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIntegration {
    pub id: String,
    pub project_id: String,
    /// The connected service, e.g. `stripe`.
    pub provider: String,
    pub name: String,
    /// One of `connected`, `syncing`, `error`, `paused`.
    pub status: String,
    /// Milliseconds since the Unix epoch.
    pub connected_at: i64,
    /// Milliseconds since the Unix epoch; `None` before the first sync.
    pub last_sync_at: Option<i64>,
    pub metric_ids: Vec<String>,
}

/// A fresh integration id: `int_` and 16 base62 characters.
pub fn new_id() -> String {
    format!("int_{}", random_id(16))
}

/// Stores `integration` and its metric ids; rows that already exist are kept as they
/// are, so loading the same data twice changes nothing.
pub async fn insert(db: &Db, integration: &NewIntegration) -> Result<(), DbError> {
    // One transaction: a reader never sees an integration without its metrics.
    let mut tx = db.begin().await?;
    query(
        "INSERT INTO integrations \
         (id, project_id, provider, name, status, connected_at, last_sync_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(&integration.id)
    .bind(&integration.project_id)
    .bind(&integration.provider)
    .bind(&integration.name)
    .bind(&integration.status)
    .bind(integration.connected_at)
    .bind(integration.last_sync_at)
    .execute(&mut tx)
    .await?;
    for metric_id in &integration.metric_ids {
        query(
            "INSERT INTO integration_metrics (integration_id, metric_id) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&integration.id)
        .bind(metric_id)
        .execute(&mut tx)
        .await?;
    }
    tx.commit().await
}

/// A stored integration as the API reads it.
#[derive(Debug, Clone)]
pub(crate) struct IntegrationRow {
    pub id: String,
    pub provider: String,
    pub name: String,
    pub status: String,
    pub connected_at: i64,
    pub last_sync_at: Option<i64>,
    /// Sorted.
    pub metric_ids: Vec<String>,
}

/// The project's integrations by `connected_at`, then `id`.
const INTEGRATIONS: Rows = Rows::new(
    "integrations",
    "id, provider, name, status, connected_at, last_sync_at",
    "connected_at, id",
);

/// One page of the project's integrations and the size of the whole list: at most three
/// queries whatever the page size (page, count, metric ids).
pub(crate) async fn page(
    db: &Db,
    project_id: &str,
    limit: u32,
    offset: u64,
) -> Result<(Vec<IntegrationRow>, u64), DbError> {
    let (mut rows, total) = INTEGRATIONS
        .page(db, project_id, limit, offset, from_row)
        .await?;
    attach_metric_ids(db, &mut rows).await?;
    Ok((rows, total))
}

/// The project's integration `id`; `None` when it does not exist or is another project's.
pub(crate) async fn find(
    db: &Db,
    project_id: &str,
    id: &str,
) -> Result<Option<IntegrationRow>, DbError> {
    let Some(found) = INTEGRATIONS.find(db, project_id, id, from_row).await? else {
        return Ok(None);
    };
    let mut rows = vec![found];
    attach_metric_ids(db, &mut rows).await?;
    Ok(rows.pop())
}

/// Fills every row's metric ids with one query for all of them.
async fn attach_metric_ids(db: &Db, rows: &mut [IntegrationRow]) -> Result<(), DbError> {
    let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
    let mut by_integration = children(
        db,
        "SELECT integration_id, metric_id FROM integration_metrics \
         WHERE integration_id IN ({parents})",
        &ids,
        |found| Ok((found.get("integration_id")?, found.get("metric_id")?)),
    )
    .await?;
    for row in rows {
        let mut ids = by_integration.remove(&row.id).unwrap_or_default();
        // Sorted here, by bytes: the database's collation may differ between backends.
        ids.sort();
        row.metric_ids = ids;
    }
    Ok(())
}

fn from_row(row: &Row<'_>) -> Result<IntegrationRow, DbError> {
    Ok(IntegrationRow {
        id: row.get("id")?,
        provider: row.get("provider")?,
        name: row.get("name")?,
        status: row.get("status")?,
        connected_at: row.get("connected_at")?,
        last_sync_at: row.get("last_sync_at")?,
        metric_ids: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix() {
        let id = new_id();
        assert!(id.starts_with("int_"), "{id}");
        assert_eq!(id.len(), 4 + 16);
    }
}
