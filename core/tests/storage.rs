//! Storage on both backends: per-plugin migrations and the database health check.

use std::time::Duration;

use dashtray_core::{
    db::query,
    migrate::{self, MigrateError, Migration},
    on_each_backend, Db,
};

const WIDGETS_V1: Migration = Migration::portable(
    1,
    "create widgets",
    "CREATE TABLE widgets (id TEXT PRIMARY KEY, name TEXT NOT NULL)",
);
const WIDGETS_V2: Migration = Migration::portable(
    2,
    "index widget names",
    "CREATE INDEX widgets_name ON widgets (name)",
);

async fn tracked_versions(db: &Db, plugin: &str) -> Vec<i64> {
    query("SELECT version FROM dashtray_migrations WHERE plugin = $1 ORDER BY version")
        .bind(plugin)
        .fetch_all(db, |row| row.get("version"))
        .await
        .unwrap()
}

async fn table_exists(db: &Db, table: &str) -> bool {
    query(format!("SELECT COUNT(*) AS n FROM {table}"))
        .fetch_one(db, |row| row.get::<i64>("n"))
        .await
        .is_ok()
}

on_each_backend! {
    async fn migrations_apply_once_and_are_tracked_per_plugin(test_db: TestDb) {
        let db = test_db.connect().await;
        let first = migrate::apply(&db, "widgets", &[WIDGETS_V1, WIDGETS_V2]).await.unwrap();
        assert_eq!(first.applied, [1, 2]);
        let again = migrate::apply(&db, "widgets", &[WIDGETS_V1, WIDGETS_V2]).await.unwrap();
        assert!(again.applied.is_empty(), "a second run applies nothing");

        // Another plugin's version 1 is its own.
        let gadgets = Migration::portable(1, "create gadgets", "CREATE TABLE gadgets (id TEXT)");
        let report = migrate::apply(&db, "gadgets", &[gadgets]).await.unwrap();
        assert_eq!(report.applied, [1]);
        assert_eq!(tracked_versions(&db, "widgets").await, [1, 2]);
        assert_eq!(tracked_versions(&db, "gadgets").await, [1]);
        assert!(table_exists(&db, "widgets").await && table_exists(&db, "gadgets").await);
    }

    async fn a_new_migration_is_applied_on_the_next_run(test_db: TestDb) {
        let db = test_db.connect().await;
        migrate::apply(&db, "widgets", &[WIDGETS_V1]).await.unwrap();
        let report = migrate::apply(&db, "widgets", &[WIDGETS_V1, WIDGETS_V2]).await.unwrap();
        assert_eq!(report.applied, [2]);
    }

    async fn an_edited_migration_stops_migrate(test_db: TestDb) {
        let db = test_db.connect().await;
        migrate::apply(&db, "widgets", &[WIDGETS_V1]).await.unwrap();
        let edited = Migration::portable(1, "create widgets", "CREATE TABLE widgets (id TEXT)");
        let err = migrate::apply(&db, "widgets", &[edited]).await.unwrap_err();
        assert!(matches!(err, MigrateError::Edited { version: 1, .. }), "{err}");
        assert!(err.to_string().contains("add a new migration"), "{err}");
    }

    async fn a_failing_migration_leaves_nothing_behind(test_db: TestDb) {
        let db = test_db.connect().await;
        let broken = Migration::portable(
            1,
            "half broken",
            "CREATE TABLE half (id TEXT); CREATE TABLE half (id TEXT)",
        );
        let err = migrate::apply(&db, "broken", &[broken]).await.unwrap_err();
        assert!(matches!(err, MigrateError::Failed { version: 1, .. }), "{err}");
        assert!(err.to_string().contains("half broken"), "{err}");
        assert!(tracked_versions(&db, "broken").await.is_empty());
        assert!(!table_exists(&db, "half").await, "the failed migration was rolled back");
    }

    async fn concurrent_migrators_apply_each_migration_once(test_db: TestDb) {
        let a = test_db.connect().await;
        let b = test_db.connect().await;
        let migrations = [WIDGETS_V1, WIDGETS_V2];
        let (ra, rb) = tokio::join!(
            migrate::apply(&a, "widgets", &migrations),
            migrate::apply(&b, "widgets", &migrations)
        );
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let mut all: Vec<i64> = ra.applied.iter().chain(&rb.applied).copied().collect();
        all.sort();
        assert_eq!(all, [1, 2], "each migration ran exactly once");
        assert_eq!(tracked_versions(&a, "widgets").await, [1, 2]);
    }

    async fn health_check_needs_the_migrated_database(test_db: TestDb) {
        let db = test_db.connect().await;
        assert!(db.check(Duration::from_secs(5)).await.is_err(), "no tracking table yet");
        migrate::apply(&db, "widgets", &[WIDGETS_V1]).await.unwrap();
        db.check(Duration::from_secs(5)).await.unwrap();
    }
}
