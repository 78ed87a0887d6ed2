//! SQLite through rusqlite: a pool of connections to one file, each statement run on the
//! calling thread.
//!
//! Every query this API makes is bounded (an indexed range with a `LIMIT`, a count of one
//! project's rows), and a SQLite read of one is a few microseconds of work in this
//! process: handing it to another thread and back cost more than the work (sqlx's driver
//! did that, 385 against 57 µs of CPU per metrics page). So statements run where the
//! request runs, and a connection is only ever held between two awaits by a transaction.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use rusqlite::{
    config::DbConfig,
    types::{ToSqlOutput, ValueRef},
    Connection, OpenFlags,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{Cause, DbError, Query, Row, RowRef, Value};
use crate::config::DatabaseConfig;

/// How long a writer waits for another one (another process's import, say) to commit.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Prepared statements kept per connection: the API's queries, with room for the
/// shapes of `IN (…)` lists a client's `metric_id` filters make.
const STATEMENT_CACHE: usize = 256;

pub(super) struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    target: Target,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
    /// How many connections may be lent at once: the permits there are in all.
    size: usize,
    acquire_timeout: Duration,
}

/// What `sqlite://…` names: a file (and whether to create it), or a database in memory.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    File { path: PathBuf, flags: OpenFlags },
    Memory,
}

impl Target {
    /// `sqlite://PATH`, `sqlite:PATH`, `sqlite://:memory:`, with an optional
    /// `?mode=ro|rw|rwc|memory` (files are created when missing unless told otherwise).
    fn parse(url: &str) -> Target {
        let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
        let (path, params) = rest.split_once('?').unwrap_or((rest, ""));
        let mode = params
            .split('&')
            .find_map(|pair| pair.strip_prefix("mode="))
            .unwrap_or("rwc");
        if path == ":memory:" || mode == "memory" {
            return Target::Memory;
        }
        let flags = OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
            | match mode {
                "ro" => OpenFlags::SQLITE_OPEN_READ_ONLY,
                "rw" => OpenFlags::SQLITE_OPEN_READ_WRITE,
                _ => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
            };
        Target::File {
            path: PathBuf::from(path),
            flags,
        }
    }
}

impl Pool {
    pub(super) fn new(config: &DatabaseConfig) -> Pool {
        let target = Target::parse(config.url.as_str());
        // Each connection to `:memory:` is its own empty database: keep exactly one.
        let size = match target {
            Target::Memory => 1,
            Target::File { .. } => config.max_connections.max(1) as usize,
        };
        Pool {
            inner: Arc::new(Inner {
                target,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(size)),
                size,
                acquire_timeout: Duration::from_millis(config.acquire_timeout_ms),
            }),
        }
    }

    /// Opens a first connection, turns on WAL (it lives in the file: readers run while a
    /// writer commits) and checks the database answers.
    pub(super) async fn open_checked(&self) -> Result<(), DbError> {
        let mut conn = self.acquire().await?;
        let db = conn.connection();
        if matches!(self.inner.target, Target::File { .. }) {
            db.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
                .map_err(classify)?;
        }
        db.query_row("SELECT 1", [], |_| Ok(())).map_err(classify)
    }

    pub(super) async fn acquire(&self) -> Result<Conn, DbError> {
        let permits = self.inner.permits.clone();
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(tokio::sync::TryAcquireError::Closed) => return Err(closed()),
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                let wait = self.inner.acquire_timeout;
                match tokio::time::timeout(wait, permits.acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_)) => return Err(closed()),
                    Err(_) => return Err(DbError::Timeout(wait)),
                }
            }
        };
        let idle = self.inner.lock_idle().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.inner.open()?,
        };
        Ok(Conn {
            conn: Some(conn),
            pool: self.inner.clone(),
            _permit: permit,
        })
    }

    /// A lent connection holds a permit; an idle one waits in `idle`.
    pub(super) fn status(&self) -> super::PoolStatus {
        super::PoolStatus {
            idle: self.inner.lock_idle().len(),
            used: (self.inner.size).saturating_sub(self.inner.permits.available_permits()),
        }
    }

    pub(super) fn close(&self) {
        self.inner.permits.close();
        self.inner.lock_idle().clear();
    }
}

fn closed() -> DbError {
    DbError::Unavailable("the database handle was closed".into())
}

impl Inner {
    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn open(&self) -> Result<Connection, DbError> {
        let conn = match &self.target {
            Target::Memory => Connection::open_in_memory(),
            Target::File { path, flags } => Connection::open_with_flags(path, *flags),
        }
        .map_err(|e| DbError::Unavailable(Box::new(e)))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(classify)?;
        // The query planner's stability guarantee: a plan made once per statement. Without
        // it SQLite compiles a statement again whenever a value bound to its `LIMIT` or
        // `OFFSET` (or a range, with statistics) changes, which was a fifth of a metrics
        // page's CPU; every query here follows its index whatever the values.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(classify)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // NORMAL in WAL mode keeps the file consistent and skips an fsync per commit: a
        // crash of the process loses nothing, a power cut may lose the last commits.
        // Each connection's page cache is the server's own memory, so pool size x
        // cache_size bounds it: 4 MiB each (8 MiB took 197 MB of private memory at 10M
        // points for the same throughput). No memory map: its pages counted once per
        // connection in the server's resident memory (900 MB at 10M points), and reads
        // from the kernel's page cache cost no more at that size (cargo xtask bench).
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -4096; PRAGMA mmap_size = 0;",
        )
        .map_err(classify)?;
        Ok(conn)
    }
}

/// A connection lent by the pool; it goes back when dropped.
pub(super) struct Conn {
    conn: Option<Connection>,
    pool: Arc<Inner>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !self.pool.permits.is_closed() {
                self.pool.lock_idle().push(conn);
            }
        }
    }
}

impl Conn {
    fn connection(&mut self) -> &Connection {
        self.conn.as_ref().expect("held until dropped")
    }

    pub(super) fn fetch<T>(
        &mut self,
        query: &Query<'_>,
        map: &mut (dyn FnMut(&Row<'_>) -> Result<T, DbError> + Send),
        max_rows: usize,
    ) -> Result<Vec<T>, DbError> {
        let conn = self.connection();
        let mut statement = prepare(conn, query)?;
        let names: Vec<String> = statement.column_names().map(str::to_owned).collect();
        let mut rows = statement.raw_query();
        // SQLite does not say how many rows follow: room for a page's worth at once.
        let mut out = Vec::with_capacity(max_rows.min(32));
        while out.len() < max_rows {
            match rows.next().map_err(classify)? {
                Some(row) => out.push(map(&Row::new(RowRef::Sqlite(row, &names)))?),
                None => break,
            }
        }
        Ok(out)
    }

    pub(super) fn execute(&mut self, query: &Query<'_>) -> Result<u64, DbError> {
        let conn = self.connection();
        let mut statement = prepare(conn, query)?;
        // `raw_execute` refuses a statement that returns rows; step through them instead.
        if statement.column_count() > 0 {
            let mut rows = statement.raw_query();
            while rows.next().map_err(classify)?.is_some() {}
            return Ok(conn.changes());
        }
        statement.raw_execute().map_err(classify)?;
        Ok(conn.changes())
    }

    pub(super) fn execute_script(&mut self, sql: &str) -> Result<(), DbError> {
        self.connection().execute_batch(sql).map_err(classify)
    }

    pub(super) fn insert_rows<'v>(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: impl IntoIterator<Item = Vec<Value<'v>>>,
    ) -> Result<u64, DbError> {
        let slots = (1..=columns.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES ({slots})",
            columns.join(", ")
        );
        let conn = self.connection();
        let mut statement = conn.prepare_cached(&sql).map_err(classify)?;
        let mut written = 0;
        for row in rows {
            super::check_row(&row, columns.len())?;
            for (i, value) in row.iter().enumerate() {
                statement
                    .raw_bind_parameter(i + 1, value)
                    .map_err(classify)?;
            }
            written += statement.raw_execute().map_err(classify)? as u64;
        }
        Ok(written)
    }

    /// Ends the transaction this connection is in, without waiting on anything.
    pub(super) fn rollback_now(mut self) {
        if let Some(conn) = &self.conn {
            if conn.execute_batch("ROLLBACK").is_err() {
                // Not returned to the pool in an unknown state.
                self.conn = None;
            }
        }
    }
}

fn prepare<'c>(
    conn: &'c Connection,
    query: &Query<'_>,
) -> Result<rusqlite::CachedStatement<'c>, DbError> {
    let mut statement = conn.prepare_cached(query.sql()).map_err(classify)?;
    let expected = statement.parameter_count();
    if expected != query.params().len() {
        return Err(DbError::Statement(
            format!(
                "the statement has {expected} placeholders and {} values were bound",
                query.params().len()
            )
            .into(),
        ));
    }
    for (i, value) in query.params().iter().enumerate() {
        let index = placeholder_index(&statement, i + 1)?;
        statement
            .raw_bind_parameter(index, value)
            .map_err(classify)?;
    }
    Ok(statement)
}

/// Where `$n`'s value is bound. SQLite reads `$1` as a parameter *named* "$1" and
/// numbers named parameters in order of first appearance, so in `count + $3 … WHERE id
/// = $1` the first parameter is `$3`. Most statements name theirs in order, and then
/// `$n` is the n-th; the others are looked up by name. (Rewriting `$n` as `?n` in the
/// text instead cost every statement a copy of its SQL on every run.)
fn placeholder_index(statement: &rusqlite::Statement<'_>, n: usize) -> Result<usize, DbError> {
    let in_order = match statement.parameter_name(n) {
        // Anonymous `?`: numbered as written.
        None => true,
        Some(name) => name.strip_prefix('$').and_then(|d| d.parse().ok()) == Some(n),
    };
    if in_order {
        return Ok(n);
    }
    statement
        .parameter_index(&format!("${n}"))
        .map_err(classify)?
        .ok_or_else(|| DbError::Statement(format!("the statement has no placeholder ${n}").into()))
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(n) => ValueRef::Integer(*n),
            Value::Float(x) => ValueRef::Real(*x),
            Value::Text(text) => ValueRef::Text(text.as_bytes()),
        }))
    }
}

/// A column of a SQLite row as one of the four kinds.
pub(super) fn column<'r>(row: &'r rusqlite::Row<'_>, index: usize) -> Result<Value<'r>, String> {
    match row.get_ref(index).map_err(|e| e.to_string())? {
        ValueRef::Null => Ok(Value::Null),
        ValueRef::Integer(n) => Ok(Value::Int(n)),
        ValueRef::Real(x) => Ok(Value::Float(x)),
        ValueRef::Text(bytes) => Value::text(bytes),
        ValueRef::Blob(_) => Err("a blob, which this API never stores".to_owned()),
    }
}

/// Busy, locked and unopenable files are the database being unavailable (503); the
/// rest are the statement's fault (500).
fn classify(err: rusqlite::Error) -> DbError {
    use rusqlite::ffi::ErrorCode;
    let unavailable = matches!(
        err.sqlite_error_code(),
        Some(
            ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::CannotOpen
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull
        )
    );
    let cause: Cause = Box::new(err);
    if unavailable {
        DbError::Unavailable(cause)
    } else {
        DbError::Statement(cause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first value of the statement's first row, as text.
    fn first_text(conn: &Connection, query: &Query<'_>) -> Result<String, DbError> {
        let mut statement = prepare(conn, query)?;
        let mut rows = statement.raw_query();
        let row = rows.next().map_err(classify)?.expect("a row");
        row.get(0).map_err(classify)
    }

    #[test]
    fn dollar_placeholders_take_the_value_of_their_number_in_any_order() {
        let conn = Connection::open_in_memory().unwrap();
        let bound = |sql: &'static str| {
            let query = super::super::query(sql).bind("a").bind("b").bind("c");
            first_text(&conn, &query)
        };
        assert_eq!(bound("SELECT $1 || $2 || $3").unwrap(), "abc");
        assert_eq!(bound("SELECT $3 || $1 || $2").unwrap(), "cab");
        assert_eq!(bound("SELECT $2 || $3 || $1 || $2").unwrap(), "bcab");
        assert_eq!(
            bound("SELECT '$1' || \"$2\" || $3 || $1 || $2 FROM (SELECT 'q' AS \"$2\")").unwrap(),
            "$1qcab",
            "quoted text is not a placeholder"
        );
        let err = bound("SELECT $1 || $2").unwrap_err();
        assert!(
            err.to_string().contains("2 placeholders and 3 values"),
            "{err}"
        );
    }

    #[test]
    fn urls_name_a_file_or_memory() {
        assert_eq!(Target::parse("sqlite://:memory:"), Target::Memory);
        assert_eq!(Target::parse("sqlite://x.db?mode=memory"), Target::Memory);
        let Target::File { path, flags } = Target::parse("sqlite:///tmp/a.db?mode=ro") else {
            panic!("a file");
        };
        assert_eq!(path, PathBuf::from("/tmp/a.db"));
        assert!(flags.contains(OpenFlags::SQLITE_OPEN_READ_ONLY));
        let Target::File { flags, .. } = Target::parse("sqlite://dashtray.db") else {
            panic!("a file");
        };
        assert!(
            flags.contains(OpenFlags::SQLITE_OPEN_CREATE),
            "created when missing"
        );
    }
}
