//! Console sign-in links and sessions in the database, on both backends: a link starts
//! one session once, an expired link none, and only a token's hash is stored.

use dashtray_core::{
    auth::{
        sessions::{self, hash_token},
        store::{self, NewProject},
        Plan,
    },
    db::query,
    on_each_backend,
    testing::TestDb,
    Config, Db, Registry,
};

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const MINUTE: i64 = 60_000;
const HOURS_12: i64 = 12 * 60 * MINUTE;

async fn migrated(db: &TestDb) -> Db {
    let conn = db.connect().await;
    Registry::new(vec![])
        .unwrap()
        .migrate(&conn, &Config::default())
        .await
        .expect("migrate");
    conn
}

async fn project(db: &Db, slug: &str) -> String {
    let new = NewProject {
        name: "Sessions".into(),
        slug: Some(slug.into()),
        plan: Plan::Scale,
        rate_limit_per_hour: None,
    };
    store::create_project(db, new, T0).await.unwrap().id
}

on_each_backend! {
    async fn a_link_starts_one_session_once_and_only_hashes_are_stored(db: TestDb) {
        let conn = migrated(&db).await;
        let project_id = project(&conn, "once").await;
        let link = sessions::create_link(&conn, &project_id, T0, 15 * MINUTE).await.unwrap();
        let session = sessions::redeem_link(&conn, &link.token, T0 + MINUTE, HOURS_12)
            .await
            .unwrap()
            .expect("a fresh link starts a session");
        assert_eq!(session.project_id, project_id);
        assert!(
            sessions::redeem_link(&conn, &link.token, T0 + MINUTE, HOURS_12).await.unwrap().is_none(),
            "a used link starts nothing"
        );
        let found = sessions::find_session(&conn, &session.token, T0 + 2 * MINUTE).await.unwrap();
        assert_eq!(found.map(|s| s.project_id), Some(project_id.clone()));
        assert!(
            sessions::find_session(&conn, &session.token, T0 + MINUTE + HOURS_12).await.unwrap().is_none(),
            "a session ends after its hours"
        );
        let stored: Vec<String> = query("SELECT token_hash FROM console_sessions")
            .fetch_all(&conn, |row| row.get("token_hash"))
            .await
            .unwrap();
        assert_eq!(stored, [hash_token(&session.token)], "the token itself is not stored");
    }

    async fn an_expired_link_starts_nothing(db: TestDb) {
        let conn = migrated(&db).await;
        let project_id = project(&conn, "expired").await;
        let link = sessions::create_link(&conn, &project_id, T0, 15 * MINUTE).await.unwrap();
        let late = sessions::redeem_link(&conn, &link.token, T0 + 15 * MINUTE, HOURS_12).await.unwrap();
        assert!(late.is_none());
        sessions::create_link(&conn, &project_id, T0 + 16 * MINUTE, MINUTE).await.unwrap();
        let links: Vec<i64> = query("SELECT expires_at FROM console_links")
            .fetch_all(&conn, |row| row.get("expires_at"))
            .await
            .unwrap();
        assert_eq!(links, [T0 + 17 * MINUTE], "an ended link is deleted when another is made");
    }

    async fn revoking_a_projects_sessions_ends_only_its_own(db: TestDb) {
        let conn = migrated(&db).await;
        let (mine, other) = (project(&conn, "mine").await, project(&conn, "other").await);
        let mut tokens = Vec::new();
        for project_id in [&mine, &mine, &other] {
            let link = sessions::create_link(&conn, project_id, T0, MINUTE).await.unwrap();
            let session = sessions::redeem_link(&conn, &link.token, T0, HOURS_12).await.unwrap().unwrap();
            tokens.push(session.token);
        }
        assert_eq!(sessions::end_project_sessions(&conn, &mine).await.unwrap(), 2);
        let live = |token: String| {
            let conn = conn.clone();
            async move { sessions::find_session(&conn, &token, T0).await.unwrap().is_some() }
        };
        assert!(!live(tokens[0].clone()).await);
        assert!(live(tokens[2].clone()).await, "another project's session stays");
    }
}
