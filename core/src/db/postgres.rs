//! Postgres through tokio-postgres, pooled by deadpool.
//!
//! A connection is lent without a round trip (the pool checks only that its socket is
//! still open) and keeps its prepared statements; sqlx's pool pinged every connection
//! it took back, a round trip per request. A connection the server dropped is found
//! closed and replaced: it costs at most the one request that met it.

use std::time::Duration;

use bytes::BytesMut;
use deadpool_postgres::{Manager, ManagerConfig, Object, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::{
    binary_copy::BinaryCopyInWriter,
    types::{to_sql_checked, IsNull, ToSql, Type},
    NoTls,
};

use super::{Cause, DbError, Query, Row, RowRef, Value};
use crate::config::DatabaseConfig;

pub(super) struct Pool {
    pool: deadpool_postgres::Pool,
    acquire_timeout: Duration,
    /// For connections of their own, outside the pool (`LISTEN`); boxed, being large.
    config: Box<tokio_postgres::Config>,
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
        Ok(Pool {
            pool,
            acquire_timeout,
            config: Box::new(pg),
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
        let rows = self
            .client
            .query(&statement, &params(query))
            .await
            .map_err(classify)?;
        rows.iter()
            .take(max_rows)
            .map(|row| map(&Row::new(RowRef::Postgres(row))))
            .collect()
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
