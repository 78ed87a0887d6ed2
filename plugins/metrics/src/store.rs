//! Writing points, inside the caller's transaction so a batch is written whole or not at
//! all: idempotent multi-row INSERTs for fixed ids, the bulk path for fresh ones.

use dashtray_core::{
    auth::key::time_ordered_id,
    db::{query, DbError, Tx, Value},
};

/// A point to write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPoint {
    pub id: String,
    pub project_id: String,
    pub metric_id: String,
    pub integration_id: Option<String>,
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
}

/// A fresh point id: `pt_` and 16 base62 characters, time-ordered (points are appended in
/// bulk; see [`time_ordered_id`]).
pub fn new_id() -> String {
    format!("pt_{}", time_ordered_id(16))
}

/// Rows per INSERT statement: well under SQLite's 32,766 bound parameters (6 each).
pub const ROWS_PER_STATEMENT: usize = 500;

const COLUMNS: [&str; 6] = [
    "id",
    "project_id",
    "metric_id",
    "integration_id",
    "value",
    "ts",
];

/// Writes `points`; a point whose id exists already is skipped, so loading the same
/// data twice adds nothing (the demo data set, whose ids are fixed).
pub async fn insert(tx: &mut Tx, points: &[NewPoint]) -> Result<u64, DbError> {
    let mut written = 0;
    for chunk in points.chunks(ROWS_PER_STATEMENT) {
        let mut sql = format!("INSERT INTO metric_points ({}) VALUES ", COLUMNS.join(", "));
        for i in 0..chunk.len() {
            let n = i * COLUMNS.len();
            if i > 0 {
                sql.push(',');
            }
            let slots: Vec<String> = (n + 1..=n + COLUMNS.len())
                .map(|k| format!("${k}"))
                .collect();
            sql.push_str(&format!("({})", slots.join(", ")));
        }
        sql.push_str(" ON CONFLICT (id) DO NOTHING");
        written += query(sql)
            .bind_all(chunk.iter().flat_map(values))
            .execute(&mut *tx)
            .await?;
    }
    Ok(written)
}

/// Writes new points by the database's bulk path (prepared inserts on SQLite, `COPY` on
/// Postgres): for imports, whose ids are fresh. An id that exists fails the whole call.
pub async fn append(tx: &mut Tx, points: &[NewPoint]) -> Result<u64, DbError> {
    tx.insert_rows("metric_points", &COLUMNS, points.iter().map(values))
        .await
}

/// A point's values in [`COLUMNS`] order.
fn values(point: &NewPoint) -> Vec<Value<'_>> {
    vec![
        Value::from(&point.id),
        Value::from(&point.project_id),
        Value::from(&point.metric_id),
        Value::from(&point.integration_id),
        Value::Float(point.value),
        Value::Int(point.timestamp),
    ]
}
