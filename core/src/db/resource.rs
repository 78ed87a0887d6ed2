//! The queries every resource's store repeats, written once: a page of a project's rows
//! (with the count of the same filtered list), one row by id, and the children of a page
//! in one query. A store names its table, columns and order, and reads a row.

use std::collections::HashMap;

use super::{offset_param, placeholders, query, Db, DbError, Row, Value};
use crate::listing::total_from_page;

/// A project's rows of one table, optionally filtered, in a fixed order.
///
/// ```no_run
/// use dashtray_core::db::{resource::Rows, Db, DbError, Row};
///
/// const GOALS: Rows = Rows::new("goals", "id, metric_id, target", "created_at, id");
///
/// fn id_of(row: &Row<'_>) -> Result<String, DbError> {
///     row.get("id")
/// }
///
/// async fn mrr_goals(db: &Db, project_id: &str) -> Result<(Vec<String>, u64), DbError> {
///     GOALS
///         .filtered()
///         .and("metric_id = ?", "mrr")
///         .page(db, project_id, 100, 0, id_of)
///         .await
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Rows {
    table: &'static str,
    columns: &'static str,
    order_by: &'static str,
}

impl Rows {
    /// `columns` are what `SELECT` reads; `order_by` must end with a unique column, so
    /// pages neither repeat nor skip a row.
    pub const fn new(table: &'static str, columns: &'static str, order_by: &'static str) -> Rows {
        Rows {
            table,
            columns,
            order_by,
        }
    }

    /// The project's rows with more conditions to come ([`Filtered::and`]).
    pub fn filtered<'a>(&self) -> Filtered<'a> {
        Filtered {
            rows: *self,
            conditions: Vec::new(),
            values: Vec::new(),
        }
    }

    /// One page of the project's rows and the size of the whole list.
    pub async fn page<T: Send>(
        &self,
        db: &Db,
        project_id: &str,
        limit: u32,
        offset: u64,
        read: impl FnMut(&Row<'_>) -> Result<T, DbError> + Send,
    ) -> Result<(Vec<T>, u64), DbError> {
        self.filtered()
            .page(db, project_id, limit, offset, read)
            .await
    }

    /// The project's row `id`; `None` when it does not exist or is another project's.
    pub async fn find<T: Send>(
        &self,
        db: &Db,
        project_id: &str,
        id: &str,
        read: impl FnMut(&Row<'_>) -> Result<T, DbError> + Send,
    ) -> Result<Option<T>, DbError> {
        let Rows { table, columns, .. } = self;
        query(format!(
            "SELECT {columns} FROM {table} WHERE id = $1 AND project_id = $2"
        ))
        .bind(id)
        .bind(project_id)
        .fetch_optional(db, read)
        .await
    }
}

/// A project's rows narrowed by conditions: paged and counted alike.
#[derive(Debug, Clone)]
pub struct Filtered<'a> {
    rows: Rows,
    conditions: Vec<String>,
    values: Vec<Value<'a>>,
}

impl<'a> Filtered<'a> {
    /// Adds `condition`, whose one `?` is `value` (`"ts >= ?"`).
    pub fn and(mut self, condition: &str, value: impl Into<Value<'a>>) -> Self {
        // $1 is the project; conditions number on from $2.
        let slot = format!("${}", self.values.len() + 2);
        self.conditions.push(condition.replacen('?', &slot, 1));
        self.values.push(value.into());
        self
    }

    fn where_clause(&self) -> String {
        let mut clause = String::from("project_id = $1");
        for condition in &self.conditions {
            clause.push_str(" AND ");
            clause.push_str(condition);
        }
        clause
    }

    /// How many rows the filtered list holds.
    pub async fn count(&self, db: &Db, project_id: &str) -> Result<u64, DbError> {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM {} WHERE {}",
            self.rows.table,
            self.where_clause()
        );
        let n = query(sql)
            .bind(project_id)
            .bind_all(self.values.iter().cloned())
            .fetch_one(db, |row| row.get::<i64>("n"))
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// One page of the filtered rows and the size of the whole filtered list: two
    /// queries, or one when the page itself shows the end of the list.
    pub async fn page<T: Send>(
        &self,
        db: &Db,
        project_id: &str,
        limit: u32,
        offset: u64,
        read: impl FnMut(&Row<'_>) -> Result<T, DbError> + Send,
    ) -> Result<(Vec<T>, u64), DbError> {
        let next = self.values.len() + 2;
        let Rows {
            table,
            columns,
            order_by,
        } = self.rows;
        let sql = format!(
            "SELECT {columns} FROM {table} WHERE {} ORDER BY {order_by} LIMIT ${next} OFFSET ${}",
            self.where_clause(),
            next + 1
        );
        let rows = query(sql)
            .bind(project_id)
            .bind_all(self.values.iter().cloned())
            .bind(limit)
            .bind(offset_param(offset))
            .fetch_all(db, read)
            .await?;
        let total = match total_from_page(offset, limit, rows.len()) {
            Some(total) => total,
            None => self.count(db, project_id).await?,
        };
        Ok((rows, total))
    }
}

/// The children of `parents` in one query, grouped by parent id. `select` is the
/// statement with `{parents}` where the parent ids' placeholders go (`SELECT ... FROM
/// widgets WHERE dashboard_id IN ({parents}) ORDER BY dashboard_id, position`); `read`
/// gives a row's parent id and the child. An empty `parents` asks nothing.
pub async fn children<C: Send>(
    db: &Db,
    select: &str,
    parents: &[&str],
    read: impl FnMut(&Row<'_>) -> Result<(String, C), DbError> + Send,
) -> Result<HashMap<String, Vec<C>>, DbError> {
    let mut grouped: HashMap<String, Vec<C>> = HashMap::new();
    // `IN ()` is not valid SQL, and an empty page has nothing to fill.
    if parents.is_empty() {
        return Ok(grouped);
    }
    let sql = select.replace("{parents}", &placeholders(1, parents.len()));
    for (parent, child) in query(sql)
        .bind_all(parents.iter().copied())
        .fetch_all(db, read)
        .await?
    {
        grouped.entry(parent).or_default().push(child);
    }
    Ok(grouped)
}
