//! The kit's store queries on both backends: a page in order with the size of the whole
//! (filtered) list, one row by id within its project, and a page's children in one go.

use dashtray_core::{
    db::{
        query,
        resource::{children, Rows},
        Db, DbError, Row,
    },
    on_each_backend,
    testing::TestDb,
};

const NOTES: Rows = Rows::new("notes", "id, kind, at", "at, id");

async fn notes(db: &TestDb) -> Db {
    let db = db.connect().await;
    db.execute_script(
        "CREATE TABLE notes (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, kind TEXT NOT NULL, at BIGINT NOT NULL);
         CREATE TABLE note_tags (note_id TEXT NOT NULL, tag TEXT NOT NULL, position INTEGER NOT NULL);",
    )
    .await
    .unwrap();
    for (id, project, kind, at) in [
        ("n3", "p1", "red", 3),
        ("n1", "p1", "red", 1),
        ("n2", "p1", "blue", 2),
        ("n4", "p1", "red", 3),
        ("theirs", "p2", "red", 0),
    ] {
        query("INSERT INTO notes (id, project_id, kind, at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(project)
            .bind(kind)
            .bind(at as i64)
            .execute(&db)
            .await
            .unwrap();
    }
    for (note, tag, position) in [("n1", "b", 2), ("n1", "a", 1), ("n3", "c", 1)] {
        query("INSERT INTO note_tags (note_id, tag, position) VALUES ($1, $2, $3)")
            .bind(note)
            .bind(tag)
            .bind(position)
            .execute(&db)
            .await
            .unwrap();
    }
    db
}

fn id_of(row: &Row<'_>) -> Result<String, DbError> {
    row.get("id")
}

on_each_backend! {
    async fn a_page_comes_in_order_with_the_size_of_the_whole_list(db: TestDb) {
        let db = notes(&db).await;
        let (ids, total) = NOTES.page(&db, "p1", 2, 0, id_of).await.unwrap();
        assert_eq!((ids, total), (vec!["n1".to_owned(), "n2".to_owned()], 4));
        let (ids, total) = NOTES.page(&db, "p1", 2, 2, id_of).await.unwrap();
        assert_eq!((ids, total), (vec!["n3".to_owned(), "n4".to_owned()], 4), "ties by id");
        let (ids, total) = NOTES.page(&db, "p1", 2, 10, id_of).await.unwrap();
        assert_eq!((ids.len(), total), (0, 4), "past the end, the total still counts");
    }

    async fn a_filtered_list_is_paged_and_counted_as_filtered(db: TestDb) {
        let db = notes(&db).await;
        let red = NOTES.filtered().and("kind = ?", "red").and("at >= ?", 2_i64);
        let (ids, total) = red.page(&db, "p1", 1, 0, id_of).await.unwrap();
        assert_eq!((ids, total), (vec!["n3".to_owned()], 2));
        assert_eq!(red.count(&db, "p1").await.unwrap(), 2);
        assert_eq!(red.count(&db, "p2").await.unwrap(), 0, "the project is always a filter");
    }

    async fn one_row_is_found_only_in_its_own_project(db: TestDb) {
        let db = notes(&db).await;
        assert_eq!(NOTES.find(&db, "p1", "n2", id_of).await.unwrap().as_deref(), Some("n2"));
        assert_eq!(NOTES.find(&db, "p1", "theirs", id_of).await.unwrap(), None);
        assert_eq!(NOTES.find(&db, "p1", "missing", id_of).await.unwrap(), None);
    }

    async fn a_page_s_children_come_grouped_by_parent_in_their_order(db: TestDb) {
        let db = notes(&db).await;
        let select = "SELECT note_id, tag FROM note_tags WHERE note_id IN ({parents}) \
                      ORDER BY note_id, position";
        let read = |row: &Row<'_>| Ok((row.get("note_id")?, row.get::<String>("tag")?));
        let tags = children(&db, select, &["n1", "n2", "n3"], read).await.unwrap();
        assert_eq!(tags["n1"], ["a", "b"]);
        assert_eq!(tags["n3"], ["c"]);
        assert!(!tags.contains_key("n2"), "a parent without children has no entry");
        let none = children(&db, select, &[], read).await.unwrap();
        assert!(none.is_empty(), "an empty page asks nothing");
    }
}
