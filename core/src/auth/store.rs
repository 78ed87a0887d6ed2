//! The `projects` and `api_keys` tables: core's own, used by the CLI and the auth step.

use std::{collections::BTreeSet, sync::Arc};

use super::{
    key::{self, KeyHasher},
    model::{KeyRecord, Plan, Principal, Project},
};
use crate::{
    db::{query, Db, DbError, Row, Tx},
    migrate::Migration,
};

/// Core's tables, applied with core's own migrations.
pub const MIGRATIONS: [Migration; 1] = [Migration::portable(
    1,
    "projects and api keys",
    "CREATE TABLE projects (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        slug TEXT NOT NULL UNIQUE,
        plan TEXT NOT NULL,
        rate_limit_per_hour BIGINT,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL REFERENCES projects (id),
        name TEXT NOT NULL,
        key_hash TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT,
        expires_at BIGINT,
        revoked_at BIGINT
    );
    CREATE INDEX api_keys_project ON api_keys (project_id);",
)];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no {0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Database(#[from] DbError),
}

/// A handler's `?` on the store: an unreachable database is 503, anything else 500, the
/// error kept as the logged cause.
impl From<StoreError> for crate::error::ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Database(err) => err.into(),
            other => crate::error::ApiError::internal(other),
        }
    }
}

/// What `projects create` takes.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub name: String,
    pub slug: Option<String>,
    pub plan: Plan,
    pub rate_limit_per_hour: Option<i64>,
}

/// What `projects update` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProjectChanges {
    pub name: Option<String>,
    pub plan: Option<Plan>,
    /// `Some(None)` removes the project's own budget.
    pub rate_limit_per_hour: Option<Option<i64>>,
}

const PROJECT_COLUMNS: &str = "id, name, slug, plan, rate_limit_per_hour, created_at";
const KEY_COLUMNS: &str =
    "id, project_id, name, scopes, created_at, last_used_at, expires_at, revoked_at";

pub async fn create_project(db: &Db, new: NewProject, now: i64) -> Result<Project, StoreError> {
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.len() > 200 {
        return Err(StoreError::Invalid(
            "a project name is 1 to 200 characters".into(),
        ));
    }
    let slug = match new.slug {
        Some(slug) => check_slug(&slug)?,
        None => slugify(&name)?,
    };
    check_rate_limit(new.rate_limit_per_hour)?;
    let taken = query("SELECT id FROM projects WHERE slug = $1")
        .bind(&slug)
        .fetch_optional(db, |_| Ok(()))
        .await?;
    if taken.is_some() {
        return Err(StoreError::Invalid(format!(
            "the slug `{slug}` is taken; pass another with --slug"
        )));
    }
    let project = Project {
        id: format!("prj_{}", key::random_base62(16)),
        name,
        slug,
        plan: new.plan,
        rate_limit_per_hour: new.rate_limit_per_hour,
        created_at: now,
    };
    insert_project(db, &project).await?;
    Ok(project)
}

/// Writes a project as given (its id included): for data sets with fixed ids, such as
/// the demo. `create_project` is the way to make a new one.
pub async fn insert_project(db: &Db, project: &Project) -> Result<(), StoreError> {
    query(
        "INSERT INTO projects (id, name, slug, plan, rate_limit_per_hour, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&project.id)
    .bind(&project.name)
    .bind(&project.slug)
    .bind(project.plan.as_str())
    .bind(project.rate_limit_per_hour)
    .bind(project.created_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn update_project(
    db: &Db,
    id: &str,
    changes: ProjectChanges,
) -> Result<Project, StoreError> {
    let mut project = get_project(db, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("project `{id}`")))?;
    if let Some(name) = changes.name {
        project.name = name;
    }
    if let Some(plan) = changes.plan {
        project.plan = plan;
    }
    if let Some(limit) = changes.rate_limit_per_hour {
        check_rate_limit(limit)?;
        project.rate_limit_per_hour = limit;
    }
    query("UPDATE projects SET name = $1, plan = $2, rate_limit_per_hour = $3 WHERE id = $4")
        .bind(&project.name)
        .bind(project.plan.as_str())
        .bind(project.rate_limit_per_hour)
        .bind(&project.id)
        .execute(db)
        .await?;
    Ok(project)
}

pub async fn get_project(db: &Db, id: &str) -> Result<Option<Project>, StoreError> {
    query(format!(
        "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db, project_from_row)
    .await
    .map_err(StoreError::from)
}

pub async fn list_projects(db: &Db) -> Result<Vec<Project>, StoreError> {
    query(format!(
        "SELECT {PROJECT_COLUMNS} FROM projects ORDER BY created_at, id"
    ))
    .fetch_all(db, project_from_row)
    .await
    .map_err(StoreError::from)
}

/// Makes a key for `project_id`; the returned string is the only copy there will be.
pub async fn create_key(
    db: &Db,
    hasher: &KeyHasher,
    project_id: &str,
    name: &str,
    scopes: &BTreeSet<String>,
    expires_at: Option<i64>,
    now: i64,
) -> Result<(KeyRecord, String), StoreError> {
    if get_project(db, project_id).await?.is_none() {
        return Err(StoreError::NotFound(format!("project `{project_id}`")));
    }
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(StoreError::Invalid(
            "a key name is 1 to 200 characters".into(),
        ));
    }
    let new = key::generate();
    let record = KeyRecord {
        id: new.public_id.clone(),
        project_id: project_id.to_owned(),
        name: name.to_owned(),
        scopes: scopes.iter().cloned().collect(),
        created_at: now,
        last_used_at: None,
        expires_at,
        revoked_at: None,
    };
    let mut tx = db.begin().await?;
    query(
        "INSERT INTO api_keys (id, project_id, name, key_hash, scopes, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&record.id)
    .bind(&record.project_id)
    .bind(&record.name)
    .bind(hasher.hash(&new.key))
    .bind(record.scopes.join(","))
    .bind(record.created_at)
    .bind(record.expires_at)
    .execute(&mut tx)
    .await?;
    publish_key_event(&mut tx, "api_key.created", &record, now).await?;
    tx.commit().await?;
    Ok((record, new.key))
}

/// `api_key.created` / `api_key.revoked`, in the change's transaction: the key's id and
/// name, never the key.
async fn publish_key_event(
    tx: &mut Tx,
    event_type: &str,
    record: &KeyRecord,
    now: i64,
) -> Result<(), DbError> {
    let data = serde_json::json!({ "keyId": record.id, "name": record.name });
    let audience = crate::events::Audience::Subscribers;
    crate::events::publish(tx, &record.project_id, event_type, data, now, audience).await?;
    Ok(())
}

pub async fn list_keys(db: &Db, project_id: &str) -> Result<Vec<KeyRecord>, StoreError> {
    if get_project(db, project_id).await?.is_none() {
        return Err(StoreError::NotFound(format!("project `{project_id}`")));
    }
    Ok(query(format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE project_id = $1 ORDER BY created_at, id"
    ))
    .bind(project_id)
    .fetch_all(db, key_from_row)
    .await?)
}

/// Revokes a key; revoking it again keeps the first time.
pub async fn revoke_key(db: &Db, key_id: &str, now: i64) -> Result<KeyRecord, StoreError> {
    let mut tx = db.begin().await?;
    let revoked_now =
        query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(key_id)
            .execute(&mut tx)
            .await?;
    let record = query(format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"))
        .bind(key_id)
        .fetch_optional(&mut tx, key_from_row)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("key `{key_id}`")))?;
    if revoked_now == 1 {
        publish_key_event(&mut tx, "api_key.revoked", &record, now).await?;
    }
    tx.commit().await?;
    Ok(record)
}

/// A key's stored hash and what a match would grant, by public id.
pub struct StoredKey {
    pub hash: String,
    pub revoked: bool,
    pub principal: Principal,
}

pub async fn find_key(db: &Db, public_id: &str) -> Result<Option<StoredKey>, DbError> {
    query(
        "SELECT k.key_hash, k.scopes, k.expires_at, k.revoked_at, p.id AS project_id, p.plan, \
         p.rate_limit_per_hour FROM api_keys k JOIN projects p ON p.id = k.project_id \
         WHERE k.id = $1",
    )
    .bind(public_id)
    .fetch_optional(db, |row| {
        let plan: String = row.get("plan")?;
        Ok(StoredKey {
            hash: row.get("key_hash")?,
            revoked: row.get::<Option<i64>>("revoked_at")?.is_some(),
            principal: Principal {
                key_id: public_id.to_owned(),
                project_id: row.get("project_id")?,
                plan: plan.parse().unwrap_or(Plan::Starter),
                scopes: Arc::new(split_scopes(&row.get::<String>("scopes")?)),
                rate_limit_per_hour: row.get("rate_limit_per_hour")?,
                expires_at: row.get("expires_at")?,
            },
        })
    })
    .await
}

/// Scopes are stored comma-separated; none is the empty string.
fn split_scopes<C: FromIterator<String>>(stored: &str) -> C {
    stored
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub async fn touch_key(db: &Db, key_id: &str, at: i64) -> Result<(), DbError> {
    query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
        .bind(at)
        .bind(key_id)
        .execute(db)
        .await?;
    Ok(())
}

fn project_from_row(row: &Row<'_>) -> Result<Project, DbError> {
    let plan: String = row.get("plan")?;
    Ok(Project {
        id: row.get("id")?,
        name: row.get("name")?,
        slug: row.get("slug")?,
        plan: plan.parse().map_err(|message| DbError::Decode {
            column: "plan".into(),
            message,
        })?,
        rate_limit_per_hour: row.get("rate_limit_per_hour")?,
        created_at: row.get("created_at")?,
    })
}

fn key_from_row(row: &Row<'_>) -> Result<KeyRecord, DbError> {
    Ok(KeyRecord {
        id: row.get("id")?,
        project_id: row.get("project_id")?,
        name: row.get("name")?,
        scopes: split_scopes(&row.get::<String>("scopes")?),
        created_at: row.get("created_at")?,
        last_used_at: row.get("last_used_at")?,
        expires_at: row.get("expires_at")?,
        revoked_at: row.get("revoked_at")?,
    })
}

fn check_rate_limit(limit: Option<i64>) -> Result<(), StoreError> {
    match limit {
        Some(n) if !(1..=1_000_000_000).contains(&n) => Err(StoreError::Invalid(
            "a rate limit is 1 to 1,000,000,000 requests per hour".into(),
        )),
        _ => Ok(()),
    }
}

/// Slugs are 1-64 of `[a-z0-9-]`, not starting or ending with `-`.
fn check_slug(slug: &str) -> Result<String, StoreError> {
    let valid = !slug.is_empty()
        && slug.len() <= 64
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if valid {
        Ok(slug.to_owned())
    } else {
        Err(StoreError::Invalid(format!(
            "the slug `{slug}` is not 1-64 of a-z, 0-9 and inner `-`"
        )))
    }
}

fn slugify(name: &str) -> Result<String, StoreError> {
    let mut slug = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_end_matches('-').chars().take(64).collect();
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        return Err(StoreError::Invalid(
            "no slug can be made from that name; pass one with --slug".into(),
        ));
    }
    check_slug(&slug)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_made_from_names() {
        assert_eq!(slugify("Acme SaaS").unwrap(), "acme-saas");
        assert_eq!(slugify("  Hello, World!! 2 ").unwrap(), "hello-world-2");
        assert!(slugify("🙂").is_err());
        assert!(check_slug("Bad Slug").is_err());
        assert!(check_slug("-x").is_err());
    }
}
