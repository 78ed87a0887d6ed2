//! Storage on both backends: per-plugin migrations, the database health check, and
//! connections under concurrency and after the database ends them.

use std::time::{Duration, Instant};

use dashtray_core::{
    config::DatabaseUrl,
    db::query,
    migrate::{self, MigrateError, Migration},
    on_each_backend,
    testing::{Backend, TestDb},
    Db,
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

/// What one row of every column type the API reads decodes to.
#[derive(Debug, PartialEq)]
struct Kinds {
    big: i64,
    int: i64,
    small: i32,
    double: f64,
    real: f64,
    flag: bool,
    text: String,
    null: Option<i64>,
}

on_each_backend! {
    async fn every_column_type_read_decodes_to_its_value(test_db: TestDb) {
        let db = test_db.connect().await;
        let sql = "SELECT CAST(-9000000000 AS BIGINT) AS big, CAST(-7 AS INTEGER) AS int, \
                   CAST(3 AS SMALLINT) AS small, CAST(2.5 AS DOUBLE PRECISION) AS double, \
                   CAST(0.25 AS REAL) AS real, (1 = 1) AS flag, CAST('héllo' AS TEXT) AS text, \
                   CAST(NULL AS BIGINT) AS null_value";
        let read = query(sql)
            .fetch_one(&db, |row| {
                Ok(Kinds {
                    big: row.get("big")?,
                    int: row.get("int")?,
                    small: row.get("small")?,
                    double: row.get("double")?,
                    real: row.get("real")?,
                    flag: row.get("flag")?,
                    text: row.get("text")?,
                    null: row.get("null_value")?,
                })
            })
            .await
            .unwrap();
        let expected = Kinds {
            big: -9_000_000_000,
            int: -7,
            small: 3,
            double: 2.5,
            real: 0.25,
            flag: true,
            text: "héllo".into(),
            null: None,
        };
        assert_eq!(read, expected);
        let wrong = query("SELECT CAST('x' AS TEXT) AS text")
            .fetch_one(&db, |row| row.get::<i64>("text"))
            .await
            .unwrap_err();
        assert!(wrong.to_string().contains("text"), "{wrong}");
    }

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

    /// Many statements at once, more than the pool's connections: each gets its own rows.
    async fn concurrent_statements_each_get_their_own_rows(test_db: TestDb) {
        let db = test_db.connect().await;
        let asked: Vec<_> = (0..200i64)
            .map(|n| {
                let db = db.clone();
                tokio::spawn(async move {
                    let label = format!("row {n}");
                    let read = query("SELECT CAST($1 AS BIGINT) AS n, CAST($2 AS TEXT) AS label")
                        .bind(n)
                        .bind(label.as_str())
                        .fetch_one(&db, |row| Ok((row.get::<i64>("n")?, row.get::<String>("label")?)))
                        .await
                        .unwrap();
                    (read, (n, label))
                })
            })
            .collect();
        for task in asked {
            let (read, asked) = task.await.unwrap();
            assert_eq!(read, asked, "a statement got another's row");
        }
    }

    async fn health_check_needs_the_migrated_database(test_db: TestDb) {
        let db = test_db.connect().await;
        assert!(db.check(Duration::from_secs(5)).await.is_err(), "no tracking table yet");
        migrate::apply(&db, "widgets", &[WIDGETS_V1]).await.unwrap();
        db.check(Duration::from_secs(5)).await.unwrap();
    }
}

/// A Postgres connection the database ends (a restart, an administrator's
/// `pg_terminate_backend`) costs the statements in flight on it, not the handle: a
/// pooled connection seen closed is replaced by the next statement's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_database_ends_are_opened_again() {
    let Some(test_db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    // This handle's connections, told apart from every other test's by their name.
    let name = format!("dashtray_storage_{}", std::process::id());
    let mut config = test_db.config();
    config.url = DatabaseUrl::parse(&format!("{}&application_name={name}", test_db.url())).unwrap();
    let db = Db::connect(&config).await.unwrap();
    let one = || query("SELECT CAST(1 AS BIGINT) AS n").fetch_one(&db, |row| row.get::<i64>("n"));
    assert_eq!(one().await.unwrap(), 1);
    db.begin().await.unwrap().commit().await.unwrap();

    let admin = test_db.connect().await;
    let ended = query(
        "SELECT COUNT(pg_terminate_backend(pid, 5000)) AS n FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(name.as_str())
    .fetch_one(&admin, |row| row.get::<i64>("n"))
    .await
    .unwrap();
    assert!(ended >= 1, "the handle's connections were ended ({ended})");

    // A statement may still meet an ended connection before it is seen closed.
    let started = Instant::now();
    while one().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no new connection within 5 s"
        );
    }
    for _ in 0..10 {
        assert_eq!(
            one().await.unwrap(),
            1,
            "once reopened, every statement is served"
        );
    }
    let started = Instant::now();
    let mut tx = loop {
        match db.begin().await {
            Ok(tx) => break tx,
            Err(err) => assert!(
                started.elapsed() < Duration::from_secs(5),
                "no transaction within 5 s: {err}"
            ),
        }
    };
    query("SELECT 1 AS n").execute(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
}
