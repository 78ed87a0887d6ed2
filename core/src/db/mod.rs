//! The database handle every plugin gets: SQLite or Postgres behind one query API.
//!
//! A plugin writes each query once, with `$1`-style placeholders, and runs it on a [`Db`]
//! or inside a [`Tx`]:
//!
//! ```no_run
//! # use dashtray_core::db::{query, Db, DbError};
//! # async fn names(db: &Db, project_id: &str) -> Result<Vec<String>, DbError> {
//! let names: Vec<String> = query("SELECT name FROM integrations WHERE project_id = $1")
//!     .bind(project_id)
//!     .fetch_all(db, |row| row.get("name"))
//!     .await?;
//! # Ok(names)
//! # }
//! ```
//!
//! Each backend runs through its own lowest-cost client: SQLite through rusqlite, on the
//! calling thread, with each connection's prepared statements cached; Postgres through
//! tokio-postgres, over a deadpool pool that hands out a connection without a round trip
//! and caches each connection's prepared statements. docs/architecture.md says why this
//! is not sqlx. Where the dialects differ, [`Db::kind`] tells which one is in use.

mod postgres;
pub mod resource;
mod sqlite;
mod value;

use std::{borrow::Cow, sync::Arc, time::Duration};

pub use postgres::Listening;
pub use value::{FromColumn, Value};

use crate::config::{DatabaseConfig, DatabaseKind};

/// Boxed causes, so that neither driver's error type leaks into a plugin's signatures.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A cloneable handle to the configured database.
#[derive(Clone)]
pub struct Db {
    backend: Arc<Backend>,
}

enum Backend {
    Sqlite(sqlite::Pool),
    Postgres(postgres::Pool),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("kind", &self.kind()).finish()
    }
}

/// What went wrong with the database, sorted by what the client is told: the
/// unreachable kinds answer 503 `unavailable`, the others 500 `internal`.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the database at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: Cause,
    },
    #[error("no database connection was free within {0:?}")]
    Timeout(Duration),
    #[error("the database cannot be reached: {0}")]
    Unavailable(#[source] Cause),
    #[error("the database refused the statement: {0}")]
    Statement(#[source] Cause),
    #[error("column `{column}`: {message}")]
    Decode { column: String, message: String },
    #[error("the query returned no row")]
    NoRow,
    /// A row read into an answer as it arrived ([`JsonRows`](crate::json::JsonRows))
    /// that could not be written as JSON.
    #[error("a row could not be written as JSON: {0}")]
    WriteRow(#[source] sonic_rs::Error),
    /// A value the store cannot write as it is (a plugin's own rule, before any SQL).
    #[error("{0}")]
    Invalid(String),
}

impl DbError {
    /// True when the database is unreachable or busy rather than the query wrong.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            DbError::Connect { .. } | DbError::Timeout(_) | DbError::Unavailable(_)
        )
    }
}

impl From<DbError> for crate::error::ApiError {
    fn from(err: DbError) -> Self {
        if err.is_unavailable() {
            crate::error::ApiError::unavailable(err)
        } else {
            crate::error::ApiError::internal(err)
        }
    }
}

impl Db {
    /// Opens the database and checks that it answers.
    pub async fn connect(config: &DatabaseConfig) -> Result<Db, DbError> {
        let db = Db::lazy(config)?;
        let redacted = || config.url.redacted();
        let checked = match &*db.backend {
            Backend::Sqlite(pool) => pool.open_checked().await,
            Backend::Postgres(pool) => pool.open_checked().await,
        };
        checked.map_err(|err| match err {
            DbError::Unavailable(source) | DbError::Statement(source) => DbError::Connect {
                url: redacted(),
                source,
            },
            other => other,
        })?;
        Ok(db)
    }

    /// A handle that connects on first use: for tools that only need the plugins' specs.
    pub fn lazy(config: &DatabaseConfig) -> Result<Db, DbError> {
        let kind = config.url.kind().expect("validated by config");
        let connect_error = |source: Cause| DbError::Connect {
            url: config.url.redacted(),
            source,
        };
        let backend = match kind {
            DatabaseKind::Sqlite => Backend::Sqlite(sqlite::Pool::new(config)),
            DatabaseKind::Postgres => {
                Backend::Postgres(postgres::Pool::new(config).map_err(connect_error)?)
            }
        };
        Ok(Db {
            backend: Arc::new(backend),
        })
    }

    pub fn kind(&self) -> DatabaseKind {
        match &*self.backend {
            Backend::Sqlite(_) => DatabaseKind::Sqlite,
            Backend::Postgres(_) => DatabaseKind::Postgres,
        }
    }

    /// Closes every idle connection and refuses new ones; used before a process exits.
    pub async fn close(&self) {
        match &*self.backend {
            Backend::Sqlite(pool) => pool.close(),
            Backend::Postgres(pool) => pool.close(),
        }
    }

    /// The pool's open connections, for the `dashtray_db_pool_connections` gauge.
    pub fn pool_status(&self) -> PoolStatus {
        match &*self.backend {
            Backend::Sqlite(pool) => pool.status(),
            Backend::Postgres(pool) => pool.status(),
        }
    }

    /// Postgres: a connection of its own that `LISTEN`s on `channel` (an identifier, not
    /// user input). SQLite has no notices: `None`, and the caller polls a table instead.
    pub async fn listen(&self, channel: &str) -> Option<Result<Listening, DbError>> {
        match &*self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(pool) => Some(pool.listen(channel).await),
        }
    }

    /// A transaction: committed by [`Tx::commit`], rolled back if dropped before.
    pub async fn begin(&self) -> Result<Tx, DbError> {
        let mut conn = self.acquire().await?;
        conn.execute_script("BEGIN").await?;
        Ok(Tx { conn: Some(conn) })
    }

    /// Runs several `;`-separated statements that bind nothing (schema changes).
    pub async fn execute_script(&self, sql: &str) -> Result<(), DbError> {
        self.acquire().await?.execute_script(sql).await
    }

    /// The health check: the database answers a read of core's own table in time.
    pub async fn check(&self, timeout: Duration) -> Result<(), DbError> {
        let read = query("SELECT COUNT(*) AS n FROM dashtray_migrations")
            .fetch_one(self, |row| row.get::<i64>("n"));
        match tokio::time::timeout(timeout, read).await {
            Ok(result) => result.map(|_| ()),
            Err(_) => Err(DbError::Unavailable(
                format!("no answer within {timeout:?}").into(),
            )),
        }
    }

    /// One statement outside a transaction: on Postgres a plain read shares a pipelined
    /// connection with others; anything else takes a pooled connection for itself.
    async fn fetch<T>(
        &self,
        query: &Query<'_>,
        map: &mut (dyn FnMut(&Row<'_>) -> Result<T, DbError> + Send),
        max_rows: usize,
    ) -> Result<Vec<T>, DbError> {
        match &*self.backend {
            Backend::Postgres(pool) => pool.fetch(query, map, max_rows).await,
            Backend::Sqlite(_) => self.acquire().await?.fetch(query, map, max_rows).await,
        }
    }

    async fn acquire(&self) -> Result<Conn, DbError> {
        match &*self.backend {
            Backend::Sqlite(pool) => pool.acquire().await.map(Conn::Sqlite),
            Backend::Postgres(pool) => pool.acquire().await.map(Conn::Postgres),
        }
    }

    /// How many rows of `table` belong to the project (the `total` of an unfiltered list).
    pub async fn count_for_project(
        &self,
        table: &'static str,
        project_id: &str,
    ) -> Result<u64, DbError> {
        let total = query(format!(
            "SELECT COUNT(*) AS n FROM {table} WHERE project_id = $1"
        ))
        .bind(project_id)
        .fetch_one(self, |row| row.get::<i64>("n"))
        .await?;
        Ok(u64::try_from(total).unwrap_or(0))
    }
}

/// The pool's open connections: waiting in the pool, and lent out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    pub idle: usize,
    pub used: usize,
}

/// A transaction on one connection. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    conn: Option<Conn>,
}

impl Tx {
    pub fn kind(&self) -> DatabaseKind {
        match self.conn.as_ref() {
            Some(Conn::Postgres(_)) => DatabaseKind::Postgres,
            _ => DatabaseKind::Sqlite,
        }
    }

    pub async fn commit(mut self) -> Result<(), DbError> {
        let mut conn = self.conn.take().expect("a transaction has its connection");
        conn.execute_script("COMMIT").await
    }

    /// Runs several `;`-separated statements that bind nothing, inside the transaction.
    pub async fn execute_script(&mut self, sql: &str) -> Result<(), DbError> {
        self.conn_mut().execute_script(sql).await
    }

    /// Writes many rows into `table`: on SQLite one prepared `INSERT` run per row, on
    /// Postgres one binary `COPY`. Each row holds a value per column, in order. A row
    /// whose key exists already fails the whole call, and the transaction with it.
    pub async fn insert_rows<'v>(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: impl IntoIterator<Item = Vec<Value<'v>>> + Send,
    ) -> Result<u64, DbError> {
        match self.conn_mut() {
            Conn::Sqlite(conn) => conn.insert_rows(table, columns, rows),
            Conn::Postgres(conn) => conn.copy_rows(table, columns, rows).await,
        }
    }

    fn conn_mut(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .expect("a transaction has its connection until committed")
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        match self.conn.take() {
            None => {}
            Some(Conn::Sqlite(conn)) => conn.rollback_now(),
            // A rollback needs a round trip, which `drop` cannot await: the connection
            // leaves the pool instead, and closing it ends the transaction.
            Some(Conn::Postgres(conn)) => conn.discard(),
        }
    }
}

/// A connection checked out of its pool, for one call or one transaction.
enum Conn {
    Sqlite(sqlite::Conn),
    Postgres(postgres::Conn),
}

impl Conn {
    async fn fetch<T>(
        &mut self,
        query: &Query<'_>,
        map: &mut (dyn FnMut(&Row<'_>) -> Result<T, DbError> + Send),
        max_rows: usize,
    ) -> Result<Vec<T>, DbError> {
        match self {
            Conn::Sqlite(conn) => conn.fetch(query, map, max_rows),
            Conn::Postgres(conn) => conn.fetch(query, map, max_rows).await,
        }
    }

    async fn execute(&mut self, query: &Query<'_>) -> Result<u64, DbError> {
        match self {
            Conn::Sqlite(conn) => conn.execute(query),
            Conn::Postgres(conn) => conn.execute(query).await,
        }
    }

    async fn execute_script(&mut self, sql: &str) -> Result<(), DbError> {
        match self {
            Conn::Sqlite(conn) => conn.execute_script(sql),
            Conn::Postgres(conn) => conn.execute_script(sql).await,
        }
    }
}

/// Where a query runs: on the pool (a connection for this one statement) or in a
/// transaction. `&Db` and `&mut Tx` both convert.
pub enum On<'e> {
    Pool(&'e Db),
    Tx(&'e mut Tx),
}

impl<'e> From<&'e Db> for On<'e> {
    fn from(db: &'e Db) -> Self {
        On::Pool(db)
    }
}

impl<'e> From<&'e mut Tx> for On<'e> {
    fn from(tx: &'e mut Tx) -> Self {
        On::Tx(tx)
    }
}

/// One statement and the values of its placeholders, in order.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    sql: Cow<'a, str>,
    params: Vec<Value<'a>>,
}

/// A statement with `$1`-style placeholders, to [`bind`](Query::bind) and run.
pub fn query<'a>(sql: impl Into<Cow<'a, str>>) -> Query<'a> {
    Query {
        sql: sql.into(),
        params: Vec::new(),
    }
}

impl<'a> Query<'a> {
    /// The value of the next placeholder.
    pub fn bind(mut self, value: impl Into<Value<'a>>) -> Self {
        self.params.push(value.into());
        self
    }

    /// The values of the next placeholders, in order.
    pub fn bind_all<V: Into<Value<'a>>>(mut self, values: impl IntoIterator<Item = V>) -> Self {
        self.params.extend(values.into_iter().map(Into::into));
        self
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// Whether the statement is a plain read: a `SELECT` that takes no lock (no `FOR
    /// UPDATE`/`FOR SHARE` clause, no advisory lock), so it never waits on another
    /// session and may share a pipelined connection (Postgres).
    pub(crate) fn reads_plainly(&self) -> bool {
        let sql = self.sql.trim_start().as_bytes();
        sql.get(..6)
            .is_some_and(|verb| verb.eq_ignore_ascii_case(b"select"))
            && !has_word(sql, b"for")
            && !contains_ignoring_case(sql, b"pg_advisory")
    }

    pub fn params(&self) -> &[Value<'a>] {
        &self.params
    }

    /// Every row, each turned into a `T` by `map`.
    pub async fn fetch_all<'e, T: Send>(
        self,
        on: impl Into<On<'e>>,
        mut map: impl FnMut(&Row<'_>) -> Result<T, DbError> + Send,
    ) -> Result<Vec<T>, DbError> {
        self.run(on.into(), &mut map, usize::MAX).await
    }

    /// Hands every row to `each` as it is read, keeping none: for answers written
    /// straight from the rows (see [`JsonRows`](crate::json::JsonRows)), where owned
    /// copies of each value would only be written out and dropped. Answers how many rows
    /// there were.
    pub async fn for_each<'e>(
        self,
        on: impl Into<On<'e>>,
        mut each: impl FnMut(&Row<'_>) -> Result<(), DbError> + Send,
    ) -> Result<usize, DbError> {
        // A `Vec<()>` never allocates: it only counts.
        Ok(self.run(on.into(), &mut each, usize::MAX).await?.len())
    }

    /// The first row, if any.
    pub async fn fetch_optional<'e, T: Send>(
        self,
        on: impl Into<On<'e>>,
        mut map: impl FnMut(&Row<'_>) -> Result<T, DbError> + Send,
    ) -> Result<Option<T>, DbError> {
        Ok(self.run(on.into(), &mut map, 1).await?.pop())
    }

    /// The first row; none is [`DbError::NoRow`].
    pub async fn fetch_one<'e, T: Send>(
        self,
        on: impl Into<On<'e>>,
        map: impl FnMut(&Row<'_>) -> Result<T, DbError> + Send,
    ) -> Result<T, DbError> {
        self.fetch_optional(on, map).await?.ok_or(DbError::NoRow)
    }

    /// Runs a statement that returns no rows; answers how many rows it changed.
    pub async fn execute<'e>(self, on: impl Into<On<'e>>) -> Result<u64, DbError> {
        match on.into() {
            On::Pool(db) => db.acquire().await?.execute(&self).await,
            On::Tx(tx) => tx.conn_mut().execute(&self).await,
        }
    }

    async fn run<T: Send>(
        &self,
        on: On<'_>,
        map: &mut (dyn FnMut(&Row<'_>) -> Result<T, DbError> + Send),
        max_rows: usize,
    ) -> Result<Vec<T>, DbError> {
        match on {
            On::Pool(db) => db.fetch(self, map, max_rows).await,
            On::Tx(tx) => tx.conn_mut().fetch(self, map, max_rows).await,
        }
    }
}

/// One row of a result, read by column name.
pub struct Row<'r> {
    row: RowRef<'r>,
    /// Where the next column read is looked for first: rows are usually read in the
    /// order of their columns, so a lookup is then one comparison, not a scan.
    next: std::cell::Cell<usize>,
}

#[derive(Clone, Copy)]
enum RowRef<'r> {
    /// The row, and its statement's column names (asking SQLite for a name per value
    /// read was an eighth of a metrics page's CPU).
    Sqlite(&'r rusqlite::Row<'r>, &'r [String]),
    Postgres(&'r tokio_postgres::Row),
}

impl<'r> Row<'r> {
    fn new(row: RowRef<'r>) -> Self {
        Row {
            row,
            next: std::cell::Cell::new(0),
        }
    }

    /// The column named `column`, as a `T`; NULL reads as `None` into an `Option`.
    pub fn get<T: FromColumn<'r>>(&self, column: &str) -> Result<T, DbError> {
        let value = match self.row {
            RowRef::Sqlite(row, names) => self
                .index_of(column, names.len(), |i| &names[i])
                .and_then(|index| sqlite::column(row, index)),
            RowRef::Postgres(row) => self
                .index_of(column, row.columns().len(), |i| row.columns()[i].name())
                .and_then(|index| postgres::column(row, index)),
        };
        value
            .and_then(T::from_column)
            .map_err(|message| DbError::Decode {
                column: column.to_owned(),
                message,
            })
    }

    fn index_of<'n>(
        &self,
        column: &str,
        count: usize,
        name: impl Fn(usize) -> &'n str,
    ) -> Result<usize, String> {
        let hint = self.next.get();
        let index = if hint < count && name(hint) == column {
            hint
        } else {
            (0..count)
                .find(|&i| name(i) == column)
                .ok_or_else(|| "no such column in the result".to_owned())?
        };
        self.next.set(index + 1);
        Ok(index)
    }
}

/// Whether `word` (lowercase) stands in `text` as a word of its own, in any case.
fn has_word(text: &[u8], word: &[u8]) -> bool {
    let part_of_a_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$';
    (0..text.len().saturating_sub(word.len() - 1)).any(|at| {
        text[at..at + word.len()].eq_ignore_ascii_case(word)
            && !at
                .checked_sub(1)
                .is_some_and(|before| part_of_a_name(text[before]))
            && !text
                .get(at + word.len())
                .copied()
                .is_some_and(part_of_a_name)
    })
}

fn contains_ignoring_case(text: &[u8], part: &[u8]) -> bool {
    text.windows(part.len())
        .any(|window| window.eq_ignore_ascii_case(part))
}

/// A row of [`Tx::insert_rows`] must hold a value per column.
fn check_row(row: &[Value<'_>], columns: usize) -> Result<(), DbError> {
    match row.len() == columns {
        true => Ok(()),
        false => Err(DbError::Invalid(format!(
            "a row of {} values for {columns} columns",
            row.len()
        ))),
    }
}

/// `$first, $first+1, …`: `count` numbered placeholders, for an `IN (…)` list.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A page offset as a bindable BIGINT; one past `i64::MAX` selects nothing either way.
pub fn offset_param(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only a plain `SELECT` may share a pipelined connection: anything that can wait on
    /// another session's lock must not hold up the reads queued behind it.
    #[test]
    fn only_plain_selects_read_plainly() {
        for plain in [
            "SELECT id FROM metric_points WHERE project_id = $1 ORDER BY ts LIMIT $2",
            "  select count(*) as n from projects",
            "SELECT format FROM platforms WHERE info = $1",
            "SELECT for_you, before FROM t",
        ] {
            assert!(query(plain).reads_plainly(), "{plain}");
        }
        for locking in [
            "SELECT id FROM webhook_deliveries FOR UPDATE SKIP LOCKED",
            "select id from t for share",
            "SELECT id FROM t\nFOR NO KEY UPDATE",
            "SELECT pg_advisory_lock(1)",
            "SELECT PG_ADVISORY_XACT_LOCK(1)",
            "UPDATE webhook_deliveries SET lease_token = $1 RETURNING id",
            "INSERT INTO t (a) VALUES ($1) RETURNING a",
            "WITH x AS (DELETE FROM t RETURNING a) SELECT a FROM x",
            "DELETE FROM t",
            "",
        ] {
            assert!(!query(locking).reads_plainly(), "{locking}");
        }
    }

    #[test]
    fn placeholders_are_numbered_from_the_first() {
        assert_eq!(placeholders(1, 1), "$1");
        assert_eq!(placeholders(2, 3), "$2, $3, $4");
        assert_eq!(offset_param(u64::MAX), i64::MAX);
    }

    #[test]
    fn unreachable_kinds_are_told_apart_from_wrong_queries() {
        assert!(DbError::Timeout(Duration::from_secs(1)).is_unavailable());
        assert!(DbError::Unavailable("gone".into()).is_unavailable());
        assert!(!DbError::Statement("syntax".into()).is_unavailable());
        assert!(!DbError::NoRow.is_unavailable());
    }
}
