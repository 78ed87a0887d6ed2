//! Every query the plugin makes for a request is served by an index on both backends:
//! each is explained, and a full scan of `metric_points` fails the test.

use dashtray_core::{
    config::DatabaseKind,
    db::{query, Tx, Value},
    on_each_backend, Config, Registry,
};
use dashtray_metrics::{
    points::{queries_for, Filter},
    timeseries::{sql, Aggregate, Interval, EXISTS_QUERY},
    MetricsPlugin,
};

/// Every query a request can make, with its placeholders' kinds (`t` text, `i` integer).
fn request_queries(kind: DatabaseKind) -> Vec<(String, Vec<char>)> {
    let mut queries = Vec::new();
    let filters = [
        (Filter::default(), vec!['t', 'i', 'i']),
        (
            Filter {
                metric_ids: vec!["mrr".into()],
                ..Filter::default()
            },
            vec!['t', 't', 'i', 'i'],
        ),
        (
            Filter {
                metric_ids: vec!["a".into(), "b".into()],
                start: Some(0),
                end: Some(1),
            },
            vec!['t', 't', 't', 'i', 'i', 'i', 'i'],
        ),
        (
            Filter {
                start: Some(0),
                end: Some(1),
                ..Filter::default()
            },
            vec!['t', 'i', 'i', 'i', 'i'],
        ),
    ];
    for (filter, kinds) in filters {
        let [page, count, after]: [String; 3] = queries_for(&filter).try_into().unwrap();
        queries.push((page, kinds.clone()));
        let filter_kinds = kinds[..kinds.len() - 2].to_vec();
        queries.push((count, filter_kinds.clone()));
        let mut after_kinds = filter_kinds;
        after_kinds.extend(['i', 't', 'i']);
        queries.push((after, after_kinds));
    }
    for interval in [
        Interval::Hour,
        Interval::Day,
        Interval::Week,
        Interval::Month,
    ] {
        for agg in [
            Aggregate::Sum,
            Aggregate::Avg,
            Aggregate::Min,
            Aggregate::Max,
            Aggregate::Last,
        ] {
            queries.push((sql(kind, interval, agg), vec!['t', 't', 'i', 'i']));
        }
    }
    queries.push((EXISTS_QUERY.to_owned(), vec!['t', 't']));
    queries
}

/// The plan's lines, from EXPLAIN QUERY PLAN (SQLite) or EXPLAIN with sequential scans
/// priced out (Postgres, which would otherwise prefer them on a small table).
async fn plan(tx: &mut Tx, sql: &str, binds: &[char]) -> Vec<String> {
    let kind = tx.kind();
    let explain = match kind {
        DatabaseKind::Sqlite => format!("EXPLAIN QUERY PLAN {sql}"),
        DatabaseKind::Postgres => format!("EXPLAIN {sql}"),
    };
    let values = binds.iter().map(|kind| match kind {
        't' => Value::from("x"),
        _ => Value::Int(1),
    });
    let column = match kind {
        DatabaseKind::Sqlite => "detail",
        DatabaseKind::Postgres => "QUERY PLAN",
    };
    query(explain.as_str())
        .bind_all(values)
        .fetch_all(tx, |row| row.get::<String>(column))
        .await
        .unwrap_or_else(|e| panic!("{e}: {explain}"))
}

on_each_backend! {
    async fn no_request_query_scans_all_metric_points(test_db: TestDb) {
        let db = test_db.connect().await;
        let registry = Registry::new(vec![std::sync::Arc::new(MetricsPlugin)]).unwrap();
        registry.migrate(&db, &Config::default()).await.unwrap();
        let kind = db.kind();
        // One connection for every plan, so that the setting below holds for each.
        let mut tx = db.begin().await.unwrap();
        if kind == DatabaseKind::Postgres {
            tx.execute_script("SET LOCAL enable_seqscan = off").await.unwrap();
        }
        let queries = request_queries(kind);
        assert!(queries.len() > 25);
        for (sql, binds) in queries {
            let lines = plan(&mut tx, &sql, &binds).await;
            let full_scan = lines.iter().any(|line| match kind {
                DatabaseKind::Sqlite => line.starts_with("SCAN metric_points"),
                DatabaseKind::Postgres => line.contains("Seq Scan on metric_points"),
            });
            assert!(!full_scan, "a full scan of metric_points:\n{sql}\n{}", lines.join("\n"));
            assert!(lines.iter().any(|l| l.contains("metric_points_by_")), "no index of ours:\n{sql}\n{}", lines.join("\n"));
            // An index read whole is a full scan in another order: the index must narrow
            // the rows (SQLite's SCAN of an index is refused above).
            if kind == DatabaseKind::Postgres {
                assert!(lines.iter().any(|l| l.trim_start().starts_with("Index Cond:")), "no index condition:\n{sql}\n{}", lines.join("\n"));
            }
        }
    }
}
