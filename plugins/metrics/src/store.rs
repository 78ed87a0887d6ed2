//! Writing points: in batches, one multi-row INSERT per batch, inside the caller's
//! transaction so a batch is written whole or not at all.

use dashtray_core::{auth::key::random_base62, sqlx};

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

/// A fresh point id: `pt_` and 16 random base62 characters.
pub fn new_id() -> String {
    format!("pt_{}", random_base62(16))
}

/// Rows per INSERT statement: well under SQLite's 32,766 bound parameters (6 each).
pub const ROWS_PER_STATEMENT: usize = 500;

/// Writes `points`; a point whose id exists already is skipped, so loading the same
/// data twice adds nothing.
pub async fn insert(
    conn: &mut sqlx::AnyConnection,
    points: &[NewPoint],
) -> Result<u64, sqlx::Error> {
    let mut written = 0;
    for chunk in points.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO metric_points (id, project_id, metric_id, integration_id, value, ts) VALUES ",
        );
        for i in 0..chunk.len() {
            let n = i * 6;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5,
                n + 6
            ));
        }
        sql.push_str(" ON CONFLICT (id) DO NOTHING");
        let mut query = sqlx::query(&sql);
        for point in chunk {
            query = query
                .bind(&point.id)
                .bind(&point.project_id)
                .bind(&point.metric_id)
                .bind(&point.integration_id)
                .bind(point.value)
                .bind(point.timestamp);
        }
        written += query.execute(&mut *conn).await?.rows_affected();
    }
    Ok(written)
}
