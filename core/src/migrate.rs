//! Schema migrations, owned by each plugin and tracked per plugin.
//!
//! A plugin lists its migrations with SQL for each backend; `migrate` applies the missing
//! ones in version order, each in its own transaction together with its tracking row, and
//! refuses to start when an applied migration's SQL has since been edited.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::{
    config::DatabaseKind,
    db::{query, Db, DbError, Tx},
};

/// One step of a plugin's schema.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Increasing, unique within the plugin.
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

impl Migration {
    /// A migration whose SQL is the same on both backends.
    pub const fn portable(version: i64, name: &'static str, sql: &'static str) -> Self {
        Migration {
            version,
            name,
            sqlite: sql,
            postgres: sql,
        }
    }

    fn sql(&self, kind: DatabaseKind) -> &'static str {
        match kind {
            DatabaseKind::Sqlite => self.sqlite,
            DatabaseKind::Postgres => self.postgres,
        }
    }
}

/// What `migrate` did for one plugin.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationReport {
    pub plugin: String,
    pub applied: Vec<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("plugin `{plugin}`: migration versions must increase; {version} follows {previous}")]
    Order {
        plugin: String,
        version: i64,
        previous: i64,
    },
    #[error(
        "plugin `{plugin}`: migration {version} ({name}) was changed after it was applied; \
         add a new migration instead of editing an old one"
    )]
    Edited {
        plugin: String,
        version: i64,
        name: String,
    },
    #[error("plugin `{plugin}`: migration {version} ({name}) failed: {source}")]
    Failed {
        plugin: String,
        version: i64,
        name: String,
        #[source]
        source: DbError,
    },
    #[error("cannot read the migration table: {0}")]
    Table(#[from] DbError),
}

const TRACKING_TABLE: &str = "CREATE TABLE IF NOT EXISTS dashtray_migrations (
    plugin TEXT NOT NULL,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at BIGINT NOT NULL,
    PRIMARY KEY (plugin, version)
)";

/// An always-empty table: writing to it is how a SQLite migrator takes the write lock.
const SQLITE_LOCK_TABLE: &str = "CREATE TABLE IF NOT EXISTS dashtray_migration_lock (id INTEGER)";

/// Applies `migrations` of `plugin` that are not yet applied.
pub async fn apply(
    db: &Db,
    plugin: &str,
    migrations: &[Migration],
) -> Result<MigrationReport, MigrateError> {
    check_order(plugin, migrations)?;
    ensure_tracking_table(db).await?;
    let mut applied = Vec::new();
    for migration in migrations {
        if apply_one(db, plugin, migration).await? {
            applied.push(migration.version);
        }
    }
    Ok(MigrationReport {
        plugin: plugin.to_owned(),
        applied,
    })
}

fn check_order(plugin: &str, migrations: &[Migration]) -> Result<(), MigrateError> {
    for pair in migrations.windows(2) {
        if pair[1].version <= pair[0].version {
            return Err(MigrateError::Order {
                plugin: plugin.to_owned(),
                version: pair[1].version,
                previous: pair[0].version,
            });
        }
    }
    Ok(())
}

async fn ensure_tracking_table(db: &Db) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    match db.kind() {
        DatabaseKind::Postgres => lock_for_migration(&mut tx).await?,
        DatabaseKind::Sqlite => tx.execute_script(SQLITE_LOCK_TABLE).await?,
    }
    tx.execute_script(TRACKING_TABLE).await?;
    tx.commit().await
}

/// Serialises migrating processes: replicas may start at the same moment.
async fn lock_for_migration(tx: &mut Tx) -> Result<(), DbError> {
    let sql = match tx.kind() {
        // Any constant works as long as every dashtray process uses the same one.
        DatabaseKind::Postgres => "SELECT pg_advisory_xact_lock(7461736872617901)",
        // A write as the first statement takes SQLite's write lock now (waiting on the
        // busy timeout) instead of failing later when a read transaction tries to upgrade.
        DatabaseKind::Sqlite => "DELETE FROM dashtray_migration_lock",
    };
    tx.execute_script(sql).await
}

async fn apply_one(db: &Db, plugin: &str, migration: &Migration) -> Result<bool, MigrateError> {
    let sql = migration.sql(db.kind());
    let checksum = checksum(sql);
    let mut tx = db.begin().await?;
    lock_for_migration(&mut tx).await?;
    let existing: Option<String> =
        query("SELECT checksum FROM dashtray_migrations WHERE plugin = $1 AND version = $2")
            .bind(plugin)
            .bind(migration.version)
            .fetch_optional(&mut tx, |row| row.get("checksum"))
            .await?;
    if let Some(stored) = existing {
        return if stored == checksum {
            Ok(false)
        } else {
            Err(MigrateError::Edited {
                plugin: plugin.to_owned(),
                version: migration.version,
                name: migration.name.to_owned(),
            })
        };
    }
    let failed = |source| MigrateError::Failed {
        plugin: plugin.to_owned(),
        version: migration.version,
        name: migration.name.to_owned(),
        source,
    };
    tx.execute_script(sql).await.map_err(failed)?;
    query(
        "INSERT INTO dashtray_migrations (plugin, version, name, checksum, applied_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(plugin)
    .bind(migration.version)
    .bind(migration.name)
    .bind(&checksum)
    .bind(now_millis())
    .execute(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// FNV-1a over the SQL with line endings normalised: stable across platforms and
/// releases, which is all an edit check needs.
fn checksum(sql: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sql.replace("\r\n", "\n").trim().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_ignores_line_endings_and_outer_whitespace() {
        assert_eq!(
            checksum("CREATE TABLE a (x INT);\n"),
            checksum("CREATE TABLE a (x INT);")
        );
        assert_eq!(checksum("a\r\nb"), checksum("a\nb"));
        assert_ne!(checksum("a"), checksum("b"));
    }

    #[test]
    fn versions_must_increase() {
        let m = |v| Migration::portable(v, "m", "SELECT 1");
        assert!(check_order("p", &[m(1), m(2)]).is_ok());
        let err = check_order("p", &[m(2), m(2)]).unwrap_err();
        assert!(err.to_string().contains("must increase"), "{err}");
    }
}
