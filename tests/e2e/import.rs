//! `dashtray import metrics`: CSV and JSON Lines in batches; a bad row stops the import
//! naming its line, its batch is not written and earlier batches are kept.

use std::path::Path;

use dashtray_core::on_each_backend;

use crate::support::{cli_json, dashtray, get_with_auth, project_with_key, Server, TestDb};

fn import(db: &TestDb, project: &str, file: &Path) -> std::process::Output {
    import_with(db, project, file, &[])
}

fn import_with(db: &TestDb, project: &str, file: &Path, options: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    dashtray(dir.path(), &[("DASHTRAY_DATABASE__URL", db.url())])
        .args(["import", "metrics", "--project", project])
        .args(options)
        .arg(file)
        .output()
        .unwrap()
}

async fn total(server: &Server, key: &str, query: &str) -> i64 {
    let (_, _, body) = get_with_auth(
        &server.url(&format!("/api/v1/metrics?limit=1&{query}")),
        Some(&format!("Bearer {key}")),
    )
    .await;
    body["pagination"]["total"].as_i64().unwrap()
}

on_each_backend! {
    async fn a_csv_file_is_imported_in_batches(db: TestDb) {
        let (project, _, key) = project_with_key(&db, "Importer", "scale", None);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("points.csv");
        let mut csv = String::from("timestamp,metricId,value,integrationId\n");
        for i in 0..2500 {
            csv.push_str(&format!("{},mrr,{}.5,{}\n", 1_704_067_200_000i64 + i * 60_000, i, if i % 2 == 0 { "int_x" } else { "" }));
        }
        std::fs::write(&file, csv).unwrap();
        let output = import_with(&db, &project, &file, &["--batch-rows", "1000"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(said.contains("Imported 2500 points") && said.contains("3 batches"), "{said}");

        let server = Server::on(&db, &[]);
        assert_eq!(total(&server, &key, "metric_id=mrr").await, 2500);
        let (_, _, first) = get_with_auth(&server.url("/api/v1/metrics?limit=1"), Some(&format!("Bearer {key}"))).await;
        assert_eq!(first["data"][0]["value"], 0.5);
        assert_eq!(first["data"][0]["integrationId"], "int_x");
        assert_eq!(first["data"][0]["timestamp"], 1_704_067_200_000i64);
    }

    async fn a_bad_row_stops_the_import_and_its_batch_is_not_written(db: TestDb) {
        let (project, _, key) = project_with_key(&db, "Careful", "scale", None);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("points.jsonl");
        let mut lines = String::new();
        for i in 0..2500 {
            let value = if i == 2100 { "\"lots\"".to_owned() } else { i.to_string() };
            lines.push_str(&format!("{{\"metricId\":\"signups\",\"value\":{value},\"timestamp\":\"2024-01-01T00:00:{:02}Z\"}}\n", i % 60));
        }
        std::fs::write(&file, lines).unwrap();
        let output = import_with(&db, &project, &file, &["--batch-rows", "1000"]);
        assert!(!output.status.success());
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("line 2101:"), "{err}");
        assert!(err.contains("`value`") && err.contains("2000 rows"), "{err}");
        let server = Server::on(&db, &[]);
        assert_eq!(total(&server, &key, "metric_id=signups").await, 2000, "two whole batches, not the third");
    }

    async fn batches_default_to_ten_thousand_rows_and_other_sizes_are_checked(db: TestDb) {
        let (project, _, key) = project_with_key(&db, "Sizes", "scale", None);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("points.csv");
        let mut csv = String::from("metricId,value,timestamp\n");
        for i in 0..12_000i64 {
            csv.push_str(&format!("churn,{i},{}\n", 1_704_067_200_000i64 + i * 60_000));
        }
        std::fs::write(&file, csv).unwrap();
        for refused in ["0", "100001", "many"] {
            let output = import_with(&db, &project, &file, &["--batch-rows", refused]);
            assert!(!output.status.success(), "--batch-rows {refused} was taken");
            let err = String::from_utf8_lossy(&output.stderr);
            assert!(err.contains("--batch-rows") && err.contains("1 to 100000"), "{err}");
        }
        let server = Server::on(&db, &[]);
        assert_eq!(total(&server, &key, "metric_id=churn").await, 0, "a refused size writes nothing");

        let output = import(&db, &project, &file);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(said.contains("Imported 12000 points") && said.contains("2 batches"), "{said}");
        assert_eq!(total(&server, &key, "metric_id=churn").await, 12_000);
    }

    async fn empty_files_import_nothing_and_wrong_headers_are_refused(db: TestDb) {
        let (project, _, _) = project_with_key(&db, "Edges", "scale", None);
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.csv");
        std::fs::write(&empty, "").unwrap();
        let output = import(&db, &project, &empty);
        assert!(output.status.success());
        assert!(String::from_utf8_lossy(&output.stdout).contains("Imported 0 points"));

        let wrong = dir.path().join("wrong.csv");
        std::fs::write(&wrong, "metric,value,timestamp\nmrr,1,1\n").unwrap();
        let output = import(&db, &project, &wrong);
        assert!(!output.status.success());
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(err.contains("line 1:") && err.contains("`metric`"), "{err}");

        let missing = dir.path().join("missing.csv");
        std::fs::write(&missing, "metricId,value\nmrr,1\n").unwrap();
        let err = String::from_utf8_lossy(&import(&db, &project, &missing).stderr).into_owned();
        assert!(err.contains("lacks `timestamp`"), "{err}");

        let output = import(&db, "prj_nope", &empty);
        assert!(!output.status.success());
        let json = cli_json(&db, &["projects", "list"]);
        assert_eq!(json["projects"].as_array().unwrap().len(), 1);
    }
}
