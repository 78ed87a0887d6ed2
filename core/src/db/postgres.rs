//! Postgres through tokio-postgres: plain reads on shared, pipelined connections; every
//! other statement, transactions and imports on connections of their own, pooled by
//! deadpool.
//!
//! A read needs no connection to itself. Requests share a few connections (one per
//! core) and tokio-postgres pipelines their reads: under load one write sends many
//! requests' statements and one read brings their rows, where a connection per request
//! paid a write, a read and two task wake-ups each. A read goes to the shared connection
//! with the fewest statements in flight, so one slow read holds up few others.
//!
//! Only a plain `SELECT` is shared (`Query::reads_plainly`): it never waits on a row
//! lock. A write sent on a shared connection could wait on a lock whose holder, in a
//! transaction, waits on a read queued behind that write on the same connection: a
//! deadlock Postgres cannot see.
//!
//! Neither kind pings: a pooled connection is lent once its socket is seen open, and a
//! shared one is used until it is seen closed. A connection the server dropped costs
//! the statements in flight on it; the next statement opens a new one.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex, RwLock,
    },
    time::Duration,
};

use bytes::BytesMut;
use deadpool_postgres::{Manager, ManagerConfig, Object, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::{
    binary_copy::BinaryCopyInWriter,
    types::{to_sql_checked, IsNull, ToSql, Type},
    NoTls,
};

use super::{Cause, DbError, Query, Row, RowRef, Value};
use crate::config::DatabaseConfig;

/// Prepared statements kept per shared connection: the API's reads, with room for the
/// shapes of `IN (…)` lists a client's `metric_id` filters make.
const STATEMENT_CACHE: usize = 256;

pub(super) struct Pool {
    /// Connections lent whole: writes, transactions and `COPY`.
    pool: deadpool_postgres::Pool,
    /// Connections plain reads share.
    shared: Box<[Shared]>,
    /// Which shared connection a read looks at first, turning, so that equally busy
    /// connections take turns.
    next_shared: AtomicUsize,
    acquire_timeout: Duration,
    /// For connections outside the pool (shared ones, `LISTEN`); boxed, being large.
    config: Box<tokio_postgres::Config>,
}

/// One shared connection's place: the connection while it is open, and how many
/// statements wait on it.
#[derive(Default)]
struct Shared {
    open: Mutex<Option<Arc<Pipelined>>>,
    /// Held while connecting, so that one read opens the connection and the others that
    /// find it missing wait for that one instead of opening their own.
    connecting: tokio::sync::Mutex<()>,
    in_flight: AtomicUsize,
}

/// A connection that pipelines the reads of whoever shares it, with the statements it
/// has prepared, and the SQL it has met that is not a plain read (`None`).
struct Pipelined {
    client: tokio_postgres::Client,
    statements: RwLock<HashMap<Box<str>, Option<tokio_postgres::Statement>>>,
}

impl Pool {
    pub(super) fn new(config: &DatabaseConfig) -> Result<Pool, Cause> {
        let url = config.url.as_str();
        let mut pg: tokio_postgres::Config = url.parse()?;
        let acquire_timeout = Duration::from_millis(config.acquire_timeout_ms);
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(acquire_timeout);
        }
        let manager = Manager::from_config(
            pg.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(config.max_connections.max(1) as usize)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(acquire_timeout))
            .create_timeout(Some(acquire_timeout))
            .recycle_timeout(Some(acquire_timeout))
            .build()?;
        // One per core: enough to keep every core's requests pipelining, few enough
        // that each connection has statements to send together.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let shared = (0..cores.min(config.max_connections.max(1) as usize))
            .map(|_| Shared::default())
            .collect();
        Ok(Pool {
            pool,
            shared,
            next_shared: AtomicUsize::new(0),
            acquire_timeout,
            config: Box::new(pg),
        })
    }

    /// Runs one statement outside a transaction and maps its rows: a plain read on a
    /// shared connection, anything else on a pooled one. Which it is, is known from the
    /// shared connection's statement cache (a lookup the statement pays anyway) and
    /// worked out only the first time the connection meets the SQL.
    pub(super) async fn fetch<T>(
        &self,
        query: &Query<'_>,
        map: &mut (dyn FnMut(&Row<'_>) -> Result<T, DbError> + Send),
        max_rows: usize,
    ) -> Result<Vec<T>, DbError> {
        let (connection, in_flight) = self.shared().await?;
        match connection.prepare_read(query).await? {
            Some(statement) => fetch(&connection.client, &statement, query, map, max_rows).await,
            None => {
                drop(in_flight);
                self.acquire().await?.fetch(query, map, max_rows).await
            }
        }
    }

    /// The shared connection with the fewest statements in flight, opened if it is not,
    /// counted as busy until the guard is dropped.
    async fn shared(&self) -> Result<(Arc<Pipelined>, InFlight<'_>), DbError> {
        let first = self.next_shared.fetch_add(1, Ordering::Relaxed);
        let count = self.shared.len();
        let place = (0..count)
            .map(|i| &self.shared[(first + i) % count])
            .min_by_key(|place| place.in_flight.load(Ordering::Relaxed))
            .expect("at least one shared connection");
        let in_flight = InFlight::count(&place.in_flight);
        if let Some(open) = place.open_connection() {
            return Ok((open, in_flight));
        }
        let _connecting = place.connecting.lock().await;
        // Another read may have opened it while this one waited.
        if let Some(open) = place.open_connection() {
            return Ok((open, in_flight));
        }
        let opened = Arc::new(self.open_shared().await?);
        *place.lock_open() = Some(opened.clone());
        Ok((opened, in_flight))
    }

    async fn open_shared(&self) -> Result<Pipelined, DbError> {
        let connect = self.config.connect(NoTls);
        let (client, connection) = tokio::time::timeout(self.acquire_timeout, connect)
            .await
            .map_err(|_| DbError::Timeout(self.acquire_timeout))?
            .map_err(classify)?;
        // The connection's task ends when the socket closes or the client is dropped;
        // its error, if any, reaches the statements in flight.
        tokio::spawn(connection);
        Ok(Pipelined {
            client,
            statements: RwLock::new(HashMap::new()),
        })
    }

    pub(super) async fn open_checked(&self) -> Result<(), DbError> {
        let conn = self.acquire().await?;
        conn.client
            .simple_query("SELECT 1")
            .await
            .map_err(classify)?;
        Ok(())
    }

    pub(super) async fn acquire(&self) -> Result<Conn, DbError> {
        match self.pool.get().await {
            Ok(client) => Ok(Conn { client }),
            Err(PoolError::Timeout(_)) => Err(DbError::Timeout(self.acquire_timeout)),
            Err(PoolError::Backend(err)) => Err(DbError::Unavailable(Box::new(err))),
            Err(other) => Err(DbError::Unavailable(other.to_string().into())),
        }
    }

    pub(super) fn status(&self) -> super::PoolStatus {
        let status = self.pool.status();
        super::PoolStatus {
            idle: status.available,
            used: status.size.saturating_sub(status.available),
        }
    }

    pub(super) fn close(&self) {
        self.pool.close();
        for place in &self.shared {
            // Dropping the last client ends its connection.
            place.lock_open().take();
        }
    }

    /// A connection of its own that `LISTEN`s on `channel`.
    pub(super) async fn listen(&self, channel: &str) -> Result<Listening, DbError> {
        let (client, mut connection) = self.config.connect(NoTls).await.map_err(classify)?;
        let (tx, notices) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(|cx| connection.poll_message(cx));
            while let Some(Ok(message)) = futures_util::StreamExt::next(&mut messages).await {
                if let tokio_postgres::AsyncMessage::Notification(notice) = message {
                    if tx.send(notice.payload().to_owned()).is_err() {
                        return;
                    }
                }
            }
        });
        // The channel is an identifier the caller chose, never a user's text.
        client
            .batch_execute(&format!("LISTEN {channel}"))
            .await
            .map_err(classify)?;
        Ok(Listening {
            _client: client,
            notices,
        })
    }
}

/// A `LISTEN`ing connection: its notices' payloads, until the connection ends.
pub struct Listening {
    /// Dropping the client ends the connection.
    _client: tokio_postgres::Client,
    notices: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Listening {
    /// The next notice's payload; `None` once the connection has ended.
    pub async fn next(&mut self) -> Option<String> {
        self.notices.recv().await
    }
}

impl Shared {
    fn lock_open(&self) -> std::sync::MutexGuard<'_, Option<Arc<Pipelined>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connection, unless it was never opened or has been seen closed.
    fn open_connection(&self) -> Option<Arc<Pipelined>> {
        self.lock_open()
            .as_ref()
            .filter(|open| !open.client.is_closed())
            .cloned()
    }
}

/// One statement counted on a shared connection while it is in flight.
struct InFlight<'p>(&'p AtomicUsize);

impl<'p> InFlight<'p> {
    fn count(counter: &'p AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        InFlight(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Pipelined {
    /// The statement prepared once on this connection if it is a plain read, `None` if
    /// it is not (and must not be shared). Two reads that find the same SQL unprepared
    /// both prepare it; the second replaces the first, which is closed when its last
    /// user drops it.
    async fn prepare_read(
        &self,
        query: &Query<'_>,
    ) -> Result<Option<tokio_postgres::Statement>, DbError> {
        let sql = query.sql();
        if let Some(known) = self.known(sql) {
            return Ok(known);
        }
        let statement = match query.reads_plainly() {
            true => Some(self.client.prepare(sql).await.map_err(classify)?),
            false => None,
        };
        let mut known = self.statements.write().unwrap_or_else(|e| e.into_inner());
        // Shapes past the cache's size are rare (a new `IN (…)` length): start over
        // rather than keep every shape a client ever sent.
        if known.len() >= STATEMENT_CACHE {
            known.clear();
        }
        known.insert(sql.into(), statement.clone());
        Ok(statement)
    }

    fn known(&self, sql: &str) -> Option<Option<tokio_postgres::Statement>> {
        let known = self.statements.read().unwrap_or_else(|e| e.into_inner());
        known.get(sql).cloned()
    }
}

/// A connection lent by the pool; it goes back when dropped.
pub(super) struct Conn {
    client: Object,
}

impl Conn {
    pub(super) async fn fetch<T>(
        &mut self,
        query: &Query<'_>,
        map: &mut (dyn FnMut(&Row<'_>) -> Result<T, DbError> + Send),
        max_rows: usize,
    ) -> Result<Vec<T>, DbError> {
        let statement = self.prepare(query.sql()).await?;
        fetch(&self.client, &statement, query, map, max_rows).await
    }

    pub(super) async fn execute(&mut self, query: &Query<'_>) -> Result<u64, DbError> {
        let statement = self.prepare(query.sql()).await?;
        self.client
            .execute(&statement, &params(query))
            .await
            .map_err(classify)
    }

    pub(super) async fn execute_script(&mut self, sql: &str) -> Result<(), DbError> {
        self.client.batch_execute(sql).await.map_err(classify)
    }

    pub(super) async fn copy_rows<'v>(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: impl IntoIterator<Item = Vec<Value<'v>>>,
    ) -> Result<u64, DbError> {
        let columns = columns.join(", ");
        // The columns' types, which the binary format needs, from the table itself.
        let types: Vec<Type> = self
            .prepare(&format!("SELECT {columns} FROM {table} LIMIT 0"))
            .await?
            .columns()
            .iter()
            .map(|c| c.type_().clone())
            .collect();
        let copy = format!("COPY {table} ({columns}) FROM STDIN BINARY");
        let sink = self.client.copy_in(&copy).await.map_err(classify)?;
        let writer = BinaryCopyInWriter::new(sink, &types);
        let mut writer = std::pin::pin!(writer);
        for row in rows {
            super::check_row(&row, types.len())?;
            let values: Vec<&(dyn ToSql + Sync)> =
                row.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
            writer.as_mut().write(&values).await.map_err(classify)?;
        }
        writer.finish().await.map_err(classify)
    }

    async fn prepare(&self, sql: &str) -> Result<tokio_postgres::Statement, DbError> {
        self.client.prepare_cached(sql).await.map_err(classify)
    }

    /// Takes the connection out of the pool for good: closing it is how a transaction
    /// that was not finished ends.
    pub(super) fn discard(self) {
        drop(Object::take(self.client));
    }
}

/// Runs a prepared statement and maps its first `max_rows` rows.
async fn fetch<T>(
    client: &tokio_postgres::Client,
    statement: &tokio_postgres::Statement,
    query: &Query<'_>,
    map: &mut (dyn FnMut(&Row<'_>) -> Result<T, DbError> + Send),
    max_rows: usize,
) -> Result<Vec<T>, DbError> {
    let rows = client
        .query(statement, &params(query))
        .await
        .map_err(classify)?;
    rows.iter()
        .take(max_rows)
        .map(|row| map(&Row::new(RowRef::Postgres(row))))
        .collect()
}

fn params<'q>(query: &'q Query<'_>) -> Vec<&'q (dyn ToSql + Sync)> {
    query
        .params()
        .iter()
        .map(|v| v as &(dyn ToSql + Sync))
        .collect()
}

/// Each kind converted to the type Postgres expects at that placeholder, so a plugin
/// binds an `i64` to an `INTEGER` column as it would to a `BIGINT` one.
impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(n) => match *ty {
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::FLOAT8 => (*n as f64).to_sql(ty, out),
                Type::BOOL => (*n != 0).to_sql(ty, out),
                _ => n.to_sql(ty, out),
            },
            Value::Float(x) => match *ty {
                Type::FLOAT4 => (*x as f32).to_sql(ty, out),
                _ => x.to_sql(ty, out),
            },
            Value::Text(text) => text.as_ref().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A column of a Postgres row as one of the four kinds.
///
/// The column's bytes are taken as they are and decoded here from its type: going
/// through `FromSql` for each Rust type asked every column whether it accepts the type,
/// by name for text, and cost a metrics page more than its floor spends reading the
/// same rows. The binary formats read are Postgres's own (big-endian integers and
/// IEEE floats, UTF-8 text), as `postgres-types` reads them.
pub(super) fn column(row: &tokio_postgres::Row, index: usize) -> Result<Value<'_>, String> {
    let Raw(bytes) = row.try_get(index).map_err(|e| e.to_string())?;
    let Some(bytes) = bytes else {
        return Ok(Value::Null);
    };
    Ok(match *row.columns()[index].type_() {
        Type::INT8 => Value::Int(i64::from_be_bytes(sized(bytes, "BIGINT")?)),
        Type::INT4 => Value::Int(i32::from_be_bytes(sized(bytes, "INTEGER")?).into()),
        Type::INT2 => Value::Int(i16::from_be_bytes(sized(bytes, "SMALLINT")?).into()),
        Type::FLOAT8 => Value::Float(f64::from_be_bytes(sized(bytes, "DOUBLE PRECISION")?)),
        Type::FLOAT4 => Value::Float(f32::from_be_bytes(sized(bytes, "REAL")?).into()),
        Type::BOOL => Value::Int(i64::from(sized::<1>(bytes, "BOOLEAN")?[0] != 0)),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => Value::text(bytes)?,
        ref other => {
            return Err(format!(
                "a column of type {other}: cast it in the SQL to BIGINT, DOUBLE PRECISION or TEXT"
            ))
        }
    })
}

/// A fixed-width column's `N` bytes, or why they are not `N`.
fn sized<const N: usize>(bytes: &[u8], sql_type: &str) -> Result<[u8; N], String> {
    bytes
        .try_into()
        .map_err(|_| format!("a {sql_type} column of {} bytes", bytes.len()))
}

/// A column's bytes in Postgres's binary format, or `None` for NULL, whatever its type:
/// [`column`] decodes them.
struct Raw<'r>(Option<&'r [u8]>);

impl<'r> tokio_postgres::types::FromSql<'r> for Raw<'r> {
    fn from_sql(_: &Type, raw: &'r [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A lost connection, and the server refusing or shutting down, are the database being
/// unavailable (503); the rest are the statement's fault (500).
fn classify(err: tokio_postgres::Error) -> DbError {
    let unavailable = match err.code() {
        Some(code) => {
            let code = code.code();
            // 08: connection exceptions; 57P0x: shutting down, cannot connect now;
            // 53300: too many connections.
            code.starts_with("08") || code.starts_with("57P0") || code == "53300"
        }
        None => {
            err.is_closed()
                || std::error::Error::source(&err).is_some_and(|s| s.is::<std::io::Error>())
        }
    };
    if unavailable {
        DbError::Unavailable(Box::new(err))
    } else {
        DbError::Statement(Box::new(err))
    }
}
